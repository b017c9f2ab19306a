"""Scoring a drill from its timeline: each objective met or missed and by how much,
an HSEEP rating suggested from the timings (P/S/M/U), evaluator overrides, the
evaluation (strengths, areas for improvement, improvement plan, counts), and the
trend against earlier runs of the same scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.drill import events as dev
from incident.drill.live import DrillRun, drill_run, index_for
from incident.drill.model import RATINGS, Objective, Scenario
from incident.engine import events as engine_events
from incident.engine.state import fold
from incident.errors import Msg, Refused, known, suggest
from incident.store import NewEvent

if TYPE_CHECKING:
    from incident.engine import Engine, IncidentState
    from incident.playbook import PlaybookLibrary
    from incident.store import Store, StoredEvent


@dataclass(slots=True)
class ObjectiveScore:
    id: str
    title: dict[str, str]
    ref: str                       # "step:call_119" or "target:brigade_called"
    within: timedelta
    anchor: str | None             # step measured from, None = the start
    done_at: datetime | None
    elapsed: timedelta | None      # from the anchor to done
    status: str                    # met, late, not_done
    why: str                       # for not_done: skipped / does not apply / never done
    suggested: str
    rating: str
    override: dict[str, Any] | None = None

    @property
    def late_by(self) -> timedelta | None:
        if self.elapsed is None:
            return None
        return max(self.elapsed - self.within, timedelta(0))

    @property
    def margin(self) -> timedelta | None:
        """Positive: time to spare; negative: late by."""
        return None if self.elapsed is None else self.within - self.elapsed


@dataclass(slots=True)
class Evaluation:
    strengths: list[dict[str, Any]] = field(default_factory=list)
    improvements: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, dict[str, Any]] = field(default_factory=dict)  # objective -> last


def suggest_rating(elapsed: timedelta | None, within: timedelta, slack: float) -> str:
    """P: met; S: late by at most `slack` of the time allowed; M: later; U: never done."""
    if elapsed is None:
        return "U"
    if elapsed <= within:
        return "P"
    if elapsed - within <= within * slack:
        return "S"
    return "M"


def _measure(o: Objective, sc: Scenario, st: IncidentState) -> tuple[
        timedelta, str, datetime | None, str]:
    """(time allowed, reference, done at, reason when not done)."""
    pb = st.playbook
    if o.target is not None:
        tgt = next(t for t in pb.targets if t.id == o.target)
        within = o.within or pb.target_within(tgt, st.severity)
        ref = f"target:{o.target}"
        if tgt.met_by == "resolved":
            return within, ref, st.resolved_at, "" if st.resolved_at else "never resolved"
        step_id = tgt.met_by
    else:
        assert o.step is not None and o.within is not None
        within, ref, step_id = o.within, f"step:{o.step}", o.step
    s = st.steps.get(step_id)
    if s is None:
        return within, ref, None, f"step '{step_id}' is not in this playbook version"
    if s.status == "done":
        return within, ref, s.done_at, ""
    why = {"skipped": f"skipped: {s.reason or ''}".strip(),
           "excluded": f"does not apply ({s.excluded_because})"}.get(s.status, "never done")
    return within, ref, None, why


def score(sc: Scenario, st: IncidentState, ev: Evaluation) -> list[ObjectiveScore]:
    out = []
    for o in sc.objectives:
        within, ref, done_at, why = _measure(o, sc, st)
        anchor_at = st.started_at
        if o.after is not None:
            a = st.steps.get(o.after)
            anchor_at = a.done_at if a is not None and a.status == "done" else None
            if anchor_at is None:
                done_at, why = None, f"'{o.after}' (the start of the clock) was never done"
        elapsed = (done_at - anchor_at) if done_at is not None and anchor_at is not None \
            else None
        if elapsed is not None and elapsed < timedelta(0):
            elapsed = timedelta(0)
        suggested = suggest_rating(elapsed, within, sc.rating.slack)
        status = "not_done" if elapsed is None else ("met" if elapsed <= within else "late")
        override = ev.ratings.get(o.id)
        out.append(ObjectiveScore(
            o.id, o.title.model_dump(), ref, within, o.after, done_at, elapsed, status, why,
            suggested, override["rating"] if override else suggested, override))
    return out


def evaluation(events: list[StoredEvent]) -> Evaluation:
    ev = Evaluation()
    for e in events:
        p = e.payload
        if e.kind == dev.DRILL_RATED:
            ev.ratings[p["objective"]] = {"rating": p["rating"], "comment": p.get("comment", ""),
                                          "by": e.actor, "ts": e.ts}
        elif e.kind == dev.DRILL_EVALUATION:
            item = {**p, "by": e.actor, "ts": e.ts}
            kind = p.get("type")
            if kind == "strength":
                ev.strengths.append(item)
            elif kind == "improvement":
                ev.improvements.append(item)
            elif kind == "plan":
                item.setdefault("item", f"IP{len(ev.plan) + 1}")
                item.setdefault("status", "open")
                ev.plan.append(item)
            elif kind == "plan_status":
                for it in ev.plan:
                    if it["item"] == p.get("item"):
                        it["status"], it["status_at"], it["status_by"] = \
                            p.get("status", "open"), e.ts, e.actor
            elif kind == "counts":
                ev.counts.update({k: int(v) for k, v in (p.get("counts") or {}).items()})
    return ev


# ---- a scored drill ---------------------------------------------------------------------

@dataclass(slots=True)
class ScoredDrill:
    run: DrillRun
    state: IncidentState
    events: list[StoredEvent]
    evaluation: Evaluation
    scores: list[ObjectiveScore]

    @property
    def scenario(self) -> Scenario:
        return self.run.scenario


def scored(store: Store, playbooks: PlaybookLibrary, incident_id: str) -> ScoredDrill:
    run = drill_run(store, incident_id)
    row = store.incident(incident_id)
    try:
        pb = playbooks.get(row.playbook_id)
    except KeyError:
        raise Refused("refused.drill.playbook_not_loaded", incident=incident_id,
                      playbook=row.playbook_id) from None
    events = store.events(incident_id)
    st = fold(incident_id, pb, events)
    ev = evaluation(events)
    return ScoredDrill(run, st, events, ev, score(run.scenario, st, ev))


@dataclass(slots=True)
class EarlierRun:
    incident_id: str
    started_at: datetime
    by_objective: dict[str, ObjectiveScore]


def history(store: Store, playbooks: PlaybookLibrary, incident_id: str,
            limit: int = 6) -> list[EarlierRun]:
    """Earlier drills of the same scenario (oldest first), scored the same way."""
    this = store.incident(incident_id)
    run = drill_run(store, incident_id)
    idx = index_for(store)
    out: list[EarlierRun] = []
    for row in store.incidents(drill=True, until=this.created_at):
        if row.id == incident_id:
            continue
        other = idx.run(row.id)
        if other is None or other.scenario.id != run.scenario.id:
            continue
        try:
            sd = scored(store, playbooks, row.id)
        except (Refused, KeyError, ValueError):
            continue
        # judge earlier runs by today's objectives where they still exist
        by = {s.id: s for s in sd.scores}
        out.append(EarlierRun(row.id, row.created_at, by))
        if len(out) >= limit:
            break
    out.reverse()
    return out


# ---- evaluator operations (each one event) ----------------------------------------------

def _require_drill(engine: Engine, incident_id: str) -> DrillRun:
    return drill_run(engine.store, incident_id)


def require_evaluator(engine: Engine, incident_id: str, run: DrillRun, actor: str) -> None:
    """Ratings come from evaluators, never from players (HSEEP: an evaluator observes and
    does not play). A player is the lead, a scenario participant, or anyone who acted on
    a step of this drill; when the scenario names its evaluators, only they rate."""
    sc = run.scenario
    who = _who(engine, actor)
    acted = {e.actor for e in engine.store.events(incident_id, kinds=list(engine_events.STEP_EVENTS))}
    players = {sc.lead, *(p.person for p in sc.participants)} | acted
    if actor in players:
        raise Refused("refused.drill.player_rates", who=who,
                      evaluators=", ".join(sc.evaluators)
                      or Msg("refused.drill.someone_else"))
    if sc.evaluators and actor not in sc.evaluators:
        raise Refused("refused.drill.not_evaluator", who=who, scenario=sc.id,
                      evaluators=", ".join(sc.evaluators))


def _who(engine: Engine, actor: str) -> dict[str, str]:
    """'Han Xue (han.xue)' in each language, for a refusal told to either reader."""
    from incident.names import Names

    name = Names(engine.directory).who(actor, "zh")
    return {"en": engine._who(actor), "zh": actor if name == actor else f"{name}（{actor}）"}


def rate(engine: Engine, incident_id: str, objective: str, rating: str, *, actor: str,
         comment: str = "") -> None:
    run = _require_drill(engine, incident_id)
    require_evaluator(engine, incident_id, run, actor)
    ids = [o.id for o in run.scenario.objectives]
    if objective not in ids:
        raise Refused("refused.drill.no_objective", objective=objective,
                      scenario=run.scenario.id, hint=suggest(objective, ids) or known(ids))
    r = rating.strip().upper()
    if r not in RATINGS:
        raise Refused("refused.drill.rating", rating=rating)
    payload = {"objective": objective, "rating": r, "comment": comment.strip(),
               "text": f"{objective}: {r}" + (f" — {comment.strip()}" if comment.strip() else "")}
    engine.append_events(incident_id, lambda _st, now: [NewEvent(dev.DRILL_RATED, actor,
                                                                 payload, now)])


def add_note(engine: Engine, incident_id: str, kind: str, text: str, *, actor: str,
             capability: str = "", analysis: str = "", recommendation: str = "") -> None:
    """An observation (HSEEP): a strength or an area for improvement, optionally under a
    core capability, with the evaluator's analysis and recommendation."""
    _require_drill(engine, incident_id)
    if kind not in ("strength", "improvement"):
        raise ValueError(kind)
    if not text.strip():
        raise Refused(_EMPTY[kind])
    payload = {"type": kind, "text": text.strip()}
    for key, value in (("capability", capability), ("analysis", analysis),
                       ("recommendation", recommendation)):
        if value.strip():
            payload[key] = value.strip()
    engine.append_events(incident_id, lambda _st, now: [NewEvent(dev.DRILL_EVALUATION, actor,
                                                                 payload, now)])


