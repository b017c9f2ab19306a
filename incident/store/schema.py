"""Table definitions (SQLAlchemy Core) shared by the store and the migrations' autogenerate.

The schema itself is owned by the Alembic migrations in ``migrations/versions``;
these definitions must agree with the head revision (a test compares them).
New columns or tables arrive as new migrations, never by editing an old one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes in and out, on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is
    stored as naive UTC text (fixed width, microseconds kept, sorts correctly)
    and comes back with ``tzinfo=UTC``. Naive datetimes are refused: a naive
    time is ambiguous, and the clock only ever hands out aware ones.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"a datetime is expected, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} — the store only takes "
                             "timezone-aware times (use the injected clock)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


incidents = sa.Table(
    "incidents", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("playbook_id", sa.String(200), nullable=False),
    sa.Column("playbook_version", sa.String(50), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("title", sa.JSON, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("drill", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "status"),
    sa.Index(None, "created_at"),
)

# Per-day counters behind human-friendly incident ids (INC-260105-0001).
incident_counters = sa.Table(
    "incident_counters", metadata,
    sa.Column("day", sa.String(8), primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

events = sa.Table(
    "events", metadata,
    sa.Column("incident_id", sa.String(40), sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # Id of the chain key whose HMAC is `hash`; NULL for unkeyed legacy SHA-256 events.
    sa.Column("key_id", sa.String(40), nullable=True),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("step_id", sa.String(200), nullable=False),
    sa.Column("person_id", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(50), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("lang", sa.String(10), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("drill", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("fallback_channels", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("idempotency_key"),
    sa.Index(None, "state", "next_attempt_at"),
    sa.Index(None, "incident_id", "step_id", "channel", "state"),
    sa.Index(None, "updated_at"),
    sa.Index(None, "address", "channel"),  # 0004: which message a reply answers
)

delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(200), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("elapsed_ms", sa.Float, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index(None, "outbox_id"),
)

# One row per running `incident service` (migration 0003): the console warns when no
# row was refreshed within a minute, so an officer knows escalation depends on it.
service_heartbeat = sa.Table(
    "service_heartbeat", metadata,
    sa.Column("worker", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# Inbound replies already taken (migration 0004): one row per (channel, provider's message
# id), so a gateway retrying a callback, or a replayed request, is recorded once.
inbound_messages = sa.Table(
    "inbound_messages", metadata,
    sa.Column("channel", sa.String(50), primary_key=True),
    sa.Column("provider_id", sa.String(200), primary_key=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("person_id", sa.String(200), nullable=True),
    sa.Column("incident_id", sa.String(40), nullable=True),
    sa.Column("event_seq", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Index(None, "received_at"),
)
