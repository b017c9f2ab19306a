"""Tampering, the ICS 214 and ICS 201 forms, and the `incident report` / `brief` verbs."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_report_walker import REPO, make_runtime, walk

from incident.cli import main
from incident.clock import format_duration
from incident.report import build_brief, build_incident_report, render, render_brief


@pytest.fixture
def rt(db_url):
    runtime = make_runtime(db_url)
    yield runtime
    runtime.close()


def _tamper(url: str, iid: str, seq: int, payload: dict) -> None:
    """Edit an event row behind the engine's back, the way a forger would."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    events = sa.table("events", sa.column("incident_id"), sa.column("seq"),
                      sa.column("payload", sa.JSON))
    with engine.begin() as conn:
        n = conn.execute(events.update().where(events.c.incident_id == iid,
                                               events.c.seq == seq).values(payload=payload))
        assert n.rowcount == 1
    engine.dispose()


def test_tampered_log_is_flagged_in_every_format(rt, db_url):
    iid = walk(rt, "fire")
    seq = next(e.seq for e in rt.store.events(iid) if e.kind == "step.done"
               and e.payload.get("step") == "confirm_alarm")
    payload = dict(rt.store.events(iid)[seq - 1].payload, option="false_alarm")
    _tamper(db_url, iid, seq, payload)
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    assert not rep.integrity.ok and rep.integrity.first_bad_seq == seq
    md = render(rep, "md")
    assert f"HASH CHAIN BROKEN at event {seq}" in md
    assert md.count("HASH CHAIN BROKEN") == 2  # banner at the top and the footer
    assert 'class="banner"' in render(rep, "html")
    assert json.loads(render(rep, "json"))["integrity"]["first_bad_seq"] == seq
    assert "HASH CHAIN BROKEN" in render(rep, "ics214")
    zh = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now(),
                               lang="zh")
    assert f"哈希链校验失败，第 {seq} 条事件" in render(zh, "md")
    out = CliRunner().invoke(main, [*_flags(db_url), "report", iid])
    assert out.exit_code == 1 and f"BROKEN at event {seq}" in out.output


def test_untampered_chain_reads_intact(rt):
    iid = walk(rt, "fire")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    assert rep.integrity.ok and rep.integrity.count == len(rt.store.events(iid))
    assert f"Hash chain verified: {rep.integrity.count} events, intact." in render(rep, "md")


def test_ics214_has_the_form_fields(rt):
    iid = walk(rt, "fire")
    rt.clock.advance("1m")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    text = render(rep, "ics214", prepared_by="zhao.min")
    for label in ("1. Incident name", "2. Operational period", "3. Name", "4. ICS position",
                  "5. Home agency (and unit)", "6. Resources assigned", "7. Activity log",
                  "8. Prepared by", "Signature"):
        assert label in text
    assert f"Fire — Building 3, 12F, unit 1201 ({iid})" in text
    assert "From 2026-01-05 11:00:00 To 2026-01-05 11:" in text
    assert "| Zhao Min |" in text  # prepared by
    for who in ("Chen Jie", "Cao Zhiyong", "Du Ming"):  # resources: everyone who acted
        assert f"| {who} |" in text
    assert "delivery.progress" not in text and "Delivery progress" not in text
    html = render(rep, "ics214-html", prepared_by="zhao.min")
    assert html.startswith("<!DOCTYPE html>") and "7. Activity log" in html
    zh = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=rt.clock.now(), lang="zh"), "ics214")
    assert "2. 作业时段" in zh and "8. 填表人" in zh and "陈杰" in zh


