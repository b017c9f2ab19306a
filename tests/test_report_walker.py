"""Walk an incident of every shipped playbook to its end, then report on it.

The walker is generic: it completes every ready step in playbook order, one
action every 30 seconds on a manual clock (first option of each decision,
plausible recorded values, gates confirmed by a second staff member holding the
gate's role), then resolves. Notify steps go through incident.notify's planner
when the Runtime has one; without it they are skipped with a reason.
Other report tests import `walk` and `make_runtime` from here.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from incident.clock import ManualClock, format_duration
from incident.config import load_settings
from incident.engine import events as ev
from incident.report import build_incident_report, render
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
STEP = timedelta(seconds=30)
NO_PLANNER = "notifications not configured in this test (no incident.notify planner)"


def make_runtime(db_url: str, clock: ManualClock | None = None) -> Runtime:
    settings = load_settings(database_url=db_url, playbooks_dir=REPO / "playbooks",
                             contacts_dir=REPO / "contacts", user="chen.jie")
    return Runtime(settings, clock=clock or ManualClock())


def _person(directory, role: str | None, exclude: set[str] = frozenset()) -> str:
    if role and role in directory.roles:
        for p in directory.holders(role):
            if p.id not in exclude:
                return p.id
    for p in directory.holders("duty_officer"):
        if p.id not in exclude:
            return p.id
    return next(pid for pid in directory.staff if pid not in exclude)


def _value(step) -> str:
    rec = step.record
    return {"int": "42", "number": "3.5", "list": "11, 12, 13"}.get(rec.type,
                                                                     f"walked: {rec.name}")


def walk(rt: Runtime, playbook_id: str, at: str = "B3-1201", *, severity: int | None = None,
         drill: bool = False, gap: timedelta = STEP, resolve: bool = True,
         choose: dict[str, str] | None = None) -> str:
    """Start, settle every step, resolve; returns the incident id."""
    engine, clock, directory = rt.engine, rt.clock, rt.directory
    pb = rt.playbooks.get(playbook_id)
    officer = _person(directory, "duty_officer")
    required = {k: "01-08 09:00" for k, spec in pb.inputs.items() if spec.required}
    iid = engine.start(playbook_id, at, actor=officer, severity=severity, drill=drill,
                       inputs=required).id
    defs = pb.steps()
    order = list(defs)
    for _ in range(10 * len(order)):
        st = engine.state(iid)
        open_steps = [sid for sid in order if st.steps[sid].open]
        if not open_steps:
            break
        sid = open_steps[0]
        s, step = st.steps[sid], defs[sid]
        clock.advance(gap)
        actor = _person(directory, step.assignee)
        if s.status == "awaiting_confirmation":
            role = step.gate.role if step.gate else None
            second = _person(directory, role, exclude={s.awaiting_by or ""})
            engine.act(iid, sid, actor=second, action="confirm")
        elif step.kind == "notify" and engine.planner is None:
            engine.act(iid, sid, actor=actor, action="skip", reason=NO_PLANNER)
        elif step.kind == "decision":
            option = (choose or {}).get(sid, step.options[0].id)
            engine.act(iid, sid, actor=actor, option=option)
        elif step.kind == "record":
            engine.act(iid, sid, actor=actor, value=_value(step))
        else:  # check, dispatch (first act starts, second arrives), escalate, wait, notify
            engine.act(iid, sid, actor=actor)
    else:  # pragma: no cover
        raise AssertionError(f"{playbook_id}: the walk did not settle")
    if resolve:
        clock.advance(gap)
        engine.resolve(iid, actor=officer, summary="walked to the end")
    return iid


def _playbook_ids() -> list[str]:
    from incident.directory import load_directory
    from incident.playbook import load_library

    try:
        lib = load_library(REPO / "playbooks", load_directory(REPO / "contacts"))
    except Exception:  # a playbook being written right now may not load yet
        return ["fire"]
    return sorted(pb.id for pb in lib)


@pytest.fixture
def rt(sqlite_url):
    runtime = make_runtime(sqlite_url)
    yield runtime
    runtime.close()


@pytest.mark.parametrize("playbook_id", _playbook_ids())
def test_walked_incident_report_has_right_times_and_counts(rt, playbook_id):
    iid = walk(rt, playbook_id)
    st = rt.engine.state(iid)
    events = rt.store.events(iid)
    now = rt.clock.now()
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=now, lang="en")
    assert rep.integrity.ok and rep.events_count == len(events)
    assert len(rep.timeline) == len(events)
    assert [r.seq for r in rep.timeline] == list(range(1, len(events) + 1))
    assert rep.status == "resolved" and rep.duration == st.resolved_at - st.started_at
    # every target: due, met, delta agree with the engine's own fold
    for row in rep.targets:
        tg = st.targets[row.id]
        assert row.due_at == tg.due_at and row.met_at == tg.met_at
        if tg.met_at is not None:
            assert row.took == tg.met_at - st.started_at
            assert row.margin == tg.due_at - tg.met_at
            assert row.status == ("met" if tg.met_at <= tg.due_at else "met_late")
    # a decision shows its option's title, not just its id
    for sid, s in st.steps.items():
        if s.status == "done" and s.option:
            title = next(o.title for o in rt.playbooks.get(playbook_id).steps()[sid].options
                         if o.id == s.option)
            assert any(title.en in r.detail for r in rep.timeline if r.step == sid)
    skipped = [s for s in st.steps.values() if s.status == "skipped"]
    assert len(rep.skipped) == len(skipped)
    for lang in ("en", "zh"):
        rep_l = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=now,
                                      lang=lang)
        md = render(rep_l, "md")
        html = render(rep_l, "html")
        data = json.loads(render(rep_l, "json"))
        csv_text = render(rep_l, "csv")
        ics = render(rep_l, "ics214")
        assert data["integrity"]["ok"] is True and len(data["timeline"]) == len(events)
        assert csv_text.count("\n") >= len(events)
        assert iid in md and iid in html and iid in ics
        for row in rep_l.targets:
            if row.met_at is not None:
                assert format_duration(row.took) in md
        title = rt.playbooks.get(playbook_id).title.get(lang)
        assert title in md and title in html
        if lang == "zh":
            assert "时间线" in md and "哈希链校验通过" in md and "工作记录" in ics
        else:
            assert "Timeline" in md and "Hash chain verified" in md and "Activity log" in ics


def test_fire_report_exact_times_and_deltas(rt):
    """Fire, first option everywhere: confirm_alarm at T+30s (target 3m: 2m30s to spare)."""
    iid = walk(rt, "fire")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    confirmed = next(r for r in rep.targets if r.id == "alarm_confirmed")
    assert confirmed.took == timedelta(seconds=30) and confirmed.status == "met"
    assert confirmed.margin == timedelta(minutes=2, seconds=30)
    md = render(rep, "md")
    assert "| Alarm confirmed or ruled out | 11:03:00 | 11:00:30 | 0m30s | met | 2m30s to spare |" \
        in md
    zh = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=rt.clock.now(), lang="zh"), "md")
    assert "| 报警确认 | 11:03:00 | 11:00:30 | 0m30s | 达成 | 提前 2m30s |" in zh
    # the decision names its option; the person is named from the directory with a role
    row = next(r for r in rep.timeline if r.step == "confirm_alarm")
    assert "Real fire or smoke" in row.detail and row.who == "Chen Jie"
    assert row.role == "Duty officer (control room)"
    assert "真实火情（明火或烟雾）" in zh and "陈杰" in zh
    # skipped notify steps carry their reason
    if rt.engine.planner is None:
        assert rep.skipped and all(NO_PLANNER in r.detail for r in rep.skipped)
        assert NO_PLANNER in md
    # the gate was confirmed by a second person holding the role
    gated = [r for r in rep.timeline if r.kind == ev.STEP_CONFIRMED]
    assert gated and gated[0].role == "Fire-safety manager"
    # missed targets say by how much
    late = [r for r in rep.targets if r.status in ("met_late", "missed")]
    for r in late:
        assert f"late by {format_duration(-r.margin)}" in md
