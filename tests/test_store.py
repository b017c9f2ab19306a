"""The event store: incidents, hash-chained events, migrations, persistence.

Runs on SQLite and, with INCIDENT_TEST_DATABASE_URL set, on PostgreSQL too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from incident.store import (
    GENESIS_HASH,
    IncidentRow,
    NewEvent,
    NewOutbox,
    SequenceConflict,
    StoredEvent,
    StoreUnavailable,
    current_revision,
    event_hash,
    head_revision,
    open_store,
    upgrade_database,
)
from incident.store.db import normalize_url

T0 = datetime(2026, 1, 5, 3, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.close()


def new_incident(store, *, at=T0, drill=False, site="S1", payload=None, **kw):
    args = dict(playbook_id="fire", playbook_version="3", type="fire",
                title={"en": "Fire alarm", "zh": "火警"}, location="B3-1201", site=site,
                severity=2, drill=drill, owner="alice", created_at=at,
                events=[NewEvent("incident.started", "alice", payload or {"at": "B3-1201"}, at)])
    args.update(kw)
    return store.create_incident(**args)


def raw(store, sql, **params):
    with store.engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


# ---- create, append, read ----------------------------------------------------------

def test_create_append_read_back(store):
    payload = {"note": "12楼冒烟，住户已疏散", "nested": {"楼层": [11, 12, 13]}, "ok": True}
    row, first = new_incident(store, payload=payload)
    assert row.id == "INC-260105-0001"
    assert row.status == "open" and row.last_seq == 1 and row.resolved_at is None
    assert row.title == {"en": "Fire alarm", "zh": "火警"}
    assert [e.seq for e in first] == [1]
    assert first[0].prev_hash == GENESIS_HASH

    t1 = T0 + timedelta(seconds=5, microseconds=1)
    more = store.append(row.id, 1, [NewEvent("step.done", "bob", {"step": "call_119"}, t1),
                                    NewEvent("note.added", "bob", {"text": "消防车已到"}, t1)])
    more += store.append(row.id, 3, [NewEvent("step.done", "bob", {"step": "evacuate"}, t1)])
    assert [e.seq for e in more] == [2, 3, 4]

    got = store.events(row.id)
    assert got == first + more
    assert [e.seq for e in got] == [1, 2, 3, 4]
    assert got[0].payload == payload
    assert got[2].payload == {"text": "消防车已到"}
    for e in got:
        assert e.ts.tzinfo is not None and e.ts.utcoffset() == timedelta(0)
    assert got[0].ts == T0 and got[0].ts.microsecond == 123456
    assert got[1].ts == t1 and got[1].ts.microsecond == 123457
    for a, b in itertools.pairwise(got):
        assert b.prev_hash == a.hash

    inc = store.incident(row.id)
    assert inc.last_seq == 4 and inc.updated_at == t1
    assert inc.created_at == T0 and inc.created_at.tzinfo is not None
    assert inc.title["zh"] == "火警"


def test_incident_ids_count_per_day(store):
    a, _ = new_incident(store)
    b, _ = new_incident(store, at=T0 + timedelta(hours=1))
    c, _ = new_incident(store, at=T0 + timedelta(days=1))
    d, _ = new_incident(store, at=T0 + timedelta(hours=2),
                        id_date=datetime(2026, 1, 5, tzinfo=UTC).date())
    assert [a.id, b.id, c.id, d.id] == ["INC-260105-0001", "INC-260105-0002",
                                        "INC-260106-0001", "INC-260105-0003"]


def test_incident_ids_unique_under_concurrency(store):
    ids: list[str] = []
    lock = threading.Lock()

    def work():
        for _ in range(5):
            row, _ = new_incident(store)
            with lock:
                ids.append(row.id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 20 and len(set(ids)) == 20
    assert sorted(ids) == [f"INC-260105-{n:04d}" for n in range(1, 21)]


def test_times_are_stored_as_utc(store):
    shanghai = datetime(2026, 1, 5, 11, 30, 0, 42, tzinfo=ZoneInfo("Asia/Shanghai"))
    row, first = new_incident(store, at=shanghai)
    assert first[0].ts == shanghai
    assert first[0].ts.tzinfo == UTC and first[0].ts.hour == 3
    assert store.events(row.id)[0].ts.tzinfo == UTC
    assert store.incident(row.id).created_at == shanghai


def test_naive_times_and_non_json_payloads_are_refused(store):
    row, _ = new_incident(store)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.append(row.id, 1, [NewEvent("note", "a", {}, datetime(2026, 1, 5, 3, 0))])
    with pytest.raises(TypeError, match="isoformat"):
        store.append(row.id, 1, [NewEvent("note", "a", {"when": T0}, T0)])
    with pytest.raises(ValueError, match="at least one"):
        store.append(row.id, 1, [])
    with pytest.raises(ValueError, match="cannot update"):
        store.append(row.id, 1, [NewEvent("note", "a", {}, T0)], update={"last_seq": 9})
    assert store.incident(row.id).last_seq == 1
    assert len(store.events(row.id)) == 1


def test_payload_is_stored_as_it_reads_back(store):
    row, _ = new_incident(store)
    [e] = store.append(row.id, 1, [NewEvent("note", "a", {"ids": ("x", "y"), "n": 1.5}, T0)])
    assert e.payload == {"ids": ["x", "y"], "n": 1.5}
    assert store.events(row.id)[-1] == e
    assert store.verify(row.id).ok


def test_events_filters(store):
    row, _ = new_incident(store)
    store.append(row.id, 1, [NewEvent("step.done", "a", {"n": 1}, T0),
                             NewEvent("note.added", "a", {"n": 2}, T0),
                             NewEvent("step.done", "a", {"n": 3}, T0)])
    assert [e.seq for e in store.events(row.id, after_seq=2)] == [3, 4]
    assert [e.seq for e in store.events(row.id, kinds=["step.done"])] == [2, 4]
    assert [e.seq for e in store.events(row.id, after_seq=2, kinds=["step.done"])] == [4]
    assert store.events(row.id, after_seq=4) == []


def test_update_columns_and_listing(store):
    a, _ = new_incident(store, site="S1")
    b, _ = new_incident(store, at=T0 + timedelta(hours=1), drill=True, site="S2")
    c, _ = new_incident(store, at=T0 + timedelta(days=1), site="S1")
    done = T0 + timedelta(hours=3)
    store.append(a.id, 1, [NewEvent("incident.resolved", "alice", {}, done)],
                 update={"status": "resolved", "resolved_at": done, "owner": "bob",
                         "severity": 1, "updated_at": done})
    ra = store.incident(a.id)
    assert (ra.status, ra.resolved_at, ra.owner, ra.severity, ra.updated_at) == \
        ("resolved", done, "bob", 1, done)
    assert isinstance(ra, IncidentRow)

    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert ids(store.incidents()) == [c.id, b.id, a.id]
    assert ids(store.incidents(status="open")) == [c.id, b.id]
    assert ids(store.incidents(status="resolved")) == [a.id]
    assert ids(store.incidents(drill=True)) == [b.id]
    assert ids(store.incidents(drill=False)) == [c.id, a.id]
    assert ids(store.incidents(site="S1")) == [c.id, a.id]
    assert ids(store.incidents(since=T0 + timedelta(minutes=30))) == [c.id, b.id]
    assert ids(store.incidents(until=T0 + timedelta(hours=2))) == [b.id, a.id]
    assert ids(store.incidents(limit=1)) == [c.id]
    with pytest.raises(ValueError, match="status"):
        store.append(b.id, 1, [NewEvent("x", "a", {}, T0)], update={"status": "archived"})


def test_unknown_incident_is_a_clear_key_error(store):
    with pytest.raises(KeyError, match="INC-000000-0000"):
        store.incident("INC-000000-0000")
    with pytest.raises(KeyError, match="no incident"):
        store.append("INC-000000-0000", 0, [NewEvent("x", "a", {}, T0)])
    with pytest.raises(KeyError):
        store.verify("INC-000000-0000")
    assert store.events("INC-000000-0000") == []


# ---- optimistic concurrency ----------------------------------------------------------

def test_same_expected_seq_twice_conflicts_and_writes_nothing(store):
    row, _ = new_incident(store)
    store.append(row.id, 1, [NewEvent("step.done", "alice", {"step": "a"}, T0)])
    late = T0 + timedelta(minutes=1)
    box = NewOutbox("k-late", "a", "p1", "sms", "+8613800000000", "zh", "s", "b", False)
    with pytest.raises(SequenceConflict) as err:
        store.append(row.id, 1, [NewEvent("step.done", "bob", {"step": "a"}, late),
                                 NewEvent("note", "bob", {}, late)],
                     outbox=[box], update={"owner": "bob", "updated_at": late})
    assert err.value.current_seq == 2
    assert "2" in str(err.value)
    assert [e.actor for e in store.events(row.id)] == ["alice", "alice"]
    inc = store.incident(row.id)
    assert (inc.last_seq, inc.owner, inc.updated_at) == (2, "alice", T0)
    assert store.outbox_rows(row.id) == []
    assert store.verify(row.id).ok


def test_primary_key_backstop_becomes_sequence_conflict(store):
    row, _ = new_incident(store)
    store.append(row.id, 1, [NewEvent("a", "x", {}, T0)])
    raw(store, "UPDATE incidents SET last_seq = 1 WHERE id = :id", id=row.id)
    with pytest.raises(SequenceConflict):
        store.append(row.id, 1, [NewEvent("b", "x", {}, T0)])
    assert [e.kind for e in store.events(row.id)] == ["incident.started", "a"]


def test_concurrent_appenders_leave_a_gap_free_chain(db_url):
    stores = [open_store(db_url), open_store(db_url)]  # two "processes"
    row, _ = new_incident(stores[0])
    conflicts = []

    def work(store, who):
        for i in range(25):
            while True:
                seq = store.incident(row.id).last_seq
                try:
                    store.append(row.id, seq, [NewEvent("note", who, {"i": i}, T0)])
                    break
                except SequenceConflict:
                    conflicts.append(who)

    threads = [threading.Thread(target=work, args=(stores[n % 2], f"w{n}")) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = stores[1].events(row.id)
    assert [e.seq for e in events] == list(range(1, 102))
    assert stores[0].verify(row.id).ok
    for s in stores:
        s.close()


# ---- hash chain -------------------------------------------------------------------

def test_event_hash_is_the_documented_formula(store):
    row, first = new_incident(store, payload={"b": 1, "a": "中"})
    e = first[0]
    body = json.dumps({"incident_id": row.id, "seq": 1, "ts": "2026-01-05T03:00:00.123456+00:00",
                       "actor": "alice", "kind": "incident.started",
                       "payload": {"a": "中", "b": 1}},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert e.hash == hashlib.sha256(("0" * 64 + body).encode()).hexdigest()
    assert e.hash == event_hash(GENESIS_HASH, row.id, 1, T0, "alice", "incident.started",
                                {"a": "中", "b": 1})


def _chain_of(store, n=5):
    row, _ = new_incident(store)
    store.append(row.id, 1, [NewEvent("note", "a", {"i": i, "t": "备注"}, T0 + timedelta(seconds=i))
                             for i in range(n - 1)])
    assert store.verify(row.id).ok
    return row.id


def test_verify_intact(store):
    iid = _chain_of(store)
    rep = store.verify(iid)
    assert (rep.ok, rep.count, rep.first_bad_seq) == (True, 5, None)


def test_verify_names_an_edited_payload(store):
    iid = _chain_of(store)
    raw(store, "UPDATE events SET payload = :p WHERE incident_id = :id AND seq = 3",
        p=json.dumps({"i": 1, "t": "改过"}), id=iid)
    rep = store.verify(iid)
    assert (rep.ok, rep.count, rep.first_bad_seq) == (False, 5, 3)
    assert "altered" in rep.reason


def test_verify_names_an_edited_actor_or_time(store):
    iid = _chain_of(store)
    raw(store, "UPDATE events SET actor = 'mallory' WHERE incident_id = :id AND seq = 4", id=iid)
    assert store.verify(iid).first_bad_seq == 4


def test_verify_names_an_edited_hash(store):
    iid = _chain_of(store)
    raw(store, "UPDATE events SET hash = :h WHERE incident_id = :id AND seq = 2",
        h="f" * 64, id=iid)
    rep = store.verify(iid)
    assert (rep.ok, rep.first_bad_seq) == (False, 2)


def test_verify_names_a_rehashed_edit_at_the_next_link(store):
    iid = _chain_of(store)
    e = store.events(iid)[1]
    forged = {"i": 0, "t": "forged"}
    h = event_hash(e.prev_hash, iid, e.seq, e.ts, e.actor, e.kind, forged)
    raw(store, "UPDATE events SET payload = :p, hash = :h WHERE incident_id = :id AND seq = 2",
        p=json.dumps(forged), h=h, id=iid)
    rep = store.verify(iid)
    assert (rep.ok, rep.first_bad_seq) == (False, 3)
    assert "link" in rep.reason


def test_verify_names_a_deleted_event(store):
    iid = _chain_of(store)
    raw(store, "DELETE FROM events WHERE incident_id = :id AND seq = 3", id=iid)
    rep = store.verify(iid)
    assert (rep.ok, rep.count, rep.first_bad_seq) == (False, 4, 3)
    assert "missing" in rep.reason


def test_verify_names_a_deleted_last_event(store):
    iid = _chain_of(store)
    raw(store, "DELETE FROM events WHERE incident_id = :id AND seq = 5", id=iid)
    rep = store.verify(iid)
    assert (rep.ok, rep.first_bad_seq) == (False, 5)
    assert "missing" in rep.reason


# ---- polling fingerprint ---------------------------------------------------------------

def test_last_change_moves_with_every_write(store):
    empty = store.last_change()
    assert store.last_change() == empty
    row, _ = new_incident(store)
    one = store.last_change()
    assert one != empty
    store.append(row.id, 1, [NewEvent("note", "a", {}, T0)])  # same ts as before
    two = store.last_change()
    assert two != one and store.last_change() == two
    store.append(row.id, 2, [NewEvent("note", "a", {}, T0)],
                 outbox=[NewOutbox("k", "s", "p", "sms", "+86", "zh", "", "b", False)])
    three = store.last_change()
    assert three != two
    [claimed] = store.claim_outbox("w", T0, 5, timedelta(minutes=1))
    assert store.last_change() != three
    four = store.last_change()
    store.finish_attempt(claimed.id, worker="w", status="sent", started_at=T0, elapsed_ms=3.0,
                         error=None, now=T0)
    assert store.last_change() != four


# ---- migrations, files, restart ---------------------------------------------------------

def test_fresh_sqlite_file_is_created_and_upgraded(tmp_path, capfd):
    path = tmp_path / "deep" / "er" / "incident.db"
    url = f"sqlite:///{path}"
    assert current_revision(url) is None
    assert not path.exists()
    store = open_store(url)
    assert path.is_file()
    assert current_revision(url) == head_revision()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    store.close()
    again = open_store(url)  # opening twice is fine
    again.close()
    assert upgrade_database(url) == head_revision()
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # Alembic stays quiet


def test_relative_and_home_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    open_store("sqlite:///rel/dir/x.db").close()
    assert (tmp_path / "rel" / "dir" / "x.db").is_file()
    open_store("sqlite:///~/data/y.db").close()
    assert (tmp_path / "home" / "data" / "y.db").is_file()


def test_migrated_schema_matches_the_table_definitions(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from incident.store.schema import metadata

    store = open_store(db_url)
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, metadata)
    store.close()
    assert diffs == []


def test_server_database_revision_and_upgrade(db_url):
    assert upgrade_database(db_url) == head_revision()
    assert current_revision(db_url) == head_revision()
    assert upgrade_database(db_url) == head_revision()


def test_open_without_upgrade_refuses_an_old_schema(db_url):
    with pytest.raises(StoreUnavailable, match="incident db upgrade"):
        open_store(db_url, upgrade=False)
    open_store(db_url).close()
    open_store(db_url, upgrade=False).close()


def test_unreachable_database_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable, match="cannot create"):
        open_store(f"sqlite:///{blocker}/sub/x.db")
    with pytest.raises(StoreUnavailable, match="cannot open"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_url_normalisation():
    assert normalize_url("postgresql://u@h:5432/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///~/x.db").database == str(Path("~/x.db").expanduser())
    with pytest.raises(ValueError):
        normalize_url("")


def test_events_survive_a_restart(db_url):
    store = open_store(db_url)
    row, _ = new_incident(store)
    store.append(row.id, 1, [NewEvent("note", "a", {"t": "重启前"}, T0)])
    before = store.events(row.id)
    store.close()

    store = open_store(db_url)
    assert store.events(row.id) == before
    assert store.incident(row.id).last_seq == 2
    [e] = store.append(row.id, 2, [NewEvent("note", "a", {"t": "重启后"}, T0)])
    assert e.prev_hash == before[-1].hash
    assert store.verify(row.id).ok
    assert all(isinstance(x, StoredEvent) for x in store.events(row.id))
    store.close()


def test_in_memory_sqlite_works_across_threads():
    store = open_store("sqlite://")
    row, _ = new_incident(store)

    def work(i):
        while True:
            try:
                store.append(row.id, store.incident(row.id).last_seq,
                             [NewEvent("note", "a", {"i": i}, T0)])
                return
            except SequenceConflict:
                continue

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.incident(row.id).last_seq == 9
    assert store.verify(row.id).ok
    store.close()
