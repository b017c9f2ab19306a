"""The outbox: idempotent queueing, leased claims, attempts, fall-back (DESIGN principle 4).

Runs on SQLite and, with INCIDENT_TEST_DATABASE_URL set, on PostgreSQL too.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from incident.store import AttemptRow, NewEvent, NewOutbox, OutboxRow, open_store

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.close()


def incident(store, drill=False):
    row, _ = store.create_incident(
        playbook_id="fire", playbook_version="1", type="fire", title={"en": "Fire", "zh": "火警"},
        location="B3", site="S1", severity=1, drill=drill, owner="alice", created_at=T0,
        events=[NewEvent("incident.started", "alice", {}, T0)])
    return row.id


def msg(key, *, step="notify_residents", person="p1", channel="sms", fallback=(), at=None):
    return NewOutbox(idempotency_key=key, step_id=step, person_id=person, channel=channel,
                     address="+8613800000000", lang="zh", subject="火警", body="请从楼梯疏散",
                     drill=False, fallback_channels=list(fallback), next_attempt_at=at)


def queue(store, iid, rows, seq=None):
    seq = store.incident(iid).last_seq if seq is None else seq
    return store.append(iid, seq, [NewEvent("notify.queued", "alice", {"n": len(rows)}, T0)],
                        outbox=rows)


def queue_many(store, iid, n, **kw):
    queue(store, iid, [msg(f"{iid}:{i}", person=f"p{i}", **kw) for i in range(n)])


# ---- queueing ----------------------------------------------------------------------

def test_rows_are_queued_with_their_event(store):
    iid = incident(store)
    [ev] = queue(store, iid, [msg("k1", fallback=["email", "wecom"])])
    [row] = store.outbox_rows(iid)
    assert isinstance(row, OutboxRow)
    assert (row.incident_id, row.event_seq, row.idempotency_key) == (iid, ev.seq, "k1")
    assert (row.state, row.attempts, row.claimed_by, row.sent_at) == ("queued", 0, None, None)
    assert row.fallback_channels == ["email", "wecom"]
    assert row.subject == "火警" and row.body == "请从楼梯疏散"
    assert row.created_at == T0 and row.created_at.tzinfo is not None


def test_event_index_picks_the_queuing_event(store):
    iid = incident(store)
    stored = store.append(iid, 1, [NewEvent("step.started", "a", {}, T0),
                                   NewEvent("notify.queued", "a", {}, T0)],
                          outbox=[msg("k1"), replace(msg("k2"), event_index=1)])
    assert [r.event_seq for r in store.outbox_rows(iid)] == [2, 3]
    assert stored[1].seq == 3
    with pytest.raises(ValueError, match="event_index"):
        store.append(iid, 3, [NewEvent("x", "a", {}, T0)],
                     outbox=[replace(msg("k3"), event_index=1)])


def test_duplicate_idempotency_keys_go_once(store):
    iid = incident(store)
    queue(store, iid, [msg("k1"), msg("k1"), msg("k2")])
    queue(store, iid, [msg("k2"), msg("k3")])
    assert store.add_outbox(iid, 1, [msg("k3"), msg("k4")]) == 1
    assert store.add_outbox(iid, 1, [msg("k4")]) == 0
    assert sorted(r.idempotency_key for r in store.outbox_rows(iid)) == ["k1", "k2", "k3", "k4"]
    # a retried append (same keys) after a conflict does not double either
    other = incident(store)
    queue(store, other, [msg("k1"), msg("k5")])
    assert [r.idempotency_key for r in store.outbox_rows(other)] == ["k5"]


def test_add_outbox_needs_a_real_event(store):
    iid = incident(store)
    with pytest.raises(ValueError, match="no event 7"):
        store.add_outbox(iid, 7, [msg("k1")])
    with pytest.raises(KeyError):
        store.add_outbox("INC-000000-0000", 1, [msg("k1")])


# ---- claiming -----------------------------------------------------------------------

def test_claim_takes_due_rows_and_leases_them(store):
    iid = incident(store)
    queue(store, iid, [msg("now"), msg("later", at=T0 + timedelta(seconds=20))])
    got = store.claim_outbox("w1", T0, 10, LEASE)
    assert [r.idempotency_key for r in got] == ["now"]
    r = got[0]
    assert (r.state, r.claimed_by, r.claimed_until) == ("sending", "w1", T0 + LEASE)
    assert store.claim_outbox("w2", T0, 10, LEASE) == []
    later = store.claim_outbox("w2", T0 + timedelta(seconds=20), 10, LEASE)
    assert [r.idempotency_key for r in later] == ["later"]


def test_claim_filters_and_limit(store):
    a, b = incident(store), incident(store)
    queue(store, a, [msg("a-sms"), msg("a-mail", channel="email")])
    queue(store, b, [msg("b-sms"), msg("b-sms2", person="p2")])
    assert [r.idempotency_key for r in store.claim_outbox("w", T0, 10, LEASE,
                                                          channel="email")] == ["a-mail"]
    assert [r.idempotency_key for r in store.claim_outbox("w", T0, 10, LEASE,
                                                          incident_id=b)] == ["b-sms", "b-sms2"]
    assert len(store.claim_outbox("w", T0, 1, LEASE)) == 1
    assert store.claim_outbox("w", T0, 0, LEASE) == []


@pytest.mark.parametrize("separate_stores", [False, True], ids=["threads", "processes"])
def test_concurrent_claims_are_disjoint_and_complete(db_url, separate_stores):
    first = open_store(db_url)
    stores = [first, open_store(db_url) if separate_stores else first]
    iid = incident(first)
    queue_many(first, iid, 300)
    taken: dict[str, list[int]] = {"w1": [], "w2": [], "w3": [], "w4": []}
    start = threading.Barrier(len(taken))

    def work(store, name):
        start.wait()
        while True:
            rows = store.claim_outbox(name, T0, 7, LEASE)
            if not rows:
                return
            assert all(r.claimed_by == name for r in rows)
            taken[name].extend(r.id for r in rows)

    threads = [threading.Thread(target=work, args=(stores[i % 2], name))
               for i, name in enumerate(taken)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == len(set(every)) == 300
    assert set(every) == {r.id for r in first.outbox_rows(iid)}
    for name, ids in taken.items():
        rows = {r.id: r for r in first.outbox_rows(iid)}
        assert all(rows[i].claimed_by == name for i in ids)
    for s in set(stores):
        s.close()


def test_expired_lease_is_reclaimed_and_the_old_worker_is_ignored(store):
    iid = incident(store)
    queue(store, iid, [msg("k1")])
    [r] = store.claim_outbox("dead", T0, 10, LEASE)
    assert store.claim_outbox("w2", T0 + LEASE, 10, LEASE) == []  # not yet expired
    later = T0 + LEASE + timedelta(seconds=1)
    [again] = store.claim_outbox("w2", later, 10, LEASE)
    assert again.id == r.id and again.claimed_by == "w2"
    # the crashed worker comes back and reports: ignored, nothing recorded
    assert store.finish_attempt(r.id, worker="dead", status="sent", started_at=T0,
                                elapsed_ms=5.0, error=None, now=later) is False
    assert store.attempts(r.id) == []
    assert store.outbox_row(r.id).state == "sending"
    assert store.finish_attempt(r.id, worker="w2", status="sent", started_at=later,
                                elapsed_ms=5.0, error=None, now=later) is True
    assert store.outbox_row(r.id).state == "sent"


def test_finish_by_a_wrong_worker_is_ignored(store):
    iid = incident(store)
    queue(store, iid, [msg("k1")])
    [r] = store.claim_outbox("w1", T0, 10, LEASE)
    store.finish_attempt(r.id, worker="intruder", status="failed_permanent", started_at=T0,
                         elapsed_ms=1.0, error="nope", now=T0)
    row = store.outbox_row(r.id)
    assert (row.state, row.claimed_by, row.attempts, row.last_error) == ("sending", "w1", 0, None)
    assert store.attempts(r.id) == []


def test_sent_rows_record_the_attempt_and_never_go_twice(store):
    iid = incident(store)
    queue(store, iid, [msg("k1")])
    [r] = store.claim_outbox("w1", T0, 10, LEASE)
    done = T0 + timedelta(seconds=2)
    store.finish_attempt(r.id, worker="w1", status="sent", started_at=T0, elapsed_ms=120.5,
                         error=None, now=done)
    row = store.outbox_row(r.id)
    assert (row.state, row.sent_at, row.attempts, row.claimed_by) == ("sent", done, 1, None)
    [a] = store.attempts(r.id)
    assert isinstance(a, AttemptRow)
    assert (a.attempt, a.worker, a.status, a.elapsed_ms, a.started_at) == \
        (1, "w1", "sent", 120.5, T0)
    assert store.claim_outbox("w2", done + timedelta(hours=1), 10, LEASE) == []
    queue(store, iid, [msg("k1")])  # queued again after a restart: still once
    assert len(store.outbox_rows(iid)) == 1


def test_failed_temporary_is_retried_after_next_attempt_at(store):
    iid = incident(store)
    queue(store, iid, [msg("k1")])
    [r] = store.claim_outbox("w1", T0, 10, LEASE)
    retry_at = T0 + timedelta(minutes=1)
    store.finish_attempt(r.id, worker="w1", status="failed_temporary", started_at=T0,
                         elapsed_ms=3000.0, error="gateway timeout", now=T0,
                         next_attempt_at=retry_at)
    row = store.outbox_row(r.id)
    assert (row.state, row.next_attempt_at, row.last_error, row.claimed_by) == \
        ("failed_temporary", retry_at, "gateway timeout", None)
    assert store.pending_outbox_count(T0) == 0
    assert store.pending_outbox_count() == 1
    assert store.claim_outbox("w1", retry_at - timedelta(seconds=1), 10, LEASE) == []
    assert store.pending_outbox_count(retry_at) == 1
    [again] = store.claim_outbox("w2", retry_at, 10, LEASE)
    assert again.id == r.id and again.attempts == 1
    store.finish_attempt(r.id, worker="w2", status="failed_permanent", started_at=retry_at,
                         elapsed_ms=10.0, error="invalid number", now=retry_at)
    assert store.outbox_row(r.id).state == "failed_permanent"
    assert [(a.attempt, a.status, a.error) for a in store.attempts(r.id)] == \
        [(1, "failed_temporary", "gateway timeout"), (2, "failed_permanent", "invalid number")]
    assert store.pending_outbox_count() == 0
    assert store.claim_outbox("w3", retry_at + timedelta(days=1), 10, LEASE) == []


def test_finish_attempts_in_one_batch(store):
    iid = incident(store)
    queue_many(store, iid, 6)
    rows = store.claim_outbox("w1", T0, 10, LEASE)
    batch = [dict(outbox_id=r.id, worker="w1", status="sent", started_at=T0, elapsed_ms=1.0,
                  error=None, now=T0) for r in rows[:4]]
    batch.append(dict(outbox_id=rows[4].id, worker="w1", status="failed_temporary",
                      started_at=T0, elapsed_ms=1.0, error="busy", now=T0,
                      next_attempt_at=T0 + timedelta(seconds=10)))
    batch.append(dict(outbox_id=rows[5].id, worker="someone-else", status="sent",
                      started_at=T0, elapsed_ms=1.0, error=None, now=T0))
    assert store.finish_attempts(batch) == 5
    states = [store.outbox_row(r.id).state for r in rows]
    assert states == ["sent"] * 4 + ["failed_temporary", "sending"]
    assert [len(store.attempts(r.id)) for r in rows] == [1, 1, 1, 1, 1, 0]
    with pytest.raises(ValueError, match="status"):
        store.finish_attempts([dict(batch[0], status="delivered")])


def test_fall_back_cancel_and_counts(store):
    iid = incident(store)
    queue(store, iid, [msg("s1", channel="sms", fallback=["email"]), msg("s2", channel="sms"),
                       msg("e1", channel="email", step="notify_owner"), msg("s3", channel="sms")])
    sms = store.claim_outbox("w1", T0, 1, LEASE, channel="sms")[0]
    assert store.mark_fell_back(sms.id, T0, "sms gateway down") is True
    row = store.outbox_row(sms.id)
    assert (row.state, row.last_error, row.claimed_by) == ("fell_back", "sms gateway down", None)
    [s2] = store.claim_outbox("w1", T0, 1, LEASE, channel="sms")
    store.finish_attempt(s2.id, worker="w1", status="sent", started_at=T0, elapsed_ms=1.0,
                         error=None, now=T0)
    assert store.mark_fell_back(s2.id, T0, "too late") is False  # sent stays sent
    assert store.cancel_outbox(iid, T0, step_id="notify_owner", reason="resolved") == 1
    assert store.outbox_counts(iid) == {
        ("notify_residents", "sms"): {"fell_back": 1, "sent": 1, "queued": 1},
        ("notify_owner", "email"): {"cancelled": 1},
    }
    assert store.pending_outbox_count(T0) == 1
    assert store.cancel_outbox(iid, T0) == 1
    assert store.pending_outbox_count() == 0


CLAIMER = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from incident.store import open_store
store = open_store(sys.argv[1])
name, now = sys.argv[2], datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
while time.time() < float(sys.argv[3]):
    time.sleep(0.01)
ids = []
while True:
    rows = store.claim_outbox(name, now, 5, timedelta(seconds=30))
    if not rows:
        break
    ids += [r.id for r in rows]
store.close()
print(json.dumps(ids))
"""