def test_brief_at_handover_names_objectives_and_resources(rt):
    engine, clock = rt.engine, rt.clock
    iid = engine.start("elevator_entrapment", "B3", actor="chen.jie",
                       inputs=_required_inputs(rt, "elevator_entrapment")).id
    pb = rt.playbooks.get("elevator_entrapment")
    dispatch = next(s for s in pb.steps().values() if s.kind == "dispatch" and s.dispatch.vendor)
    clock.advance("2m")
    engine.act(iid, dispatch.id, actor="chen.jie")  # ordered
    clock.advance("3m")
    engine.note(iid, "technician on the way, 20 minutes", actor="chen.jie")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=clock.now())
    b = build_brief(rep, rt.directory, prepared_by="liu.yang")
    res = next(r for r in b.resources if r["step"] == dispatch.id)
    vendor = rt.directory.vendors[dispatch.dispatch.vendor]
    assert res["resource"] == vendor.name["en"]
    assert res["ordered"] == rep.started_at + timedelta(minutes=2)
    assert res["eta"] == res["ordered"] + dispatch.dispatch.arrive_within
    assert res["arrived"] is None
    md = render_brief(b, "md")
    for head in ("1. Situation summary", "2. Current objectives", "3. Actions so far",
                 "4. Current organisation", "5. Resources"):
        assert head in md
    assert "technician on the way, 20 minutes" in md
    assert "On duty now" in md and "Liu Yang" in md
    eta = (res["eta"].astimezone(rep.zone)).strftime("%H:%M:%S")
    assert f"| {vendor.name['en']} |" in md and eta in md
    pending = [r for r in rep.targets if r.status == "not_yet_due"]
    assert pending and all(r.title in md for r in pending)
    data = json.loads(render_brief(b, "json"))
    assert data["resources"][0]["arrived"] is None
    zh = render_brief(build_brief(build_incident_report(
        rt.store, rt.playbooks, rt.directory, iid, now=clock.now(), lang="zh"), rt.directory),
        "md")
    assert "1. 情况概述" in zh and vendor.name["zh"] in zh and "当前值班" in zh


def _required_inputs(rt, playbook_id: str) -> dict[str, str]:
    pb = rt.playbooks.get(playbook_id)
    return {k: "x" for k, spec in pb.inputs.items() if spec.required and spec.default is None}


def _flags(url: str) -> list[str]:
    return ["--db", url, "--playbooks", str(REPO / "playbooks"), "--contacts",
            str(REPO / "contacts"), "--as", "zhao.min"]


def test_cli_report_every_format(rt, db_url, tmp_path):
    iid = walk(rt, "fire")
    runner = CliRunner()
    md = runner.invoke(main, [*_flags(db_url), "report", iid])
    assert md.exit_code == 0, md.output
    assert md.output.startswith(f"# Post-incident report — {iid}")
    zh = runner.invoke(main, [*_flags(db_url), "report", iid, "--lang", "zh"])
    assert "# 事件处置报告" in zh.output
    js = runner.invoke(main, [*_flags(db_url), "report", iid, "--format", "json"])
    assert json.loads(js.output)["summary"]["status"] == "resolved"
    out = runner.invoke(main, [*_flags(db_url), "report", iid, "--format", "csv"])
    rows = list(csv.reader(io.StringIO(out.output.lstrip("\ufeff"))))
    assert rows[0][:3] == ["seq", "time_local", "ts_utc"]
    assert len(rows) - 1 == len(rt.store.events(iid))
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()  # -o never creates folders
    res = runner.invoke(main, [*_flags(db_url), "report", iid, "--format", "html", "-o",
                               str(target)])
    assert res.exit_code == 0 and target.read_text(encoding="utf-8").startswith("<!DOCTYPE")
    form = tmp_path / "ics214.html"
    runner.invoke(main, [*_flags(db_url), "report", iid, "--format", "ics214", "-o", str(form)])
    assert "ICS 214" in form.read_text(encoding="utf-8") and "<table" in form.read_text("utf-8")
    text = runner.invoke(main, [*_flags(db_url), "report", iid, "--format", "ics214"])
    assert "| 8. Prepared by |" not in text.output and "## 8. Prepared by" in text.output
    brief = runner.invoke(main, [*_flags(db_url), "brief", iid, "--lang", "zh"])
    assert brief.exit_code == 0 and "ICS 201" in brief.output
    assert len(rt.store.events(iid)) == json.loads(js.output)["integrity"]["count"]


def test_cli_report_usage_errors(rt, db_url):
    runner = CliRunner()
    res = runner.invoke(main, [*_flags(db_url), "report"])
    assert res.exit_code == 2 and "--since" in res.output
    res = runner.invoke(main, [*_flags(db_url), "report", "INC-1", "--since", "2026-01"])
    assert res.exit_code == 2
    res = runner.invoke(main, [*_flags(db_url), "report", "INC-260105-0999"])
    assert res.exit_code == 1 and "no incident" in res.output
    res = runner.invoke(main, [*_flags(db_url), "report", "--since", "yesterday"])
    assert res.exit_code == 2 and "is not a date" in res.output
    res = runner.invoke(main, [*_flags(db_url), "report", "--since", "2026-01", "--format",
                               "ics214"])
    assert res.exit_code == 2


