"""Incident state as a fold over its events.

Nothing here is stored: resume after a crash, a second console, drills and
reports all rebuild the same state from the same log. Time-dependent views
(overdue, countdowns) take `now` explicitly.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.engine import aftercare
from incident.engine import events as ev
from incident.engine.aftercare import ComplaintState, FollowupState, Promise
from incident.errors import Msg
from incident.i18n import bilingual

if TYPE_CHECKING:
    from collections.abc import Callable

    # the pydantic model or its read form (incident.playbook.readform): the fold only
    # reads attributes, so a read never needs pydantic
    from incident.playbook import Playbook, Step

SETTLED = frozenset({"done", "skipped", "excluded"})
OPEN = frozenset({"ready", "in_progress", "awaiting_confirmation"})


@dataclass(slots=True)
class StepState:
    id: str
    track: str
    kind: str
    status: str = "pending"  # pending, ready, in_progress, awaiting_confirmation, done, skipped, excluded
    ready_at: datetime | None = None
    started_at: datetime | None = None
    started_by: str | None = None
    done_at: datetime | None = None
    done_by: str | None = None
    confirmed_by: str | None = None
    awaiting_by: str | None = None
    option: str | None = None
    value: Any = None
    reason: str | None = None
    note: str | None = None
    dispatched_to: str | None = None
    arrive_by: datetime | None = None
    due_at: datetime | None = None
    overdue_fired: bool = False
    excluded_why: Msg | None = None  # why it does not apply, told in each reader's language

    @property
    def excluded_because(self) -> str | None:
        """Why it does not apply, in English (logs, drill scores)."""
        return self.excluded_why.text("en") if self.excluded_why is not None else None

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def overdue(self, now: datetime) -> bool:
        return self.open and self.due_at is not None and now > self.due_at


@dataclass(slots=True)
class TargetState:
    id: str
    title: dict[str, str]
    met_by: str
    due_at: datetime
    met_at: datetime | None = None
    fired: bool = False
    not_applicable: bool = False
    # How it is met: "done" (its step is done), "resolved", or "delivered" (a notify
    # step's messages reached `threshold` percent of the reachable recipients).
    rule: str = "done"
    threshold: float = 100.0
    reached: tuple[int, int] | None = None  # (delivered, recipients) when met by delivery

    def status(self, now: datetime) -> str:
        """met, met_late, missed, pending or n/a."""
        if self.not_applicable:
            return "n/a"
        if self.met_at is not None:
            return "met" if self.met_at <= self.due_at else "met_late"
        return "missed" if (self.fired or now > self.due_at) else "pending"

    def delta(self, now: datetime) -> timedelta:
        """Positive: time to spare (or spared); negative: late by."""
        return self.due_at - (self.met_at or now)


@dataclass(slots=True)
class ReportClockState:
    id: str
    title: dict[str, str]
    to: str
    by: str
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    fired: bool = False
    level: int | None = None          # the severity level that set this clock
    # how it was met: "reported" (incident reported), "step:<id>" (an escalate step to
    # the role done), "page:<id>" (a page to the role acknowledged)
    done_via: str | None = None
    superseded_at: datetime | None = None  # the severity changed before it fell due
    superseded_by: int | None = None       # ... to this level

    def status(self, now: datetime) -> str:
        """met, met_late, superseded, missed or pending (not yet due at `now`)."""
        if self.done_at is not None:
            return "met" if self.done_at <= self.due_at else "met_late"
        if self.superseded_at is not None:
            return "superseded"
        return "missed" if (self.fired or now > self.due_at) else "pending"

    @property
    def live(self) -> bool:
        """Still waiting to be honoured (not met, not superseded)."""
        return self.done_at is None and self.superseded_at is None

    def honour(self, ts: datetime, by: str | None, via: str) -> None:
        """The role was told (a step, a page acknowledged). A written report is not
        made by telling someone: it needs its own `incident reported`."""
        if self.live and self.by != "written":
            self.done_at, self.done_by, self.done_via = ts, by, via


@dataclass(slots=True)
class Timer:
    """Something due at a moment: the engine fires each once (timer.fired)."""

    id: str
    kind: str  # step_overdue, arrival_overdue, target_missed, report_due, wait_elapsed
    due_at: datetime
    label: dict[str, str]
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # copied into the timer.fired payload


@dataclass(slots=True)
class IncidentState:
    id: str
    playbook: Playbook
    started_at: datetime
    location: str
    location_detail: dict[str, Any]
    severity: int
    drill: bool
    reporter: str
    owner: str
    first_receiver: str
    inputs: dict[str, Any]
    status: str = "open"
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    summary: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    targets: dict[str, TargetState] = field(default_factory=dict)
    reports: dict[str, ReportClockState] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    handovers: list[dict[str, Any]] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivery: dict[str, dict[str, int]] = field(default_factory=dict)
    # per notify step: the latest delivery.progress payload (per-recipient figures)
    step_delivery: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: list[dict[str, Any]] = field(default_factory=list)
    # replies to pages and questions (REPLY_RECEIVED), and their (channel, provider id)
    replies: list[dict[str, Any]] = field(default_factory=list)
    reply_ids: set[tuple[str, str]] = field(default_factory=set)
    knocks: list[dict[str, Any]] = field(default_factory=list)  # door-knock lists sent
    last_seq: int = 0
    last_ts: datetime | None = None
    # first receiver's record (首问负责制): when the report came in, from whom, how
    received_at: datetime | None = None
    reporter_contact: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None
    # after the emergency: callbacks (回访), complaints, the close
    followups: dict[str, FollowupState] = field(default_factory=dict)
    complaints: dict[str, ComplaintState] = field(default_factory=dict)
    promise: Promise | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None

    @property
    def phase(self) -> str:
        """open, resolved (emergency over) or closed (callbacks and complaints done)."""
        if self.closed_at is not None and self.status != "open":
            return "closed"
        return self.status

    @property
    def counted_from(self) -> datetime:
        """Targets and clocks run from when the call or alarm came in."""
        return self.received_at or self.started_at

    # ---- views --------------------------------------------------------------------
    @property
    def title(self) -> dict[str, str]:
        return {"en": self.playbook.title.en, "zh": self.playbook.title.zh}

    def open_steps(self) -> list[StepState]:
        return [s for s in self.steps.values() if s.open]

    def overdue_steps(self, now: datetime) -> list[StepState]:
        return [s for s in self.steps.values() if s.overdue(now)]

    def all_settled(self) -> bool:
        return all(s.settled for s in self.steps.values())

    def unacked_pages(self) -> list[dict[str, Any]]:
        return [p for p in self.pages if not p.get("acked_at")]

    def timers(self) -> list[Timer]:
        """Every pending timer (not yet fired), soonest first."""
        out: list[Timer] = [t for t in aftercare.timers(self) if t.id not in self.fired]
        if self.status != "open":
            out.sort(key=lambda t: t.due_at)
            return out
        steps = self.playbook.steps()
        for s in self.steps.values():
            title = steps[s.id].title
            if s.open and s.due_at is not None:
                out.append(Timer(f"step_overdue:{s.id}", "step_overdue", s.due_at,
                                 bilingual("timer.step_due", title=title), s.id))
            if s.status == "in_progress" and s.arrive_by is not None:
                out.append(Timer(f"arrival_overdue:{s.id}", "arrival_overdue", s.arrive_by,
                                 bilingual("timer.arrival_due", title=title), s.id))
            rc = steps[s.id].roll_call
            if rc is not None and rc.no_answer_after is not None and s.status == "done" \
                    and s.done_at is not None and s.id in self.notifications:
                # the officer is told when silence starts to count: the door-knock list grows
                out.append(Timer(f"rollcall_silent:{s.id}", "rollcall_silent",
                                 s.done_at + rc.no_answer_after,
                                 bilingual("timer.rollcall_silent", title=title), s.id))
            wait = steps[s.id].wait
            if s.kind == "wait" and s.open and s.ready_at is not None and wait is not None:
                out.append(Timer(f"wait_elapsed:{s.id}", "wait_elapsed", s.ready_at + wait,
                                 bilingual("timer.wait_over", title=title), s.id))
        for t in self.targets.values():
            if t.met_at is None and not t.not_applicable:
                out.append(Timer(f"target_missed:{t.id}", "target_missed", t.due_at,
                                 bilingual("timer.target", title=t.title)))
        for r in self.reports.values():
            if r.live:
                out.append(Timer(f"report_due:{r.id}", "report_due", r.due_at,
                                 bilingual("timer.report", title=r.title)))
        out = [t for t in out if t.id not in self.fired]
        out.sort(key=lambda t: t.due_at)
        return out


# ---- the fold ------------------------------------------------------------------------

def new_state(incident_id: str, playbook: Playbook, event: Any) -> IncidentState:
    p = event.payload
    st = IncidentState(
        id=incident_id, playbook=playbook, started_at=event.ts, location=p["location"],
        location_detail=p.get("location_detail", {}), severity=int(p["severity"]),
        drill=bool(p.get("drill")), reporter=p.get("reporter") or event.actor,
        owner=p.get("first_receiver") or event.actor,
        first_receiver=p.get("first_receiver") or event.actor, inputs=dict(p.get("inputs", {})),
        received_at=datetime.fromisoformat(p["received_at"]) if p.get("received_at") else None,
        reporter_contact=dict(p.get("reporter_contact") or {}), channel=p.get("channel"),
    )
    track_of = playbook.track_of()
    for sid, step in playbook.steps().items():
        st.steps[sid] = StepState(sid, track_of[sid], step.kind)
    _schedule_targets(st)
    _recompute(st, playbook, event.ts)
    return st


def _schedule_targets(st: IncidentState, since: datetime | None = None) -> None:
    """Targets count from the start; report clocks from when their level applied.

    Raising an incident to level 1 at minute 30 gives the leadership call its
    10 minutes from then, not an obligation that was overdue before it existed."""
    pb = st.playbook
    old = st.targets
    st.targets = {}
    steps = pb.steps()
    for t in pb.targets:
        ts = TargetState(t.id, {"en": t.title.en, "zh": t.title.zh}, t.met_by,
                         st.counted_from + pb.target_within(t, st.severity))
        if t.met_by == "resolved":
            ts.rule = "resolved"
        elif t.met_by in steps and steps[t.met_by].notify is not None:
            ts.rule = "delivered"
            ts.threshold = float(getattr(t, "delivered", None) or 100.0)
        if t.id in old:
            ts.met_at, ts.not_applicable = old[t.id].met_at, old[t.id].not_applicable
            ts.reached = old[t.id].reached
            ts.fired = old[t.id].fired and old[t.id].due_at == ts.due_at
        st.targets[t.id] = ts
    try:
        sev = pb.severity(st.severity)
    except KeyError:
        return
    at = since or st.counted_from
    mine = {r.id for r in sev.report}
    if since is not None:
        # A clock of another level that had not fallen due yet no longer applies: the
        # new level's own clocks replace it ("superseded by level 2 at 14:02"). One
        # already overdue stays missed: the obligation existed and was not honoured.
        for old_clock in st.reports.values():
            if old_clock.id not in mine and old_clock.live and old_clock.due_at > since \
                    and not old_clock.fired:
                old_clock.superseded_at, old_clock.superseded_by = since, st.severity
    for r in sev.report:
        had = st.reports.get(r.id)
        if had is not None:
            if had.superseded_at is not None:  # back at this level: the clock runs again
                had.superseded_at = had.superseded_by = None
                had.due_at = at + r.within
            continue
        st.reports[r.id] = ReportClockState(r.id, {"en": r.title.en, "zh": r.title.zh}, r.to,
                                            r.by, at + r.within, level=st.severity)


def _due_at(st: IncidentState, step: Step) -> datetime | None:
    if step.due is None:
        return None
    if isinstance(step.due, timedelta):
        return st.counted_from + step.due
    anchor = st.steps.get(step.due.after)
    if anchor is None or anchor.done_at is None:
        return None
    return anchor.done_at + step.due.within


def _recompute(st: IncidentState, pb: Playbook, ts: datetime) -> None:
    """Derive pending/ready/excluded for every unsettled step, in dependency order."""
    steps = pb.steps()
    cond = _conditional(pb)
    changed = True
    while changed:
        changed = False
        for sid, step in steps.items():
            s = st.steps[sid]
            if s.settled:
                continue
            excluded = _excluded(st, step, cond.get(sid, []))
            if excluded:
                s.status, s.excluded_why = "excluded", excluded
                changed = True
                continue
            if s.status == "pending" and _ready(st, step, cond.get(sid, [])):
                s.status, s.ready_at = "ready", ts
                changed = True
            if s.due_at is None:
                s.due_at = _due_at(st, step)
    for t in st.targets.values():
        if t.met_by not in ("resolved", "closed") and t.met_by in st.steps and t.met_at is None:
            dep = st.steps[t.met_by]
            if t.rule == "delivered":
                queued = st.notifications.get(t.met_by)
                if dep.status == "done" and queued is not None \
                        and not queued.get("recipients") and not queued.get("messages"):
                    t.met_at, t.reached = dep.done_at, (0, 0)  # nobody to warn
            elif dep.status == "done":
                t.met_at = dep.done_at
            t.not_applicable = dep.status in ("excluded", "skipped")


def _conditional(pb: Playbook) -> dict[str, list[tuple[str, str]]]:
    return pb.conditional()


def _excluded(st: IncidentState, step: Step, cond: list[tuple[str, str]]) -> Msg | None:
    if cond:
        decisions = {dec for dec, _ in cond}
        chosen_any = False
        undecided = False
        for dec in decisions:
            d = st.steps[dec]
            if d.status == "done":
                if any(d.option == opt for dd, opt in cond if dd == dec):
                    chosen_any = True
            elif d.status in ("pending", "ready", "in_progress", "awaiting_confirmation"):
                undecided = True
        if not chosen_any and not undecided:
            dec = sorted(decisions)[0]
            option = st.steps[dec].option
            if not option:
                return Msg("refused.excluded_no_choice", {"decision": dec})
            return Msg("refused.excluded_by_decision", {"decision": dec, "option": option})
    for dep in step.after:
        if st.steps[dep].status == "excluded":
            return Msg("refused.excluded_after_excluded", {"step": dep})
    if step.join and all(st.steps[d].status == "excluded" for d in step.join):
        return Msg("refused.excluded_no_branch")
    return None


def _ready(st: IncidentState, step: Step, cond: list[tuple[str, str]]) -> bool:
    if any(st.steps[d].status not in ("done", "skipped") for d in step.after):
        return False
    if step.join and any(not st.steps[d].settled for d in step.join):
        return False
    return not cond or any(st.steps[dec].status == "done" and st.steps[dec].option == opt
                           for dec, opt in cond)


def waiting_for(st: IncidentState, step_id: str) -> list[str]:
    """What a pending step still waits for (for refusals and the console)."""
    step = st.playbook.steps()[step_id]
    out = [d for d in step.after if st.steps[d].status not in ("done", "skipped")]
    out += [d for d in step.join if not st.steps[d].settled]
    for dec, _opt in _conditional(st.playbook).get(step_id, []):
        if not st.steps[dec].settled and dec not in out:
            out.append(dec)
    return out


def apply(st: IncidentState, event: Any) -> None:
    """Fold one event into the state."""
    p, k, ts = event.payload, event.kind, event.ts
    st.last_seq, st.last_ts = event.seq, ts
    pb = st.playbook
    if k in ev.STEP_EVENTS:
        s = st.steps.get(p.get("step", ""))
        if s is None:  # a step from another playbook version: keep the log, ignore in state
            return
        if k == ev.STEP_STARTED:
            s.status = "in_progress"
            s.started_at, s.started_by = ts, event.actor
            s.dispatched_to = p.get("to")
            if p.get("arrive_by"):
                s.arrive_by = datetime.fromisoformat(p["arrive_by"])
        elif k == ev.STEP_AWAITING:
            s.status, s.awaiting_by = "awaiting_confirmation", event.actor
            s.option, s.value, s.note = p.get("option"), p.get("value"), p.get("note")
        elif k in (ev.STEP_DONE, ev.STEP_CONFIRMED):
            s.status, s.done_at = "done", ts
            if k == ev.STEP_CONFIRMED:
                s.confirmed_by, s.done_by = event.actor, s.awaiting_by
            else:
                s.done_by = event.actor
                s.option = p.get("option", s.option)
                s.value = p.get("value", s.value)
                s.note = p.get("note", s.note)
            rec = pb.steps()[s.id].record
            if rec is not None and s.value is not None:
                st.values[rec.name] = s.value
            esc = pb.steps()[s.id].escalate
            if esc is not None:  # the role was told: its report clocks are honoured
                for r in st.reports.values():
                    if r.to == esc.to:
                        r.honour(ts, s.done_by, f"step:{s.id}")
        elif k == ev.STEP_SKIPPED:
            s.status, s.done_at, s.done_by, s.reason = "skipped", ts, event.actor, p.get("reason")
        _recompute(st, pb, ts)
    elif k == ev.TIMER_FIRED:
        st.fired.add(p["timer"])
        if p.get("kind") == "step_overdue" and p.get("step") in st.steps:
            st.steps[p["step"]].overdue_fired = True
        if p.get("kind") == "target_missed" and p.get("target") in st.targets:
            st.targets[p["target"]].fired = True
        if p.get("kind") == "report_due" and p.get("report") in st.reports:
            st.reports[p["report"]].fired = True
        aftercare.on_fired(st, p)
    elif k == ev.NOTE_ADDED:
        st.notes.append({"ts": ts, "by": event.actor, "text": p.get("text", ""),
                         "step": p.get("step")})
    elif k == ev.OWNER_CHANGED:
        st.handovers.append({"ts": ts, "by": event.actor, "from": p.get("from"),
                             "to": p.get("to"), "reason": p.get("reason")})
        st.owner = p["to"]
    elif k == ev.SEVERITY_CHANGED:
        st.severity = int(p["to"])
        _schedule_targets(st, since=ts)
    elif k == ev.REPORT_DONE:
        r = st.reports.get(p.get("report", ""))
        if r is not None:
            r.done_at, r.done_by, r.done_via = ts, event.actor, "reported"
    elif k == ev.NOTIFY_QUEUED:
        st.notifications[p["step"]] = dict(p)
    elif k == ev.NOTIFY_RETRIED:
        old = st.notifications.get(p.get("step", ""))
        if old is not None:
            st.notifications[p["step"]] = {**old,
                                           "retried": int(old.get("retried") or 0)
                                           + int(p.get("messages") or 0)}
    elif k == ev.DELIVERY_PROGRESS:
        for channel, counts in p.get("channels", {}).items():
            st.delivery[channel] = dict(counts)
        if isinstance(p.get("step"), str):
            st.step_delivery[p["step"]] = p
            _delivered(st, p["step"], p, ts)
    elif k == ev.PAGE_SENT:
        st.pages.append({**p, "id": p.get("page"), "ts": ts, "acked_at": None, "acked_by": None})
    elif k == ev.PAGE_ACKED:
        which = p.get("pages") if isinstance(p.get("pages"), list) else None
        for page in st.pages:
            if page["acked_at"] is not None:
                continue
            if (page["id"] in which) if which is not None \
                    else (p.get("page") in (None, page["id"])):
                page["acked_at"], page["acked_by"] = ts, event.actor
                if p.get("via") == "reply":  # answered the message itself (issue 19)
                    page["acked_via"] = str(p.get("channel") or "reply")
                role = page.get("role") or page.get("node")
                to = page.get("to")
                told = event.actor in to if isinstance(to, list) else event.actor == to
                for r in st.reports.values():  # a page to the role, acknowledged by them
                    if role and r.to == role and told:  # (not a commander's --all)
                        r.honour(ts, event.actor, f"page:{page['id']}")
    elif k == ev.REPLY_RECEIVED:
        st.replies.append({**p, "ts": ts, "by": event.actor, "seq": event.seq})
        if p.get("provider_id"):
            st.reply_ids.add((str(p.get("channel") or ""), str(p["provider_id"])))
    elif k == ev.ROLLCALL_KNOCK:
        st.knocks.append({**p, "ts": ts, "seq": event.seq, "by": event.actor})
    elif k == ev.INCIDENT_RESOLVED:
        st.status, st.resolved_at, st.resolved_by = "resolved", ts, event.actor
        st.summary = p.get("summary")
        for t in st.targets.values():
            if t.met_by == "resolved" and t.met_at is None:
                t.met_at = ts
    elif k == ev.INCIDENT_REOPENED:
        st.status, st.resolved_at, st.resolved_by = "open", None, None
        st.closed_at = st.closed_by = None
        for t in st.targets.values():
            if t.met_by in ("resolved", "closed"):
                t.met_at = None
    elif k in aftercare.EVENTS:
        aftercare.apply(st, event)
        if k == aftercare.INCIDENT_CLOSED:
            for t in st.targets.values():
                if t.met_by == "closed" and t.met_at is None:
                    t.met_at = ts


def _delivered(st: IncidentState, step: str, p: dict[str, Any], ts: datetime) -> None:
    """A target on a notify step is met once its messages reached enough recipients.

    The figures come from the step's recorded delivery fact (``delivery.progress``:
    per recipient, the step's own messages only). Met at the moment the last counted
    recipient was reached (``delivered_at``), never later than the event itself."""
    for t in delivery_targets_met(st, step, p):
        at = ts
        if isinstance(p.get("delivered_at"), str):
            with contextlib.suppress(ValueError):
                at = min(ts, datetime.fromisoformat(p["delivered_at"]))
        t.met_at, t.reached = at, _reach(p)


def _reach(p: dict[str, Any]) -> tuple[int, int]:
    """(delivered, recipients) of a delivery payload."""
    if "recipients" in p:
        return int(p.get("delivered") or 0), int(p.get("recipients") or 0)
    # a log written before per-recipient figures: rows per channel
    chans = [c for c in (p.get("channels") or {}).values() if isinstance(c, dict)]
    if any(c.get("pending") or c.get("failed") for c in chans):
        return 0, 0
    sent = sum(int(c.get("sent") or 0) for c in chans)
    return sent, sent


def delivery_targets_met(st: IncidentState, step: str, p: dict[str, Any]) -> list[TargetState]:
    """The open "delivered" targets on `step` that figures `p` would meet. The
    dispatcher records a delivery fact when this is not empty (or the step finished),
    so a target is met on time without logging every count in between."""
    out = []
    delivered, recipients = _reach(p)
    for t in st.targets.values():
        if t.rule != "delivered" or t.met_by != step or t.met_at is not None \
                or t.not_applicable:
            continue
        need = max(1, math.ceil(recipients * t.threshold / 100.0 - 1e-9))
        if recipients > 0 and delivered >= need:
            out.append(t)
    return out


def fold(incident_id: str, playbook: Playbook, events: list[Any]) -> IncidentState:
    if not events or events[0].kind != ev.INCIDENT_STARTED:
        raise ValueError(f"incident {incident_id} has no start event")
    st = new_state(incident_id, playbook, events[0])
    st.last_seq, st.last_ts = events[0].seq, events[0].ts
    for e in events[1:]:
        apply(st, e)
    return st


def read_incident(store: Any, incident_id: str,
                  playbook_for: Callable[[str, str], Playbook]) -> IncidentState:
    """THE fold of an incident from its stored log: its row, its playbook
    (`playbook_for(incident_id, playbook_id)`) and its events. Reads never write —
    nothing is fired or appended here; the engine (Engine._fresh) and the lean read
    path (Runtime.read_state: `incident status`) both use it."""
    from incident.errors import Refused

    try:
        row = store.incident(incident_id)
    except KeyError:
        raise Refused("refused.no_incident", incident=incident_id) from None
    events = store.events(incident_id)
    return fold(incident_id, playbook_for(incident_id, row.playbook_id), events)
