"""Which delivery figures are facts for the log, and catching the log up with them.

Delivery progress is derived data: the outbox holds it, and every face that shows
live counts (console, `incident status`, `incident deliveries`, reports) reads it
from there (notify/tally.py). The hash-chained log records only facts about a notify
step's delivery, as a ``delivery.progress`` event:

- the step *finished*: every message reached a final state (delivered, failed for
  good, cancelled) — one event, and again only if a retry changes the figures;
- a ``delivered`` target on the step is *met* by the figures (so the target's time
  is right even while a few messages still wait for a retry).

So a 200-message send appends a handful of events, not one every 1.5 s. Logs written
before this rule hold many ``delivery.progress`` events; they fold the same way (the
latest figures win).

The dispatcher records these facts as it sends (:func:`record_facts`). One killed
between its last send and that append leaves the log behind the outbox; an explicit
delivery run and the service call :func:`reconcile_progress` to catch it up. Reads
never write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident.engine import events as ev
from incident.engine.state import delivery_targets_met
from incident.notify.tally import progress_fields, step_tallies
from incident.store import NewEvent

if TYPE_CHECKING:
    from incident.engine import Engine, IncidentState


def _same(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return old is not None and all(old.get(k) == v for k, v in new.items())


def is_fact(st: IncidentState, payload: dict[str, Any]) -> bool:
    """Whether these figures of a step belong in the log (see the module docstring)."""
    step = payload.get("step")
    if not isinstance(step, str) or _same(st.step_delivery.get(step), payload):
        return False
    finished = int(payload.get("messages") or 0) > 0 and not int(payload.get("waiting") or 0)
    return finished or bool(delivery_targets_met(st, step, payload))


def facts_to_append(st: IncidentState, payloads: list[dict[str, Any]], now: Any,
                    ) -> list[NewEvent]:
    return [NewEvent(ev.DELIVERY_PROGRESS, ev.SYSTEM, p, now) for p in payloads
            if is_fact(st, p)]


def record_facts(engine: Engine, incident_id: str, payloads: list[dict[str, Any]],
                 ) -> list[str]:
    """Append the delivery facts among `payloads` (judged on the fresh state, under the
    engine's conflict handling); returns the steps recorded."""
    recorded: list[str] = []

    def make(st: IncidentState, now: Any) -> list[NewEvent]:
        made = facts_to_append(st, payloads, now)
        recorded[:] = [e.payload["step"] for e in made]
        return made

    engine.append_events(incident_id, make)
    return recorded


def reconcile_progress(engine: Engine, incident_id: str) -> list[str]:
    """Record every delivery fact the outbox holds and the log lacks; returns the steps
    brought up to date."""
    fresh = [progress_fields(t) for t in step_tallies(engine.store, incident_id).values()]
    if not facts_to_append(engine.state(incident_id), fresh, None):
        return []
    return record_facts(engine, incident_id, fresh)
