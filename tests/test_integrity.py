"""A record an insider cannot quietly rewrite: the keyed chain and anchors outside the database.

Each attack is carried out the way an insider with write access to the database
would: straight SQL on the events and incidents tables, recomputing the chain
with the project's own hash functions (with and without the key). Every check
goes through the real CLI on a real SQLite file or PostgreSQL schema.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from servers import HttpReceiver
from test_report_walker import REPO, make_runtime

from incident.anchoring import write_anchor
from incident.cli import main
from incident.clock import ManualClock
from incident.engine import Engine
from incident.store import GENESIS_HASH, NewEvent, open_store
from incident.store.db import alembic_config, make_engine
from incident.store.keys import read_key_file
from incident.store.records import event_hash, keyed_event_hash
from incident.store.schema import events, incidents

OFFICER = "chen.jie"
NOTE = "water reached the switch room at 03:02"


def _cli(url: str, *args: str, env: dict[str, str] | None = None):
    flags = ["--db", url, "--playbooks", str(REPO / "playbooks"), "--contacts",
             str(REPO / "contacts")]
    return CliRunner().invoke(main, [*flags, *args], env=env)


@pytest.fixture
def logged(db_url):
    """A fire with a note and a few more events, written by the real engine."""
    rt = make_runtime(db_url)
    iid = rt.engine.start("fire", "B3-1201", actor=OFFICER).id
    rt.clock.advance("30s")
    rt.engine.note(iid, NOTE, actor=OFFICER)
    for text in ("brigade called", "residents of floor 12 out", "alarm silenced"):
        rt.clock.advance("30s")
        rt.engine.note(iid, text, actor=OFFICER)
    yield rt, iid, db_url
    rt.close()


# ---- insider's tools --------------------------------------------------------------------

def _note_seq(url: str, iid: str) -> int:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(sa.select(events.c.seq).where(
                events.c.incident_id == iid, events.c.kind == "note.added")
                .order_by(events.c.seq)).scalars().first()
    finally:
        eng.dispose()


def edit_and_rehash(url: str, iid: str, *, key=None, strip_key: bool = False,
                    text: str = "all dry, nothing to report") -> int:
    """Edit the first note and recompute the chain forward from it; returns its seq."""
    seq = _note_seq(url, iid)
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            rows = conn.execute(sa.select(events).where(events.c.incident_id == iid)
                                .order_by(events.c.seq)).all()
            prev = rows[seq - 2].hash if seq > 1 else GENESIS_HASH
            for r in rows[seq - 1:]:
                payload = dict(r.payload, text=text) if r.seq == seq else r.payload
                if key is not None:
                    h = keyed_event_hash(key, prev, iid, r.seq, r.ts, r.actor, r.kind, payload)
                    kid = key.id
                else:
                    h = event_hash(prev, iid, r.seq, r.ts, r.actor, r.kind, payload)
                    kid = None if strip_key else r.key_id
                conn.execute(events.update().where(events.c.incident_id == iid,
                                                   events.c.seq == r.seq)
                             .values(payload=payload, prev_hash=prev, hash=h, key_id=kid))
                prev = h
    finally:
        eng.dispose()
    return seq


def truncate_last(url: str, iid: str) -> int:
    """Delete the last event and lower last_seq to match; returns the new length."""
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            last = conn.execute(sa.select(incidents.c.last_seq)
                                .where(incidents.c.id == iid)).scalar_one()
            conn.execute(events.delete().where(events.c.incident_id == iid,
                                               events.c.seq == last))
            conn.execute(incidents.update().where(incidents.c.id == iid)
                         .values(last_seq=last - 1))
    finally:
        eng.dispose()
    return last - 1


def _assert_every_report_fails(url: str, iid: str, words: str) -> None:
    """Every report command in every format, the brief (ICS 201) and the monthly analysis:
    exit 1, and the output or the warning says why."""
    month = ["report", "--since", "2026-01-01", "--until", "2026-01-31"]
    runs = [["verify", iid]]
    runs += [["report", iid, "--format", f] for f in ("md", "html", "csv", "json", "ics214")]
    runs += [["report", iid, "--format", "csv", "--table", "clocks"],
             ["report", iid, "--lang", "zh"]]
    runs += [["brief", iid, "--format", f] for f in ("md", "html", "json")]
    runs += [["deliveries", iid, "--format", f] for f in ("text", "csv", "json")]
    runs += [[*month, "--format", f] for f in ("md", "html", "csv", "json")]
    for args in runs:
        res = _cli(url, *args)
        assert res.exit_code == 1, (args, res.output)
        assert words in res.output, (args, res.output)


# ---- the attacks ------------------------------------------------------------------------

def test_a_fresh_log_is_keyed_and_verifies(logged):
    rt, iid, url = logged
    n = rt.store.incident(iid).last_seq
    res = _cli(url, "verify", iid)
    assert res.exit_code == 0, res.output
    kid = rt.keyring.current.id
    assert f"chain intact ({n} events)" in res.output and f"keyed {kid}" in res.output
    assert {e.key_id for e in rt.store.events(iid)} == {kid}
    assert "not anchored yet" in res.output


def test_edit_rehashed_with_plain_sha256_is_detected(logged):
    _rt, iid, url = logged
    seq = edit_and_rehash(url, iid)
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1
    assert f"chain BROKEN at event {seq}" in res.output and "keyed hash" in res.output
    _assert_every_report_fails(url, iid, "BROKEN")


def test_edit_rehashed_as_legacy_unkeyed_events_is_detected(logged):
    """The insider also blanks key_id so the events pass for pre-key legacy ones."""
    _rt, iid, url = logged
    seq = edit_and_rehash(url, iid, strip_key=True)
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1
    assert f"event {seq} is not keyed although earlier events are" in res.output
    _assert_every_report_fails(url, iid, "recomputed without the key")


def test_all_events_stripped_to_legacy_are_detected_by_their_dates(logged):
    _rt, iid, url = logged
    eng = make_engine(url)
    with eng.begin() as conn:
        rows = conn.execute(sa.select(events).where(events.c.incident_id == iid)
                            .order_by(events.c.seq)).all()
        prev = GENESIS_HASH
        for r in rows:
            h = event_hash(prev, iid, r.seq, r.ts, r.actor, r.kind, r.payload)
            conn.execute(events.update().where(events.c.incident_id == iid,
                                               events.c.seq == r.seq)
                         .values(prev_hash=prev, hash=h, key_id=None))
            prev = h
    eng.dispose()
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1 and "after the chain key was made" in res.output, res.output


def test_edit_rehashed_with_the_key_is_caught_by_the_anchor(logged):
    rt, iid, url = logged
    n = rt.store.incident(iid).last_seq
    res = _cli(url, "anchor")
    assert res.exit_code == 0, res.output
    assert f"{iid}: anchored event {n}" in res.output
    key = read_key_file(rt.settings.chain_key_path).current
    anchors = rt.settings.anchor_path
    edit_and_rehash(url, iid, key=key)
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1
    assert f"event {n} no longer matches the anchor of" in res.output
    assert "edited and re-hashed" in res.output
    _assert_every_report_fails(url, iid, "re-hashed")
    # ...and a new anchor cannot bless the edit
    res = _cli(url, "anchor")
    assert res.exit_code == 1 and f"{iid}: NOT anchored" in res.output
    # Without the anchor the keyed re-hash would pass: that is what anchors are for.
    anchors.rename(anchors.with_suffix(".away"))
    assert _cli(url, "verify", iid).exit_code == 0


def test_deleting_the_last_event_is_caught_by_the_anchor(logged):
    rt, iid, url = logged
    n = rt.store.incident(iid).last_seq
    assert write_anchor(rt).ok  # what the service calls periodically
    assert truncate_last(url, iid) == n - 1
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1
    assert "the log was truncated" in res.output and f"recorded {n} events" in res.output
    assert f"now holds {n - 1}" in res.output
    _assert_every_report_fails(url, iid, "truncated")


def test_monthly_lists_a_tampered_incident_apart_and_leaves_it_out(logged):
    rt, iid, url = logged
    rt.clock.advance("1h")
    other = rt.engine.start("fire", "B1", actor=OFFICER).id
    edit_and_rehash(url, iid)
    res = _cli(url, "report", "--since", "2026-01-01", "--until", "2026-01-31")
    assert res.exit_code == 1
    assert "## Live incidents (1)" in res.output
    assert "Logs that failed verification" in res.output and iid in res.output
    assert f"warning: {iid}: hash chain BROKEN, left out of the figures" in res.output
    out = _cli(url, "report", "--since", "2026-01-01", "--until", "2026-01-31", "--format",
               "json")
    data = json.loads(out.output[:out.output.rindex("}") + 1])
    assert data["live"]["incidents"] == 1 and [t["id"] for t in data["tampered"]] == [iid]
    assert {h["id"] for h in data["chain_heads"]} == {iid, other}


def test_a_tampered_anchor_file_is_named(logged):
    rt, iid, url = logged
    assert _cli(url, "anchor").exit_code == 0
    path = rt.settings.anchor_path
    line = json.loads(path.read_text())
    line["seq"] = 3
    path.write_text(json.dumps(line) + "\n")
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1
    assert f"anchor file {path} line 1: its signature does not match" in res.output


# ---- keys ---------------------------------------------------------------------------------

def test_key_and_anchor_files_are_private_and_a_readable_key_is_refused(logged):
    rt, iid, url = logged
    assert _cli(url, "anchor").exit_code == 0
    for p in (rt.settings.chain_key_path, rt.settings.anchor_path):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    os.chmod(rt.settings.chain_key_path, 0o644)
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1 and "can be read by other users (mode 644)" in res.output
    assert f"chmod 600 {rt.settings.chain_key_path}" in res.output
    assert "Traceback" not in res.output


def test_a_wrong_key_is_a_clear_error_not_tampering(logged):
    rt, iid, url = logged
    res = _cli(url, "verify", iid, env={"INCIDENT_CHAIN_KEY": "another-secret-of-32-chars-long!"})
    assert res.exit_code == 1
    assert f"signed with chain key {rt.keyring.current.id}, which is not loaded here" \
        in res.output
    assert "copy the key file" in res.output
    res = _cli(url, "verify", iid, env={"INCIDENT_CHAIN_KEY": "short"})
    assert res.exit_code == 1 and "INCIDENT_CHAIN_KEY: secret 1 is shorter" in res.output


def test_a_missing_key_file_is_refused_and_not_silently_replaced(logged):
    rt, iid, url = logged
    path = rt.settings.chain_key_path
    path.unlink()
    res = _cli(url, "verify", iid)
    assert res.exit_code == 1
    assert f"no chain key at {path}, but this database holds events signed with chain " \
           f"key(s) {rt.keyring.current.id}" in res.output
    assert "no new key was made" in res.output and not path.exists()


def test_rotation_new_events_use_the_new_key_old_ones_still_verify(logged):
    rt, iid, url = logged
    old = rt.keyring.current.id
    res = _cli(url, "key", "rotate")
    assert res.exit_code == 0, res.output
    ring = read_key_file(rt.settings.chain_key_path)
    new = ring.current.id
    assert new != old and ring.ids() == [old, new]
    assert stat.S_IMODE(rt.settings.chain_key_path.stat().st_mode) == 0o600
    res = _cli(url, "note", iid, "after rotation", "--as", OFFICER)
    assert res.exit_code == 0, res.output
    assert rt.store.events(iid)[-1].key_id == new
    res = _cli(url, "verify", iid)
    assert res.exit_code == 0 and f"keyed {old},{new}" in res.output, res.output
    show = _cli(url, "key", "show")
    assert f"{new}" in show.output and "(signs new events)" in show.output
    assert ring.current.secret.hex() not in show.output


def test_env_secret_keys_the_chain_and_rotates_by_appending(db_url, monkeypatch):
    monkeypatch.setenv("INCIDENT_CHAIN_KEY", "first-secret-0123456789abcdef")
    rt = make_runtime(db_url)
    iid = rt.engine.start("fire", "B1", actor=OFFICER).id
    first = rt.keyring.current.id
    rt.close()
    assert not rt.settings.chain_key_path.exists()  # no file when the secret is given
    monkeypatch.setenv("INCIDENT_CHAIN_KEY",
                       "first-secret-0123456789abcdef,second-secret-0123456789abcdef")
    rt = make_runtime(db_url, ManualClock(datetime(2026, 1, 5, 4, 0, tzinfo=UTC)))
    rt.engine.note(iid, "later", actor=OFFICER)
    assert [e.key_id for e in rt.store.events(iid)][-1] != first
    assert rt.store.verify(iid).ok
    rt.close()
    res = _cli(db_url, "key", "rotate")
    assert res.exit_code == 1 and "appending a new secret" in res.output


# ---- legacy databases -------------------------------------------------------------------

def _legacy_incident(url: str) -> str:
    """An incident written the old way: plain SHA-256 and no key anywhere."""
    rt = make_runtime(url)  # for its playbooks and directory only: no store, no key
    store = open_store(url)
    clock = ManualClock(datetime(2025, 12, 1, 3, 0, tzinfo=UTC))
    iid = Engine(store, rt.playbooks, rt.directory, clock).start("fire", "B1",
                                                                 actor=OFFICER).id
    assert "keyring" not in rt.__dict__
    store.close()
    return iid


def test_a_legacy_plain_sha256_log_still_verifies_and_continues_keyed(db_url):
    iid = _legacy_incident(db_url)
    res = _cli(db_url, "verify", iid)
    assert res.exit_code == 0, res.output
    assert "unkeyed legacy event(s)" in res.output
    rt = make_runtime(db_url)  # the key is made now, after the legacy events
    rt.engine.note(iid, "continued after the upgrade", actor=OFFICER)
    evs = rt.store.events(iid)
    assert evs[0].key_id is None and evs[-1].key_id == rt.keyring.current.id
    v = rt.store.verify(iid)
    assert v.ok and v.unkeyed == len(evs) - 1, v
    rep = _cli(db_url, "report", iid)
    assert rep.exit_code == 0 and "unkeyed legacy SHA-256" in rep.output
    rt.close()


def test_a_database_at_revision_0001_upgrades_and_verifies(db_url):
    from alembic import command

    iid = _legacy_incident(db_url)
    eng = make_engine(db_url)
    with eng.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with eng.connect() as conn:
        assert "key_id" not in {c["name"] for c in sa.inspect(conn).get_columns("events")}
    eng.dispose()
    res = _cli(db_url, "verify", iid)  # opening upgrades the schema
    assert res.exit_code == 0 and "chain intact" in res.output, res.output


# ---- every output names the head ----------------------------------------------------------

def test_every_report_brief_and_export_prints_the_head(logged):
    rt, iid, url = logged
    assert _cli(url, "anchor").exit_code == 0
    head = rt.store.verify(iid).head_hash
    n = rt.store.incident(iid).last_seq
    assert len(head) == 64
    for args in (["report", iid], ["report", iid, "--format", "html"],
                 ["report", iid, "--format", "ics214"], ["brief", iid],
                 ["brief", iid, "--format", "html"], ["report", iid, "--lang", "zh"]):
        res = _cli(url, *args)
        assert res.exit_code == 0, (args, res.output)
        assert head in res.output and (f"event {n}" in res.output or f"第 {n} 条" in res.output), args
    md = _cli(url, "report", iid).output
    assert "Matches the anchor of" in md
    js = json.loads(_cli(url, "report", iid, "--format", "json").output)
    assert js["integrity"]["head_hash"] == head and js["integrity"]["head_seq"] == n
    assert js["integrity"]["anchor_seq"] == n
    brief = json.loads(_cli(url, "brief", iid, "--format", "json").output)
    assert brief["integrity"]["head_hash"] == head
    rows = list(csv.DictReader(io.StringIO(
        _cli(url, "report", iid, "--format", "csv").output.lstrip("\ufeff"))))
    assert {(r["chain_ok"], r["chain_head_seq"], r["chain_head_hash"]) for r in rows} == \
        {("yes", str(n), head)}
    rows = list(csv.DictReader(io.StringIO(_cli(url, "deliveries", iid, "--format",
                                                "csv").output)))
    assert all(r["chain_head_hash"] == head for r in rows)
    month = _cli(url, "report", "--since", "2026-01-01", "--until", "2026-01-31")
    assert month.exit_code == 0 and head in month.output
    month_csv = list(csv.DictReader(io.StringIO(_cli(
        url, "report", "--since", "2026-01-01", "--until", "2026-01-31", "--format",
        "csv").output.lstrip("\ufeff"))))
    assert month_csv[0]["chain_head_hash"] == head and month_csv[0]["in_figures"] == "yes"
    # a filed copy's head is checked later with --expect
    assert _cli(url, "verify", iid, "--expect", f"{n}:{head[:16]}").exit_code == 0
    res = _cli(url, "verify", iid, "--expect", f"{n}:{'0' * 16}")
    assert res.exit_code == 1 and "does NOT match the filed hash" in res.output


# ---- anchoring --------------------------------------------------------------------------

def test_anchoring_writes_only_what_moved_and_posts_to_the_branch(logged, monkeypatch):
    rt, iid, url = logged
    with HttpReceiver() as branch:
        monkeypatch.setenv("INCIDENT_ANCHOR_URL", f"json://127.0.0.1:{branch.port}/anchors")
        n = rt.store.incident(iid).last_seq
        res = _cli(url, "anchor")
        assert res.exit_code == 0, res.output
        assert "posted the checkpoints to anchor_url" in res.output
        msgs = branch.messages()
        assert len(msgs) == 1 and f"{iid} seq={n} head=" in msgs[0].body
        res = _cli(url, "anchor")
        assert "anchored 0 incident(s)" in res.output and "1 unchanged" in res.output
        assert len(branch.messages()) == 1
        rt.clock.advance("1m")
        rt.engine.note(iid, "one more", actor=OFFICER)
        res = _cli(url, "anchor")
        assert f"{iid}: anchored event {n + 1}" in res.output
        branch.refuse()
        rt.engine.note(iid, "and another", actor=OFFICER)
        res = _cli(url, "anchor")
        assert res.exit_code == 1 and "posting the checkpoints to anchor_url failed" \
            in res.output
    lines = rt.settings.anchor_path.read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [n, n + 1, n + 2]  # the file kept all three
    assert _cli(url, "verify").exit_code == 0


def test_anchor_path_is_configurable(logged, tmp_path, monkeypatch):
    _rt, iid, url = logged
    target = tmp_path / "elsewhere" / "anchors.jsonl"
    monkeypatch.setenv("INCIDENT_ANCHOR_FILE", str(target))
    assert _cli(url, "anchor").exit_code == 0
    assert json.loads(target.read_text())["incident"] == iid
    assert _cli(url, "verify", iid).exit_code == 0


def test_legacy_event_written_before_key_but_after_is_named(db_url):
    """An unkeyed event appended by an old version after the key exists is named."""
    rt = make_runtime(db_url)
    iid = rt.engine.start("fire", "B1", actor=OFFICER).id
    rt.close()
    store = open_store(db_url)  # no keyring: plain SHA-256, as an old version would
    ts = datetime(2026, 1, 5, 3, 5, tzinfo=UTC)
    n = store.incident(iid).last_seq
    store.append(iid, n, [NewEvent("note.added", OFFICER, {"text": "x"}, ts)])
    store.close()
    res = _cli(db_url, "verify", iid)
    assert res.exit_code == 1 and f"event {n + 1} is not keyed" in res.output


def test_the_drill_after_action_report_names_the_head_and_fails_on_tampering(db_url):
    res = _cli(db_url, "drill", "elevator_rescue", "--auto", "--as", "han.xue")
    assert res.exit_code == 0, res.output
    iid = res.output.splitlines()[0]
    rt = make_runtime(db_url)
    head = rt.store.verify(iid).head_hash
    rt.close()
    for fmt in ("md", "html"):
        res = _cli(db_url, "drill", "report", iid, "--format", fmt)
        assert res.exit_code == 0 and head in res.output, res.output
    js = json.loads(_cli(db_url, "drill", "report", iid, "--format", "json").output)
    assert js["integrity"]["head_hash"] == head
    truncate_last(db_url, iid)
    rt = make_runtime(db_url)
    # deleting an event and lowering last_seq leaves a consistent chain: only an anchor
    # catches it, so anchor first and cut again
    assert write_anchor(rt).ok
    rt.close()
    truncate_last(db_url, iid)
    res = _cli(db_url, "drill", "report", iid)
    assert res.exit_code == 1 and "the log was truncated" in res.output


def test_removing_an_anchor_line_from_the_middle_is_named(logged):
    rt, iid, url = logged
    for text in ("first", "second"):
        rt.clock.advance("1m")
        rt.engine.note(iid, text, actor=OFFICER)
        assert write_anchor(rt).ok
    rt.clock.advance("1m")
    rt.engine.note(iid, "third", actor=OFFICER)
    assert write_anchor(rt).ok
    path = rt.settings.anchor_path
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    path.write_text(lines[0] + "\n" + lines[2] + "\n")
    res = _cli(url, "verify")
    assert res.exit_code == 1
    assert f"anchor file {path} line 2: it does not follow the line before it" in res.output
    res = _cli(url, "anchor")
    assert res.exit_code == 1 and "not anchoring" in res.output
