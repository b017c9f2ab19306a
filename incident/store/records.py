"""The store's value types, its one exception, and the event hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from incident.errors import Refused

GENESIS_HASH = "0" * 64

INCIDENT_STATUSES = ("open", "resolved", "closed")  # closed: callbacks, complaints done
OUTBOX_STATES = ("queued", "sending", "sent", "failed_temporary", "failed_permanent",
                 "fell_back", "cancelled")
ATTEMPT_STATUSES = ("sent", "failed_temporary", "failed_permanent")
FINAL_OUTBOX_STATES = ("sent", "failed_permanent", "fell_back", "cancelled")


class StoreUnavailable(Refused):
    """The database cannot be used as it is (unreachable, unwritable, or its schema is behind)."""


class SequenceConflict(Exception):
    """Someone else appended first: the incident is at ``current_seq``, not the expected one.

    Nothing was written; refresh the state, re-validate and try again.
    """

    def __init__(self, current_seq: int, expected_seq: int | None = None,
                 incident_id: str | None = None):
        self.current_seq = current_seq
        self.expected_seq = expected_seq
        self.incident_id = incident_id
        where = f" on {incident_id}" if incident_id else ""
        exp = f" expected {expected_seq}," if expected_seq is not None else ""
        super().__init__(f"sequence conflict{where}:{exp} the log is at {current_seq}")


@dataclass(frozen=True, slots=True)
class NewEvent:
    kind: str
    actor: str
    payload: dict
    ts: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    incident_id: str
    seq: int
    ts: datetime
    actor: str
    kind: str
    payload: dict
    prev_hash: str
    hash: str
    # The chain key that signed this event (HMAC-SHA256); None: an unkeyed legacy
    # event hashed with plain SHA-256 before the chain was keyed.
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: str
    playbook_id: str
    playbook_version: str
    type: str
    title: dict
    location: str
    site: str
    severity: int
    drill: bool
    status: str
    owner: str
    created_at: datetime
    resolved_at: datetime | None
    last_seq: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewOutbox:
    """One message to one recipient on one channel, queued with the event that asked for it.

    ``event_index`` picks the event of the same ``append`` batch that queued the
    row (default: the first event of the batch).
    """

    idempotency_key: str
    step_id: str
    person_id: str
    channel: str
    address: str
    lang: str
    subject: str
    body: str
    drill: bool
    fallback_channels: list[str] = field(default_factory=list)
    next_attempt_at: datetime | None = None
    event_index: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    incident_id: str
    event_seq: int
    idempotency_key: str
    step_id: str
    person_id: str
    channel: str
    address: str
    lang: str
    subject: str
    body: str
    drill: bool
    state: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    claimed_until: datetime | None
    last_error: str | None
    sent_at: datetime | None
    fallback_channels: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    outbox_id: int
    attempt: int
    worker: str
    started_at: datetime
    elapsed_ms: float
    status: str
    error: str | None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    count: int
    first_bad_seq: int | None
    reason: str
    # What a filed copy can be checked against later: the last stored event.
    head_seq: int = 0
    head_hash: str = ""
    # Keys that signed the events; how many events are unkeyed legacy SHA-256.
    key_ids: tuple[str, ...] = ()
    unkeyed: int = 0
    # The last checkpoint written outside the database for this incident, if any.
    anchor_seq: int | None = None
    anchor_at: datetime | None = None
    # "", or what failed: altered, missing, unkeyed, key_missing, truncated, rehashed, anchors
    problem: str = ""


def canonical_json(obj: Any) -> str:
    """The one serialisation the hash is computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def ts_text(ts: datetime) -> str:
    """UTC ISO 8601 with microseconds, e.g. 2026-01-05T03:00:00.000000+00:00."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"naive datetime {ts.isoformat()} — event times must be timezone-aware")
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(prev_hash: str, incident_id: str, seq: int, ts: datetime, actor: str,
               kind: str, payload: dict) -> str:
    """sha256(prev_hash + canonical_json({incident_id, seq, ts, actor, kind, payload}))."""
    body = canonical_json({"incident_id": incident_id, "seq": seq, "ts": ts_text(ts),
                           "actor": actor, "kind": kind, "payload": payload})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def hash_body(incident_id: str, seq: int, ts: datetime, actor: str, kind: str,
              payload: dict) -> str:
    return canonical_json({"incident_id": incident_id, "seq": seq, "ts": ts_text(ts),
                           "actor": actor, "kind": kind, "payload": payload})


def keyed_event_hash(key: Any, prev_hash: str, incident_id: str, seq: int, ts: datetime,
                     actor: str, kind: str, payload: dict) -> str:
    """HMAC-SHA256 under the chain key of the same text event_hash digests.

    Without the key (kept outside the database) nobody can recompute it, so an
    edited and re-hashed log no longer verifies. ``key`` is a keys.ChainKey.
    """
    return key.mac(prev_hash + hash_body(incident_id, seq, ts, actor, kind, payload))


def normalize_payload(kind: str, payload: Any) -> dict:
    """The payload exactly as it will read back from the database (JSON round trip).

    Hashing the round-tripped form keeps verify() stable (tuples become lists,
    keys become strings). Values JSON cannot hold are refused with a clear message.
    """
    if not isinstance(payload, dict):
        raise TypeError(f"event '{kind}': payload must be a dict, got {type(payload).__name__}")
    try:
        return json.loads(canonical_json(payload))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"event '{kind}': payload is not plain JSON ({exc}); convert datetimes "
                        "with .isoformat() and sets to lists") from None


def idempotency_key(incident_id: str, step_id: str, person_id: str, channel: str) -> str:
    """An outbox row's key: one message per incident, step, person and channel."""
    return f"{incident_id}:{step_id}:{person_id}:{channel}"


def drill_mark(lang: str) -> str:
    """The mark every drill message starts with ([DRILL] / 【演练】)."""
    from incident.i18n import t

    return t("msg.drill_mark", lang)
