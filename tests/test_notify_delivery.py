"""Delivery through real loopback servers: SMTP (aiosmtpd), SMSEagle JSON-RPC, Mattermost.

Every assertion is on what the servers received and on what the store recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from fixtures_notify import ENV, build_env

from incident.engine import events as ev
from incident.notify import Dispatcher, load_channels, sink

REPO = Path(__file__).resolve().parent.parent


def _rows(env, iid, step=None):
    return {r.person_id: r for r in env.store.outbox_rows(iid, step)}


def test_each_owner_gets_one_sms_in_their_language(notify_env, smseagle):
    iid = notify_env.queue()
    stats = notify_env.dispatcher().run_until_idle()
    got = {m.to: m.body for m in smseagle.messages()}
    assert len(smseagle.messages()) == 9 == stats.sent  # B3-1201 named twice: one message
    assert got["+8613700000008"].startswith("Dear Li Ming, a pipe burst in Building 3")
    assert got["+8613700000007"].startswith("尊敬的马晓宇：3号楼水管爆裂")
    assert all(r.state == "sent" and r.attempts == 1 for r in _rows(notify_env, iid).values())
    att = notify_env.store.attempts(next(iter(_rows(notify_env, iid).values())).id)
    assert [a.status for a in att] == ["sent"] and att[0].elapsed_ms > 0


def test_email_and_chat_reach_their_servers(notify_env, smtp, mattermost):
    iid = notify_env.queue("tell_staff")  # security: chat first, then sms
    notify_env.dispatcher().run_until_idle()
    assert [m.to for m in mattermost.messages()] == ["GuardA"]
    assert "请前往3号楼12层" in mattermost.messages()[0].body or \
        "3号楼" in mattermost.messages()[0].body
    # guard.lead has no chat address: SMS
    assert {r.channel for r in _rows(notify_env, iid).values()} == {"chat", "sms"}
    iid2 = notify_env.start()
    notify_env.engine.act(iid2, "tell_all_email", actor="night.officer")
    notify_env.dispatcher().run_until_idle()
    mails = {m.to: m for m in smtp.messages()}
    assert set(mails) == {"zhang@example.com", "emily@example.com", "zm@example.com",
                          "li.ming@example.com"}
    assert mails["zhang@example.com"].subject == "停水通知"
    assert mails["emily@example.com"].subject == "Water off"
    assert "停水至18:00" in mails["zhang@example.com"].body


def test_temporary_failures_are_retried_with_backoff(notify_env, smseagle):
    iid = notify_env.queue()
    smseagle.faults.fail(500, times=9)  # every first attempt fails
    d = notify_env.dispatcher()
    s1 = d.run_until_idle()
    assert s1.retrying == 9 and not smseagle.messages()
    rows = _rows(notify_env, iid)
    now = notify_env.clock.now()
    assert all(r.state == "failed_temporary" for r in rows.values())
    assert all(r.next_attempt_at == now + timedelta(seconds=10) for r in rows.values())
    assert d.run_until_idle().sent == 0  # not due yet: the clock has not moved
    notify_env.clock.advance("11s")
    d.run_until_idle()
    assert len(smseagle.messages()) == 9
    r = _rows(notify_env, iid)["owner:B3-1201:2"]
    att = notify_env.store.attempts(r.id)
    assert [a.status for a in att] == ["failed_temporary", "sent"]
    assert "error=500" in att[0].error
    assert smseagle.faults.requests == 18


def test_permanent_failure_falls_back_to_the_next_channel(notify_env, smseagle, smtp):
    iid = notify_env.queue()
    smseagle.faults.fail(400)  # the gateway rejects every SMS for good
    d = notify_env.dispatcher()
    d.run_until_idle()
    rows = notify_env.store.outbox_rows(iid)
    by = Counter((r.channel, r.state) for r in rows)
    # Li Ming (email) and Guo Yan (chat) have a second channel; the others do not
    assert by[("sms", "fell_back")] == 2 and by[("sms", "failed_permanent")] == 7
    assert [m.to for m in smtp.messages()] == ["li.ming@example.com"]
    chat = next(r for r in rows if r.channel == "chat")
    assert chat.state == "sent" and chat.idempotency_key.endswith(":owner:B3-1502:1:chat")
    old = next(r for r in rows if r.person_id == "owner:B3-1201:2" and r.channel == "sms")
    assert old.last_error.startswith("fell back to email")
    assert d.stats.fell_back == 2


def test_retries_exhausted_then_fall_back(notify_env, smseagle, smtp):
    iid = notify_env.queue()
    smseagle.refuse()  # connection refused: temporary, retried twice, then given up
    d = notify_env.dispatcher()
    for _ in range(3):
        d.run_until_idle()
        notify_env.clock.advance("1h")
    rows = notify_env.store.outbox_rows(iid)
    li = [r for r in rows if r.person_id == "owner:B3-1201:2"]
    assert [(r.channel, r.state) for r in li] == [("sms", "fell_back"), ("email", "sent")]
    assert len(notify_env.store.attempts(li[0].id)) == 3
    assert [m.to for m in smtp.messages()] == ["li.ming@example.com"]


def test_a_hanging_gateway_times_out_and_is_retried(tmp_path, db_url, smseagle):
    env = build_env(tmp_path, db_url, sms=smseagle, timeout="0.3s")
    iid = env.queue()
    smseagle.faults.hang_for(1.0)
    d = env.dispatcher()
    d.run_until_idle()
    assert all(r.state == "failed_temporary" for r in env.store.outbox_rows(iid))
    smseagle.faults.heal()
    env.clock.advance("1m")
    d.run_until_idle()
    assert {r.state for r in env.store.outbox_rows(iid)} == {"sent"}
    env.store.close()


def test_smtp_rejections_carry_the_server_reply_4xx_retried_5xx_final(tmp_path, db_url, smtp):
    """The SMTP server's own reply is kept: a 451 is retried (temporary), a 554 ends the
    row at once (permanent), each with its code and text — not Apprise's "Connection
    error while submitting email"."""
    env = build_env(tmp_path, db_url, smtp=smtp)
    iid = env.start()
    env.engine.act(iid, "tell_all_email", actor="night.officer")
    smtp.faults.fail(451, times=4)
    d = env.dispatcher()
    d.run_until_idle()
    rows = env.store.outbox_rows(iid)
    assert {r.state for r in rows} == {"failed_temporary"}
    assert all("SMTP 451" in r.last_error and "try again later" in r.last_error for r in rows)
    smtp.faults.fail(554)
    env.clock.advance("1h")
    d.run_until_idle()
    rows = env.store.outbox_rows(iid)
    assert {r.state for r in rows} == {"failed_permanent"}
    assert all(r.attempts == 2 and "SMTP 554" in r.last_error
               and "mailbox unavailable" in r.last_error for r in rows)
    assert smtp.faults.requests == 8 and not smtp.messages()
    env.store.close()


