"""ICS 214 per operational period: a handover and a shift change each open a new form,
with the unit leader of that period, the company as home agency, the people who worked,
the agencies called and the vendors sent (with arrival), notable activities only, and
page numbers across the whole document."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from test_report_walker import NO_PLANNER, _person, _value, make_runtime

from incident.report import build_incident_report, render
from incident.report.ics import LINES_PER_PAGE, build_ics214


@pytest.fixture
def rt(db_url):
    runtime = make_runtime(db_url)
    yield runtime
    runtime.close()


def _settle(rt, iid: str, steps: int | None = None) -> None:
    """Act on open steps, first first, like the report walker (at most `steps` of them)."""
    engine, directory = rt.engine, rt.directory
    defs = engine.state(iid).playbook.steps()
    order = list(defs)
    done = 0
    while steps is None or done < steps:
        st = engine.state(iid)
        open_steps = [sid for sid in order if st.steps[sid].open]
        if not open_steps:
            return
        sid = open_steps[0]
        s, step = st.steps[sid], defs[sid]
        rt.clock.advance(timedelta(seconds=30))
        actor = _person(directory, step.assignee)
        if s.status == "awaiting_confirmation":
            second = _person(directory, step.gate.role if step.gate else None,
                             exclude={s.awaiting_by or ""})
            engine.act(iid, sid, actor=second, action="confirm")
        elif step.kind == "notify" and engine.planner is None:
            engine.act(iid, sid, actor=actor, action="skip", reason=NO_PLANNER)
        elif step.kind == "decision":
            engine.act(iid, sid, actor=actor, option=step.options[0].id)
        elif step.kind == "record":
            engine.act(iid, sid, actor=actor, value=_value(step))
        else:
            engine.act(iid, sid, actor=actor)
        done += 1


def test_a_handover_and_a_shift_change_open_new_periods(rt):
    engine, clock = rt.engine, rt.clock
    st = engine.start("fire", "B3-1201", actor="chen.jie")  # Monday 11:00, Shanghai
    iid = st.id
    _settle(rt, iid, 12)
    clock.advance(timedelta(minutes=1))
    handover_at = clock.now()
    engine.handover(iid, "liu.yang", actor="chen.jie", reason="chen.jie to the scene")
    _settle(rt, iid, 10)
    clock.advance(timedelta(hours=9))  # past 20:00: the control room's night shift
    _settle(rt, iid)
    clock.advance(timedelta(minutes=1))
    engine.resolve(iid, actor="liu.yang", summary="fire out, scene handed back")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=clock.now())
    form = build_ics214(rep, "zhao.min")

    assert [p.opened_by for p in form.periods] == ["start", "handover", "shift"]
    first, second, third = form.periods
    assert first.period_to == second.period_from == handover_at
    assert (first.name, second.name, third.name) == ("Chen Jie", "Liu Yang", "Liu Yang")
    assert first.position == "Duty officer (control room)"
    assert first.home_unit == "Lakeside Property Management Co. — Duty officer (control room)"
    local_cut = third.period_from.astimezone(rep.zone)
    assert (local_cut.hour, local_cut.minute) == (20, 0)
    # every notable line is in exactly one period; automatic timers are only counted
    lines = [a for p in form.periods for a in p.activity]
    assert len(lines) == len({(ts, text) for ts, text in lines})
    assert not [a for a in lines if a[1].startswith("Timer")]
    # box 6: the brigade, called and met at the gate, is a resource of the first period
    fire = next(r for r in first.resources if r[0] == "Fire and rescue (119)")
    assert fire[1] == "External agency" and fire[3].startswith("called at 11:")
    names = [r[0] for r in first.resources]
    assert "Chen Jie" in names
    # paged but never acting is not "assigned"
    acted = {row.who for row in rep.timeline if row.actor != "system"}
    assert set(names) - {"Fire and rescue (119)"} <= acted | {r[0] for r in first.resources
                                                               if r[1] in ("Vendor",)}

    text = render(rep, "ics214", prepared_by="zhao.min")
    assert text.count("# ICS 214 — Activity log") == 3
    assert "Operational period 2 of 3" in text and "opened by a handover" in text
    assert "opened by a shift change" in text
    pages = sum(max(1, -(-len(p.activity) // LINES_PER_PAGE)) for p in form.periods)
    assert form.total_pages == pages and f"Page {pages} of {pages}" in text
    assert "| Lakeside Property Management Co. — Duty officer (control room) |" in text
    html = render(rep, "ics214-html", prepared_by="zhao.min")
    assert html.count('class="form214') == 3 and "page-break-before: always" in html
    zh = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=clock.now(), lang="zh"), "ics214")
    assert "第 2 个作业时段，共 3 个" in zh and "因移交开始" in zh and "临湖物业管理有限公司" in zh


def test_brief_has_assembly_point_safety_planned_actions_and_overdue_arrivals(rt):
    from incident.report import build_brief, render_brief

    engine, clock = rt.engine, rt.clock
    iid = engine.start("fire", "B3-1201", actor="chen.jie").id
    engine.act(iid, "confirm_alarm", actor="chen.jie", option="real_fire")
    clock.advance("30s")
    engine.act(iid, "call_119", actor="chen.jie")
    engine.act(iid, "send_fire_team", actor="chen.jie", action="start")
    due = engine.state(iid).steps["send_fire_team"].arrive_by
    assert due is not None
    clock.advance(due - clock.now() + timedelta(minutes=4))  # the team is 4 minutes late
    engine.handover(iid, "liu.yang", actor="chen.jie", reason="to the scene")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=clock.now())
    b = build_brief(rep, rt.directory, prepared_by="liu.yang")
    team = next(r for r in b.resources if r["step"] == "send_fire_team")
    assert team["overdue"] and team["status"] == "ARRIVAL OVERDUE by 4m00s"
    brigade = next(r for r in b.resources if r["step"] == "call_119")
    assert brigade["resource"] == "Fire and rescue (119)" and brigade["ordered"] is not None
    assert b.assembly == ["North Plaza (B1, B2, B3, B4)"]
    assert b.safety[0] == "Assembly point: North Plaza (B1, B2, B3, B4)."
    assert any(line.startswith('Before "Restore the alarm and sprinkler systems"')
               for line in b.safety)
    assert ("Guard the fire scene", "Security officer",
            "Brigade declares the fire out") in b.planned
    md = render_brief(b, "md")
    assert "| Incident commander (current owner) | Liu Yang |" in md
    assert "| First receiver | Chen Jie |" in md
    assert "## 6. Planned actions" in md and "## 7. Health and safety briefing" in md
    assert "ARRIVAL OVERDUE by 4m00s" in md
    html = render_brief(b, "html")
    assert "Site sketch: buildings and assembly points" in html
    assert re.search(r'<rect [^>]*class="hit"><title>Building 3</title></rect>'
                     r'<text [^>]*class="hitl">B3 12F</text>', html)
    north = html.index(">North Plaza</text>")
    assert north < html.index(">B1</text>") < html.index(">B4</text>") < \
        html.index(">Central Garden lawn</text>")
    zh = render_brief(build_brief(build_incident_report(
        rt.store, rt.playbooks, rt.directory, iid, now=clock.now(), lang="zh"), rt.directory),
        "md")
    assert "集合点：北广场" in zh and "到场逾期 4m00s" in zh and "安全须知" in zh
