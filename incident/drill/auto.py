"""``incident drill SCENARIO --auto``: play the scenario's scripted responses headless.

Time is a ManualClock moved from one moment of interest to the next (a scripted
response falling due, an engine timer or inject, a message retry, the end of the
exercise), so a 40-minute drill plays in well under a second of engine work and
the timings are exact. The responses act through the same engine operations an
officer's keystrokes use; messages go through the drill sandbox dispatcher.

A response delay is measured from the moment the step became ready (for a gated
step, ``confirm`` from when the first person did it; for a dispatch step,
``start`` is when the team is sent and ``after`` when it arrives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.drill.live import install, start_drill
from incident.drill.model import Response, Scenario
from incident.errors import Refused

if TYPE_CHECKING:
    from incident.clock import ManualClock
    from incident.drill.loader import LoadedScenario
    from incident.engine import Engine, StepState
    from incident.playbook import Step

DEFAULT_START = timedelta(seconds=10)
DEFAULT_CONFIRM = timedelta(seconds=30)
DEFAULT_VALUES = {"int": "1", "number": "1", "text": "done as scripted (drill)", "list": "none"}
MAX_ROUNDS = 5000


@dataclass(slots=True)
class AutoRun:
    incident_id: str
    started_at: datetime
    ended_at: datetime
    actions: int = 0
    messages: dict[str, int] = field(default_factory=dict)  # outbox state -> rows
    open_steps: list[str] = field(default_factory=list)


class Responder:
    """Decides which scripted action falls due when, for each step."""

    def __init__(self, scenario: Scenario, engine: Engine):
        self.sc = scenario
        self.engine = engine
        self.directory = engine.directory
        self.awaiting_since: dict[str, datetime] = {}
        self.doers: dict[str, str] = {}
        self.start: datetime | None = None  # the drill's start (for `at` and `on`)

    def response(self, step_id: str) -> Response:
        r = self.sc.responses.steps.get(step_id)
        return r if r is not None else Response(after=self.sc.responses.default)

    def _after(self, r: Response) -> timedelta:
        return r.after if r.after is not None else self.sc.responses.default

    def when(self, s: StepState, step: Step) -> tuple[datetime, str] | None:
        """(due time, action) of the next scripted act on a step, or None."""
        r = self.response(s.id)
        if r.never or s.ready_at is None:
            return None
        plan = self._when(s, step, r)
        if plan is None or plan[1] not in ("done", "skip") or self.start is None:
            return plan
        due = plan[0]
        if r.at is not None:  # at T+`at` (never before it is ready or under way)
            due = max(s.ready_at, s.started_at or s.ready_at, self.start + r.at)
        if r.on is not None:  # answers an inject: not before it arrives
            inject = next((i for i in self.sc.injects if i.id == r.on), None)
            if inject is not None:
                due = max(due, self.start + inject.at)
        return due, plan[1]

    def _when(self, s: StepState, step: Step, r: Response) -> tuple[datetime, str] | None:
        if s.status == "ready":
            if r.skip is not None:
                return s.ready_at + self._after(r), "skip"
            if step.kind == "dispatch":
                start = r.start if r.start is not None else min(DEFAULT_START, self._after(r))
                return s.ready_at + start, "start"
            return s.ready_at + self._after(r), "done"
        if s.status == "in_progress":
            base = s.ready_at + self._after(r)
            return max(base, s.started_at or base), "done"
        if s.status == "awaiting_confirmation":
            since = self.awaiting_since.get(s.id) or self.engine.clock.now()
            self.awaiting_since.setdefault(s.id, since)
            return since + (r.confirm if r.confirm is not None else DEFAULT_CONFIRM), "confirm"
        return None

    def actor(self, step: Step, r: Response) -> str:
        if r.by:
            return r.by
        who = self.sc.player_for(step.assignee)
        if who:
            return who
        if self.directory is not None and step.assignee:
            for p in self.directory.staff.values():
                if step.assignee in p.roles:
                    return p.id
        return self.sc.lead

    def confirmer(self, step: Step, doer: str | None) -> str:
        role = step.gate.role if step.gate else None
        for p in self.sc.participants:
            if p.person != doer and (role is None or p.role == role) and (
                    self.directory is None or role is None
                    or role in self.directory.staff.get(p.person, _NOBODY).roles):
                return p.person
        if self.directory is not None:
            for p in self.directory.staff.values():
                if p.id != doer and (role is None or role in p.roles):
                    return p.id
        return self.sc.lead if self.sc.lead != doer else "drill.evaluator"

    def perform(self, incident_id: str, s: StepState, step: Step, action: str,
                now: datetime) -> None:
        r = self.response(s.id)
        eng = self.engine
        if action == "skip":
            eng.act(incident_id, s.id, actor=self.actor(step, r), action="skip", reason=r.skip)
        elif action == "start":
            eng.act(incident_id, s.id, actor=self.actor(step, r), action="start")
        elif action == "confirm":
            eng.act(incident_id, s.id, actor=self.confirmer(step, s.awaiting_by),
                    action="confirm")
        else:
            kw: dict[str, Any] = {}
            if step.kind == "decision":
                kw["option"] = r.option or step.options[0].id
            if step.kind == "record":
                # a list in the script stays a list: str() of it was re-split at commas
                kw["value"] = (r.value if isinstance(r.value, list) else str(r.value)) \
                    if r.value is not None else DEFAULT_VALUES[step.record.type]
            st = eng.act(incident_id, s.id, actor=self.actor(step, r), **kw)
            if st.steps[s.id].status == "awaiting_confirmation":
                self.awaiting_since[s.id] = now


class _Nobody:
    roles: tuple[str, ...] = ()


_NOBODY = _Nobody()


def _next_retry(engine: Engine, incident_id: str, now: datetime) -> datetime | None:
    counts = engine.store.outbox_counts(incident_id)
    if not any(s.get("failed_temporary") or s.get("queued") for s in counts.values()):
        return None
    due = [r.next_attempt_at or now for r in engine.store.outbox_rows(incident_id)
           if r.state in ("failed_temporary", "queued")]
    return min(due) if due else None


def run_auto(engine: Engine, loaded: LoadedScenario, clock: ManualClock, *,
             dispatcher: Any = None, actor: str | None = None) -> AutoRun:
    """Start the scenario's drill and play it to the end; returns what happened.

    `dispatcher` (the runtime dispatcher, optional) delivers queued messages to the
    sandbox as the drill goes, retries included."""
    if not hasattr(clock, "set"):
        raise Refused("refused.drill.auto_clock")
    install(engine)
    sc = loaded.scenario
    st = start_drill(engine, loaded, actor=actor, mode="auto")
    iid = st.id
    if dispatcher is not None and getattr(dispatcher, "incident_id", iid) is None:
        dispatcher.incident_id = iid  # the drill clock delivers this drill's rows only
    end = st.started_at + sc.duration
    responder = Responder(sc, engine)
    responder.start = st.started_at
    steps = st.playbook.steps()
    run = AutoRun(iid, st.started_at, st.started_at)

    def send() -> None:
        if dispatcher is not None:
            for _ in range(1000):  # a pass claims a batch per channel: go until all are done
                if not dispatcher.run_once():
                    break

    for _round in range(MAX_ROUNDS):
        now = clock.now()
        engine.tick(iid)
        while True:  # act on everything due now, one action at a time (each changes state)
            st = engine.state(iid)
            due = None
            for s in st.steps.values():
                plan = responder.when(s, steps[s.id])
                if plan is not None and plan[0] <= now:
                    due = (s, plan[1])
                    break
            if due is None:
                break
            responder.perform(iid, due[0], steps[due[0].id], due[1], now)
            run.actions += 1
        send()
        st = engine.state(iid)
        if st.all_settled() or now >= end:
            break
        moments = [end]
        for s in st.steps.values():
            plan = responder.when(s, steps[s.id])
            if plan is not None:
                moments.append(plan[0])
        moments += [t.due_at for t in engine.timers(st)[:1]]
        retry = _next_retry(engine, iid, now)
        if retry is not None:
            moments.append(retry)
        later = [m for m in moments if m > now]
        clock.set(min(later) if later else now + timedelta(seconds=30))
    # let retries and fall-backs play out (still on the drill's clock)
    for _round in range(200):
        send()
        retry = _next_retry(engine, iid, clock.now())
        if dispatcher is None or retry is None:
            break
        if retry > clock.now():
            clock.set(retry)
    st = engine.state(iid)
    run.open_steps = [s.id for s in st.steps.values() if not s.settled]
    ended = f"Drill ended at T+{_mins(clock.now() - st.started_at)} (scripted responses)"
    if st.status == "open":
        engine.resolve(iid, actor=sc.lead, force=bool(run.open_steps),
                       summary=ended + (f"; {len(run.open_steps)} step(s) not done"
                                        if run.open_steps else ""))
    run.ended_at = clock.now()
    for states in engine.store.outbox_counts(iid).values():
        for state, n in states.items():
            run.messages[state] = run.messages.get(state, 0) + n
    return run


def _mins(delta: timedelta) -> str:
    total = int(delta.total_seconds())
    return f"{total // 60}m{total % 60:02d}s"
