"""Drills on the live engine: the scenario in the log, injects as engine timers, faults.

A drill is an ordinary incident started with ``drill=True``; right after the
start a ``drill.scenario`` event records the scenario as it was run (a snapshot
of the file). Everything else is derived from the log, so a drill survives a
restart and can be run from any console:

- each inject is an engine timer (kind ``drill_inject``) due at start + ``at``;
  it fires through ``engine.tick()`` like any other timer, and the hook turns
  the firing into a ``drill.inject`` event the players see;
- a channel fault is active from its inject time for its duration; the drill
  sandbox asks :func:`sandbox_fault` before delivering each message.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident.drill import events as dev
from incident.engine import events as ev
from incident.engine.state import Timer
from incident.errors import Refused
from incident.i18n import bilingual
from incident.store import NewEvent

REPLY_TIMER = "drill_reply"  # a scripted roll-call reply falls due

if TYPE_CHECKING:
    from incident.drill.loader import LoadedScenario
    from incident.drill.model import Scenario
    from incident.engine import Engine, IncidentState
    from incident.store import IncidentRow, Store, StoredEvent


@dataclass(frozen=True, slots=True)
class DrillRun:
    """The scenario snapshot of one drill incident."""

    incident_id: str
    started_at: datetime
    scenario: Scenario
    raw: dict[str, Any]
    speed: float
    mode: str
    source: str


def _parse_run(incident_id: str, started_at: datetime, e: StoredEvent) -> DrillRun:
    from incident.drill.model import Scenario  # pydantic schema: only when a drill runs

    p = e.payload
    sc = Scenario.model_validate(p["data"])
    return DrillRun(incident_id, started_at, sc, p["data"], float(p.get("speed") or 1.0),
                    p.get("mode", ""), p.get("source", ""))


class ScenarioIndex:
    """incident id → its DrillRun (None for incidents that are not scenario drills)."""

    def __init__(self, store: Store):
        self.store = store
        self._runs: dict[str, DrillRun | None] = {}
        self._lock = threading.Lock()

    def run(self, incident_id: str, *, drill: bool | None = None) -> DrillRun | None:
        with self._lock:
            if incident_id in self._runs:
                return self._runs[incident_id]
        try:
            row = self.store.incident(incident_id)
        except KeyError:
            return None
        if not row.drill:
            with self._lock:
                self._runs[incident_id] = None
            return None
        found = self.store.events(incident_id, kinds=[dev.DRILL_SCENARIO])
        if not found:
            return None  # not (yet) known: do not cache, the snapshot follows the start
        run = _parse_run(incident_id, row.created_at, found[0])
        with self._lock:
            self._runs[incident_id] = run
        return run

    def forget(self, incident_id: str) -> None:
        with self._lock:
            self._runs.pop(incident_id, None)


_INDEXES: weakref.WeakKeyDictionary[Any, ScenarioIndex] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def index_for(store: Store) -> ScenarioIndex:
    with _INDEX_LOCK:
        idx = _INDEXES.get(store)
        if idx is None:
            idx = ScenarioIndex(store)
            _INDEXES[store] = idx
        return idx


def active_faults(run: DrillRun, now: datetime) -> dict[str, str]:
    """channel → inject id of every fault active at `now`."""
    out: dict[str, str] = {}
    for inj in run.scenario.injects:
        f = inj.fault
        if f is None:
            continue
        begin = run.started_at + inj.at
        end = begin + f.duration if f.duration is not None else None
        if begin <= now and (end is None or now < end):
            out.setdefault(f.channel, inj.id)
    return out


def sandbox_fault(store: Store, incident_id: str, channel: str, now: datetime) -> str | None:
    """Why a drill message on `channel` must fail now (an injected fault), or None.

    The hook the drill sandbox consults before delivering a drill message; the
    answer is derived from the drill's log, so every process agrees on it."""
    run = index_for(store).run(incident_id)
    if run is None:
        return None
    inject = active_faults(run, now).get(channel)
    if inject is None:
        return None
    return f"drill fault '{inject}': the {channel} channel is down (injected)"