def test_a_drill_never_reaches_a_real_endpoint(notify_env, smseagle, smtp, mattermost,
                                               tmp_path):
    sink.configure(tmp_path / "sink.jsonl")
    try:
        iid = notify_env.queue(drill=True)
        notify_env.engine.act(iid, "tell_staff", actor="night.officer")
        notify_env.engine.act(iid, "tell_all_email", actor="night.officer")
        notify_env.dispatcher().run_until_idle()
        assert smseagle.faults.requests == smtp.faults.requests == mattermost.faults.requests == 0
        assert not smseagle.messages() and not smtp.messages() and not mattermost.messages()
        rows = notify_env.store.outbox_rows(iid)
        assert rows and all(r.drill and r.state == "sent" for r in rows)
        recorded = sink.read(tmp_path / "sink.jsonl")
        assert len(recorded) == len(rows) and all(m["drill"] for m in recorded)
        zh = next(m for m in recorded if m["to"] == "+8613700000007")
        assert zh["body"].startswith("[演练] 尊敬的马晓宇")
        en = next(m for m in recorded if m["to"] == "li.ming@example.com")
        assert en["subject"].startswith("[DRILL] ")
    finally:
        sink.configure(None)


def test_a_drill_row_without_the_flag_still_goes_to_the_sandbox(notify_env, smseagle,
                                                                 tmp_path):
    """Belt and braces: the incident's drill flag is checked at send time too."""
    sink.configure(tmp_path / "sink.jsonl")
    try:
        iid = notify_env.start(drill=True)
        from incident.store import NewOutbox

        seq = notify_env.store.events(iid)[-1].seq
        notify_env.store.add_outbox(iid, seq, [NewOutbox(
            "k1", "tell_owners", "owner:B3-1201:1", "sms", "+8613700000007", "zh", "s", "b",
            drill=False)])
        notify_env.dispatcher().run_until_idle()
        assert smseagle.faults.requests == 0
        assert sink.read(tmp_path / "sink.jsonl")[0]["body"] == "[演练] b"
    finally:
        sink.configure(None)


