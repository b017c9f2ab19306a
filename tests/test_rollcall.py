"""Roll call: owners answer 1 safe / 2 need help / 3 not at home; the officer sees a
board per floor and hands a door-knock list to a named team (printed, CSV, or sent)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.drill import load_scenario, load_scenario_text, run_auto
from incident.engine import events as ev
from incident.engine import rollcall
from incident.engine.rollcall import parse_answer
from incident.errors import Refused, ValidationFailed
from incident.playbook import load_playbook_text
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
FIRE_DRILL = REPO / "playbooks" / "drills" / "b3_fire_evacuation.yaml"


@pytest.fixture
def rt(db_url):
    runtime = Runtime(load_settings(database_url=db_url), clock=ManualClock())
    yield runtime
    runtime.close()


def _asked(rt, drill: bool = False):
    """A fire on B3 13F, real; the fire zone warned and asked the roll call."""
    e = rt.engine
    st = e.start("fire", "B3-1302", actor="chen.jie", drill=drill)
    e.act(st.id, "confirm_alarm", actor="chen.jie", option="real_fire")
    e.act(st.id, "notify_fire_floors", actor="chen.jie")
    return e.act(st.id, "roll_call", actor="chen.jie")


def _reply(rt, iid: str, unit: str, text: str, *, person: str | None = None,
           drill_script: bool = False):
    """An owner's reply as the inbound listener would record it: matched to the row
    the question went out on."""
    rows = [r for r in rt.store.outbox_rows(iid, "roll_call")
            if (person is None and rt.directory.people[r.person_id].unit == unit)
            or r.person_id == person]
    r = rows[0]
    return rt.engine.record_reply(
        iid, channel=r.channel, address=r.address, text=text, person_id=r.person_id,
        unit=unit, provider_id=f"p-{unit}-{text}", outbox_id=r.id, step_id="roll_call",
        purpose="roll_call", answer=parse_answer(text), drill_script=drill_script)


def _status(b, unit: str) -> str:
    return next(u.status for u in b.units if u.unit == unit)


# ---- parsing --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "answer"), [
    ("1", "safe"), (" 1 ", "safe"), ("１", "safe"), ("1 安全", "safe"), ("安全", "safe"),
    ("Safe", "safe"), ("ok", "safe"), ("2", "help"), ("２", "help"), ("需要帮助", "help"),
    ("2 腿脚不便，需要帮助", "help"), ("HELP", "help"), ("help me", "help"), ("3", "away"),
    ("不在家", "away"), ("not at home", "away"), ("“3”", "away"),
    ("12", None), ("1202", None), ("在楼梯间，烟很大", None), ("", None), ("4", None),
    ("=HYPERLINK(\"x\")", None),
])
def test_parse_answer(text, answer):
    assert parse_answer(text) == answer


# ---- the question ---------------------------------------------------------------------

def test_the_question_goes_to_each_owner_in_their_language_with_numbered_answers(rt):
    st = _asked(rt)
    assert st.steps["roll_call"].status == "done"
    rows = rt.store.outbox_rows(st.id, "roll_call")
    asked = st.notifications["roll_call"]["asked"]
    assert len(rows) == st.notifications["roll_call"]["messages"] > 10
    assert {a[1] for a in asked} >= {"B3-1201", "B3-1302", "B3-1408"}  # 12F-14F
    assert not {a[1] for a in asked} & {"B3-1101", "B3-1501"}
    zh = next(r for r in rows if r.lang == "zh")
    en = next(r for r in rows if r.lang == "en")
    assert "请回复数字：1 安全；2 需要帮助；3 不在家" in zh.body and zh.body.startswith("【临湖苑物业】")
    assert "Reply with a number: 1 safe, 2 need help, 3 not at home" in en.body
    assert not any(r.drill for r in rows)


def test_a_drill_roll_call_goes_to_the_sandbox_marked(rt):
    st = _asked(rt, drill=True)
    rows = rt.store.outbox_rows(st.id, "roll_call")
    assert rows and all(r.drill for r in rows)
    assert all("[演练]" in r.body or "[DRILL]" in r.body for r in rows)


# ---- the board ------------------------------------------------------------------------

def test_an_owners_2_puts_the_unit_on_needs_help_and_a_later_1_moves_it(rt):
    st = _asked(rt)
    _reply(rt, st.id, "B3-1304", "2")
    now = rt.clock.now()
    b = rollcall.board(rt.engine.state(st.id), now)
    assert _status(b, "B3-1304") == "help"
    knock = b.knock_list()
    assert knock[0].unit == "B3-1304" and knock[0].reason == "help"
    rt.clock.advance(timedelta(minutes=1))
    st = _reply(rt, st.id, "B3-1304", "1 已下楼")
    b = rollcall.board(st, rt.clock.now())
    assert _status(b, "B3-1304") == "safe"
    assert "B3-1304" not in [k.unit for k in b.knock_list()]
    person = next(p for u in b.units if u.unit == "B3-1304" for p in u.people)
    assert [h["answer"] for h in person.history] == ["help", "safe"]  # history kept
    events = rt.store.events(st.id, kinds=[ev.REPLY_RECEIVED])
    assert [e.payload["text"] for e in events] == ["2", "1 已下楼"]
    assert events[0].actor == person.person_id and events[0].payload["purpose"] == "roll_call"


def test_an_unparsed_reply_never_overrides_an_answer_and_alone_is_unclear(rt):
    st = _asked(rt)
    _reply(rt, st.id, "B3-1303", "1")
    _reply(rt, st.id, "B3-1303", "thanks!")
    st = _reply(rt, st.id, "B3-1305", "在楼梯间，烟很大")
    b = rollcall.board(st, rt.clock.now())
    assert _status(b, "B3-1303") == "safe" and _status(b, "B3-1305") == "unclear"
    item = next(k for k in b.knock_list() if k.unit == "B3-1305")
    assert item.reason == "unclear" and item.last_text == "在楼梯间，烟很大"


def test_silent_units_appear_after_no_answer_after_but_vulnerable_ones_at_once(rt):
    st = _asked(rt)
    _reply(rt, st.id, "B3-1303", "1")
    st = rt.engine.state(st.id)
    b = rollcall.board(st, rt.clock.now() + timedelta(minutes=4))
    assert _status(b, "B3-1401") == "waiting" and b.counts()["no_answer"] == 0
    # the elderly owner of 1405 (elderly_alone in the roster) is on the list at once
    assert [(k.unit, k.reasons) for k in b.knock_list()] == [
        ("B3-1405", ["vulnerable"]), ("B3-1202", ["vulnerable"])]
    b = rollcall.board(st, rt.clock.now() + timedelta(minutes=5))
    assert _status(b, "B3-1401") == "no_answer"
    units = [k.unit for k in b.knock_list()]
    assert units[:2] == ["B3-1405", "B3-1202"] and "B3-1401" in units
    assert "B3-1303" not in units
    # the officer may shorten the wait
    b = rollcall.board(st, rt.clock.now() + timedelta(minutes=2),
                       no_answer_after=timedelta(minutes=1))
    assert _status(b, "B3-1401") == "no_answer"


def test_not_at_home_is_accounted_for(rt):
    st = _asked(rt)
    st = _reply(rt, st.id, "B3-1201", "3")
    b = rollcall.board(st, rt.clock.now() + timedelta(hours=1))
    assert _status(b, "B3-1201") == "away"
    assert "B3-1201" not in [k.unit for k in b.knock_list()]


def test_no_roll_call_sent_is_refused_clearly(rt):
    st = rt.engine.start("fire", "B3-1302", actor="chen.jie")
    with pytest.raises(Refused, match="no roll call sent"):
        rollcall.board(st, rt.clock.now())


def test_a_scripted_reply_on_a_live_incident_is_refused(rt):
    st = _asked(rt)
    with pytest.raises(Refused, match="live incident"):
        _reply(rt, st.id, "B3-1304", "2", drill_script=True)


# ---- door-knock list ------------------------------------------------------------------

def test_the_door_knock_list_is_sent_to_the_named_team_through_the_outbox(rt):
    st = _asked(rt)
    _reply(rt, st.id, "B3-1304", "2 腿脚不便")
    rt.clock.advance(timedelta(minutes=6))
    st = rt.engine.knock(st.id, team="security", actor="chen.jie")
    sent = st.knocks[-1]
    guards = {p.id for p in rt.directory.holders("security")}
    assert sent["to"] and set(sent["to"]) <= guards and sent["team"] == "security"
    assert sent["units"][0]["unit"] == "B3-1304" and sent["units"][0]["reason"] == "help"
    rows = rt.store.outbox_rows(st.id, "knock:roll_call:1")
    assert {r.person_id for r in rows} == set(sent["to"])
    assert len(rows) == len(sent["to"]) and all(r.channel in ("chat", "sms") for r in rows)
    body = rows[0].body
    assert "B3-1304" in body and ("需要帮助" in body or "needs help" in body)
    assert "B3-1405" in body  # vulnerable, silent
    assert rt.store.events(st.id, kinds=[ev.ROLLCALL_KNOCK])[0].actor == "chen.jie"
    # a second list is a new message, never deduplicated away
    st = rt.engine.knock(st.id, team="security", actor="chen.jie")
    assert len(st.knocks) == 2
    assert len([r for r in rt.store.outbox_rows(st.id) if r.person_id in sent["to"]]) \
        == 2 * len(sent["to"])
    with pytest.raises(Refused, match="unknown role"):
        rt.engine.knock(st.id, team="securty", actor="chen.jie")


def _env(db_url, tmp_path, clock):
    return {"INCIDENT_DATABASE_URL": db_url, "INCIDENT_CLOCK": f"fixed:{clock.isoformat()}",
            "INCIDENT_USER": "chen.jie", "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "c.json")}


def test_cli_board_knock_list_and_csv_opened_as_excel_would(rt, db_url, tmp_path):
    st = _asked(rt)
    _reply(rt, st.id, "B3-1304", "2")
    _reply(rt, st.id, "B3-1303", "1")
    _reply(rt, st.id, "B3-1305", '=HYPERLINK("http://evil","x")')
    later = rt.clock.now() + timedelta(minutes=6)
    env = _env(db_url, tmp_path, later)
    runner = CliRunner()
    res = runner.invoke(main, ["rollcall", st.id], env=env)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert all(len(line) <= 80 for line in lines) and len(lines) <= 24
    assert any(line.startswith("B3 13F") and "!1304" in line for line in lines)
    res = runner.invoke(main, ["--lang", "zh", "rollcall", st.id], env=env)
    assert "点名" in res.output and "需要帮助 1" in res.output
    res = runner.invoke(main, ["rollcall", st.id, "--knock", "--team", "security"], env=env)
    assert res.exit_code == 0 and "Door-knock list for security" in res.output
    assert res.output.splitlines()[1].startswith("  1. B3-1304")
    res = runner.invoke(main, ["rollcall", st.id, "--knock", "--format", "csv"], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.startswith("\ufeff")  # Excel and WPS read the Chinese right
    rows = list(csv.DictReader(io.StringIO(res.output.lstrip("\ufeff"))))
    assert rows[0]["unit"] == "B3-1304" and rows[0]["reason"] == "needs help"
    evil = next(r for r in rows if r["unit"] == "B3-1305")
    assert evil["last_reply"].startswith("'=HYPERLINK")  # text, never a formula
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    # sent to the team through the outbox
    res = runner.invoke(main, ["rollcall", st.id, "--knock", "--send"], env=env)
    assert res.exit_code == 0 and "door-knock list sent to" in res.output, res.output
    res = runner.invoke(main, ["rollcall", st.id, "--step", "head_count"], env=env)
    assert res.exit_code == 1 and "not a roll-call step" in res.output


def test_head_count_and_missing_list_are_filled_from_the_board(rt, db_url, tmp_path):
    st = _asked(rt)
    rt.engine.act(st.id, "pa_fire_floors", actor="chen.jie")
    _reply(rt, st.id, "B3-1304", "2")
    _reply(rt, st.id, "B3-1303", "1")
    _reply(rt, st.id, "B3-1401", "1")
    env = _env(db_url, tmp_path, rt.clock.now() + timedelta(minutes=6))
    runner = CliRunner()
    res = runner.invoke(main, ["rollcall", st.id, "--fill", "head_count"], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["rollcall", st.id, "--fill", "missing_list"], env=env)
    assert res.exit_code == 0, res.output
    st = rt.engine.state(st.id)
    assert st.values["head_count"] == 2
    missing = st.values["missing"]
    assert missing[0].startswith("B3-1304 ") and "needs help" in missing[0]
    assert any(m.startswith("B3-1405 ") for m in missing)
    res = runner.invoke(main, ["rollcall", st.id, "--fill", "sweep_floors"], env=env)
    assert res.exit_code == 1 and "not filled from the roll call" in res.output
    # the note on the filled step reads in each reader's language only
    en = runner.invoke(main, ["log", st.id], env=env).output
    zh = runner.invoke(main, ["--lang", "zh", "log", st.id], env=env).output
    assert "from the roll-call board" in en and "来自点名看板" not in en
    assert "来自点名看板" in zh and "from the roll-call board" not in zh


# ---- drills ---------------------------------------------------------------------------

def test_the_fire_drill_rehearses_the_board_and_the_door_knock_list(rt):
    loaded = load_scenario(FIRE_DRILL, rt.playbooks, rt.directory, rt.channel_names)
    run = run_auto(rt.engine, loaded, rt.clock)
    st = rt.engine.state(run.incident_id)
    replies = rt.store.events(run.incident_id, kinds=[ev.REPLY_RECEIVED])
    assert len(replies) == len(loaded.scenario.replies) == 10
    assert all(e.payload["drill_script"] and e.payload["purpose"] == "roll_call"
               for e in replies)
    sent = st.steps["roll_call"].done_at
    assert (replies[0].ts - sent) == timedelta(minutes=1)  # on the drill's clock
    b = rollcall.board(st, rt.clock.now())
    assert _status(b, "B3-1304") == "help" and _status(b, "B3-1407") == "safe"  # 2 then 1
    assert _status(b, "B3-1305") == "unclear" and _status(b, "B3-1201") == "away"
    assert _status(b, "B3-1302") == "no_answer"
    knock = [k.unit for k in b.knock_list()]
    assert knock[:3] == ["B3-1304", "B3-1405", "B3-1202"]
    assert "B3-1407" not in knock and "B3-1302" in knock
    # nothing reached a gateway: every roll-call message is a sandboxed drill message
    assert all(r.drill for r in rt.store.outbox_rows(run.incident_id, "roll_call"))


BAD_DRILL_REPLIES = """\
id: replies_drill
title: {en: Replies, zh: 回复}
description: {en: Replies, zh: 回复}
playbook: fire
location: B3-1302
duration: 30m
lead: chen.jie
objectives:
  - {id: call, title: {en: Call, zh: 报警}, step: call_119, within: 2m}
