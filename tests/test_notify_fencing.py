"""A dispatcher that lost its lease records nothing: no outcome, no fall-back.

A real dispatcher process claims the messages, starts sending, and is paused
(SIGSTOP) past its lease; a second dispatcher re-claims and delivers them. When
the first one wakes up, its sends come back failed — which, before claims fenced
fall-backs, made it queue a fall-back e-mail for people who already had their SMS.
Counted at the loopback servers: every recipient gets exactly one message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from fixtures_notify import ENV, build_env, write_channels

from incident.clock import SystemClock
from incident.notify import Dispatcher, load_channels

pytestmark = pytest.mark.slow

CHILD = r"""
import json, sys
from datetime import timedelta
from incident.clock import SystemClock
from incident.directory import load_directory
from incident.notify import Dispatcher, load_channels
from incident.store import open_store
db_url, channels_file, contacts, env = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
store = open_store(db_url)
channels = load_channels(channels_file, env=json.loads(env))
d = Dispatcher(store, channels, SystemClock(), directory=load_directory(contacts),
               lease=timedelta(seconds=12), processes=0, worker="paused-dispatcher")
print("ready", flush=True)
stats = d.run_until_idle()
d.close()
print(json.dumps({"lease_lost": stats.lease_lost, "attempts": stats.attempts,
                  "fell_back": stats.fell_back}), flush=True)
"""


def _wait(pred, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_paused_dispatcher_past_its_lease_records_nothing_and_sends_no_fall_back(
        tmp_path, db_url, smtp, smseagle, mattermost):
    env = build_env(tmp_path, db_url, smtp=smtp, sms=smseagle, chat=mattermost)
    # no retries: the paused dispatcher's failed send is final, so it wants to fall back
    write_channels(env.contacts, smtp=smtp, sms=smseagle, chat=mattermost, retries=0,
                   timeout="3s", concurrency=16)
    iid = env.start()
    env.engine.act(iid, "tell_owners", actor="night.officer")
    rows = env.store.outbox_rows(iid)
    people = {r.person_id for r in rows}
    assert any(r.fallback_channels for r in rows)
    for server in (smseagle, smtp, mattermost):  # slow, then refusing: what A will see
        server.faults.set_latency(5.0)
        server.faults.fail(400 if server is not smtp else 554)

    script = tmp_path / "dispatcher_a.py"
    script.write_text(CHILD, encoding="utf-8")
    a = subprocess.Popen([sys.executable, str(script), env.db_url, str(env.channels_file),
                          str(env.contacts), json.dumps(ENV)],
                         stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert a.stdout is not None
        assert a.stdout.readline().strip() == "ready"
        _wait(lambda: all(r.state == "sending" for r in env.store.outbox_rows(iid)), 20,
              "dispatcher A to claim every message")
        time.sleep(0.7)  # its requests are on the wire; the gateways answer in 5 s, A's
        # read timeout is 3 s: A is paused before it learns anything
        a.send_signal(signal.SIGSTOP)
        lease_end = max(r.claimed_until for r in env.store.outbox_rows(iid))
        _wait(lambda: SystemClock().now() > lease_end + timedelta(seconds=0.5), 30,
              "A's lease to run out")
        for server in (smseagle, smtp, mattermost):
            server.faults.heal()
        b = Dispatcher(env.store, load_channels(env.channels_file, env=ENV), SystemClock(),
                       directory=env.engine.directory, processes=0, worker="dispatcher-b")
        stats_b = b.run_until_idle(timeout=30)
        assert stats_b.sent == len(rows)
        a.send_signal(signal.SIGCONT)
        out, _ = a.communicate(timeout=30)
    finally:
        if a.poll() is None:
            a.send_signal(signal.SIGCONT)
            a.kill()
            a.wait()
    stats_a = json.loads(out.strip().splitlines()[-1])
    assert stats_a == {"lease_lost": len(rows), "attempts": 0, "fell_back": 0}
    b.run_until_idle(timeout=30)  # anything A might have queued would go now
    b.close()

    after = env.store.outbox_rows(iid)
    assert len(after) == len(rows) and {r.state for r in after} == {"sent"}
    assert all(a.worker == "dispatcher-b" for r in after for a in env.store.attempts(r.id))
    delivered = smseagle.count_by_to() + smtp.count_by_to() + mattermost.count_by_to()
    assert sum(delivered.values()) == len(people)
    assert set(delivered.values()) == {1}
    env.store.close()


def test_a_row_re_claimed_while_still_in_flight_here_is_not_sent_twice(notify_env, smseagle):
    """The lease of rows still in flight runs out (the clock jumps) and the same
    dispatcher claims them again: the claim is renewed, the message is not resent."""
    import threading

    env = notify_env
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor="night.officer")
    rows = env.store.outbox_rows(iid)
    smseagle.faults.set_latency(1.5)
    d = env.dispatcher(lease=timedelta(seconds=30), processes=0, poll=0.05)
    t = threading.Thread(target=d.run_until_idle)
    t.start()
    _wait(lambda: any(r.state == "sending" for r in env.store.outbox_rows(iid)), 10,
          "the first claims")
    time.sleep(0.3)  # some sends are on the wire, the rest queued behind them
    env.clock.advance("1m")  # every lease held by d has run out
    t.join(60)
    d.close()
    assert {r.state for r in env.store.outbox_rows(iid)} == {"sent"}
    assert sum(smseagle.count_by_to().values()) == len(rows)
    assert set(smseagle.count_by_to().values()) == {1}