PLAN_STATUSES = ("open", "in_progress", "done")
_EMPTY = {"strength": "refused.drill.empty_strength",
          "improvement": "refused.drill.empty_improvement"}


def set_plan_status(engine: Engine, incident_id: str, item: str, status: str, *,
                    actor: str) -> None:
    """Move an improvement plan item (IP1, IP2 … of that drill) to open, in_progress or
    done; an item not done is carried over into the next run's report."""
    _require_drill(engine, incident_id)
    if status not in PLAN_STATUSES:
        raise Refused("refused.drill.plan_status", status=status,
                      statuses=", ".join(PLAN_STATUSES))
    items = [i["item"] for i in evaluation(engine.store.events(incident_id)).plan]
    if item not in items:
        raise Refused("refused.drill.no_plan_item", item=item, incident=incident_id,
                      hint=suggest(item, items) or known(items))
    payload = {"type": "plan_status", "item": item, "status": status,
               "text": f"{item}: {status}"}
    engine.append_events(incident_id, lambda _st, now: [NewEvent(dev.DRILL_EVALUATION, actor,
                                                                 payload, now)])


def add_plan(engine: Engine, incident_id: str, *, issue: str, action: str, owner: str,
             due: date | str, actor: str, capability: str = "",
             start: date | str | None = None) -> None:
    """An improvement plan item (HSEEP IP): capability, issue, corrective action, owner,
    start and due dates; numbered IP1, IP2 … within the drill, status open."""
    _require_drill(engine, incident_id)
    for name, value in (("issue", issue), ("action", action), ("owner", owner)):
        if not str(value or "").strip():
            raise Refused("refused.drill.plan_needs", name=name)
    due_day = _day(due)
    d = engine.directory
    if d is not None and owner not in d.staff and owner not in d.roles:
        raise Refused("refused.drill.unknown_owner", owner=owner,
                      hint=suggest(owner, [*d.staff, *d.roles]) or Msg("val.drill.hint_owner"))
    start_day = _day(start) if start else None
    if start_day is not None and start_day > due_day:
        raise Refused("refused.drill.start_after_due", start=str(start_day), due=str(due_day))
    payload = {"type": "plan", "issue": issue.strip(), "action": action.strip(),
               "owner": owner, "due": due_day.isoformat(), "capability": capability.strip(),
               "text": f"{issue.strip()} → {action.strip()} ({owner}, {due_day.isoformat()})"}

    def make(_st, now):
        zone = engine.directory.timezone if engine.directory is not None else None
        day = start_day or (now.astimezone(zone) if zone else now).date()
        return [NewEvent(dev.DRILL_EVALUATION, actor, {**payload, "start": day.isoformat()},
                         now)]

    engine.append_events(incident_id, make)


def add_counts(engine: Engine, incident_id: str, counts: dict[str, int], *, actor: str) -> None:
    _require_drill(engine, incident_id)
    clean = {k: int(v) for k, v in counts.items()}
    payload = {"type": "counts", "counts": clean,
               "text": ", ".join(f"{k} {v}" for k, v in clean.items())}
    engine.append_events(incident_id, lambda _st, now: [NewEvent(dev.DRILL_EVALUATION, actor,
                                                                 payload, now)])


def _day(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Refused("refused.drill.due_date", value=value) from None