responses:
  steps: {call_119: 1m}
replies:
  - {at: 1m, unit: B3-9901, text: "1"}
  - {at: 1m, unit: B3-1304, text: "2", step: head_count}
  - {at: 1m, unit: B3-1304, person: chen.jie, text: "1"}
  - {at: 1m, unit: B3-1304, text: ""}
"""


def test_scripted_replies_are_checked_with_their_line(rt):
    with pytest.raises(ValidationFailed) as info:
        load_scenario_text(BAD_DRILL_REPLIES, "replies.yaml", rt.playbooks, rt.directory,
                           rt.channel_names)
    text = [i.format() for i in info.value.issues]
    lines = BAD_DRILL_REPLIES.splitlines()
    assert any("replies.yaml:" + str(lines.index('  - {at: 1m, unit: B3-1304, text: ""}') + 1)
               in t for t in text), text
    issues = info.value.issues
    # pydantic errors come first (the empty text); the cross-references after a fix
    fixed = BAD_DRILL_REPLIES.replace('  - {at: 1m, unit: B3-1304, text: ""}\n', "")
    with pytest.raises(ValidationFailed) as info:
        load_scenario_text(fixed, "replies.yaml", rt.playbooks, rt.directory, rt.channel_names)
    issues = info.value.issues
    got = {(i.line, i.message.split(" '")[0]) for i in issues}
    flines = fixed.splitlines()
    assert (flines.index("  - {at: 1m, unit: B3-9901, text: \"1\"}") + 1,
            "unknown unit") in got
    assert any("'head_count' is not a roll_call step" in i.message for i in issues)
    assert any("'chen.jie' is not an owner of B3-1304" in i.message for i in issues)


# ---- playbook validation --------------------------------------------------------------

BAD_ROLL_CALL = """\
id: bad_rc
type: fire
title: {en: Bad, zh: 坏}
description: {en: Bad, zh: 坏}
default_severity: 1
severities:
  - {level: 1, name: {en: L1, zh: 一级}, criteria: {en: c, zh: c}}
