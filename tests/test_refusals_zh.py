"""A Chinese duty officer reads the engine's refusals in Chinese: the step by its Chinese
title, people by name with the login to type, and no English words — through the engine,
the CLI (`--lang zh`) and a Chinese console. An English reader reads the same refusal
word for word as before."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from test_chinese_reader import _english
from test_report_walker import REPO, make_runtime

from incident.cli import main
from incident.clock import ManualClock
from incident.engine import aftercare, followups
from incident.engine.rollcall import board
from incident.errors import Refused

OFFICER = "chen.jie"  # 陈杰, a duty officer in the sample contacts


@pytest.fixture
def fire(sqlite_url, tmp_path):
    clock = ManualClock()
    rt = make_runtime(sqlite_url, clock)
    iid = rt.engine.start("fire", "B3-1201", actor=OFFICER).id
    pb = rt.playbooks.get("fire")
    ids = frozenset({pb.id, *pb.steps(), *rt.directory.staff, *rt.directory.roles,
                     *(o.id for s in pb.steps().values() for o in s.options or [])})
    yield rt, iid, ids, clock, sqlite_url, tmp_path
    rt.close()


def _refusal(fn, *args, **kw) -> Refused:
    with pytest.raises(Refused) as info:
        fn(*args, **kw)
    return info.value


def _chinese(exc: Refused, ids: frozenset[str]) -> str:
    text = exc.text("zh")
    assert _english(text, ids) == [], text
    return text


def test_step_refusals_name_the_step_in_chinese(fire):
    rt, iid, ids, clock, *_ = fire
    engine = rt.engine
    titles = {sid: s.title for sid, s in rt.playbooks.get("fire").steps().items()}

    exc = _refusal(engine.act, iid, "meet_brigade", actor=OFFICER)  # waits for call_119
    assert str(exc) == "'Meet the fire engines and guide them in' is not ready yet: " \
                       "waiting for 'call_119', 'confirm_alarm'"
    text = _chinese(exc, ids)
    assert text == (f"“{titles['meet_brigade'].zh}”尚未就绪：正在等待"
                    f"“{titles['call_119'].zh}”、“{titles['confirm_alarm'].zh}”")

    exc = _refusal(engine.act, iid, "confirm_alarm", actor=OFFICER)  # a decision
    assert str(exc).startswith("'Confirm the alarm by the fastest means' is a decision — "
                               "choose one of: ")
    assert _chinese(exc, ids).startswith(f"“{titles['confirm_alarm'].zh}”是决策步骤")

    exc = _refusal(engine.act, iid, "confirm_alarm", actor=OFFICER, option="false_alarn")
    text = _chinese(exc, ids | {"false_alarn"})  # what the officer typed stays as typed
    assert text.startswith(f"“{titles['confirm_alarm'].zh}”没有选项“false_alarn”")
    assert "false_alarm" in text

    exc = _refusal(engine.act, iid, "call_11", actor=OFFICER)  # a misspelt step id
    assert "call_119" in _chinese(exc, ids | {"call_11"}) and "没有步骤" in exc.text("zh")

    exc = _refusal(engine.act, iid, "call_119", actor=OFFICER, action="skip")
    assert titles["call_119"].zh in _chinese(exc, ids) and "原因" in exc.text("zh")

    engine.act(iid, "confirm_alarm", actor=OFFICER, option="real_fire")
    engine.act(iid, "call_119", actor=OFFICER)
    clock.advance("1m")
    exc = _refusal(engine.act, iid, "call_119", actor="liu.yang")
    text = _chinese(exc, ids)
    assert text.startswith(f"“{titles['call_119'].zh}”已由陈杰（chen.jie）于 ")
    assert text.endswith(" 完成")
    assert "was already done by " in str(exc) and "(chen.jie)" in str(exc)


def test_record_handover_and_resolve_refusals_read_in_chinese(fire):
    rt, iid, ids, *_ = fire
    engine = rt.engine
    engine.act(iid, "confirm_alarm", actor=OFFICER, option="real_fire")
    engine.act(iid, "pa_fire_floors", actor=OFFICER)
    exc = _refusal(engine.act, iid, "head_count", actor=OFFICER, value="about forty")
    assert "whole number; 'about forty' is not one" in str(exc)
    text = exc.text("zh")
    assert "集合点清点人数" in text and "不是整数" in text
    assert _english(text.replace("about forty", ""), ids) == []

    exc = _refusal(engine.handover, iid, OFFICER, actor=OFFICER)
    assert _chinese(exc, ids) == f"陈杰（chen.jie）已是 {iid} 的负责人"

    exc = _refusal(engine.handover, iid, "chen.jei", actor=OFFICER)
    assert "chen.jie" in _chinese(exc, ids | {"chen.jei"})

    exc = _refusal(engine.resolve, iid, actor=OFFICER)
    text = _chinese(exc, ids)
    assert "个步骤未完成" in text and "、" in text and "…" in text

    exc = _refusal(engine.report_done, iid, "nope", actor=OFFICER)
    assert "上报时限" in _chinese(exc, ids | {"nope", *engine.state(iid).reports})


def test_aftercare_and_roll_call_refusals_read_in_chinese(fire):
    rt, iid, ids, *_ = fire
    engine = rt.engine
    exc = _refusal(followups.record_followup, engine, iid, "someone", actor=OFFICER,
                   reached=True, satisfaction=4)
    assert "仍在处置中" in _chinese(exc, ids)
    exc = _refusal(followups.record_followup, engine, iid, "someone", actor=OFFICER,
                   reached=True, satisfaction=None)
    assert "满意度" in _chinese(exc, ids)
    exc = _refusal(followups.first_receiver_record, engine, engine.clock.now(),
                   received_at=None, channel="hotlne", reporter=None, contact={})
    assert "hotline" in _chinese(exc, ids | {"hotlne", *aftercare.CHANNELS})  # ids to type
    st = engine.state(iid)
    exc = _refusal(board, st, engine.clock.now())
    assert _chinese(exc, ids) == f"{iid} 尚未发出点名——请先执行其 roll_call 步骤"


def test_cli_tells_a_refusal_in_chinese(fire):
    rt, iid, ids, clock, url, tmp_path = fire
    env = {"INCIDENT_DATABASE_URL": url, "INCIDENT_USER": OFFICER,
           "INCIDENT_CLOCK": f"fixed:{clock.now().isoformat()}",
           "INCIDENT_PLAYBOOKS_DIR": str(REPO / "playbooks"),
           "INCIDENT_CONTACTS_DIR": str(REPO / "contacts"),
           "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "c.json")}
    rt.close()
    runner = CliRunner()
    r = runner.invoke(main, ["--lang", "zh", "act", iid, "meet_brigade"], env=env)
    assert r.exit_code == 1, r.output
    out = r.output.strip()
    assert out.startswith("操作被拒绝：“接应消防车并引导到场”尚未就绪"), out
    assert _english(out, ids) == []
    r = runner.invoke(main, ["--lang", "zh", "resolve", iid], env=env)
    assert r.exit_code == 1 and "个步骤未完成" in r.output
    assert _english(r.output, ids) == []
    r = runner.invoke(main, ["--lang", "en", "act", iid, "meet_brigade"], env=env)
    assert "'Meet the fire engines and guide them in' is not ready yet" in r.output


def test_a_chinese_console_shows_a_refused_step_in_chinese(tmp_path):
    from test_console import build, goto, run, settle
    from test_console import make_runtime as console_runtime

    rt = console_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("f2")  # 中文
            await pilot.pause()
            assert app.lang == "zh"
            st = app.runtime.engine.start("fire", "B3-1201", actor=app.user)
            app.open_incident(st.id)
            await settle(pilot)
            await goto(pilot, "meet_brigade")
            await pilot.press("d")
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert any(m.startswith("“接应消防车并引导到场”尚未就绪：正在等待“立即拨打119报警”")
                       for m in said), said

    try:
        run(go())
    finally:
        rt.close()