def test_errors_are_masked(notify_env, smseagle):
    iid = notify_env.queue()
    wrong = "wrong-secret-token-123"
    chans = load_channels(notify_env.channels_file, env={**ENV, "SMSEAGLE_TOKEN": wrong})
    smseagle.refuse()
    notify_env.dispatcher(channels=chans).run_until_idle()
    for r in notify_env.store.outbox_rows(iid):
        assert r.last_error and wrong not in r.last_error
        for a in notify_env.store.attempts(r.id):
            assert wrong not in (a.error or "")
    bad = load_channels(notify_env.channels_file, env={})  # the token is not set at all
    iid2 = notify_env.queue()
    notify_env.dispatcher(channels=bad).run_until_idle()
    err = notify_env.store.outbox_rows(iid2)[0].last_error
    assert "${SMSEAGLE_TOKEN}" in err and "'sms'" in err


def test_progress_events_are_coalesced(notify_env):
    iid = notify_env.start()
    notify_env.engine.act(iid, "tell_all_sms", actor="night.officer")
    seen = []
    notify_env.dispatcher(progress_every=60, on_progress=lambda i, p: seen.append(p)) \
        .run_until_idle()
    events = [e for e in notify_env.store.events(iid) if e.kind == ev.DELIVERY_PROGRESS]
    # the log gets one fact (the step finished); live figures went to on_progress
    assert len(events) == 1 and len(seen) >= 1 and seen[-1] == events[-1].payload
    assert events[-1].payload["channels"] == {
        "sms": {"sent": 16, "failed": 0, "pending": 0, "fell_back": 0}}
    assert (events[-1].payload["recipients"], events[-1].payload["delivered"]) == (16, 16)
    assert notify_env.engine.state(iid).delivery["sms"]["sent"] == 16


def test_background_dispatcher_sends_what_is_queued_later(notify_env, smseagle):
    d = notify_env.dispatcher(poll=0.05).start()
    try:
        notify_env.queue()
        deadline = time.monotonic() + 10
        while len(smseagle.messages()) < 9 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        d.close()
    assert len(smseagle.messages()) == 9


CRASH_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import timedelta
    from incident.notify import Dispatcher, load_channels
    from incident.store import open_store
    from incident.clock import SystemClock
    db, channels = sys.argv[1], sys.argv[2]
    env = {"SMSEAGLE_TOKEN": "eagle-secret-token", "MM_HOOK": "x"}
    d = Dispatcher(open_store(db), load_channels(channels, env=env), SystemClock(),
                   lease=timedelta(seconds=30))
    print("ready", flush=True)
    d.run_until_idle()
