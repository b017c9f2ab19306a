"""Live escalation on the manual clock: real Engine, real store, the shipped contacts."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident.clock import ManualClock
from incident.directory import load_directory
from incident.engine import Engine
from incident.engine import events as ev
from incident.errors import Refused
from incident.escalation import acknowledge, install, load_escalation, raise_escalation
from incident.names import Names
from incident.narrate import describe
from incident.playbook import PlaybookLibrary, load_playbook
from incident.store import open_store

REPO = Path(__file__).resolve().parent.parent
CONTACTS = REPO / "contacts"
# the mechanics run on the service-manual ladder (tests/data); the shipped routing has
# its own tests in test_ladder.py
LADDER = REPO / "tests" / "data" / "escalation_manual_ladder.yaml"
PLAYBOOKS = Path(__file__).parent / "data" / "playbooks"
MON_1100 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)  # Monday 11:00 in Shanghai
MON_0300 = datetime(2026, 1, 4, 19, 0, tzinfo=UTC)  # Monday 03:00 in Shanghai


def library() -> PlaybookLibrary:
    pbs, paths = {}, {}
    for name in ("escalation_ladder.yaml", "mini.yaml"):
        pb = load_playbook(PLAYBOOKS / name)
        pbs[pb.id], paths[pb.id] = pb, PLAYBOOKS / name
    return PlaybookLibrary(pbs, paths)


@pytest.fixture(scope="module")
def shipped():
    directory = load_directory(CONTACTS)
    return directory, load_escalation(LADDER, directory)


def make_engine(db_url: str, contacts, clock: ManualClock) -> Engine:
    directory, graph = contacts
    engine = Engine(open_store(db_url), library(), directory, clock)
    install(engine, graph=graph)
    return engine


def run(engine: Engine, clock: ManualClock, iid: str, minutes: int) -> None:
    """Advance minute by minute, ticking like the console's timer loop does."""
    for _ in range(minutes):
        clock.advance("1m")
        engine.tick(iid)


def pages(engine: Engine, iid: str) -> list[tuple[int, str, list[str]]]:
    st = engine.state(iid)
    return [(round((p["ts"] - st.started_at).total_seconds() / 60), p["node"], p["to"])
            for p in st.pages]


def kinds(engine: Engine, iid: str, kind: str) -> list:
    return [e for e in engine.store.events(iid) if e.kind == kind]


