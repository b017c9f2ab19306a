"""The event store (SQLAlchemy 2.x, Alembic): incidents, hash-chained events, outbox.

Business rules live in the engine; this package only keeps facts safely.
"""

from incident.store.db import current_revision, head_revision, upgrade_database
from incident.store.records import (
    GENESIS_HASH,
    AttemptRow,
    IncidentRow,
    NewEvent,
    NewOutbox,
    OutboxRow,
    SequenceConflict,
    StoredEvent,
    StoreUnavailable,
    VerifyReport,
    canonical_json,
    event_hash,
)
from incident.store.store import Store, check_chain, open_store

__all__ = [
    "GENESIS_HASH",
    "AttemptRow",
    "IncidentRow",
    "NewEvent",
    "NewOutbox",
    "OutboxRow",
    "SequenceConflict",
    "Store",
    "StoreUnavailable",
    "StoredEvent",
    "VerifyReport",
    "canonical_json",
    "check_chain",
    "current_revision",
    "event_hash",
    "head_revision",
    "open_store",
    "upgrade_database",
]