""")


@pytest.mark.slow
def test_crash_mid_send_resumes_without_losing_or_repeating(tmp_path, db_url, smseagle, smtp):
    env = build_env(tmp_path, db_url, owners=400, sms=smseagle, smtp=smtp, concurrency=8)
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor="night.officer")
    total = len(env.store.outbox_rows(iid))
    assert total == 400
    smseagle.faults.set_latency(0.02)
    script = tmp_path / "dispatch.py"
    script.write_text(CRASH_SCRIPT, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), db_url, str(env.channels_file)],
                            cwd=REPO, stdout=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 30
        while len(smseagle.messages()) < 120 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    time.sleep(0.1)  # let in-flight requests land on the server
    before = smseagle.count_by_to()
    rows = env.store.outbox_rows(iid)
    sent_before = {r.address for r in rows if r.state == "sending" or r.state == "sent"}
    recorded_sent = {r.address for r in rows if r.state == "sent"}
    in_flight = [r for r in rows if r.state == "sending"]
    assert 0 < len(recorded_sent) < total, "the kill must land mid-send"
    assert sent_before  # something was claimed
    # a fresh dispatcher after the dead one's lease has expired
    smseagle.faults.set_latency(0)
    env.clock.set(env.clock.now() + timedelta(hours=1))
    from incident.clock import ManualClock

    later = ManualClock(start=max(r.claimed_until for r in in_flight) + timedelta(seconds=1)) \
        if in_flight else env.clock
    Dispatcher(env.store, env.channels(), later).run_until_idle()
    after = smseagle.count_by_to()
    rows = env.store.outbox_rows(iid)
    assert {r.state for r in rows} == {"sent"}
    assert set(after) == {r.address for r in rows}, "every message went"
    for addr in recorded_sent:
        assert after[addr] == 1, f"{addr} was recorded as sent and went again"
    dupes = {a: n for a, n in after.items() if n > 1}
    # the documented at-least-once window: only rows in flight at the kill, whose
    # send the gateway had accepted before the outcome was committed
    assert set(dupes) <= {r.address for r in in_flight}
    assert all(n == 2 for n in dupes.values())
    assert len(dupes) <= 8  # bounded by the channel's concurrency
    assert sum(before.values()) >= len(recorded_sent)
    env.store.close()


def test_send_processes_deliver_record_and_stop(notify_env, smseagle, smtp):
    """processes=2: live sends go through child processes, everything is still recorded
    here, drill messages stay in the sandbox, and close() leaves no child behind."""
    iid = notify_env.queue()
    drill = notify_env.queue(drill=True)
    d = notify_env.dispatcher(processes=2)
    stats = d.run_until_idle()
    procs = d._procs
    assert procs is not None and procs.size == 2
    children = [c.proc for c in procs._children]
    assert stats.sent == 18 and len(smseagle.messages()) == 9  # the drill's 9 hit the sink
    assert all(r.state == "sent" and r.attempts == 1 for r in _rows(notify_env, iid).values())
    assert all(r.state == "sent" for r in _rows(notify_env, drill).values())
    assert not any(m.body.startswith(("[DRILL]", "[演练]")) for m in smseagle.messages())
    d.close()
    assert d._procs is None and all(p.poll() is not None for p in children)


def test_send_processes_are_not_started_for_a_small_batch(notify_env, smseagle):
    d = notify_env.dispatcher()  # automatic: only for a big backlog
    notify_env.queue()
    d.run_until_idle()
    assert d._procs is None and len(smseagle.messages()) == 9
    d.close()


def test_a_dead_send_process_loses_nothing(notify_env, smseagle):
    """A child killed mid-send: its rows are not recorded, they go again after the lease,
    and the dispatcher carries on sending from its own process."""
    smseagle.faults.set_latency(0.5)
    iid = notify_env.queue()
    d = notify_env.dispatcher(processes=1, lease=timedelta(seconds=30))
    d._fill()
    d._submit()
    d._procs._children[0].proc.kill()
    d.run_until_idle()
    # concurrency 8: eight were in the child, the ninth went from the dispatcher itself
    assert d.processes == 0 and d._procs is None and d.stats.lease_lost == 8
    states = Counter(r.state for r in _rows(notify_env, iid).values())
    assert states == {"sending": 8, "sent": 1}
    notify_env.clock.advance("31s")
    smseagle.faults.set_latency(0)
    d.run_until_idle()
    assert all(r.state == "sent" for r in _rows(notify_env, iid).values())
    assert len(smseagle.count_by_to()) == 9
    d.close()
