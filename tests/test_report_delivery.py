"""Notifications and escalations in the report, from the outbox and the event log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_report_walker import make_runtime, walk

from incident.engine import Engine
from incident.engine import events as ev
from incident.report import build_incident_report, render
from incident.store import NewEvent, NewOutbox

WORKER = "test-worker"


@pytest.fixture
def rt(sqlite_url):
    runtime = make_runtime(sqlite_url)
    yield runtime
    runtime.close()


def _finish(store, row, status, at, error=None):
    assert store.finish_attempt(row.id, worker=WORKER, status=status, started_at=at,
                                elapsed_ms=12.0, error=error, now=at)


def test_per_channel_counts_fallbacks_and_never_reached(rt):
    iid = walk(rt, "fire", resolve=False)
    store, clock = rt.store, rt.clock
    t0 = rt.engine.state(iid).started_at
    rows = store.claim_outbox(WORKER, clock.now(), 100_000, timedelta(hours=1), incident_id=iid)
    floors = [r for r in rows if r.step_id == "notify_fire_floors"]
    assert len(floors) >= 8, "the demo roster should warn several owners of the fire zone"
    n = len(floors)
    sent, failed, fell = floors[: n - 6], floors[n - 6: n - 3], floors[n - 3:]
    for i, r in enumerate(sent):
        _finish(store, r, "sent", t0 + timedelta(minutes=6, seconds=5 * i))
    for r in failed:
        _finish(store, r, "failed_permanent", t0 + timedelta(minutes=7), "number blocked")
    for r in fell:
        assert store.mark_fell_back(r.id, t0 + timedelta(minutes=7), "sms: gateway timeout")
    # two of the three that fell back reach the owner by e-mail; the third has no e-mail
    extra = [NewOutbox(idempotency_key=f"{iid}:notify_fire_floors:{r.person_id}:email",
                       step_id="notify_fire_floors", person_id=r.person_id, channel="email",
                       address="owner@example.cn", lang="zh", subject="s", body="b",
                       drill=False) for r in fell[:2]]
    assert store.add_outbox(iid, floors[0].event_seq, extra) == 2
    for r in store.claim_outbox(WORKER, clock.now(), 10, timedelta(hours=1), incident_id=iid):
        _finish(store, r, "sent", t0 + timedelta(minutes=8))
    others = [r for r in rows if r.step_id != "notify_fire_floors"]
    for r in others:
        _finish(store, r, "sent", t0 + timedelta(minutes=9))
    clock.advance("1m")
    rt.engine.resolve(iid, actor="chen.jie", summary="done")

    rep = build_incident_report(store, rt.playbooks, rt.directory, iid, now=clock.now())
    block = next(b for b in rep.notifications if b.step == "notify_fire_floors")
    by = {c.channel: c for c in block.channels}
    assert (by["sms"].total, by["sms"].sent, by["sms"].failed, by["sms"].fell_back) == \
        (n, n - 6, 3, 3)
    assert (by["email"].total, by["email"].sent) == (2, 2)
    assert block.reached == n - 6 + 2 and block.recipients == n
    reasons = {u.person_id: u.reason for u in block.never_reached}
    assert set(reasons) == {r.person_id for r in failed} | {fell[2].person_id}
    assert all("number blocked" in reasons[r.person_id] for r in failed)
    assert "gateway timeout" in reasons[fell[2].person_id]
    # every message marked sent is a point of the delivery curve, in time order
    all_sent = [r for r in store.outbox_rows(iid) if r.state == "sent"]
    assert len(rep.deliveries) == len(all_sent)
    assert [p.ts for p in rep.deliveries] == sorted(r.sent_at for r in all_sent)
    md = render(rep, "md")
    assert f"| sms | {n} | {n - 6} | 3 | 3 | 0 | 0 | {(n - 6) / n * 100:.1f}% |" in md
    assert "| email | 2 | 2 | 0 | 0 | 0 | 0 | 100.0% |" in md
    assert "number blocked" in md and "Recipients never reached**: 4" in md
    html = render(rep, "html")
    assert "<polyline" in html and "Messages delivered over time" in html
    zh = render(build_incident_report(store, rt.playbooks, rt.directory, iid, now=clock.now(),
                                      lang="zh"), "md")
    assert "未送达的收件人**: 4" in zh and "消息送达曲线" not in zh  # the curve is HTML only


def test_real_dispatcher_drill_counts_match_the_outbox(rt):
    from incident.notify import build_dispatcher

    iid = walk(rt, "fire", drill=True)
    d = build_dispatcher(rt, incident_id=iid)
    try:
        d.run_until_idle(timeout=60)
    finally:
        d.close()
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    counts = rt.store.outbox_counts(iid)
    for block in rep.notifications:
        for c in block.channels:
            states = counts[(block.step, c.channel)]
            assert c.total == sum(states.values())
            assert c.sent == states.get("sent", 0)
    assert len(rep.deliveries) == sum(s.get("sent", 0) for s in counts.values())
    assert rep.drill and "EXERCISE" in render(rep, "md")


def test_pages_acknowledgement_and_escalations(rt):
    """PAGE_SENT / PAGE_ACKED / ESCALATION_* written straight into the log (the
    escalation package's shape), on an engine without its hooks."""
    engine = Engine(rt.store, rt.playbooks, rt.directory, rt.clock)
    clock = rt.clock
    iid = engine.start("fire", "B3-1201", actor="chen.jie").id

    def page(pid, to, role, level):
        return lambda st, now: [
            NewEvent(ev.ESCALATION_RAISED, ev.SYSTEM, {"to": role, "page": pid,
                                                       "reason": "step overdue"}, now),
            NewEvent(ev.PAGE_SENT, ev.SYSTEM, {"page": pid, "to": to, "role": role,
                                               "level": level, "node": role,
                                               "channels": {to[0]: ["chat", "sms"]},
                                               "reason": "step overdue"}, now)]

    clock.advance("2m")
    engine.append_events(iid, page("P1", ["song.hui"], "cs_supervisor", 1))
    clock.advance("95s")
    engine.append_events(iid, lambda st, now: [NewEvent(ev.PAGE_ACKED, "song.hui",
                                                        {"page": "P1"}, now)])
    clock.advance("1m")
    engine.append_events(iid, page("P2", ["feng.guoqiang"], "project_manager", 2))
    engine.append_events(iid, lambda st, now: [NewEvent(
        ev.ESCALATION_SKIPPED, ev.SYSTEM, {"to": "branch_gm", "reason": "nobody on duty"},
        now)])
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=clock.now())
    p1, p2 = rep.pages
    assert p1.ack_after == timedelta(seconds=95)
    assert p1.acked_by == rt.directory.people["song.hui"].display_name("en")
    assert p1.role == "Customer-service supervisor" and p1.level == "1"
    assert p2.acked_at is None and p2.role == "Project manager"
    kinds = [e.kind for e in rep.escalations]
    assert kinds == ["raised", "raised", "skipped"]
    assert rep.escalations[2].reason == "nobody on duty"
    md = render(rep, "md")
    assert "Feng Guoqiang: chat → SMS" in md  # channels are per person, named
    assert "1m35s" in md and "not acknowledged" in md and "nobody on duty" in md
    zh = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=clock.now(), lang="zh"), "md")
    assert "客服主管" in zh and "未确认" in zh and "1m35s" in zh


def test_real_escalation_pages_are_reported(rt):
    from incident.escalation import acknowledge

    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    if not rt.engine.state(iid).pages:
        pytest.skip("no escalation graph configured in contacts/: nothing is paged at start")
    rt.clock.advance("80s")
    acknowledge(rt.engine, iid, "chen.jie")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    acked = [p for p in rep.pages if p.acked_at is not None]
    assert acked and all(p.ack_after == timedelta(seconds=80) for p in acked)
    assert all(p.acked_by == "Chen Jie" for p in acked)
    assert any(e.kind == ev.PAGE_ACKED for e in rt.store.events(iid))