def test_summary_handover_severity_report_clock_and_notes(rt):
    engine, clock = rt.engine, rt.clock
    iid = engine.start("fire", "B3-1201", actor="chen.jie", note="smoke seen by a resident").id
    clock.advance("40s")
    engine.act(iid, "confirm_alarm", actor="chen.jie", option="real_fire",
               note="CCTV shows smoke")
    engine.set_severity(iid, 2, actor="chen.jie", reason="real fire")
    clock.advance("4m")
    engine.report_done(iid, "l2_manager_phone", actor="chen.jie", note="told Feng")
    clock.advance("1m")
    engine.handover(iid, "liu.yang", actor="chen.jie", reason="shift change")
    clock.advance("1m")
    engine.note(iid, "brigade on scene", actor="liu.yang", step="meet_brigade")
    before = len(rt.store.events(iid))
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=clock.now())
    assert len(rt.store.events(iid)) == before  # reporting writes nothing
    assert rep.status == "open" and rep.resolved_at is None
    assert rep.first_receiver == "Chen Jie" and rep.owner == "Liu Yang"
    assert rep.severity == 2 and rep.severity_name == "Level 2"
    md = render(rep, "md")
    assert "| Handovers | 11:05:40 Chen Jie → Liu Yang (shift change) |" in md
    assert "| Resolved | not resolved yet (still open at 2026-01-05 11:06:40) |" in md
    assert "| Duration | 6m40s |" in md
    clock_row = next(r for r in rep.report_clocks if r.id == "l2_manager_phone")
    due = engine.state(iid).reports["l2_manager_phone"].due_at  # the engine's own clock
    done = rep.started_at + timedelta(seconds=280)
    assert clock_row.status == "met" and clock_row.done_at == done
    assert clock_row.due_at == due and clock_row.margin == due - done
    assert f"| Phone the project manager | Project manager | phone | {rep.local(due)} | " \
           f"11:04:40 (Chen Jie) | met | {format_duration(due - done)} to spare |" in md
    assert [r.text for r in rep.notes] == ["smoke seen by a resident", "brigade on scene"]
    assert [r.detail for r in rep.notes] == [
        "Chen Jie noted: smoke seen by a resident",
        "Liu Yang noted on “Meet the fire engines and guide them in”: brigade on scene"]
    assert "- 11:06:40 (T+6m40s) Liu Yang: brigade on scene [Meet the fire engines" in md
    confirm = next(r for r in rep.timeline if r.step == "confirm_alarm")
    assert confirm.detail == ("Chen Jie marked “Confirm the alarm by the fastest means” done: "
                              "Real fire or smoke; CCTV shows smoke")
    sev = next(r for r in rep.timeline if r.kind == "severity.changed")
    assert sev.detail == "Chen Jie changed the severity from Level 3 to Level 2: real fire"
    zh = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=clock.now(), lang="zh"), "md")
    assert "| 移交 | 11:05:40 陈杰 → 刘洋 (shift change) |" in zh and "尚未结束" in zh


def test_unreachable_recipients_and_hostile_text(rt):
    """Recipients the planner could not queue (no channel) are listed with the reason;
    typed text is escaped in HTML and cannot break a Markdown table."""
    from incident.engine import Engine
    from incident.engine import events as ev
    from incident.store import NewEvent

    engine = Engine(rt.store, rt.playbooks, rt.directory, rt.clock)
    iid = engine.start("fire", "B3-1201", actor="chen.jie").id
    owner = rt.directory.owners_of("B3-1201")[0]
    engine.append_events(iid, lambda st, now: [NewEvent(
        ev.NOTIFY_QUEUED, "chen.jie", {"step": "notify_fire_floors", "recipients": 1,
                                       "messages": 0, "channels": {}, "unreachable": 1,
                                       "unreachable_ids": [owner.id]}, now)])
    engine.note(iid, "<script>alert('x')</script> | pipe\nnew line", actor="chen.jie")
    for lang, why in (("en", "no working channel"), ("zh", "无可用联系方式")):
        rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                    now=rt.clock.now(), lang=lang)
        block = rep.notifications[0]
        assert [(u.person_id, u.name) for u in block.never_reached] == \
            [(owner.id, owner.display_name(lang))]
        assert why in block.never_reached[0].reason
    html = render(rep, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    md = render(rep, "md")
    assert "\\| pipe ⏎ new line |" in md
