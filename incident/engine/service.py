"""The incident engine: every face (console, CLI, drills, automation) drives this.

Each operation validates against the folded state, then appends its events in
one transaction with an optimistic check on the sequence number. If another
console got in first, the state is refreshed and the operation re-validated, so
the loser hears "already done by X at T" instead of writing a duplicate.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import operator
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from incident.clock import Clock
from incident.engine import aftercare
from incident.engine import events as ev
from incident.engine.context import local_zone
from incident.engine.state import (
    IncidentState,
    Timer,
    apply,
    fold,
    read_incident,
    waiting_for,
)
from incident.errors import Msg, Refused, known, suggest
from incident.identity import Actor, staff_id
from incident.names import Names
from incident.store import NewEvent, NewOutbox, SequenceConflict, StoredEvent

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.playbook import Playbook, PlaybookLibrary, Step
    from incident.store import IncidentRow, Store

LATE_GRACE = timedelta(seconds=30)  # a timer fired later than this was due while we were down


class Busy(Refused):
    """Others kept appending while an operation retried: nothing is wrong, try again."""


@dataclass(slots=True)
class Sweep:
    """What one pass over the open incidents did (`incident tick`, the service)."""

    fired: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    broken: dict[str, str | Msg] = field(default_factory=dict)  # incident -> why it was skipped
    claimed_elsewhere: list[str] = field(default_factory=list)  # another service had it
    incidents: int = 0  # open incidents looked at
    next_due: datetime | None = None  # the soonest pending timer of the swept incidents


class MessagePlanner(Protocol):
    """Turns a notify step into outbox rows (implemented by incident.notify)."""

    def plan(self, state: IncidentState, step: Step, *, actor: str,
             now: datetime) -> tuple[dict[str, Any], list[NewOutbox]]: ...


Hook = Callable[["Engine", IncidentState, list[StoredEvent]], None]
TimerSource = Callable[[IncidentState], list[Timer]]
# A reactor answers new events inside the same transaction: it sees the state with
# them applied (provisional seq numbers, no hashes yet) and returns more events and
# outbox rows (event_index counts within what it returns). Escalation pages a person
# this way, so a crash can never leave a fired timer without its page.
Reactor = Callable[[IncidentState, list[StoredEvent], datetime],
                   tuple[list[NewEvent], list[NewOutbox]]]


class Engine:
    def __init__(self, store: Store, playbooks: PlaybookLibrary, directory: Directory | None,
                 clock: Clock, *, planner: MessagePlanner | None = None,
                 hooks: Iterable[Hook] = (), timer_sources: Iterable[TimerSource] = ()):
        self.store = store
        self.playbooks = playbooks
        self.directory = directory
        self.clock = clock
        self.planner = planner
        self.hooks: list[Hook] = list(hooks)
        # Sibling modules (escalation) add their own timers; they fire like the rest.
        self.timer_sources: list[TimerSource] = list(timer_sources)
        self.reactors: list[Reactor] = []
        # A drill runtime's engine is sealed (seal()) to the drill incidents it starts or
        # is given: it refuses to write anywhere else, whatever face drives it.
        self.scope: set[str] | None = None
        # Each says whether an incident keeps its own clock (a scaled drill): a sweep on
        # this engine's clock leaves such an incident to its own drill runtime.
        self.own_clock: list[Callable[[IncidentRow], bool]] = []
        # Wraps each incident's firing in a cross-process claim (`incident service` on
        # PostgreSQL): a context manager yielding False when another process holds it.
        self.claim: Callable[[str], AbstractContextManager[bool]] | None = None
        self._broken: dict[str, tuple[int, str | Msg]] = {}  # incident -> (last_seq, why)
        # incident -> (last_seq, its pending timers): timers derive from the log, so an
        # unchanged log needs no recomputing (a sweep of 500 quiet incidents is lookups)
        self._pending_at: dict[str, tuple[int, list[Timer]]] = {}
        self._cache: dict[str, IncidentState] = {}
        self._lock = threading.RLock()
        # set (to the reason's catalogue key) for a console that only follows along:
        # acts are refused
        self.read_only: str | None = None

    # ---- reading -----------------------------------------------------------------
    def _playbook_for(self, incident_id: str, playbook_id: str) -> Playbook:
        try:
            return self.playbooks.get(playbook_id)
        except KeyError:
            raise Refused("refused.playbook_not_loaded", incident=incident_id,
                          playbook=playbook_id) from None

    def _fresh(self, incident_id: str, catch_up: bool = True) -> IncidentState:
        """The cached fold, caught up with any events written by others.

        Writers skip the catch-up query: the sequence check on append detects a
        stale cache, and the retry catches up and validates again."""
        st = self._cache.get(incident_id)
        if st is not None and not catch_up:
            return st
        if st is None:
            st = read_incident(self.store, incident_id, self._playbook_for)
            self._cache[incident_id] = st
            return st
        for e in self.store.events(incident_id, after_seq=st.last_seq):
            apply(st, e)
        return st

    def state(self, incident_id: str) -> IncidentState:
        """A private copy of the current state, safe to hand to another thread."""
        with self._lock:
            return _snapshot(self._fresh(incident_id))

    def seal(self, *incident_ids: str) -> None:
        """Scope this engine to drills: from now on it writes only to the drill incidents
        named here or started by it. A drill's clock (scaled, or manual and run ahead)
        must never mark a live incident's targets missed or page real people."""
        if self.scope is None:
            self.scope = set()
        for iid in incident_ids:
            if not self.store.incident(iid).drill:
                raise Refused("refused.drill_runtime_live", incident=iid)
            self.scope.add(iid)

    def _check_scope(self, incident_id: str) -> None:
        if self.scope is not None and incident_id not in self.scope:
            raise Refused("refused.drill_runtime_sealed", scope=listed(sorted(self.scope)),
                          incident=incident_id)

    def due_now(self, st: IncidentState) -> list[Timer]:
        """Timers that are due but not yet fired: what a read shows instead of firing."""
        now = self.clock.now()
        return [t for t in self.timers(st) if t.due_at <= now]

    # ---- writing -----------------------------------------------------------------
    def _commit(self, incident_id: str,
                plan: Callable[[IncidentState, datetime], tuple[list[NewEvent], list[NewOutbox],
                                                                dict[str, Any]]],
                snapshot: bool = True) -> IncidentState | None:
        """Plan against the fresh state and append; the new state (a private copy unless
        `snapshot` is False: then None, for callers such as tick that only write)."""
        self._check_scope(incident_id)
        with self._lock:
            for attempt in range(5):
                st = self._fresh(incident_id, catch_up=attempt > 0)
                now = self.clock.now()
                events, outbox, update = plan(st, now)
                if not events:
                    return _snapshot(st) if snapshot else None
                if self.read_only and any(e.actor != ev.SYSTEM for e in events):
                    raise Refused(self.read_only)
                events = [_recorded(e) for e in events]
                events, outbox = self._react(st, events, outbox, now)
                update = {"updated_at": now, **update}
                try:
                    stored = self.store.append(incident_id, st.last_seq, events, outbox=outbox,
                                               update=update)
                except SequenceConflict:
                    continue  # someone else wrote first: refresh and re-validate
                for e in stored:
                    apply(st, e)
                for hook in self.hooks:
                    hook(self, st, stored)
                return _snapshot(st) if snapshot else None
            raise Busy("the incident is changing too fast to act on — try again")

    def _react(self, st: IncidentState, events: list[NewEvent], outbox: list[NewOutbox],
               now: datetime) -> tuple[list[NewEvent], list[NewOutbox]]:
        """Let reactors answer `events` (and their own answers) in the same append."""
        if not self.reactors:
            return events, outbox
        scratch = _snapshot(st)
        all_events, all_outbox = list(events), list(outbox)
        pending = _provisional(st.id, events, st.last_seq + 1)
        for _round in range(5):
            for e in pending:
                apply(scratch, e)
            more: list[NewEvent] = []
            for react in self.reactors:
                got, rows = react(scratch, pending, now)
                shift = len(all_events) + len(more)
                all_outbox += [replace(r, event_index=(r.event_index or 0) + shift) for r in rows]
                more += got
            if not more:
                break
            pending = _provisional(st.id, more, st.last_seq + len(all_events) + 1)
            all_events += more
        return all_events, all_outbox

    def start(self, playbook_id: str, at: str, *, actor: str, severity: int | None = None,
              drill: bool = False, reporter: str | None = None, first_receiver: str | None = None,
              inputs: dict[str, Any] | None = None, note: str | dict[str, str] | None = None,
              received_at: datetime | None = None, reporter_contact: dict[str, Any] | None = None,
              channel: str | None = None) -> IncidentState:
        self.check_actor(actor)
        if self.scope is not None and not drill:
            raise Refused("refused.drill_runtime_starts_drills")
        pb = self.playbooks.get(playbook_id)  # an unknown id: UnknownPlaybook, a Refused
        detail: dict[str, Any] = {}
        location = at
        if self.directory is not None:
            from incident.directory import SelectorError

            try:
                loc = self.directory.locate(at)
            except SelectorError as exc:
                raise Refused("refused.bad_location", location=at, reason=exc.msg()) from None
            location = str(loc)
            detail = {"site": loc.site, "building": loc.building, "floor": loc.floor,
                      "unit": loc.unit}
        level = pb.default_severity if severity is None else int(severity)
        try:
            pb.severity(level)
        except KeyError:
            raise Refused("refused.no_such_severity", playbook=pb.id, level=level,
                          levels=listed(s.level for s in pb.severities)) from None
        given = dict(inputs or {})
        unknown = [k for k in given if k not in pb.inputs]
        if unknown:
            raise Refused("refused.unknown_input", input=unknown[0], playbook=pb.id,
                          hint=suggest(unknown[0], pb.inputs) or known(pb.inputs))
        for key, spec in pb.inputs.items():
            if key not in given and spec.default is not None:
                given[key] = spec.default
            if spec.required and not str(given.get(key, "")).strip():
                raise Refused("refused.input_required", playbook=pb.id, input=key,
                              label=spec.label)
        now = self.clock.now()
        owner = first_receiver or actor
        payload = {
            "playbook_id": pb.id, "playbook_version": pb.version, "type": pb.type,
            "location": location, "location_detail": detail, "severity": level,
            "drill": bool(drill), "reporter": reporter or actor, "first_receiver": owner,
            "inputs": given,
        }
        from incident.engine.followups import first_receiver_record

        payload.update(first_receiver_record(self, now, received_at=received_at,
                                             reporter=reporter, contact=reporter_contact,
                                             channel=channel))
        events = [NewEvent(ev.INCIDENT_STARTED, actor, payload, now)]
        if note:
            events.append(NewEvent(ev.NOTE_ADDED, actor, {"text": note}, now))
        with self._lock:
            row, stored = self.store.create_incident(
                playbook_id=pb.id, playbook_version=pb.version, type=pb.type,
                title={"en": pb.title.en, "zh": pb.title.zh}, location=location,
                site=detail.get("site") or "", severity=level, drill=bool(drill), owner=owner,
                created_at=now, events=events,
                id_date=now.astimezone(local_zone(self.directory)).date())
            st = fold(row.id, pb, stored)
            self._cache[row.id] = st
            if self.scope is not None:
                self.scope.add(row.id)
            for hook in self.hooks:
                hook(self, st, stored)
        if self.reactors:  # the start's answers (first pages) in the next transaction;
            # a crash in between is healed by the reactors' own timers on the next tick
            self._commit(row.id, lambda fresh, now: (*self._react_only(fresh, stored, now), {}),
                         snapshot=False)
        return self.state(row.id)

    def _react_only(self, st: IncidentState, stored: list[StoredEvent],
                    now: datetime) -> tuple[list[NewEvent], list[NewOutbox]]:
        events: list[NewEvent] = []
        outbox: list[NewOutbox] = []
        for react in self.reactors:
            got, rows = react(st, stored, now)
            outbox += [replace(r, event_index=(r.event_index or 0) + len(events)) for r in rows]
            events += got
        return events, outbox  # _commit lets reactors answer these in turn

    def act(self, incident_id: str, step_id: str, *, actor: str, action: str = "done",
            option: str | None = None, value: Any = None, reason: str | None = None,
            note: str | dict[str, str] | None = None,
            to: str | None = None) -> IncidentState:
        """Act on a step. action: done (default), start, skip, confirm. A note is typed
        text, or bilingual ({'en','zh'}) when the program writes it."""
        self.check_actor(actor)
        if action not in ("done", "start", "skip", "confirm"):
            raise Refused("refused.unknown_action", action=action)

        def plan(st: IncidentState, now: datetime):
            _require_open(st)
            step = _step(st, step_id)
            s = st.steps[step_id]
            title = step.title
            if s.status in ("done", "skipped"):
                when = _local(s.done_at, self.directory)
                by = s.confirmed_by or s.done_by
                raise Refused("refused.step_already_done" if s.status == "done"
                              else "refused.step_already_skipped",
                              step=title, who=self._named(by), at=when)
            if s.status == "excluded":
                raise Refused("refused.step_excluded", step=title,
                              why=s.excluded_why)
            if s.status == "pending" and action != "skip":
                waits = waiting_for(st, step_id)
                if not waits:
                    raise Refused("refused.step_waits_dependencies", step=title)
                raise Refused("refused.step_not_ready", step=title,
                              waits=_waits(st, waits))
            payload: dict[str, Any] = {"step": step_id, "track": s.track}
            if note:
                payload["note"] = note
            if action == "skip":
                if not (reason and reason.strip()):
                    raise Refused("refused.skip_needs_reason", step=title)
                return [NewEvent(ev.STEP_SKIPPED, actor, {**payload, "reason": reason.strip()},
                                 now)], [], {}
            if action == "confirm":
                return self._confirm(st, step, actor, payload, now)
            if s.status == "awaiting_confirmation":
                raise Refused("refused.step_awaits_confirmation", step=title,
                              who=self._named(s.awaiting_by))
            if action == "start" or (step.kind == "dispatch" and s.status == "ready"):
                if s.status == "in_progress":
                    raise Refused("refused.step_already_started", step=title,
                                  who=self._named(s.started_by))
                return self._start(step, actor, payload, now, to), [], {}
            return self._done(st, step, actor, payload, now, option, value)

        return self._commit(incident_id, plan)

    def _start(self, step: Step, actor: str, payload: dict[str, Any], now: datetime,
               to: str | None) -> list[NewEvent]:
        if step.dispatch is not None:
            payload["to"] = to or step.dispatch.vendor or step.dispatch.role
            if step.dispatch.arrive_within is not None:
                payload["arrive_by"] = (now + step.dispatch.arrive_within).isoformat()
        elif to:
            payload["to"] = to
        return [NewEvent(ev.STEP_STARTED, actor, payload, now)]

    def _done(self, st: IncidentState, step: Step, actor: str, payload: dict[str, Any],
              now: datetime, option: str | None, value: Any):
        title = step.title
        if step.kind == "decision":
            ids = [o.id for o in step.options or []]
            if option is None:
                raise Refused("refused.decision_needs_option", step=title, options=listed(ids))
            if option not in ids:
                raise Refused("refused.no_such_option", step=title, option=option,
                              hint=suggest(option, ids)
                              or Msg("refused.hint_choose_one", {"options": listed(ids)}))
            payload["option"] = option
        elif option is not None:
            raise Refused("refused.not_a_decision", step=title)
        if step.kind == "record":
            payload["value"] = _coerce(step, value)
        elif value is not None:
            payload["value"] = value
        events: list[NewEvent] = []
        outbox: list[NewOutbox] = []
        if step.kind in ("notify", "roll_call"):
            if self.planner is None:
                raise Refused("refused.notifications_not_configured")
            sends = step
            if step.kind == "roll_call":  # the question goes out like an owner notice
                from incident.engine.rollcall import as_notify

                sends = as_notify(step)
            summary, outbox = self.planner.plan(st, sends, actor=actor, now=now)
            events.append(NewEvent(ev.NOTIFY_QUEUED, actor, {"step": step.id, **summary}, now))
        if step.kind == "escalate" and step.escalate is not None:
            events.append(NewEvent(ev.ESCALATION_RAISED, actor,
                                   {"to": step.escalate.to, "step": step.id,
                                    "reason": step.escalate.reason.en if step.escalate.reason
                                    else title,
                                    "why": (step.escalate.reason or step.title).model_dump()},
                                   now))
        kind = ev.STEP_AWAITING if step.gate is not None else ev.STEP_DONE
        events.append(NewEvent(kind, actor, payload, now))
        return events, outbox, {}

    def _confirm(self, st: IncidentState, step: Step, actor: str, payload: dict[str, Any],
                 now: datetime):
        s = st.steps[step.id]
        if s.status != "awaiting_confirmation":
            raise Refused("refused.nothing_to_confirm", step=step.title)
        if actor == s.awaiting_by:
            raise Refused("refused.confirm_second_person", step=step.title,
                          who=self._named(actor))
        if isinstance(actor, Actor) and not actor.proven:
            raise Refused("refused.confirm_needs_proof", step=step.title, who=self._named(actor))
        role = step.gate.role if step.gate else None
        if role and self.directory is not None:
            person = self.directory.staff.get(actor)
            if person is None or role not in person.roles:
                raise Refused("refused.confirm_needs_role", step=step.title, role=role,
                              who=self._named(actor))
        return [NewEvent(ev.STEP_CONFIRMED, actor, payload, now)], [], {}

    def note(self, incident_id: str, text: str, *, actor: str,
             step: str | None = None) -> IncidentState:
        self.check_actor(actor)
        if not text.strip():
            raise Refused("refused.note_empty")

        def plan(st: IncidentState, now: datetime):
            payload: dict[str, Any] = {"text": text.strip()}
            if step:
                _step(st, step)
                payload["step"] = step
            return [NewEvent(ev.NOTE_ADDED, actor, payload, now)], [], {}

        return self._commit(incident_id, plan)

    def handover(self, incident_id: str, to: str, *, actor: str,
                 reason: str | None = None) -> IncidentState:
        self.check_actor(actor)
        def plan(st: IncidentState, now: datetime):
            _require_open(st)
            if to == st.owner:
                raise Refused("refused.already_owner", who=self._named(to), incident=incident_id)
            if self.directory is not None and to not in self.directory.staff:
                raise Refused("refused.unknown_person", person=to,
                              hint=suggest(to, self.directory.staff)
                              or Msg("refused.hint_staff_id"))
            payload = {"from": st.owner, "to": to, "reason": reason or ""}
            return [NewEvent(ev.OWNER_CHANGED, actor, payload, now)], [], {"owner": to}

        return self._commit(incident_id, plan)

    def set_severity(self, incident_id: str, level: int, *, actor: str,
                     reason: str) -> IncidentState:
        self.check_actor(actor)
        def plan(st: IncidentState, now: datetime):
            _require_open(st)
            try:
                st.playbook.severity(level)
            except KeyError:
                raise Refused("refused.no_severity_here", level=level) from None
            if level == st.severity:
                return [], [], {}
            payload = {"from": st.severity, "to": level, "reason": reason}
            return [NewEvent(ev.SEVERITY_CHANGED, actor, payload, now)], [], {"severity": level}

        return self._commit(incident_id, plan)

    def report_done(self, incident_id: str, report_id: str, *, actor: str,
                    note: str | None = None) -> IncidentState:
        self.check_actor(actor)
        def plan(st: IncidentState, now: datetime):
            r = st.reports.get(report_id)
            if r is None:
                raise Refused("refused.no_report_clock", report=report_id, level=st.severity,
                              hint=suggest(report_id, st.reports) or known(st.reports))
            if r.done_at is not None:
                raise Refused("refused.already_reported", report=r.title, who=self._named(r.done_by),
                              at=_local(r.done_at, self.directory))
            return [NewEvent(ev.REPORT_DONE, actor, {"report": report_id, "note": note or ""},
                             now)], [], {}

        return self._commit(incident_id, plan)

    def resolve(self, incident_id: str, *, actor: str, summary: str = "",
                force: bool = False) -> IncidentState:
        self.check_actor(actor)
        def plan(st: IncidentState, now: datetime):
            _require_open(st)
            still = [s.id for s in st.steps.values() if not s.settled]
            if still and not force:
                raise Refused("refused.steps_still_open", n=len(still),
                              steps=listed(still[:5], more=len(still) > 5))
            if still and not summary.strip():
                raise Refused("refused.force_needs_summary")
            payload = {"summary": summary, "open_steps": still}
            return [NewEvent(ev.INCIDENT_RESOLVED, actor, payload, now)], [], \
                {"status": "resolved", "resolved_at": now}

        return self._commit(incident_id, plan)

    def reopen(self, incident_id: str, *, actor: str, reason: str) -> IncidentState:
        self.check_actor(actor)
        def plan(st: IncidentState, now: datetime):
            if st.status == "open":
                raise Refused("refused.already_open", incident=incident_id)
            if not reason.strip():
                raise Refused("refused.reopen_needs_reason")
            return [NewEvent(ev.INCIDENT_REOPENED, actor, {"reason": reason}, now)], [], \
                {"status": "open", "resolved_at": None}

        return self._commit(incident_id, plan)

    def append_events(self, incident_id: str, make: Callable[[IncidentState, datetime], Any],
                      ) -> IncidentState:
        """For sibling core modules (escalation, notify progress, drills): append events
        computed from the fresh state, with the same conflict handling. `make` returns
        a list of events, or (events, outbox rows) to queue messages with them."""

        def plan(st: IncidentState, now: datetime):
            made = make(st, now)
            if isinstance(made, tuple):
                return list(made[0]), list(made[1]), {}
            return list(made), [], {}

        return self._commit(incident_id, plan)

    def peek(self, incident_id: str, read: Callable[[IncidentState], Any]) -> Any:
        """`read` applied to the cached, caught-up state under the engine's lock, without
        copying it (a hot path such as routing an inbound reply only needs a few fields;
        `read` must not keep or change what it is given)."""
        with self._lock:
            return read(self._fresh(incident_id))

    def record_reply(self, incident_id: str, *, channel: str, address: str, text: str,
                     person_id: str | None, unit: str | None, provider_id: str | None,
                     outbox_id: int | None, step_id: str | None, purpose: str,
                     answer: str | None, drill_script: bool = False) -> IncidentState:
        """A person's reply to a page or a roll-call question, on the incident it answers.

        Appends REPLY_RECEIVED; for a page answered "ack" also PAGE_ACKED for *that* page
        only, by the person who replied (in the same transaction), which stops the
        escalation waiting on it. The same (channel, provider id) twice changes nothing.
        The caller (incident.inbound, a drill script) has already checked who sent it
        and which message it answers; this only refuses what the log itself rules out."""
        if purpose not in ("page", "roll_call"):
            raise Refused("refused.reply_purpose", purpose=purpose)
        actor = person_id or "inbound"

        def plan(st: IncidentState, now: datetime):
            _require_open(st)
            if drill_script and not st.drill:  # a drill's script never speaks for real people
                raise Refused("refused.drill_reply_on_live", incident=st.id)
            if provider_id and (channel, str(provider_id)) in st.reply_ids:
                return [], [], {}  # a replay: already on the timeline
            payload: dict[str, Any] = {
                "channel": channel, "address": address, "person_id": person_id, "unit": unit,
                "text": str(text or "")[:500], "provider_id": provider_id,
                "outbox_id": outbox_id, "step_id": step_id, "purpose": purpose,
                "answer": answer, "drill_script": bool(drill_script)}
            events = [NewEvent(ev.REPLY_RECEIVED, actor, payload, now)]
            page_id = (step_id or "").partition(":")[2] if purpose == "page" else ""
            if answer == "ack" and page_id:
                page = next((p for p in st.pages if p.get("id") == page_id), None)
                to = page.get("to") if page else None
                paged = to if isinstance(to, list) else [to] if to else []
                if page is not None and page.get("acked_at") is None and person_id in paged:
                    payload["acknowledged"] = page_id
                    events.append(NewEvent(ev.PAGE_ACKED, actor, {
                        "page": page_id, "pages": [page_id],
                        "nodes": [page.get("node") or ""], "via": "reply",
                        "channel": channel}, now))
            return events, [], {}

        return self._commit(incident_id, plan)

    def knock(self, incident_id: str, *, team: str, actor: str, step_id: str | None = None,
              no_answer_after: timedelta | None = None) -> IncidentState:
        """Send a roll call's door-knock list to the team on duty (see engine.rollcall)."""
        from incident.engine import rollcall

        return rollcall.knock(self, incident_id, team=team, actor=actor, step_id=step_id,
                              no_answer_after=no_answer_after)

    def timers(self, st: IncidentState) -> list[Timer]:
        """Every pending timer of an incident, the engine's and its siblings', soonest first."""
        out = st.timers()
        if st.status == "open":
            for source in self.timer_sources:
                out.extend(t for t in source(st) if t.id not in st.fired)
        out.sort(key=lambda t: t.due_at)
        return out

    # ---- time --------------------------------------------------------------------
    def tick(self, incident_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Fire every timer that has fallen due; returns (incident, payload) per firing.

        Timers are derived from the log, so they survive restarts: one that fell
        due while no process ran fires now and says how late it is. Without an
        incident, a sweep (broken incidents are skipped: `sweep()` names them).
        """
        if incident_id is None:
            return self.sweep().fired
        self._check_scope(incident_id)
        return self._tick_one(incident_id)

    def sweep(self) -> Sweep:
        """Fire the due timers of every open incident this engine may act on.

        One damaged incident (a missing event, a broken chain, a playbook no longer
        loaded) is reported and skipped; every other incident's timers still fire.
        """
        out = Sweep()
        now = self.clock.now()
        if self.scope is not None:
            rows = [r for r in (self._row(i) for i in sorted(self.scope))
                    if r is not None and r.status == "open"]
        else:
            # callbacks and complaints of recently resolved incidents fire too (not of every
            # incident ever resolved: a sweep stays as cheap as the open incidents)
            recent = [r for r in self.store.incidents(
                status="resolved", drill=False, since=now - aftercare.TICK_WINDOW)]
            rows = [r for r in self.store.incidents(status="open") + recent
                    if not (r.drill and any(own(r) for own in self.own_clock))]
        self._forget_closed({r.id for r in rows})
        out.incidents = len(rows)
        for row in rows:
            known = self._broken.get(row.id)
            if known is not None and known[0] == row.last_seq:
                out.broken[row.id] = known[1]
                continue
            try:
                pending = self._pending(row)
                if pending and pending[0].due_at <= now:
                    claim = self.claim(row.id) if self.claim is not None else None
                    if claim is None:
                        out.fired += self._tick_one(row.id)
                    else:
                        with claim as mine:
                            if not mine:
                                out.claimed_elsewhere.append(row.id)
                                continue
                            out.fired += self._tick_one(row.id)
                    pending = self._pending(replace(row, last_seq=self._cache[row.id].last_seq))
            except Exception as exc:  # one damaged incident must not stop the rest
                why = self._diagnose(row.id, exc)
                if why is None:  # busy, not damaged: the next sweep tries again soon
                    out.claimed_elsewhere.append(row.id)
                    continue
                self._broken[row.id] = (row.last_seq, why)
                self._cache.pop(row.id, None)
                self._pending_at.pop(row.id, None)
                out.broken[row.id] = why
                continue
            self._broken.pop(row.id, None)
            if pending and (out.next_due is None or pending[0].due_at < out.next_due):
                out.next_due = pending[0].due_at
        return out

    def _forget_closed(self, swept: set[str]) -> None:
        """A service runs for months: folds of incidents no longer swept (resolved) go
        (a later read folds them again)."""
        with self._lock:
            for iid in [i for i in self._pending_at if i not in swept]:
                self._pending_at.pop(iid, None)
                self._cache.pop(iid, None)
            for iid in [i for i in self._broken if i not in swept]:
                self._broken.pop(iid, None)

    def _pending(self, row: IncidentRow) -> list[Timer]:
        known = self._pending_at.get(row.id)
        if known is not None and known[0] == row.last_seq:
            return known[1]
        st = self._swept_state(row)
        with self._lock:
            pending = self.timers(st)
            self._pending_at[row.id] = (st.last_seq, pending)
        return pending

    def _row(self, incident_id: str) -> IncidentRow | None:
        try:
            return self.store.incident(incident_id)
        except KeyError:
            return None

    def _swept_state(self, row: IncidentRow) -> IncidentState:
        """The cached fold, caught up only when the row says others appended; a first
        fold checks the hash chain (a damaged log is reported, not acted on)."""
        with self._lock:
            st = self._cache.get(row.id)
            if st is not None and st.last_seq == row.last_seq:
                return st
            if st is None:
                rep = self.store.verify(row.id)
                if not rep.ok:
                    raise Refused("refused.chain_broken", seq=rep.first_bad_seq, reason=rep.reason)
            return self._fresh(row.id)

    def _diagnose(self, incident_id: str, exc: Exception) -> str | Msg | None:
        """Why an incident could not be ticked, in words an operator can act on; None
        when it is merely busy (others appending) and its log is sound."""
        try:
            rep = self.store.verify(incident_id)
        except Exception:
            rep = None
        if rep is not None and not rep.ok:
            return Msg("refused.chain_broken_tick", {"seq": rep.first_bad_seq,
                                                     "reason": rep.reason, "id": incident_id})
        if isinstance(exc, Busy):
            return None
        if isinstance(exc, Refused):
            return exc.message
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return text or type(exc).__name__

    def _tick_one(self, iid: str) -> list[tuple[str, dict[str, Any]]]:
        fired: list[tuple[str, dict[str, Any]]] = []
        for _round in range(20):  # a fired wait can make new timers due at once
            batch: list[dict[str, Any]] = []

            def plan(st: IncidentState, now: datetime, batch=batch):
                batch.clear()
                if st.status != "open" and not aftercare.pending(st):
                    return [], [], {}
                out: list[NewEvent] = []
                for t in self.timers(st):
                    if t.due_at > now:
                        break
                    late = now - t.due_at
                    payload: dict[str, Any] = {
                        "timer": t.id, "kind": t.kind, "due_at": t.due_at.isoformat(),
                        "label": t.label, "late": late > LATE_GRACE,
                        "late_by_s": round(late.total_seconds(), 1)}
                    if t.step:
                        payload["step"] = t.step
                    if t.kind == "target_missed":
                        payload["target"] = t.id.split(":", 1)[1]
                    if t.kind == "report_due":
                        payload["report"] = t.id.split(":", 1)[1]
                    if t.data:
                        payload.update(t.data)
                    out.append(NewEvent(ev.TIMER_FIRED, ev.SYSTEM, payload, now))
                    batch.append(payload)
                    if t.kind == "wait_elapsed" and t.step:
                        out.append(NewEvent(ev.STEP_DONE, ev.SYSTEM,
                                            {"step": t.step, "track": st.steps[t.step].track,
                                             "auto": True}, now))
                return out, [], {}

            self._commit(iid, plan, snapshot=False)
            if not batch:
                break
            fired.extend((iid, p) for p in batch)
        return fired

    # ---- helpers -----------------------------------------------------------------
    def check_actor(self, actor: str) -> None:
        """Every act has a person: a staff member when the engine knows the directory,
        never empty and never the reserved `system` (the engine's own entries)."""
        if self.read_only:
            raise Refused(self.read_only)
        if self.directory is not None:
            staff_id(self.directory, actor)
            if isinstance(actor, Actor) and actor.entered_by is not None:
                staff_id(self.directory, actor.entered_by, what="person entering")
            return
        if not str(actor or "").strip() or actor == ev.SYSTEM:
            raise Refused("refused.not_staff", actor=actor)

    def _who(self, person: str | None) -> str:
        return Names(self.directory).who_with_id(person)

    def _named(self, person: str | None) -> dict[str, str] | Msg:
        """A person in a refusal, in each reader's language, with the id to type:
        'Chen Jie (chen.jie)' / '陈杰（chen.jie）'."""
        if not person:
            return Msg("refused.someone")
        names = Names(self.directory)
        zh = names.who(person, "zh")
        return {"en": self._who(person), "zh": person if zh == person else f"{zh}（{person}）"}


def _recorded(e: NewEvent) -> NewEvent:
    """The event as stored: a plain actor id, and "entered by X" in the payload when
    someone typed it for the actor (a supervisor taking a colleague's phone call)."""
    by = getattr(e.actor, "entered_by", None)
    if type(e.actor) is str and by is None:
        return e
    payload = {**e.payload, "entered_by": by} if by else e.payload
    return replace(e, actor=str(e.actor), payload=payload)


def _provisional(incident_id: str, events: list[NewEvent], first_seq: int) -> list[StoredEvent]:
    """Events as they will be stored, for reactors to read before the append."""
    return [StoredEvent(incident_id, first_seq + i, e.ts, e.actor, e.kind, e.payload, "", "")
            for i, e in enumerate(events)]


def _clone(obj: Any) -> Any:
    """A shallow copy of a slotted dataclass: its constructor fed its own fields, five
    times faster than copying slot by slot (a snapshot clones every step)."""
    return type(obj)(*_fields_of(type(obj))(obj))


@functools.cache
def _fields_of(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} cannot be cloned through its constructor")
    names = [f.name for f in fields]
    if len(names) == 1:
        return lambda obj: (getattr(obj, names[0]),)
    return operator.attrgetter(*names)


def _snapshot(st: IncidentState) -> IncidentState:
    """Copy what the fold mutates; entries it only ever appends are shared.

    A deep copy made every operation cost O(events) and turned a long incident's
    appends quadratic."""
    new = copy.copy(st)
    new.steps = {k: _clone(v) for k, v in st.steps.items()}
    new.targets = {k: _clone(v) for k, v in st.targets.items()}
    new.reports = {k: _clone(v) for k, v in st.reports.items()}
    new.values = dict(st.values)
    new.inputs = dict(st.inputs)
    new.location_detail = dict(st.location_detail)
    new.notes = list(st.notes)
    new.handovers = list(st.handovers)
    new.fired = set(st.fired)
    new.notifications = dict(st.notifications)
    new.delivery = {k: dict(v) for k, v in st.delivery.items()}
    new.step_delivery = dict(st.step_delivery)  # payloads are replaced, never changed
    new.pages = [dict(p) for p in st.pages]
    new.replies = list(st.replies)
    new.reply_ids = set(st.reply_ids)
    new.knocks = list(st.knocks)
    aftercare.snapshot_into(new, st)
    return new


def listed(items: Iterable[object], more: bool = False) -> dict[str, str]:
    """Ids or numbers listed the way each language lists them ('a, b' / 'a、b'), with
    '…' when the list goes on."""
    shown = [str(i) for i in items]
    tail = "…" if more else ""
    return {"en": ", ".join(shown) + tail, "zh": "、".join(shown) + tail}


def _waits(st: IncidentState, step_ids: list[str]) -> dict[str, str]:
    """The steps a step waits for: by id in English (as typed), by title in Chinese."""
    steps = st.playbook.steps()
    return {"en": ", ".join(f"'{w}'" for w in step_ids),
            "zh": "、".join(f"“{steps[w].title.get('zh')}”" if w in steps else f"“{w}”"
                           for w in step_ids)}


def _require_open(st: IncidentState) -> None:
    if st.status != "open":
        raise Refused("refused.incident_resolved", incident=st.id)


def _step(st: IncidentState, step_id: str) -> Step:
    steps = st.playbook.steps()
    if step_id not in steps:
        raise Refused("refused.no_such_step", step=step_id, playbook=st.playbook.id,
                      hint=suggest(step_id, steps) or known(steps))
    return steps[step_id]


def _local(ts: datetime | None, directory: Directory | None) -> str:
    if ts is None:
        return "?"
    return ts.astimezone(local_zone(directory)).strftime("%H:%M:%S")


def _coerce(step: Step, value: Any) -> Any:
    rec = step.record
    assert rec is not None
    name = rec.label if rec.label else rec.name
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Refused("refused.record_needs_value", step=step.title, what=name)
    try:
        if rec.type == "int":
            return int(str(value).strip())
        if rec.type == "number":
            return float(str(value).strip())
    except ValueError:
        raise Refused("refused.record_not_integer" if rec.type == "int"
                      else "refused.record_not_number",
                      step=step.title, what=name, value=value) from None
    if rec.type == "list":
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        return split_list(str(value))
    return str(value).strip()


def split_list(text: str) -> list[str]:
    """A list value typed on one line: split at , ; ， ； 、 or a new line, but never inside
    brackets — "B3-1505 Wang Jianguo (82, walker)" is one item, not two."""
    items, buf, depth = [], [], 0
    for ch in text:
        if ch in "(（[【":
            depth += 1
        elif ch in ")）]】" and depth:
            depth -= 1
        if depth == 0 and ch in ",;，；、\n":
            items.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    items.append("".join(buf))
    return [i.strip() for i in items if i.strip()]
