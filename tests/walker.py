"""Walk an incident to resolution the way a diligent duty officer would.

Used by engine, CLI and report tests to drive every shipped playbook; it picks
the first option of each decision and records plausible values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from incident.clock import ManualClock

VALUES = {"int": "12", "number": "3.5", "list": "Room 1203, Room 1204", "text": "checked, normal"}


def staff_for(directory: Any, role: str | None, avoid: str | None = None) -> str:
    """A staff id holding the role (not `avoid`), else any staff id."""
    people = list(directory.staff.values()) if directory is not None else []
    for person in people:
        if (role is None or role in person.roles) and person.id != avoid:
            return person.id
    for person in people:
        if person.id != avoid:
            return person.id
    return "second.person" if avoid else "duty.officer"


def plan_action(st: Any, step_id: str, directory: Any) -> list[dict[str, Any]]:
    """The acts (as keyword dicts) that complete one ready step."""
    step = st.playbook.steps()[step_id]
    s = st.steps[step_id]
    actor = staff_for(directory, step.assignee)
    if s.status == "awaiting_confirmation":
        confirmer = staff_for(directory, step.gate.role if step.gate else None, avoid=s.awaiting_by)
        return [{"actor": confirmer, "action": "confirm"}]
    act: dict[str, Any] = {"actor": actor}
    if step.kind == "decision":
        act["option"] = step.options[0].id
    if step.kind == "record":
        act["value"] = VALUES[step.record.type]
    return [act]


def deliver(engine: Any, incident_id: str, clock: ManualClock) -> None:
    """Send what the incident queued (as the service or console would), so targets
    measured on notify steps can be met: they need the messages delivered."""
    planner = getattr(engine, "planner", None)
    if planner is None:
        return
    from incident.notify import Dispatcher

    with Dispatcher(engine.store, planner.channels, clock, directory=engine.directory,
                    engine=engine, incident_id=incident_id) as d:
        d.run_until_idle()


def walk(engine: Any, incident_id: str, clock: ManualClock, *,
         act: Callable[..., Any] | None = None, max_rounds: int = 400,
         send: bool = True) -> Any:
    """Complete every step that becomes ready; returns the final state (not resolved).
    Messages a notify step queues are delivered right away unless send=False."""
    act = act or (lambda iid, sid, **kw: engine.act(iid, sid, **kw))
    for _round in range(max_rounds):
        st = engine.state(incident_id)
        if st.all_settled():
            return st
        ready = [s for s in st.steps.values() if s.open]
        if not ready:
            clock.advance(timedelta(minutes=1))  # let wait steps run out
            engine.tick(incident_id)
            continue
        s = ready[0]
        for kwargs in plan_action(st, s.id, engine.directory):
            act(incident_id, s.id, **kwargs)
        if send and st.playbook.steps()[s.id].notify is not None:
            deliver(engine, incident_id, clock)
        clock.advance(timedelta(seconds=20))
    raise AssertionError(f"{incident_id} did not settle: "
                         f"{[(s.id, s.status) for s in engine.state(incident_id).steps.values()]}")