audiences:
  zone: owners building:@ floors:@-1..@+1
tracks:
  - id: t
    title: {en: T, zh: T}
    steps:
      - id: ask
        kind: roll_call
        title: {en: Ask, zh: 点名}
        roll_call:
          audience: zoen
          channels: [sms, pigeon]
          question: {en: "Safe in {{ buildng }}?", zh: 安全吗？}
          no_answer_after: soon
          team: securty
      - id: ask_without
        kind: roll_call
        title: {en: Ask2, zh: 点名2}
      - id: count
        kind: record
        title: {en: Count, zh: 清点}
        record: {name: head_count, type: list, from_roll_call: safe_count}
"""


def test_a_bad_roll_call_step_is_pointed_at_line_by_line(rt):
    with pytest.raises(ValidationFailed) as info:
        load_playbook_text(BAD_ROLL_CALL, "bad.yaml", rt.directory)
    issues = info.value.issues
    line = BAD_ROLL_CALL.splitlines().index
    assert any(i.line == line("          no_answer_after: soon") + 1 for i in issues), \
        [i.format() for i in issues]
    fixed = BAD_ROLL_CALL.replace("no_answer_after: soon", "no_answer_after: 5m")
    with pytest.raises(ValidationFailed) as info:
        load_playbook_text(fixed, "bad.yaml", rt.directory)
    got = {i.message: i.line for i in info.value.issues}
    flines = fixed.splitlines()
    assert got["unknown audience 'zoen'"] == flines.index("          audience: zoen") + 1
    assert got["unknown channel 'pigeon'"] == flines.index("          channels: [sms, pigeon]") + 1
    assert got["unknown template variable 'buildng'"] == \
        flines.index('          question: {en: "Safe in {{ buildng }}?", zh: 安全吗？}') + 1
    assert got["unknown role 'securty'"] == flines.index("          team: securty") + 1
    assert "a roll_call step needs 'roll_call'" in got
    assert any("recorded as type int, not list" in m for m in got)
    formatted = [i.format() for i in info.value.issues]
    assert any(f.startswith("bad.yaml:") and "zone" in f for f in formatted), formatted


# ---- console --------------------------------------------------------------------------

def test_console_board_per_floor_knock_list_and_send(tmp_path):
    import asyncio

    from test_console import build, goto, make_runtime, settle

    rt = make_runtime(tmp_path / "incident.db")
    try:
        st = _asked(rt)
        _reply(rt, st.id, "B3-1304", "2")
        _reply(rt, st.id, "B3-1303", "1")
        rt.engine.act(st.id, "pa_fire_floors", actor="chen.jie")
        rt.engine.act(st.id, "head_count", actor="chen.jie", value=1)
        rt.clock.advance(timedelta(minutes=6))

        async def go():
            from incident.console.screens.rollcall import RollCallScreen

            app = build(rt, tmp_path)
            async with app.run_test(size=(80, 24)) as pilot:
                await settle(pilot)
                app.open_incident(st.id)
                await settle(pilot)
                await pilot.press("b")
                await settle(pilot)
                assert isinstance(app.screen, RollCallScreen)
                board = str(app.screen.query_one("#rc-board").content)
                assert "needs help 1" in board and "safe 1" in board
                assert all(len(line) <= 76 for line in board.splitlines())
                floor13 = next(line for line in board.splitlines() if line.startswith("B3 13F"))
                assert "!1304" in floor13 and "1303" not in floor13
                assert "?1401" in board and "1405*" in board  # silent; vulnerable marked
                await pilot.press("l")
                await pilot.pause()
                knock = str(app.screen.query_one("#rc-board").content)
                assert knock.splitlines()[1].startswith("  1. B3-1304")
                await pilot.press("k")
                await settle(pilot)
                assert "sent to security" in str(app.screen.query_one("#rc-error").content)
                assert len(rt.engine.state(st.id).knocks) == 1
                await pilot.press("l")
                await pilot.pause()
                await pilot.press("escape")
                await settle(pilot)
                # the missing list is offered from the board, for the officer to check
                await goto(pilot, "missing_list")
                await settle(pilot)
                value = app.screen.query_one("#card-value").value
                assert value.startswith("B3-1304 ") and "B3-1405" in value, value
                await pilot.press("enter")
                await settle(pilot)
            return True

        assert asyncio.run(go())
        missing = rt.engine.state(st.id).values["missing"]
        assert missing[0].startswith("B3-1304") and len(missing) > 3
    finally:
        rt.close()


def test_a_timer_tells_the_officer_when_silence_starts_to_count(rt):
    st = _asked(rt)
    timers = [t for t in rt.engine.timers(st) if t.kind == "rollcall_silent"]
    assert len(timers) == 1
    assert timers[0].due_at == st.steps["roll_call"].done_at + timedelta(minutes=5)
    rt.clock.advance(timedelta(minutes=5))
    fired = rt.engine.tick(st.id)
    assert [p["kind"] for _i, p in fired if p["kind"] == "rollcall_silent"] == \
        ["rollcall_silent"]
    assert "door-knock" in next(p for _i, p in fired
                                if p["kind"] == "rollcall_silent")["label"]["en"]


def test_a_hostile_reply_cannot_drive_the_terminal(rt, db_url, tmp_path):
    st = _asked(rt)
    _reply(rt, st.id, "B3-1304", "2 \x1b]0;pwned\x07\x1b[2J help")
    _reply(rt, st.id, "B3-1305", "line\nB3-1306 1 safe (forged)")
    env = _env(db_url, tmp_path, rt.clock.now() + timedelta(minutes=6))
    res = CliRunner().invoke(main, ["rollcall", st.id, "--knock"], env=env)
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "\x07" not in res.output
    assert not any(line.startswith("B3-1306") for line in res.output.splitlines())
    assert len(rt.engine.state(st.id).replies[-1]["text"]) <= 500


def test_the_report_shows_the_roll_call_the_lists_sent_and_who_is_still_missing(rt):
    from incident.report import build_incident_report, render

    st = _asked(rt)
    _reply(rt, st.id, "B3-1304", "2 <script>alert(1)</script>")
    _reply(rt, st.id, "B3-1303", "1")
    rt.clock.advance(timedelta(minutes=6))
    rt.engine.knock(st.id, team="security", actor="chen.jie")
    for lang, heading, still in (("en", "## Roll call: ", "Not accounted for at the end"),
                                 ("zh", "## 点名: ", "结束时仍未确认")):
        rep = build_incident_report(rt.store, rt.playbooks, rt.directory, st.id,
                                    now=rt.clock.now(), lang=lang)
        md = render(rep, "md")
        assert heading in md and still in md
        section = md.split(heading, 1)[1]
        assert "| B3-1304 |" in section and "B3-1405" in section
        assert "B3-1303 |" not in section.split("## ", 1)[0]
        page = render(rep, "html")
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
