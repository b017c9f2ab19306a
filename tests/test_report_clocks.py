"""Report clocks agree with the record: a fire walked with a late supervisor and a
severity change, every clock's result asserted in Markdown, HTML, CSV and JSON.

10:00 is T+0 below (the demo estate's clock starts at 11:00 Shanghai time):
- T+2m   the commander pages the customer-service supervisor (P2); the page sits
         queued until T+20m, when its chat message goes out;
- T+40m  the supervisor acknowledges: "Tell the customer-service supervisor" (30 min)
         is met late by 10 minutes, by that page; time to acknowledge is 20 minutes,
         counted from delivery, not 38 from queueing;
- T+42m  the fire is raised to level 2: the level-3 shift-log entry (12 h) no longer
         applies — "superseded by level 2 at 11:42:00", not "missed";
- T+45m  "Escalate to the project manager" is done: the level-2 manager phone clock is met;
- T+50m  the written report is marked reported;
- the 48 h summary is "not yet due" in a report made at T+3h.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from test_report_walker import REPO, make_runtime

from incident.cli import main
from incident.escalation import acknowledge, raise_escalation
from incident.report import build_incident_report, render

WORKER = "test-clocks"
MIN = timedelta(minutes=1)


@pytest.fixture
def rt(db_url):
    runtime = make_runtime(db_url)
    yield runtime
    runtime.close()


def _flags(url: str) -> list[str]:
    return ["--db", url, "--playbooks", str(REPO / "playbooks"), "--contacts",
            str(REPO / "contacts"), "--as", "chen.jie"]


def _walk(rt) -> tuple[str, str]:
    eng, clock, store = rt.engine, rt.clock, rt.store
    officer = next(p.id for p in rt.directory.holders("duty_officer"))
    st = eng.start("fire", "B3-1201", actor=officer)
    iid, t0 = st.id, st.started_at
    assert st.severity == 3 and st.owner == officer
    clock.advance(MIN)
    eng.act(iid, "confirm_alarm", actor=officer, option="real_fire")
    acknowledge(eng, iid, officer, all_pages=True)  # the duty officer's own first page
    clock.advance(MIN)
    st = raise_escalation(eng, iid, "cs_supervisor", officer, "fire alarm on B3 12F")
    page = st.pages[-1]
    supervisor = page["to"][0]
    rows = [r for r in store.claim_outbox(WORKER, t0 + 20 * MIN, 100, timedelta(hours=1),
                                          incident_id=iid)
            if r.step_id == f"escalation:{page['id']}"]
    assert rows, "the supervisor's page has a message to deliver"
    for r in rows:
        assert store.finish_attempt(r.id, worker=WORKER, status="sent",
                                    started_at=t0 + 20 * MIN, elapsed_ms=9.0, error=None,
                                    now=t0 + 20 * MIN)
    clock.advance(38 * MIN)                                  # T+40m
    acknowledge(eng, iid, supervisor)
    clock.advance(2 * MIN)                                   # T+42m
    eng.set_severity(iid, 2, actor=officer, reason="flames seen from the stairwell")
    clock.advance(3 * MIN)                                   # T+45m
    eng.act(iid, "escalate_manager", actor=officer)
    clock.advance(5 * MIN)                                   # T+50m
    eng.report_done(iid, "l2_written_report", actor=officer, note="filed by e-mail")
    return iid, page["id"]


def _md_row(md: str, title: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {title} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_every_clock_agrees_with_the_record_in_every_format(rt, db_url):
    iid, p2 = _walk(rt)
    t0 = rt.engine.state(iid).started_at

    # ---- while open (T+55m): targets still running read "not yet due (as of …)"
    rt.clock.advance(5 * MIN)
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    closed = {r.id: r.status for r in rep.targets}
    assert closed["resolved"] == "not_yet_due" and closed["alarm_confirmed"] == "met"
    md = render(rep, "md")
    assert _md_row(md, "Emergency over (resolved)")[4] == "not yet due (as of 2026-01-05 11:55:00)"

    # ---- resolved at T+60m, reported at T+3h
    rt.clock.advance(5 * MIN)
    rt.engine.resolve(rt.engine.state(iid).id, actor=rt.engine.state(iid).owner,
                      summary="fire out", force=True)
    rt.clock.advance(timedelta(hours=2))
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    clocks = {r.id: r for r in rep.report_clocks}
    assert set(clocks) == {"l3_supervisor_chat", "l3_shift_log", "l2_manager_phone",
                           "l2_written_report", "l2_summary"}
    sup = clocks["l3_supervisor_chat"]
    assert (sup.status, sup.done_at, sup.margin) == ("met_late", t0 + 40 * MIN, -10 * MIN)
    assert sup.how == f"page {p2} acknowledged" and sup.done_by == "Song Hui"
    log = clocks["l3_shift_log"]
    assert (log.status, log.superseded_at, log.superseded_by) == \
        ("superseded", t0 + 42 * MIN, 2)
    mgr = clocks["l2_manager_phone"]
    assert (mgr.status, mgr.done_at, mgr.margin) == ("met", t0 + 45 * MIN, 12 * MIN)
    assert mgr.how == "step done: Escalate to the project manager"
    written = clocks["l2_written_report"]
    assert (written.status, written.how) == ("met", "marked reported")
    assert clocks["l2_summary"].status == "not_yet_due"
    # nothing that was honoured or superseded reads as missed or "not met"
    assert not [r for r in rep.report_clocks if r.status in ("missed", "not_met")]

    # Markdown: report, to, by, due, done at, result, margin, met by
    md = render(rep, "md")
    assert _md_row(md, "Tell the customer-service supervisor")[5:] == \
        ["met late", "late by 10m00s", f"page {p2} acknowledged"]
    assert _md_row(md, "Entry in the shift report")[5:] == \
        ["superseded by level 2 at 11:42:00", "—", "—"]
    assert _md_row(md, "Phone the project manager")[5:] == \
        ["met", "12m00s to spare", "step done: Escalate to the project manager"]
    assert _md_row(md, "Written incident report")[5] == "met"
    assert _md_row(md, "Written incident report")[7] == "marked reported"
    assert _md_row(md, "Incident summary report")[5] == \
        "not yet due (as of 2026-01-05 14:00:00)"
    # the supervisor's page: queued 11:02, sent 11:20, acknowledged 11:40 after 20 minutes
    page = _md_row(md, f"Song Hui ({p2})")
    assert page[3:5] == ["11:02:00", "11:20:00"]
    assert page[7:10] == ["Song Hui", "11:40:00", "20m00s (from delivery)"]

    # HTML: the result cell carries the status class
    html = render(rep, "html")
    assert '<td class="met_late">met late</td>' in html
    assert '<td class="superseded">superseded by level 2 at 11:42:00</td>' in html
    assert '<td class="not_yet_due">not yet due (as of 2026-01-05 14:00:00)</td>' in html
    assert re.search(r"<td>Written incident report</td>.*?<td class=\"met\">met</td>", html)

    # JSON
    data = {c["id"]: c for c in json.loads(render(rep, "json"))["report_clocks"]}
    assert data["l3_supervisor_chat"]["status"] == "met_late"
    assert data["l3_supervisor_chat"]["margin_s"] == -600
    assert data["l3_shift_log"]["status"] == "superseded"
    assert data["l3_shift_log"]["superseded_by"] == 2
    assert data["l3_shift_log"]["result"] == "superseded by level 2 at 11:42:00"
    assert (data["l2_manager_phone"]["status"], data["l2_written_report"]["status"],
            data["l2_summary"]["status"]) == ("met", "met", "not_yet_due")
    pages = {p["page"]: p for p in json.loads(render(rep, "json"))["pages"]}
    assert pages[p2]["ack_after_s"] == 1200 and pages[p2]["ack_counted_from"] == "delivery"
    assert pages[p2]["delivered_at"] == (t0 + 20 * MIN).isoformat()

    # CSV (`--table clocks`): one row per target and clock, through the CLI
    res = CliRunner().invoke(main, [*_flags(db_url), "report", iid, "--format", "csv",
                                    "--table", "clocks"],
                             env={"INCIDENT_CLOCK": f"fixed:{rt.clock.now().isoformat()}"})
    assert res.exit_code == 0, res.output
    rows = {(r["kind"], r["id"]): r
            for r in csv.DictReader(io.StringIO(res.output.lstrip("\ufeff")))}
    assert rows["report", "l3_supervisor_chat"]["status"] == "met_late"
    assert rows["report", "l3_supervisor_chat"]["margin"] == "late by 10m00s"
    assert rows["report", "l3_shift_log"]["result"] == "superseded by level 2 at 11:42:00"
    assert rows["report", "l2_manager_phone"]["how"] == \
        "step done: Escalate to the project manager"
    assert rows["report", "l2_written_report"]["status"] == "met"
    assert rows["report", "l2_summary"]["status"] == "not_yet_due"
    assert rows["target", "resolved"]["status"] == "met"
    assert rows["target", "alarm_confirmed"]["status"] == "met"
    assert all(r["chain_ok"] == "yes" for r in rows.values())
    bad = CliRunner().invoke(main, [*_flags(db_url), "report", iid, "--table", "clocks"])
    assert bad.exit_code == 2 and "--table clocks comes as csv" in bad.output

    # Chinese
    zh = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=rt.clock.now(), lang="zh"), "md")
    assert "11:42:00 调整为 2 级后不再适用" in zh
    assert "未到期（截至 2026-01-05 14:00:00）" in zh
    assert f"呼叫 {p2} 已确认" in zh and "自送达起算" in zh


def test_the_monthly_follow_ups_leave_superseded_clocks_out(rt):
    iid, _ = _walk(rt)
    st = rt.engine.state(iid)
    assert st.reports["l3_shift_log"].status(rt.clock.now()) == "superseded"
    # no timer waits on a superseded or honoured clock
    timers = {t.id for t in st.timers()}
    assert "report_due:l3_shift_log" not in timers
    assert "report_due:l3_supervisor_chat" not in timers
    assert "report_due:l2_summary" in timers


def test_a_commanders_ack_for_everyone_does_not_count_as_telling_the_role(rt):
    eng, clock = rt.engine, rt.clock
    officer = next(p.id for p in rt.directory.holders("duty_officer"))
    iid = eng.start("fire", "B3-1201", actor=officer).id
    clock.advance(MIN)
    raise_escalation(eng, iid, "cs_supervisor", officer, "alarm on 12F")
    clock.advance(MIN)
    acknowledge(eng, iid, officer, all_pages=True)  # the supervisor herself never answered
    st = eng.state(iid)
    assert all(p["acked_at"] for p in st.pages)
    assert st.reports["l3_supervisor_chat"].done_at is None
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=clock.now())
    page = next(p for p in rep.pages if p.role == "Customer-service supervisor")
    assert page.for_all and "(for everyone paged)" in render(rep, "md")