def test_nobody_acknowledges_the_ladder_climbs_on_the_clock(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie").id
    assert pages(eng, iid) == [(0, "duty_officer", ["chen.jie", "liu.yang"])]

    run(eng, clock, iid, 4)
    assert len(pages(eng, iid)) == 1  # the wait is not over yet
    run(eng, clock, iid, 1)
    assert pages(eng, iid)[-1] == (5, "cs_supervisor", ["song.hui"])
    run(eng, clock, iid, 10)
    assert pages(eng, iid)[-2:] == [(15, "project_manager", ["feng.guoqiang"]),
                                    (15, "service_manager", ["han.xue"])]
    run(eng, clock, iid, 15)
    # both managers' waits run out together: the branch GM gets one page, not two
    assert pages(eng, iid)[-1] == (30, "branch_gm", ["deng.jianhua"])
    assert len(pages(eng, iid)) == 5

    raised = kinds(eng, iid, ev.ESCALATION_RAISED)
    assert [e.payload["to"] for e in raised] == ["cs_supervisor", "project_manager",
                                                  "service_manager", "branch_gm"]
    assert raised[0].payload["reason"] == "no acknowledgement from duty_officer within 5m"
    assert raised[0].actor == ev.SYSTEM
    fired = [e.payload for e in kinds(eng, iid, ev.TIMER_FIRED)]
    assert {p["kind"] for p in fired} == {"escalation_due"}
    assert fired[0]["timer"] == "escalate:P1:duty_officer>cs_supervisor"
    gm = eng.state(iid).pages[-1]
    assert sorted(gm["via"]) == ["project_manager>branch_gm", "service_manager>branch_gm"]

    # queued with the page: chat first, SMS as the fallback, one row per person
    rows = eng.store.outbox_rows(iid, step_id="escalation:P2")
    assert [(r.person_id, r.channel, r.address, r.fallback_channels, r.drill)
            for r in rows] == [("song.hui", "chat", "SongHui", ["sms"], False)]
    sent = {e.payload["page"]: e.seq for e in kinds(eng, iid, ev.PAGE_SENT)}
    assert rows[0].event_seq == sent["P2"]
    # written for the person: estate tag, place in words, when it came in, why them,
    # what to do — and no command line or location code
    body = rows[0].body
    assert body.startswith("【临湖苑物业】") and iid in body
    assert "地点：3号楼 12层 1201室，11:00接报" in body
    assert "原因：中控室值班员（陈杰、刘洋）5分钟内未确认，按升级流程通知您" in body
    assert "请在值班控制台确认收到，或致电中控室021-5988 6600确认（呼叫编号P2）" in body
    assert "incident ack" not in body and "--as" not in body and "B3-1201" not in body
    p1 = eng.store.outbox_rows(iid, step_id="escalation:P1")
    assert {r.person_id for r in p1} == {"chen.jie", "liu.yang"}
    assert eng.store.verify(iid).ok
    # the timeline names the people paged in the reader's language
    first = kinds(eng, iid, ev.PAGE_SENT)[0]
    names = Names(eng.directory, eng.state(iid).playbook)
    assert "Sent page P1 to Chen Jie and Liu Yang as " in describe(first, names, "en")
    assert "（陈杰、刘洋）" in describe(first, names, "zh")
    second = kinds(eng, iid, ev.PAGE_SENT)[1]
    assert describe(second, names, "en") == (
        "Sent page P2 to Song Hui as Customer-service supervisor: page P1 was not "
        "acknowledged within 5 minutes")
    assert describe(second, names, "zh") == "向客服主管（宋慧）发出呼叫P2：呼叫P1在5分钟内无人确认"


def test_an_acknowledgement_stops_the_escalation(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie").id
    run(eng, clock, iid, 6)
    assert [n for _, n, _ in pages(eng, iid)] == ["duty_officer", "cs_supervisor"]
    # each person acknowledges their own page: the supervisor's answer is hers alone
    with pytest.raises(Refused, match=r"went to Song Hui \(song\.hui\)"):
        acknowledge(eng, iid, "chen.jie", page="P2")
    st = acknowledge(eng, iid, "song.hui")
    assert [(p["id"], p["acked_by"]) for p in st.pages] == [("P1", None), ("P2", "song.hui")]
    # the commander (the owner) acknowledges whatever still waits, explicitly
    with pytest.raises(Refused, match="only the incident's commander"):
        acknowledge(eng, iid, "song.hui", all_pages=True)
    st = acknowledge(eng, iid, "chen.jie", all_pages=True)
    assert [p["acked_by"] for p in st.pages] == ["chen.jie", "song.hui"]
    assert not [t for t in eng.timers(st) if t.kind == "escalation_due"]
    run(eng, clock, iid, 120)
    assert len(pages(eng, iid)) == 2
    first, second = kinds(eng, iid, ev.PAGE_ACKED)
    assert first.actor == "song.hui" and first.payload["pages"] == ["P2"]
    assert second.payload["pages"] == ["P1"] and second.payload["for_all"] is True
    with pytest.raises(Refused, match=r"already acknowledged by Song Hui \(song\.hui\)"):
        acknowledge(eng, iid, "song.hui")


def test_acknowledging_one_page_stops_only_its_wait(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie", severity=1).id
    # severity 1: the managers and the GM are paged at once with the duty officer
    assert [n for _, n, _ in pages(eng, iid)] == ["duty_officer", "project_manager",
                                                   "branch_gm"]
    with pytest.raises(Refused, match="did you mean 'P1'"):
        acknowledge(eng, iid, "chen.jie", page="P11")
    acknowledge(eng, iid, "chen.jie", page="P1")
    run(eng, clock, iid, 10)
    assert "cs_supervisor" not in [n for _, n, _ in pages(eng, iid)]
    run(eng, clock, iid, 5)
    # nobody else answered: the project manager's wait pages the GM again, and the GM's
    # own wait runs the ladder again from the supervisor (branch_gm → cs_supervisor)
    assert sorted(pages(eng, iid)[3:]) == [(15, "branch_gm", ["deng.jianhua"]),
                                           (15, "cs_supervisor", ["song.hui"])]
    with pytest.raises(Refused, match="already acknowledged"):
        acknowledge(eng, iid, "liu.yang", page="P1")


def _contacts_without_supervisor_fallback(tmp_path: Path) -> Path:
    target = tmp_path / "contacts"
    shutil.copytree(CONTACTS, target)
    shutil.copy(LADDER, target / "escalation.yaml")
    staff = target / "staff.yaml"
    text = staff.read_text(encoding="utf-8")
    block = "  cs_supervisor:\n    title: {en: Customer-service supervisor, zh: 客服主管}\n" \
            "    level: 1\n    fallback: song.hui\n"
    assert block in text
    staff.write_text(text.replace(block, block.replace("    fallback: song.hui\n", "")),
                     encoding="utf-8")
    return target


def test_an_empty_step_is_skipped_at_once(db_url, tmp_path):
    contacts = _contacts_without_supervisor_fallback(tmp_path)
    directory = load_directory(contacts)
    graph = load_escalation(contacts / "escalation.yaml", directory)
    clock = ManualClock(MON_0300)  # no supervisor is rostered at night, and no fallback
    eng = make_engine(db_url, (directory, graph), clock)
    iid = eng.start("ladder", "B3-1201", actor="xu.lei").id
    # Sunday's night shift runs until Monday 08:00
    assert pages(eng, iid) == [(0, "duty_officer", ["xu.lei", "ma.xiaoyu"])]
    run(eng, clock, iid, 5)
    [skipped] = kinds(eng, iid, ev.ESCALATION_SKIPPED)
    assert skipped.payload["to"] == "cs_supervisor"
    assert skipped.payload["reason"] == ("nobody is rostered as cs_supervisor at Mon 03:05 "
                                         "and the role has no fallback")
    # not waited out: the managers are paged in the same minute, the GM 15 minutes later
    assert pages(eng, iid)[1:] == [(5, "project_manager", ["feng.guoqiang"]),
                                   (5, "service_manager", ["han.xue"])]
    run(eng, clock, iid, 15)
    assert pages(eng, iid)[-1] == (20, "branch_gm", ["deng.jianhua"])
    raised = kinds(eng, iid, ev.ESCALATION_RAISED)
    assert "cs_supervisor was skipped" in raised[0].payload["reason"]


def test_repeats_follow_the_graph_then_stop(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie").id
    run(eng, clock, iid, 180)
    got = pages(eng, iid)
    by_node: dict[str, list[int]] = {}
    for t, node, _ in got:
        by_node.setdefault(node, []).append(t)
    # branch_gm → cs_supervisor has repeat: 2 — the ladder runs twice more, then stops
    assert by_node == {"duty_officer": [0], "cs_supervisor": [5, 45, 85],
                       "project_manager": [15, 55, 95], "service_manager": [15, 55, 95],
                       "branch_gm": [30, 70, 110]}
    st = eng.state(iid)
    assert not [t for t in eng.timers(st) if t.kind == "escalation_due"]


def test_an_overdue_step_pages_the_current_target(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("mini", "B3-1201", actor="chen.jie").id  # a fire: the lead is told too
    assert [n for _, n, _ in pages(eng, iid)] == ["duty_officer", "fire_safety_lead"]
    run(eng, clock, iid, 2)  # 'confirm' is due at +2
    st = eng.state(iid)
    reminder = st.pages[-1]
    assert reminder["node"] == "duty_officer" and reminder["reminder"] is True
    assert reminder["trigger"] == "step_overdue"
    assert reminder["reason"] == "step 'Confirm the alarm' is overdue"
    run(eng, clock, iid, 3)  # a reminder does not restart the wait: supervisor at +5
    assert pages(eng, iid)[-1] == (5, "cs_supervisor", ["song.hui"])


def test_an_overdue_step_after_an_acknowledgement_restarts_the_wait(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("mini", "B3-1201", actor="chen.jie").id
    clock.advance("1m")
    acknowledge(eng, iid, "chen.jie")
    run(eng, clock, iid, 1)  # +2: confirm is overdue
    page = next(p for p in eng.state(iid).pages if p["trigger"] == "step_overdue")
    assert (page["node"], page["reminder"]) == ("duty_officer", False)
    run(eng, clock, iid, 5)
    assert pages(eng, iid)[-1] == (7, "cs_supervisor", ["song.hui"])


def test_a_playbook_escalate_step_pages_its_role(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie").id
    acknowledge(eng, iid, "chen.jie")
    eng.act(iid, "shut_valve", actor="chen.jie")
    eng.act(iid, "tell_manager", actor="chen.jie")
    page = eng.state(iid).pages[-1]
    assert (page["node"], page["to"], page["trigger"]) == \
        ("project_manager", ["feng.guoqiang"], "playbook")
    assert page["reason"] == "Water in the switch room"
    run(eng, clock, iid, 15)
    assert pages(eng, iid)[-1] == (15, "branch_gm", ["deng.jianhua"])


def test_escalating_by_hand(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie", drill=True).id
    with pytest.raises(Refused, match="reason is required"):
        raise_escalation(eng, iid, "branch_gm", "chen.jie", "  ")
    with pytest.raises(Refused, match="did you mean 'branch_gm'"):
        raise_escalation(eng, iid, "brnach_gm", "chen.jie", "smoke")
    st = raise_escalation(eng, iid, "branch_gm", "chen.jie", "smoke in the stairwell")
    raised = kinds(eng, iid, ev.ESCALATION_RAISED)[-1]
    assert raised.actor == "chen.jie"
    assert raised.payload == {"to": "branch_gm", "reason": "smoke in the stairwell",
                              "manual": True, "page": "P2"}
    assert st.pages[-1]["to"] == ["deng.jianhua"]
    assert kinds(eng, iid, ev.PAGE_SENT)[-1].actor == "chen.jie"
    rows = eng.store.outbox_rows(iid)
    assert rows and all(r.drill for r in rows)
    assert rows[-1].subject.startswith("【演练】")  # Deng Jianhua reads Chinese
    eng.resolve(iid, actor="chen.jie", force=True, summary="drill over")
    with pytest.raises(Refused, match="resolved"):
        raise_escalation(eng, iid, "branch_gm", "chen.jie", "again")
    with pytest.raises(Refused, match="resolved"):
        acknowledge(eng, iid, "chen.jie")


def test_raising_the_severity_pages_the_levels_it_calls_at_once(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie").id
    clock.advance("2m")
    eng.set_severity(iid, 1, actor="chen.jie", reason="whole building without water")
    assert pages(eng, iid)[1:] == [(2, "project_manager", ["feng.guoqiang"]),
                                   (2, "branch_gm", ["deng.jianhua"])]
    assert eng.state(iid).pages[-1]["trigger"] == "severity"


def test_waits_survive_a_restart(db_url, shipped):
    clock = ManualClock(MON_1100)
    eng = make_engine(db_url, shipped, clock)
    iid = eng.start("ladder", "B3-1201", actor="chen.jie").id
    eng.store.close()
    clock.advance(timedelta(minutes=7))  # nothing ran while the supervisor came due
    again = make_engine(db_url, shipped, clock)
    fired = again.tick(iid)
    assert [p["kind"] for _, p in fired] == ["escalation_due"]
    assert fired[0][1]["late"] is True
    assert pages(again, iid)[-1] == (7, "cs_supervisor", ["song.hui"])