def test_claims_from_separate_processes_are_disjoint(db_url, tmp_path):
    import json
    import subprocess
    import sys
    import time

    store = open_store(db_url)
    iid = incident(store)
    queue_many(store, iid, 200)
    go = str(time.time() + 2)
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, db_url, f"proc{i}", go],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    taken = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        taken.append(json.loads(out))
    every = [i for ids in taken for i in ids]
    assert len(every) == len(set(every)) == 200
    assert set(every) == {r.id for r in store.outbox_rows(iid)}
    store.close()


def test_many_incidents_read_in_bulk_match_one_by_one(store):
    a, b, quiet = incident(store), incident(store), incident(store)
    queue(store, a, [msg("a1"), msg("a2", step="other", person="p2"),
                     msg("a3", channel="email", person="p3")])
    queue(store, b, [msg("b1")])
    [row] = store.claim_outbox("w", T0, 10, timedelta(minutes=1), incident_id=b)
    store.finish_attempt(row.id, worker="w", status="sent", started_at=T0, elapsed_ms=5.0,
                         error=None, now=T0)
    counts = store.channel_counts([a, b, quiet], chunk=2)
    assert counts == {a: {"sms": {"queued": 2}, "email": {"queued": 1}},
                      b: {"sms": {"sent": 1}}, quiet: {}}
    events = store.events_many([a, b, quiet], chunk=2)
    assert {k: [e.seq for e in v] for k, v in events.items()} == \
        {a: [1, 2], b: [1, 2], quiet: [1]}
    for iid in (a, b, quiet):
        assert events[iid] == store.events(iid)
