"""Pages are never lost to a crash: they are written with their cause, or healed."""

from __future__ import annotations

from test_escalation_live import MON_1100, library, make_engine, shipped  # noqa: F401

from incident.clock import ManualClock
from incident.engine import Engine
from incident.engine import events as ev
from incident.store import open_store


def test_timer_and_its_page_are_one_transaction(db_url, shipped):  # noqa: F811
    clock = ManualClock(MON_1100)
    engine = make_engine(db_url, shipped, clock)
    iid = engine.start("ladder", "B3-1201", actor="chen.jie").id
    clock.advance("5m")
    engine.tick(iid)
    events = engine.store.events(iid)
    fired = [e for e in events if e.kind == ev.TIMER_FIRED
             and e.payload.get("kind") == "escalation_due"]
    assert fired
    page = next(e for e in events if e.kind == ev.PAGE_SENT and e.seq > fired[0].seq)
    assert page.payload.get("cause") == fired[0].seq
    # same transaction: the page's outbox rows point at that event, stamped together
    rows = [r for r in engine.store.outbox_rows(iid) if r.event_seq == page.seq]
    assert rows and page.ts == fired[0].ts
    engine.store.close()


def test_first_page_lost_in_a_crash_is_sent_on_the_next_tick(db_url, shipped):  # noqa: F811
    clock = ManualClock(MON_1100)
    directory, _graph = shipped
    # a process that created the incident and died before paging anyone
    bare = Engine(open_store(db_url), library(), directory, clock)
    iid = bare.start("ladder", "B3-1201", actor="chen.jie").id
    assert not bare.state(iid).pages
    bare.store.close()
    clock.advance("40s")
    engine = make_engine(db_url, shipped, clock)
    engine.tick(iid)
    st = engine.state(iid)
    assert [p["node"] for p in st.pages] == ["duty_officer"]
    assert engine.store.outbox_rows(iid)
    fired = [e for e in engine.store.events(iid) if e.kind == ev.TIMER_FIRED]
    assert fired[0].payload["kind"] == "escalation_entry"
    engine.tick(iid)  # healed once, not again
    assert len(engine.state(iid).pages) == 1
    engine.store.close()


def test_normal_start_pages_once_and_sets_no_recovery_timer(db_url, shipped):  # noqa: F811
    clock = ManualClock(MON_1100)
    engine = make_engine(db_url, shipped, clock)
    iid = engine.start("ladder", "B3-1201", actor="chen.jie").id
    st = engine.state(iid)
    assert [p["node"] for p in st.pages] == ["duty_officer"]
    clock.advance("1m")
    engine.tick(iid)
    assert not any(e.payload.get("kind") == "escalation_entry"
                   for e in engine.store.events(iid) if e.kind == ev.TIMER_FIRED)
    engine.store.close()
