"""The inbound_messages table (migration 0004): which (channel, provider message id)
pairs have been taken, so a gateway's retry or a replayed request is recorded once.

A request claims its pair before it is recorded and the claim is dropped if recording
fails, so a provider retry of a message that could not be placed is tried again. A
claim left "pending" by a killed process is taken over after STALE.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from incident.store.schema import inbound_messages, incidents, outbox

if TYPE_CHECKING:
    from incident.store.store import Store

STALE = timedelta(minutes=2)
_c = inbound_messages.c


def claim(store: Store, channel: str, provider_id: str, address: str, now: datetime) -> bool:
    """True if this request is the first with the pair (or takes over a stale claim)."""
    with store._tx() as conn:
        row = conn.execute(sa.select(_c.outcome, _c.received_at).where(
            _c.channel == channel, _c.provider_id == provider_id)).first()
        if row is not None:
            if row.outcome != "pending" or now - row.received_at < STALE:
                return False
            conn.execute(inbound_messages.update().where(
                _c.channel == channel, _c.provider_id == provider_id).values(received_at=now))
            return True
        ins = store._insert(inbound_messages).values(
            channel=channel, provider_id=provider_id, received_at=now, address=address,
            outcome="pending").on_conflict_do_nothing(
            index_elements=["channel", "provider_id"]).returning(_c.provider_id)
        return conn.execute(ins).first() is not None  # (rowcount is not reliable on PG)


def finish(store: Store, channel: str, provider_id: str, *, person_id: str | None,
           incident_id: str, event_seq: int | None) -> None:
    with store._tx() as conn:
        conn.execute(inbound_messages.update().where(
            _c.channel == channel, _c.provider_id == provider_id).values(
            outcome="recorded", person_id=person_id, incident_id=incident_id,
            event_seq=event_seq))


def release(store: Store, channel: str, provider_id: str) -> None:
    """Drop a claim whose message could not be recorded (a retry may place it later)."""
    with store._tx() as conn:
        conn.execute(inbound_messages.delete().where(
            _c.channel == channel, _c.provider_id == provider_id, _c.outcome == "pending"))


def taken(store: Store, channel: str, provider_id: str) -> dict[str, Any] | None:
    with store._ro() as conn:
        row = conn.execute(sa.select(inbound_messages).where(
            _c.channel == channel, _c.provider_id == provider_id)).first()
    return dict(row._mapping) if row is not None else None


def candidates(store: Store, channel: str, addresses: list[str], people: list[str],
               limit: int = 50) -> list[dict[str, Any]]:
    """Messages that went out on `channel` to the sender's address (as the directory
    writes it: `addresses`) and one of `people`, for open live incidents, newest first:
    what a reply from that address may answer."""
    o, i = outbox.c, incidents.c
    q = (sa.select(o.id, o.incident_id, o.step_id, o.person_id, o.address, o.created_at,
                   i.playbook_id)
         .join(incidents, i.id == o.incident_id)
         .where(o.channel == channel, o.address.in_(addresses), o.person_id.in_(people),
                o.drill.is_(False), o.state.in_(("sent", "sending")), i.status == "open",
                i.drill.is_(False))
         .order_by(o.id.desc()).limit(limit))
    with store._ro() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
