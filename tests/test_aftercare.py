"""The service loop around an incident: the first receiver's record, callbacks (回访)
with satisfaction, complaints on the manuals' clocks, resolved versus closed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.engine import aftercare as ac
from incident.engine import followups as fu
from incident.errors import Refused
from incident.runtime import Runtime

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_10AM = datetime(2026, 1, 9, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def runtime(db_url):
    rt = Runtime(load_settings(database_url=db_url), clock=ManualClock(FRIDAY_10AM))
    yield rt
    rt.close()


def _start(rt, **kw):
    args = {"actor": "chen.jie", "received_at": "4m", "reporter": "Wang Li",
            "reporter_contact": {"phone": "138 1234 5678", "unit": "B3-1202"},
            "channel": "hotline", **kw}
    return rt.engine.start("fire", "B3-1201", **args)


def test_first_receiver_record_counts_targets_from_the_call(runtime):
    st = _start(runtime)
    received = FRIDAY_10AM - timedelta(minutes=4)
    assert st.counted_from == received
    assert st.targets["alarm_confirmed"].due_at == received + timedelta(minutes=3)
    assert st.channel == "hotline"
    assert st.reporter_contact["phone"] == "138 1234 5678"
    st = runtime.engine.handover(st.id, "lin.fang", actor="chen.jie", reason="shift change")
    assert st.owner == "lin.fang" and st.first_receiver == "chen.jie"
    # the alarm-confirmation target was missed a minute ago: the call came in 4 minutes ago
    assert st.targets["alarm_confirmed"].status(runtime.clock.now()) == "missed"


@pytest.mark.parametrize("when, why", [("2099-01-01 10:00", "in the future"),
                                       ("30h", "more than 24 hours"),
                                       ("yesterday", "is not a time")])
def test_received_at_out_of_bounds_is_refused(runtime, when, why):
    with pytest.raises(Refused, match=why):
        _start(runtime, received_at=when)


def test_unknown_channel_and_bad_phone_are_refused(runtime):
    with pytest.raises(Refused, match="walk_in"):
        _start(runtime, channel="fax")
    with pytest.raises(Refused, match="not a phone number"):
        _start(runtime, reporter_contact={"phone": "call me"})


def test_callbacks_after_resolution_then_close(runtime):
    engine, clock = runtime.engine, runtime.clock
    st = _start(runtime)
    st = engine.resolve(st.id, actor="chen.jie", summary="small fire put out", force=True)
    assert st.phase == "resolved"
    owners = [p.id for p in runtime.directory.owners_of("B3-1201")]
    assert set(st.followups) == {"reporter", *owners}
    due = st.followups["reporter"].due_at
    assert due == clock.now() + timedelta(hours=24)
    assert fu.register(engine) and not fu.register(engine, overdue_only=True)
    clock.advance("25h")
    fired = engine.tick()
    assert any(p["kind"] == "followup_due" for _iid, p in fired)
    overdue = fu.register(engine, overdue_only=True)
    assert {r["who"] for r in overdue} == {"reporter", *owners}
    with pytest.raises(Refused, match="satisfaction"):
        fu.record_followup(engine, st.id, "reporter", actor="chen.jie", reached=True)
    st = fu.record_followup(engine, st.id, "reporter", actor="chen.jie", reached=False)
    assert st.followups["reporter"].attempts == 1 and not st.followups["reporter"].done
    st = fu.record_followup(engine, st.id, "reporter", actor="chen.jie", reached=True,
                            satisfaction=5, note="thanked the team")
    assert st.phase == "resolved"
    for who in owners:
        st = fu.record_followup(engine, st.id, who, actor="chen.jie", reached=True,
                                satisfaction=4)
    assert st.phase == "closed" and st.closed_by == "chen.jie"
    assert runtime.store.incident(st.id).status == "closed"
    assert st.followups["reporter"].status(clock.now()) == "done_late"
    assert not fu.register(engine)
    assert {r["who"] for r in fu.register(engine, include_done=True)} == {"reporter", *owners}


def test_drills_owe_no_callbacks(runtime):
    st = _start(runtime, drill=True)
    st = runtime.engine.resolve(st.id, actor="chen.jie", summary="drill over", force=True)
    assert st.followups == {}


def test_complaint_three_working_days_across_a_weekend(runtime):
    engine, clock = runtime.engine, runtime.clock
    st = _start(runtime)
    st = engine.resolve(st.id, actor="chen.jie", summary="out", force=True)
    st, cid = fu.open_complaint(engine, st.id, actor="chen.jie", by="B3-1101",
                                text="water from the hoses came through my ceiling")
    c = st.complaints[cid]
    assert c.supervisor_due == FRIDAY_10AM + timedelta(minutes=30)
    # Friday + 3 working days = end of Wednesday (Saturday and Sunday do not count)
    assert c.investigation_due.astimezone(SHANGHAI).date() == date(2026, 1, 14)
    clock.advance("31m")
    fired = [p["kind"] for _i, p in engine.tick()]
    assert "complaint_supervisor" in fired and "complaint_investigation" not in fired
    st = fu.complaint_step(engine, st.id, cid, "supervisor_told", actor="chen.jie")
    assert st.complaints[cid].clock("supervisor_told", clock.now()) == "met_late"
    clock.advance(timedelta(days=4))  # Tuesday: still within the investigation clock
    assert "complaint_investigation" not in [p["kind"] for _i, p in engine.tick()]
    st = fu.complaint_step(engine, st.id, cid, "investigated", actor="chen.jie")
    assert st.complaints[cid].clock("investigated", clock.now()) == "met"
    with pytest.raises(Refused, match="not satisfied"):
        fu.close_complaint(engine, st.id, cid, actor="chen.jie", satisfaction=2)
    st = fu.close_complaint(engine, st.id, cid, actor="chen.jie", satisfaction=4)
    assert not st.complaints[cid].open and st.complaints[cid].satisfaction == 4


def test_holidays_and_make_up_days_in_the_site_calendar():
    cal = ac.Calendar(holidays=frozenset({date(2026, 1, 12)}),
                      workdays=frozenset({date(2026, 1, 10)}))
    due = cal.add_working_days(FRIDAY_10AM, 3, SHANGHAI)
    # Saturday is a make-up working day, Monday a holiday: Sat, Tue, Wed
    assert due.date() == date(2026, 1, 14)
    assert ac.Calendar().add_working_days(FRIDAY_10AM, 1, SHANGHAI).date() == date(2026, 1, 12)


def test_promise_and_report_back(runtime):
    engine = runtime.engine
    st = _start(runtime)
    # no playbook step promises here: report back by call is still recorded
    st = fu.report_back(engine, st.id, actor="chen.jie", via="call", text="told him 2h")
    assert st.promise is None
    st = fu.report_back(engine, st.id, actor="chen.jie", via="sms")
    rows = runtime.store.outbox_rows(st.id, step_id="report_back")
    assert len(rows) == 1 and rows[0].address == "13812345678"
    assert "B3-1201" in rows[0].body


# ---- through the CLI -----------------------------------------------------------------------

def _cli(env, *args):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_the_service_loop_through_the_cli(db_url, tmp_path):
    clock = ManualClock(FRIDAY_10AM)
    env = {"INCIDENT_DATABASE_URL": db_url, "INCIDENT_CLOCK": f"fixed:{clock.now().isoformat()}",
           "INCIDENT_USER": "chen.jie", "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "c.json")}
    r = _cli(env, "start", "fire", "--at", "B3-1201", "--received-at", "09:57",
             "--reporter", "王丽", "--reporter-phone", "138 1234 5678", "--channel", "walk-in")
    assert r.exit_code == 0, r.output
    iid = r.output.strip()
    r = _cli(env, "start", "fire", "--at", "B3-1201", "--new", "--channel", "fax")
    assert r.exit_code == 1 and "unknown channel" in r.output and "Traceback" not in r.output
    r = _cli(env, "--lang", "zh", "status", iid)
    assert "首问责任人: chen.jie" in r.output and "王丽 138 1234 5678 (来访)" in r.output
    assert "接报: 2026-01-09 09:57" in r.output
    r = _cli(env, "log", iid)
    assert "received at 09:57" in r.output
    r = _cli(env, "followup", iid, "reporter", "--reached", "yes", "--satisfaction", "5")
    assert r.exit_code == 1 and "still open" in r.output
    assert _cli(env, "resolve", iid, "--force", "--summary", "put out").exit_code == 0
    r = _cli(env, "followups", "--format", "json")
    rows = json.loads(r.output)
    assert {x["incident"] for x in rows} == {iid} and "reporter" in {x["who"] for x in rows}
    assert datetime.fromisoformat(rows[0]["due_at"]) == FRIDAY_10AM + timedelta(hours=24)
    r = _cli(env, "complaint", iid, "--from", "B3-1101", "--text", "ceiling soaked")
    assert r.exit_code == 0 and r.output.startswith("C1")
    assert "2026-01-14 23:59" in r.output
    r = _cli(env, "complaint-close", iid, "C1", "--satisfaction", "2")
    assert r.exit_code == 1 and "not satisfied" in r.output
    r = _cli(env, "close", iid)
    assert r.exit_code == 1 and "callback(s) are still due" in r.output
    for x in rows:
        r = _cli(env, "followup", iid, x["who"], "--reached", "yes", "--satisfaction", "4",
                 "--note", "ok")
        assert r.exit_code == 0, r.output
    r = _cli(env, "complaint-close", iid, "C1", "--satisfaction", "4")
    assert r.exit_code == 0 and f"{iid} closed" in r.output
    r = _cli(env, "status", iid, "--format", "json")
    data = json.loads(r.output)
    assert data["phase"] == "closed" and data["complaints"]["C1"]["satisfaction"] == 4
    assert data["channel"] == "walk_in" and data["first_receiver"] == "chen.jie"
    r = _cli(env, "followups", "--overdue")
    assert "no callbacks due" in r.output
    # the incident report's header and the monthly analysis carry the service loop
    r = _cli(env, "report", iid, "--format", "json")
    summary = json.loads(r.output)["summary"]
    assert summary["phase"] == "closed" and summary["channel"] == "walk_in"
    assert datetime.fromisoformat(summary["received_at"]) == FRIDAY_10AM - timedelta(minutes=3)
    assert all(c["status"] == "done" and c["satisfaction"] == 4 for c in summary["callbacks"])
    md = _cli(env, "--lang", "zh", "report", iid, "--format", "md").output
    assert "首问责任人" in md and "接报时间" in md and "王丽 138 1234 5678 (来访)" in md
    assert "已关闭" in md and "回访" in md
    html = _cli(env, "report", iid, "--format", "html").output
    assert "Report received" in html and "Callbacks" in html
    monthly = json.loads(_cli(env, "report", "--since", "2026-01", "--until", "2026-01", "--format", "json").output)
    loop = monthly["live"]["service_loop"]
    assert loop["callbacks_due"] == loop["callbacks_done"] == len(rows), monthly["live"]
    assert loop["completion"] == 1.0 and loop["complaint_closure"] == 1.0
    assert loop["satisfaction"]["4"] == len(rows) + 1 and loop["incidents_closed"] == 1
    md = _cli(env, "--lang", "zh", "report", "--since", "2026-01", "--until", "2026-01", "--format", "md").output
    assert "回访与投诉" in md and "回访完成率 | 100%" in md


def test_a_playbook_promise_step_becomes_a_timer_until_reported_back(db_url, tmp_path):
    src = Path(__file__).parent / "data" / "playbooks" / "mini.yaml"
    text = src.read_text("utf-8").replace(
        "      - id: call_119\n",
        "      - id: promise\n"
        "        kind: record\n"
        "        title: {en: Promise the reporter a time, zh: 向报事人承诺处理时限}\n"
        "        record: {name: promised, type: text}\n"
        "        promise: {report_back: sms, default: 1h}\n"
        "      - id: call_119\n", 1)
    folder = tmp_path / "pbs"
    folder.mkdir()
    (folder / "mini.yaml").write_text(text, "utf-8")
    rt = Runtime(load_settings(database_url=db_url, playbooks_dir=folder),
                 clock=ManualClock(FRIDAY_10AM))
    try:
        engine = rt.engine
        st = engine.start("mini", "B3-1201", actor="chen.jie", reporter="Wang Li",
                          reporter_contact={"phone": "13812345678"}, channel="hotline")
        st = engine.act(st.id, "promise", actor="chen.jie", value="2h")
        assert st.promise is not None and st.promise.via == "sms"
        assert st.promise.due_at == FRIDAY_10AM + timedelta(hours=2)
        assert [t.label["zh"] for t in st.timers() if t.kind == "promise_due"] == \
            ["承诺时限到：短信告知报事人 Wang Li 13812345678"]
        rt.clock.advance("2h1m")
        assert any(p["kind"] == "promise_due" for _i, p in engine.tick())
        st = fu.report_back(engine, st.id, actor="chen.jie", text="水管已修好")
        assert st.promise.reported_at == rt.clock.now()
        assert not any(t.kind == "promise_due" for t in st.timers())
        rows = rt.store.outbox_rows(st.id, step_id="report_back")
        assert [r.body for r in rows] == ["水管已修好"] and rows[0].channel == "sms"
    finally:
        rt.close()


def test_a_closed_target_measures_the_close_apart_from_the_resolution(db_url, tmp_path):
    src = Path(__file__).parent / "data" / "playbooks" / "mini.yaml"
    text = src.read_text("utf-8").replace(
        "  - {id: resolved, ",
        "  - {id: closed, title: {en: Closed, zh: 关闭}, within: 30h, met_by: closed}\n"
        "  - {id: resolved, ", 1) + "callbacks: {within: 24h, to: [location_owners]}\n"
    folder = tmp_path / "pbs"
    folder.mkdir()
    (folder / "mini.yaml").write_text(text, "utf-8")
    rt = Runtime(load_settings(database_url=db_url, playbooks_dir=folder),
                 clock=ManualClock(FRIDAY_10AM))
    try:
        engine = rt.engine
        st = engine.start("mini", "B3-1201", actor="chen.jie")
        rt.clock.advance("30m")
        st = engine.resolve(st.id, actor="chen.jie", summary="out", force=True)
        assert st.targets["resolved"].status(rt.clock.now()) == "met"
        assert st.targets["closed"].status(rt.clock.now()) == "pending"
        assert set(st.followups) == {p.id for p in rt.directory.owners_of("B3-1201")}
        rt.clock.advance("20h")
        for who in list(st.followups):
            st = fu.record_followup(engine, st.id, who, actor="chen.jie", reached=True,
                                    satisfaction=5)
        assert st.targets["closed"].status(rt.clock.now()) == "met"
        assert st.targets["closed"].met_at == st.closed_at
        # reopening undoes both; the callbacks already made stay made
        st = engine.reopen(st.id, actor="chen.jie", reason="water again")
        assert st.closed_at is None and st.targets["closed"].met_at is None
        assert all(f.done for f in st.followups.values())
    finally:
        rt.close()


def test_estate_calendar_holidays_move_the_complaint_clock(db_url, tmp_path):
    import shutil

    repo = Path(__file__).resolve().parent.parent
    contacts = tmp_path / "contacts"
    shutil.copytree(repo / "contacts", contacts)
    estate = contacts / "estate.yaml"
    estate.write_text(estate.read_text("utf-8").replace(
        "  holidays: []", "  holidays: [2026-01-12]"), "utf-8")
    rt = Runtime(load_settings(database_url=db_url, contacts_dir=contacts),
                 clock=ManualClock(FRIDAY_10AM))
    try:
        st = rt.engine.start("fire", "B3-1201", actor="chen.jie")
        st, cid = fu.open_complaint(rt.engine, st.id, actor="chen.jie", by="B3-1101",
                                    text="noise")
        # Monday is a holiday: Tuesday, Wednesday, Thursday
        assert st.complaints[cid].investigation_due.astimezone(SHANGHAI).date() == \
            date(2026, 1, 15)
    finally:
        rt.close()
    estate.write_text(estate.read_text("utf-8").replace(
        "  holidays: [2026-01-12]", "  holidays: [2026-13-12]"), "utf-8")
    r = CliRunner().invoke(main, ["validate", str(contacts)])
    assert r.exit_code == 1 and "estate.yaml" in r.output and "holidays" in r.output


def test_units_recorded_as_damaged_are_called_back(runtime):
    st = _start(runtime)
    st.values["damaged_units"] = ["B3-1101", "12F corridor", "b3-1301"]
    owed = fu.owed_callbacks(runtime.engine, st, runtime.clock.now())
    units = {x["unit"] for x in owed if x["reason"] in ("affected_unit", "vulnerable")}
    directory = runtime.directory
    expected = {p.unit for u in ("B3-1101", "B3-1301") for p in directory.owners_of(u)}
    assert expected and expected <= units
    assert all(x["by_role"] == ("project_manager" if x["reason"] == "vulnerable"
                                else "cs_specialist") for x in owed)


def test_hostile_reporter_and_complaint_text_are_bounded_and_shown_inert(runtime):
    with pytest.raises(Refused, match="too long"):
        _start(runtime, reporter="x" * 101)
    st = _start(runtime, reporter="Wang\x1b[2J Li")
    with pytest.raises(Refused, match="too long"):
        fu.open_complaint(runtime.engine, st.id, actor="chen.jie", by="B3-1101", text="y" * 2001)
    fu.open_complaint(runtime.engine, st.id, actor="chen.jie", by="B3-1101\x1b]0;x\x07",
                      text="ceiling\nleaks")
    from incident.views import status_lines

    text = "\n".join(status_lines(runtime.engine.state(st.id), runtime.clock.now(), SHANGHAI))
    assert "\x1b" not in text and "\x07" not in text and "Wang" in text
