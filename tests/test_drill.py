"""Drills on the real engine and store with the shipped contacts/ and playbooks/:
scenario validation, injects as timers (and after a restart), --auto scoring,
evaluation events, the after-action report and its trend."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.drill import (
    apply_file,
    build_aar,
    find_scenario,
    install,
    load_scenario,
    load_scenario_text,
    rate,
    render_aar,
    run_auto,
    scored,
    start_drill,
    suggest_rating,
)
from incident.drill import events as dev
from incident.engine import events as ev
from incident.errors import Refused, ValidationFailed
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
DRILLS = REPO / "playbooks" / "drills"
FIRE = DRILLS / "b3_fire_evacuation.yaml"
LIFT = DRILLS / "elevator_rescue.yaml"


@pytest.fixture
def rt(db_url):
    clock = ManualClock()
    runtime = Runtime(load_settings(database_url=db_url), clock=clock)
    yield runtime
    runtime.close()


def _load(rt, path=FIRE, text: str | None = None):
    if text is not None:
        return load_scenario_text(text, "scenario.yaml", rt.playbooks, rt.directory,
                                  rt.channel_names)
    return load_scenario(path, rt.playbooks, rt.directory, rt.channel_names)


# ---- scenarios -------------------------------------------------------------------------

def test_shipped_scenarios_are_valid_and_bilingual(rt):
    for path in sorted(DRILLS.glob("*.yaml")):
        loaded = _load(rt, path)
        assert not loaded.warnings, [w.format() for w in loaded.warnings]
        sc = loaded.scenario
        assert sc.title.en and sc.title.zh and sc.objectives
        assert all(o.title.zh and i.title.zh for o in sc.objectives for i in sc.injects)
    assert find_scenario("b3_fire_evacuation", REPO / "playbooks") == FIRE
    assert {p.stem for p in DRILLS.glob("*.yaml")} >= {"b3_fire_evacuation", "elevator_rescue"}


BAD = """\
id: bad_drill
title: {en: Bad, zh: 坏}
description: {en: Bad, zh: 坏}
playbook: fire
location: B3-1302
duration: 30m
lead: chen.jei
participants:
  - {person: lin.fang, role: cs_specialst}
injects:
  - id: smoke
    at: 4m
    title: {en: Smoke, zh: 烟}
    fault: {channel: smss, for: 5m}
objectives:
  - id: call
    title: {en: Call, zh: 报警}
    step: call_911
    within: 2m
  - id: broadcast
    title: {en: PA, zh: 广播}
    target: evacuation_broadcst
responses:
  steps:
    confirm_alarm: {after: 1m, option: real_fir}
    head_count: {after: 1m, value: lots}
