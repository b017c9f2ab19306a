"""Bring a step's recorded delivery up to the outbox after a dispatcher died.

Targets on notify steps are judged from the ``delivery.progress`` events the
dispatcher appends (engine/state.py). A dispatcher killed after recording its last
send but before appending that event — or one run without an engine — leaves the
log behind the outbox, and the target would wait. An explicit delivery run
(``incident notify send``, ``incident act``) calls :func:`reconcile_progress`: for
each step whose latest progress differs from what the outbox says now, it appends
one fresh ``delivery.progress``. Reads never call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident.engine import events as ev
from incident.notify.tally import progress_fields, step_tallies
from incident.store import NewEvent

if TYPE_CHECKING:
    from incident.engine import Engine


def _same(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return old is not None and all(old.get(k) == v for k, v in new.items())


def reconcile_progress(engine: Engine, incident_id: str) -> list[str]:
    """Append a delivery.progress for every step whose log lags its outbox; returns
    the steps brought up to date."""
    fresh = {sid: progress_fields(t)
             for sid, t in step_tallies(engine.store, incident_id).items()}
    st = engine.state(incident_id)
    stale = [sid for sid, p in fresh.items() if not _same(st.step_delivery.get(sid), p)]
    if not stale:
        return []

    def make(state: Any, now: Any) -> list[NewEvent]:
        return [NewEvent(ev.DELIVERY_PROGRESS, ev.SYSTEM, fresh[sid], now) for sid in stale
                if not _same(state.step_delivery.get(sid), fresh[sid])]

    engine.append_events(incident_id, make)
    return stale