class DrillSupport:
    """The engine hook and timer source of drills (see module docstring)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.index = index_for(engine.store)
        # the cast of a drill being started: its first pages go out in the start's own
        # answer, before the scenario snapshot is in the log
        self.starting: tuple[str, list[tuple[str, str]]] | None = None

    def timers(self, st: IncidentState) -> list[Timer]:
        if not st.drill or st.status != "open":
            return []
        run = self.index.run(st.id)
        if run is None:
            return []
        out = self.reply_timers(st, run) if run.scenario.replies else []
        for inj in run.scenario.injects:
            out.append(Timer(f"{dev.TIMER_KIND}:{inj.id}", dev.TIMER_KIND,
                             st.started_at + inj.at,
                             bilingual("timer.drill_inject", title=inj.title),
                             data={"inject": inj.id}))
        return out

    def cast(self, incident_id: str) -> tuple[str, list[tuple[str, str]]] | None:
        """(scenario id, [(person, role)]) of a scenario drill: who its pages go to."""
        run = self.index.run(incident_id)
        if run is None:
            return self.starting
        return run.scenario.id, [(p.person, p.role) for p in run.scenario.participants]
    def reply_timers(self, st: IncidentState, run: DrillRun) -> list[Timer]:
        """Each scripted roll-call reply falls due `at` after its question was sent."""
        from incident.engine.rollcall import sent_at

        steps = st.playbook.steps()
        first = next((s.id for s in steps.values() if s.kind == "roll_call"), None)
        out = []
        for i, r in enumerate(run.scenario.replies):
            sid = r.step or first
            if sid is None or sid not in st.notifications:
                continue  # the question has not gone out: nobody can answer yet
            sent = sent_at(st, sid)
            if sent is None:
                continue
            out.append(Timer(f"{REPLY_TIMER}:{i}", REPLY_TIMER, sent + r.at,
                             bilingual("timer.drill_reply", unit=r.unit),
                             data={"reply": i, "step": sid}))
        return out

    def record_replies(self, engine: Engine, st: IncidentState,
                       events: list[StoredEvent]) -> None:
        """Engine hook: a fired reply timer becomes the owner's reply, recorded through
        Engine.record_reply (drill_script=True) on the drill's clock — never a gateway."""
        fired = [e.payload for e in events if e.kind == ev.TIMER_FIRED
                 and e.payload.get("kind") == REPLY_TIMER]
        if not fired or not st.drill:
            return
        run = self.index.run(st.id)
        if run is None:
            return
        from incident.engine.rollcall import parse_answer

        for p in fired:
            i, sid = int(p.get("reply", -1)), str(p.get("step") or "")
            if not 0 <= i < len(run.scenario.replies):
                continue
            r = run.scenario.replies[i]
            asked = [a for a in (st.notifications.get(sid, {}).get("asked") or [])
                     if a[1] == r.unit]
            person = r.person or (asked[0][0] if asked else None)
            rows = [row for row in engine.store.outbox_rows(st.id, sid)
                    if row.person_id == person]
            row = rows[-1] if rows else None
            engine.record_reply(
                st.id, channel=row.channel if row else "drill",
                address=row.address if row else "", text=r.text, person_id=person,
                unit=r.unit, provider_id=f"drill:{run.scenario.id}:{i}",
                outbox_id=row.id if row else None, step_id=sid, purpose="roll_call",
                answer=parse_answer(r.text), drill_script=True)

    def keeps_own_clock(self, row: IncidentRow) -> bool:
        """A drill run on a scaled or headless clock: only its own drill runtime ticks it
        (a live sweep on real time would stamp its events out of its drill time)."""
        if not row.drill:
            return False
        run = self.index.run(row.id)
        return run is not None and (run.speed != 1.0 or run.mode == "auto")

    def react(self, st: IncidentState, events: list[StoredEvent],
              now: datetime) -> tuple[list[NewEvent], list[Any]]:
        """Engine reactor: an inject reaches the players in the same transaction as the
        timer that fired it, so a crash cannot separate them."""
        if not st.drill:
            return [], []
        fired = [e.payload.get("inject") for e in events
                 if e.kind == ev.TIMER_FIRED and e.payload.get("kind") == dev.TIMER_KIND]
        run = self.index.run(st.id) if fired else None
        if run is None:
            return [], []
        out = []
        for inj_id in fired:
            raw = next((i for i in run.raw.get("injects", []) if i.get("id") == inj_id), None)
            if raw is not None:
                out.append(NewEvent(dev.DRILL_INJECT, ev.SYSTEM,
                                    dev.inject_payload(run.scenario.id, raw), now))
        return out, []


_INSTALLED: weakref.WeakKeyDictionary[Any, DrillSupport] = weakref.WeakKeyDictionary()


def install(engine: Engine, runtime: Any = None) -> DrillSupport:
    """Add the drill hook and timer source to an engine (once)."""
    support = _INSTALLED.get(engine)
    if support is None:
        support = DrillSupport(engine)
        _INSTALLED[engine] = support
        engine.reactors.append(support.react)
        engine.hooks.append(support.record_replies)
        engine.timer_sources.append(support.timers)
        engine.own_clock.append(support.keeps_own_clock)
        from incident.escalation.live import set_players

        set_players(engine, support.cast)  # drill pages go to the scenario's players
    return support


def start_drill(engine: Engine, loaded: LoadedScenario, *, actor: str | None = None,
                speed: float | None = None, mode: str = "console") -> IncidentState:
    """Start the drill incident of a scenario and record the scenario with it.

    The engine is sealed to its drills from here on (Engine.seal): a runtime that
    plays a scenario, on whatever clock, can never write to a live incident."""
    support = install(engine)
    engine.seal()
    sc = loaded.scenario
    lead = actor or sc.lead
    pace = float(speed if speed is not None else sc.speed)
    if pace <= 0:
        raise Refused("refused.drill.speed")
    support.starting = (sc.id, [(p.person, p.role) for p in sc.participants])
    try:
        st = engine.start(sc.playbook, sc.location, actor=lead, severity=sc.severity,
                          drill=True, first_receiver=sc.lead, inputs=dict(sc.inputs),
                          note=bilingual("drill.mark.start", title=sc.title))
    finally:
        support.starting = None
    payload = {"scenario": sc.id, "version": sc.version, "title": sc.title.model_dump(),
               "source": loaded.source, "speed": pace, "mode": mode, "data": loaded.raw}
    engine.append_events(st.id, lambda _st, now: [NewEvent(dev.DRILL_SCENARIO, lead, payload,
                                                           now)])
    engine.tick(st.id)  # injects at T+0
    return engine.state(st.id)


def drill_run(store: Store, incident_id: str) -> DrillRun:
    """The scenario run of a drill incident, or a clear refusal."""
    row = store.incident(incident_id)
    if not row.drill:
        raise Refused("refused.drill.live", incident=incident_id)
    run = index_for(store).run(incident_id)
    if run is None:
        raise Refused("refused.drill.no_scenario", incident=incident_id)
    return run