tmie: 3
"""


def test_scenario_errors_all_at_once_with_line_and_suggestion(rt):
    with pytest.raises(ValidationFailed) as exc:
        _load(rt, text=BAD)
    by_path = {i.path: i for i in exc.value.issues}
    assert by_path["tmie"].hint == "did you mean 'time'?" or "unknown key 'tmie'" in \
        by_path["tmie"].message
    with pytest.raises(ValidationFailed) as exc:
        _load(rt, text=BAD.replace("tmie: 3\n", ""))
    issues = {i.path: i for i in exc.value.issues}
    assert (issues["lead"].line, issues["lead"].hint) == (7, "did you mean 'chen.jie'?")
    assert issues["participants[0].role"].line == 9
    assert issues["participants[0].role"].hint == "did you mean 'cs_specialist'?"
    assert issues["injects[0].fault.channel"].hint == "did you mean 'sms'?"
    assert (issues["objectives[0].step"].line, issues["objectives[0].step"].hint) == \
        (18, "did you mean 'call_119'?")
    assert issues["objectives[1].target"].hint == "did you mean 'evacuation_broadcast'?"
    assert issues["responses.steps.confirm_alarm.option"].hint == "did you mean 'real_fire'?"
    assert "records a number" in issues["responses.steps.head_count.value"].message
    assert all(i.file == "scenario.yaml" for i in exc.value.issues)


def test_objective_needs_one_reference(rt):
    text = FIRE.read_text(encoding="utf-8").replace("    target: alarm_confirmed\n",
                                                    "    within: 3m\n", 1)
    with pytest.raises(ValidationFailed) as exc:
        _load(rt, text=text)
    assert "exactly one of 'step' or 'target'" in exc.value.issues[0].message


def test_suggested_rating_bands():
    m = timedelta(minutes=1)
    assert suggest_rating(4 * m, 4 * m, 0.25) == "P"
    assert suggest_rating(5 * m, 4 * m, 0.25) == "S"
    assert suggest_rating(5 * m + timedelta(seconds=1), 4 * m, 0.25) == "M"
    assert suggest_rating(None, 4 * m, 0.25) == "U"


# ---- the full drill, headless ------------------------------------------------------------

def test_fire_drill_auto_scores_exactly(rt):
    clock = rt.clock
    run = run_auto(rt.engine, _load(rt), clock)
    sd = scored(rt.store, rt.playbooks, run.incident_id)
    got = {s.id: (s.rating, s.elapsed.total_seconds() if s.elapsed else None)
           for s in sd.scores}
    assert got == {
        "alarm_confirmed": ("P", 60), "call_119": ("P", 105), "evacuation_broadcast": ("P", 120),
        "fire_team_on_scene": ("S", 210), "fire_zone_warned": ("P", 180), "roll_call": ("M", 1200),
    }
    st = sd.state
    assert st.drill and st.status == "resolved" and not run.open_steps
    row = rt.store.incident(run.incident_id)
    assert row.drill and run.incident_id not in {r.id for r in rt.store.incidents(drill=False)}
    injects = [e for e in sd.events if e.kind == ev.DRILL_INJECT]
    assert [(e.payload["inject"], (e.ts - st.started_at).total_seconds()) for e in injects] == [
        ("smoke_13f", 240), ("father_missing", 420), ("sms_gateway_down", 540),
        ("roll_call_board", 600), ("brigade_at_gate", 720)]
    assert injects[2].payload["fault"] == {"channel": "sms", "for": "10m"}
    # every queued message is a drill message, marked as such
    rows = rt.store.outbox_rows(run.incident_id)
    assert rows and all(r.drill for r in rows)
    marked = [r for r in rows if not r.step_id.startswith("escalation:")]
    # the estate's signature first (carriers want it at the start), then the drill mark
    assert marked and all(r.body.startswith(("[Lakeside Garden Mgmt] [DRILL] ",
                                              "【临湖苑物业】[演练] ")) for r in marked)


def test_medical_drill_auto_scores(rt):
    run = run_auto(rt.engine, _load(rt, DRILLS / "medical_collapse.yaml"), rt.clock)
    sd = scored(rt.store, rt.playbooks, run.incident_id)
    got = {s.id: (s.rating, s.elapsed.total_seconds() if s.elapsed else None)
           for s in sd.scores}
    # 120 at 1m, the first-aider on scene at 2m30s (3m target), the family in time
    assert got["ambulance_called"] == ("P", 60)
    assert got["first_aider"] == ("P", 150)
    assert got["family_told"][0] == "P"
    assert sd.state.drill and sd.state.status == "resolved" and not run.open_steps
    injects = [e.payload["inject"] for e in sd.events if e.kind == ev.DRILL_INJECT]
    assert injects == ["no_breathing", "gate_blocked"]


def test_a_step_never_done_is_unable_to_perform(rt):
    text = FIRE.read_text(encoding="utf-8").replace("    call_119: 45s\n", "    call_119: never\n")
    run = run_auto(rt.engine, _load(rt, text=text), rt.clock)
    sd = scored(rt.store, rt.playbooks, run.incident_id)
    s = next(s for s in sd.scores if s.id == "call_119")
    assert (s.rating, s.status, s.why) == ("U", "not_done", "never done")
    assert "call_119" in run.open_steps and sd.state.status == "resolved"
    assert (sd.state.resolved_at - sd.state.started_at) == timedelta(minutes=45)


# ---- injects as timers, across a restart -------------------------------------------------

def test_injects_fire_through_tick_and_survive_a_restart(db_url):
    clock = ManualClock()
    rt1 = Runtime(load_settings(database_url=db_url), clock=clock)
    st = start_drill(rt1.engine, _load(rt1), speed=60)
    iid = st.id
    clock.advance("3m")
    rt1.engine.tick(iid)
    assert not rt1.store.events(iid, kinds=[ev.DRILL_INJECT])
    rt1.close()
    # a new process, later: the inject due at T+4 fires (late) from the log alone
    clock.advance("4m30s")
    rt2 = Runtime(load_settings(database_url=db_url), clock=clock)
    install(rt2.engine)
    fired = rt2.engine.tick(iid)
    assert {p["inject"] for _i, p in fired if p["kind"] == dev.TIMER_KIND} == \
        {"smoke_13f", "father_missing"}
    injects = rt2.store.events(iid, kinds=[ev.DRILL_INJECT])
    assert [e.payload["inject"] for e in injects] == ["smoke_13f", "father_missing"]
    assert rt2.engine.tick(iid) == []  # once only
    scen = rt2.store.events(iid, kinds=[dev.DRILL_SCENARIO])[0].payload
    assert (scen["scenario"], scen["speed"], scen["mode"]) == ("b3_fire_evacuation", 60.0,
                                                               "console")
    rt2.close()


def test_an_inject_is_written_with_the_timer_that_fired_it(rt):
    st = start_drill(rt.engine, _load(rt))
    rt.clock.advance("5m")
    rt.engine.tick(st.id)
    events = rt.store.events(st.id)
    fired = next(e for e in events if e.kind == ev.TIMER_FIRED
                 and e.payload.get("inject") == "smoke_13f")
    inject = next(e for e in events if e.kind == ev.DRILL_INJECT)
    # one append: the answers follow the batch of timers that fired, stamped the same moment
    between = [e for e in events if fired.seq < e.seq < inject.seq]
    assert inject.ts == fired.ts and all(e.ts == fired.ts for e in between)
    assert {e.kind for e in between} <= {ev.TIMER_FIRED, ev.STEP_DONE, ev.DRILL_INJECT,
                                         ev.PAGE_SENT, ev.ESCALATION_RAISED,
                                         ev.ESCALATION_SKIPPED}
    assert inject.payload["inject"] == "smoke_13f"


# ---- evaluation and the after-action report ----------------------------------------------

EVAL = """\
ratings:
  fire_team_on_scene: {rating: M, comment: Team went to the wrong stairwell}
  call_119: P
