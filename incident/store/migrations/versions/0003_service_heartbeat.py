"""incident service: heartbeat table; on PostgreSQL a NOTIFY when events are appended

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00

The trigger wakes a sleeping `incident service` (LISTEN incident_events) the moment
another process appends, instead of it polling; SQLite services poll the last sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_heartbeat",
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("worker", name="pk_service_heartbeat"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION incident_events_notify() RETURNS trigger AS $$
            BEGIN
              PERFORM pg_notify('incident_events', '');
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER events_notify AFTER INSERT ON events
            FOR EACH STATEMENT EXECUTE FUNCTION incident_events_notify()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
        op.execute("DROP FUNCTION IF EXISTS incident_events_notify()")
    op.drop_table("service_heartbeat")