strengths:
  - Broadcast in both languages within two minutes.
improvements:
  - Wardens on 14-16F did not know the assembly point.
plan:
  - issue: Wardens unsure of the assembly point
    action: Walk every warden to the North Plaza; add it to the warden card
    owner: cao.zhiyong
    due: 2026-03-31
counts: {occupants: 181, visitors: 7, missing: 1}
"""


def test_evaluation_rating_override_report_and_trend(rt, tmp_path):
    first = run_auto(rt.engine, _load(rt), rt.clock).incident_id
    rt.clock.advance(timedelta(days=180))
    text = FIRE.read_text(encoding="utf-8").replace("missing_list: {after: 6m,",
                                                    "missing_list: {after: 1m,")
    second = run_auto(rt.engine, _load(rt, text=text), rt.clock).incident_id
    f = tmp_path / "eval.yaml"
    f.write_text(EVAL, encoding="utf-8")
    n = apply_file(rt.engine, second, f, actor="han.xue")
    assert n == {"ratings": 2, "strengths": 1, "improvements": 1, "plan": 1, "counts": 3}
    rate(rt.engine, second, "roll_call", "s", actor="tang.wei", comment="list was complete")
    sd = scored(rt.store, rt.playbooks, second)
    by = {s.id: s for s in sd.scores}
    assert (by["fire_team_on_scene"].suggested, by["fire_team_on_scene"].rating) == ("S", "M")
    assert by["roll_call"].elapsed == timedelta(minutes=15)
    assert (by["roll_call"].suggested, by["roll_call"].rating) == ("P", "S")
    assert by["roll_call"].override["by"] == "tang.wei"
    kinds = [e.kind for e in rt.store.events(second)]
    assert kinds.count(dev.DRILL_RATED) == 3 and kinds.count(dev.DRILL_EVALUATION) == 4
    assert rt.store.verify(second).ok

    a = build_aar(rt.store, rt.playbooks, rt.directory, second, now=rt.clock.now())
    assert [r.incident_id for r in a.earlier] == [first]
    md = render_aar(a, "md")
    assert "Team went to the wrong stairwell" in md and "Walk every warden" in md
    assert "| Roll call complete with the missing list within 15 minutes | 20m00s M | " \
           "15m00s S |" in md
    assert "Smoke reported on floor 13" in md and "channel fault: sms" in md
    zh = render_aar(build_aar(rt.store, rt.playbooks, rt.directory, second,
                              now=rt.clock.now(), lang="zh"), "html")
    assert "演练总结评估报告" in zh and "曹志勇" in zh and "<td class=\"rating bad\"><b>M</b>" in zh
    data = json.loads(render_aar(a, "json"))
    assert data["counts"] == {"occupants": 181, "visitors": 7, "missing": 1}
    assert data["trend"][0]["objectives"]["roll_call"] == {"elapsed_s": 1200.0, "rating": "M"}


def test_evaluation_file_errors_name_the_line(rt, tmp_path):
    iid = start_drill(rt.engine, _load(rt)).id
    f = tmp_path / "eval.yaml"
    f.write_text("ratings:\n  call_119x: P\n  roll_call: {rating: Q}\nplan:\n"
                 "  - {issue: a, action: b, owner: cao.zhiyon, due: 2026-03-31}\n",
                 encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        apply_file(rt.engine, iid, f, actor="han.xue")
    msgs = {(i.line, i.message, i.hint) for i in exc.value.issues}
    assert any(line == 3 and "rating 'Q'" in m for line, m, _h in msgs)
    with pytest.raises(ValidationFailed) as exc:
        apply_file(rt.engine, iid, f.write_text(
            "ratings:\n  call_119x: P\nplan:\n"
            "  - {issue: a, action: b, owner: cao.zhiyon, due: 2026-03-31}\n",
            encoding="utf-8") and f, actor="han.xue")
    msgs = {(i.line, i.hint) for i in exc.value.issues}
    assert msgs == {(2, "did you mean 'call_119'?"), (4, "did you mean 'cao.zhiyong'?")}
    assert not rt.store.events(iid, kinds=[dev.DRILL_RATED])  # nothing was written


def test_evaluation_refused_on_a_live_incident(rt):
    st = rt.engine.start("fire", "B3-1302", actor="chen.jie")
    with pytest.raises(Refused, match="live incident"):
        rate(rt.engine, st.id, "call_119", "P", actor="han.xue")


# ---- the command line ---------------------------------------------------------------------

def test_cli_auto_rate_plan_report(db_url, tmp_path):
    runner = CliRunner()
    base = ["--db", db_url, "--as", "han.xue"]
    res = runner.invoke(main, [*base, "drill", "elevator_rescue", "--auto"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    iid = lines[0]
    assert iid.startswith("INC-")
    assert any(line.split()[:2] == ["S", "technician_on_site"] for line in lines)
    assert sum(line.strip().startswith("P ") for line in lines) == 4
    # ratings come from the scenario's evaluators only (tang.wei), never from a player
    res = runner.invoke(main, [*base, "drill", "rate", iid, "technician_on_site", "M"])
    assert res.exit_code == 1 and "not an evaluator of scenario 'elevator_rescue'" in res.output
    res = runner.invoke(main, ["--db", db_url, "--as", "tang.wei", "drill", "rate", iid,
                               "technician_on_site", "M", "--comment", "no call to 96333"])
    assert res.exit_code == 0, res.output
    for args in (["strength", iid, "Guard", "at", "the", "car", "in", "4", "minutes"],
                 ["improve", iid, "Nobody", "told", "the", "people", "inside", "of", "the",
                  "delay"],
                 ["plan", iid, "--issue", "Late technician", "--action", "Apply the contract "
                  "penalty", "--owner", "song.hui", "--due", "2026-03-31"],
                 ["counts", iid, "occupants=3", "missing=0"]):
        res = runner.invoke(main, [*base, "drill", *args])
        assert res.exit_code == 0, res.output
    res = runner.invoke(main, [*base, "drill", "plan", iid, "--issue", "x", "--action", "y",
                               "--owner", "song.hiu", "--due", "2026-03-31"])
    assert res.exit_code == 1 and "did you mean 'song.hui'?" in res.output
    out = tmp_path / "aar.html"
    res = runner.invoke(main, [*base, "drill", "report", iid, "--format", "html", "-o", str(out),
                               "--lang", "zh"])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "no call to 96333" in html and "Apply the contract penalty" in html
    res = runner.invoke(main, [*base, "drill", "score", iid, "--format", "json"])
    scores = {s["id"]: s["rating"] for s in json.loads(res.output)}
    assert scores == {"intercom_contact": "P", "guard_at_car": "P", "technician_on_site": "M",
                      "released": "P", "health_recorded": "P"}


def test_cli_validate_reports_bad_scenarios(db_url, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent(BAD).replace("tmie: 3\n", ""), encoding="utf-8")
    res = CliRunner().invoke(main, ["--db", db_url, "drill", "validate", str(bad)])
    assert res.exit_code == 1
    assert "bad.yaml:18" in res.output and "did you mean 'call_119'?" in res.output
    res = CliRunner().invoke(main, ["--db", db_url, "drill", "validate"])
    assert res.exit_code == 0, res.output
