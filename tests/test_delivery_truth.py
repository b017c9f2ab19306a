"""What the officer sees is what reached people (issue 12).

A notify step shows its *own* messages per recipient (delivered / waiting / failed
for good, per channel); a target measured on a notify step is met when its
messages are delivered, not when the step is marked done; messages that failed
for good can be sent again as a new attempt chain. Real loopback gateways.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fixtures_notify import ENV, PLAYBOOK, build_env, make_estate, write_channels

from incident.engine import events as ev
from incident.notify.retry import retry_failed
from incident.notify.tally import step_tallies, tallies, tally
from incident.report import build_incident_report, to_markdown
from incident.views import status_lines

TARGETS = PLAYBOOK + """\
targets:
  - id: owners_warned
    title: {en: Every owner warned by SMS, zh: 全体业主已短信通知}
    within: 6m
    met_by: tell_all_sms
  - id: most_b3_warned
    title: {en: Most B3 owners warned, zh: 大部分3号楼业主已通知}
    within: 6m
    met_by: tell_owners
    delivered: 50%
"""

OFFICER = "night.officer"


def _retry(env, iid, **kw):
    return retry_failed(env.engine, iid, actor=OFFICER, channels=env.channels(),
                        directory=env.engine.directory, **kw)


def test_a_notify_target_is_not_met_while_none_of_its_messages_is_delivered(
        tmp_path, db_url, smseagle):
    env = build_env(tmp_path, db_url, playbook=TARGETS, sms=smseagle, retries=1)
    smseagle.refuse()  # the SMS gateway is down: connection refused
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor=OFFICER)
    st = env.engine.state(iid)
    assert st.steps["tell_all_sms"].status == "done"
    assert st.targets["owners_warned"].status(env.clock.now()) == "pending"  # done ≠ warned

    d = env.dispatcher()
    d.run_until_idle()
    st = env.engine.state(iid)
    assert st.targets["owners_warned"].met_at is None
    live = step_tallies(env.store, iid)["tell_all_sms"]  # what status and the console show
    assert (live.delivered, live.waiting) == (0, 16)
    assert "tell_all_sms" not in st.step_delivery  # waiting for a retry is no fact for the log
    env.clock.advance("11s")
    d.run_until_idle()  # the retry fails too: out of retries, failed for good
    t = tally("tell_all_sms", env.store.outbox_rows(iid))
    assert (t.recipients, t.delivered, t.waiting, t.failed) == (16, 0, 0, 16)
    env.clock.advance("7m")
    env.engine.tick(iid)
    st = env.engine.state(iid)
    assert st.targets["owners_warned"].status(env.clock.now()) == "missed"
    text = "\n".join(status_lines(st, env.clock.now(), UTC, "en",
                                  step_tallies(env.store, iid)))
    assert "delivered 0/16, failed for good 16 (sms 0 delivered, 16 failed)" in text
    assert "met when every reachable recipient has a message delivered" in text

    rep = build_incident_report(env.store, env.engine.playbooks, env.engine.directory, iid,
                                now=env.clock.now())
    row = next(r for r in rep.targets if r.id == "owners_warned")
    assert row.status == "missed" and row.met_at is None
    assert row.how == "met when every reachable recipient has a message delivered"
    block = next(b for b in rep.notifications if b.step == "tell_all_sms")
    assert (block.reached, block.failed, len(block.never_reached)) == (0, 16, 16)
    zh = to_markdown(build_incident_report(env.store, env.engine.playbooks,
                                           env.engine.directory, iid, now=env.clock.now(),
                                           lang="zh"))
    assert "每位可联系的收件人至少收到一条消息即达成" in zh and "最终失败: 16" in zh

    smseagle.accept()  # the gateway is back: send again what failed for good
    res = _retry(env, iid)
    assert res.per_step == {"tell_all_sms": 16}
    d.run_until_idle()
    assert sorted(Counter(m.to for m in smseagle.messages()).values()) == [1] * 16
    st = env.engine.state(iid)
    target = st.targets["owners_warned"]
    assert target.status(env.clock.now()) == "met_late" and target.reached == (16, 16)
    assert target.met_at == env.clock.now()
    rows = env.store.outbox_rows(iid, "tell_all_sms")
    old = [r for r in rows if ":retry" not in r.idempotency_key]
    new = [r for r in rows if ":retry" in r.idempotency_key]
    assert len(old) == len(new) == 16
    assert {r.state for r in old} == {"failed_permanent"}  # the failure stays in the history
    assert all(len(env.store.attempts(r.id)) == 2 for r in old)
    assert {r.state for r in new} == {"sent"}
    retried = [e for e in env.store.events(iid) if e.kind == ev.NOTIFY_RETRIED]
    assert len(retried) == 1 and retried[0].actor == OFFICER
    assert sorted(retried[0].payload["replaces"]) == sorted(r.id for r in old)
    assert {r.event_seq for r in new} == {retried[0].seq}
    last = env.store.incident(iid).last_seq
    rep = build_incident_report(env.store, env.engine.playbooks, env.engine.directory, iid,
                                now=env.clock.now())
    row = next(r for r in rep.targets if r.id == "owners_warned")
    assert row.status == "met_late" and "(16/16 reached at the time)" in row.how
    block = next(b for b in rep.notifications if b.step == "tell_all_sms")
    assert (block.reached, block.failed, block.retried, block.never_reached) == (16, 0, 16, [])
    assert [(c.channel, c.total, c.sent) for c in block.channels] == [("sms", 16, 16)]
    assert _retry(env, iid).messages == 0  # nothing failed any more: nothing is written
    assert env.store.incident(iid).last_seq == last
    env.store.close()


def test_a_retried_chain_falls_back_with_its_own_keys(tmp_path, db_url, smseagle, smtp,
                                                       mattermost):
    env = build_env(tmp_path, db_url, playbook=TARGETS, sms=smseagle, smtp=smtp,
                    chat=mattermost, retries=0)
    smseagle.faults.fail(400)  # every SMS refused for good
    smtp.faults.fail(554)      # and every e-mail
    iid = env.start()
    env.engine.act(iid, "tell_owners", actor=OFFICER)
    d = env.dispatcher()
    d.run_until_idle()
    t = tally("tell_owners", env.store.outbox_rows(iid))
    # Guo Yan's SMS failed, her chat message went: she is delivered
    assert (t.recipients, t.delivered, t.failed) == (9, 1, 8)
    assert (t.channel("sms").fell_back, t.channel("sms").failed) == (2, 7)
    assert step_tallies(env.store, iid, "tell_owners") == {"tell_owners": t}
    assert t.channel("email").failed == 1 and t.channel("chat").delivered == 1
    assert env.engine.state(iid).targets["most_b3_warned"].met_at is None

    smtp.faults.heal()  # mail is back, SMS still refused
    res = _retry(env, iid, step="tell_owners")
    assert res.per_step == {"tell_owners": 8}
    d.run_until_idle()
    li = [r for r in env.store.outbox_rows(iid) if r.person_id == "owner:B3-1201:2"]
    assert [(r.channel, r.state) for r in li] == [
        ("sms", "fell_back"), ("email", "failed_permanent"),
        ("sms", "fell_back"), ("email", "sent")]
    assert li[3].idempotency_key.endswith(":email" + li[2].idempotency_key.rsplit(":sms", 1)[1])
    assert [m.to for m in smtp.messages()] == ["li.ming@example.com"]
    t = tally("tell_owners", env.store.outbox_rows(iid))
    assert (t.delivered, t.failed) == (2, 7)
    assert step_tallies(env.store, iid)["tell_owners"] == t  # the SQL aggregate agrees
    assert env.engine.state(iid).targets["most_b3_warned"].met_at is None  # 2/9 < 50%

    smseagle.faults.heal()
    assert _retry(env, iid, step="tell_owners", channel="sms").per_step == {"tell_owners": 7}
    d.run_until_idle()
    st = env.engine.state(iid)
    target = st.targets["most_b3_warned"]
    assert target.status(env.clock.now()) == "met" and target.reached == (9, 9)
    assert st.step_delivery["tell_owners"]["delivered"] == 9
    env.store.close()


def test_a_delivery_the_log_missed_is_caught_up_by_the_next_send(tmp_path, db_url, smseagle):
    """A dispatcher that recorded its sends but never appended progress (killed, or run
    without an engine): the target waits until an explicit send reconciles the log."""
    from incident.notify.reconcile import reconcile_progress

    env = build_env(tmp_path, db_url, playbook=TARGETS, sms=smseagle)
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor=OFFICER)
    env.dispatcher(engine=None).run_until_idle()
    assert len(smseagle.messages()) == 16
    assert env.engine.state(iid).targets["owners_warned"].met_at is None  # not told yet
    assert reconcile_progress(env.engine, iid) == ["tell_all_sms"]
    target = env.engine.state(iid).targets["owners_warned"]
    assert target.reached == (16, 16) and target.met_at <= env.clock.now()
    last = env.store.incident(iid).last_seq
    assert reconcile_progress(env.engine, iid) == []  # up to date: nothing written
    assert env.store.incident(iid).last_seq == last
    env.store.close()


def test_a_step_counts_its_own_messages_per_recipient():
    t0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)

    def row(i, step, person, channel, state, sent=None):
        return SimpleNamespace(id=i, step_id=step, person_id=person, channel=channel,
                               state=state, sent_at=sent)

    rows = [row(1, "warn", "a", "sms", "fell_back"), row(2, "warn", "b", "sms", "sent", t0),
            row(3, "warn", "c", "sms", "failed_temporary"),
            row(4, "escalation:p1", "duty", "sms", "sent", t0),
            row(5, "escalation:p1", "boss", "sms", "sent", t0),
            row(6, "warn", "a", "email", "sent", t0 + timedelta(seconds=5))]
    t = tally("warn", rows)
    assert (t.recipients, t.delivered, t.waiting, t.failed, t.messages) == (3, 2, 1, 0, 4)
    assert t.delivered_at == t0 + timedelta(seconds=5)
    assert (t.channel("sms").delivered, t.channel("sms").fell_back,
            t.channel("sms").waiting) == (1, 1, 1)
    assert list(tallies(rows)) == ["warn", "escalation:p1"]


def test_delivered_threshold_only_on_notify_steps(tmp_path):
    from incident.errors import ValidationFailed
    from incident.playbook import load_playbook

    bad = TARGETS.replace("met_by: tell_owners\n    delivered: 50%",
                          "met_by: resolved\n    delivered: 50%")
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_playbook(path)
    assert "'delivered' only applies to a target met by a notify step" in str(
        [i.format() for i in exc.value.issues])
    path.write_text(TARGETS.replace("delivered: 50%", "delivered: 150%"), encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_playbook(path)
    assert "150%" in str([i.format() for i in exc.value.issues])


# ---- CLI ---------------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path, monkeypatch, smseagle):
    contacts = make_estate(tmp_path / "contacts")
    write_channels(contacts, sms=smseagle, retries=0)
    pb = tmp_path / "playbooks"
    pb.mkdir()
    (pb / "burst.yaml").write_text(TARGETS, encoding="utf-8")
    monkeypatch.setenv("INCIDENT_CONTACTS_DIR", str(contacts))
    monkeypatch.setenv("INCIDENT_PLAYBOOKS_DIR", str(pb))
    monkeypatch.setenv("INCIDENT_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("INCIDENT_USER", OFFICER)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)

    def run(*args):
        from incident.cli import main

        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


def test_cli_act_with_the_gateway_down_fails_and_retry_delivers(cli, smseagle):
    iid = cli("start", "burst", "--at", "B3-1201").output.strip()
    smseagle.refuse()
    res = cli("act", iid, "tell_all_sms")
    assert res.exit_code == 1, res.output
    assert "delivered 0/16, failed for good 16" in res.output
    assert "sent 0" not in res.output and "16 recipients failed for good" in res.output
    assert f"incident notify retry {iid} --step tell_all_sms" in res.output
    res = cli("status", iid)
    assert "messages: delivered 0/16" in res.output
    assert "Every owner warned by SMS" in res.output
    owners = next(line for line in res.output.splitlines() if "Every owner warned" in line)
    assert "met" not in owners.split("due", 1)[1].replace("met when", "")
    res = cli("notify", "send", iid)
    assert res.exit_code == 1 and "16 recipients failed for good" in res.output

    smseagle.accept()
    res = cli("notify", "retry", iid, "--step", "tell_all_sms")
    assert res.exit_code == 0, res.output
    assert "tell_all_sms: 16 messages queued again" in res.output
    assert "delivered 16/16" in res.output and len(smseagle.messages()) == 16
    res = cli("status", iid, "--format", "json")
    import json

    doc = json.loads(res.output)
    assert doc["targets"]["owners_warned"]["status"] == "met"
    assert doc["targets"]["owners_warned"]["rule"] == "delivered"
    assert doc["delivery"]["tell_all_sms"]["delivered"] == 16
    res = cli("notify", "retry", iid)
    assert res.exit_code == 0 and "nothing failed for good" in res.output
    assert os.environ.get("INCIDENT_USER") == OFFICER


HALF = TARGETS + """\
  - id: half_warned
    title: {en: Half the owners warned, zh: 半数业主已通知}
    within: 6m
    met_by: tell_all_sms
    delivered: 50%
"""


def test_a_200_message_send_logs_facts_not_a_count_every_tick(tmp_path, db_url, smseagle):
    """Delivery progress is derived from the outbox: while 200 SMS go out, status (and
    the console, which reads the same tallies) shows live counts, and the hash-chained
    log gains only facts — the half-way target met, the step finished — not one
    delivery.progress per 1.5 s."""
    env = build_env(tmp_path, db_url, playbook=HALF, sms=smseagle, owners=200,
                    concurrency=2)
    smseagle.faults.set_latency(0.01)
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor=OFFICER)
    before = env.store.incident(iid).last_seq
    live: list[tuple[int, str]] = []

    def watch(incident_id: str, _payload: dict) -> None:
        found = step_tallies(env.store, incident_id)
        st = env.engine.state(incident_id)
        line = next(x for x in status_lines(st, env.clock.now(), UTC, delivery=found)
                    if "delivered" in x)
        live.append((found["tell_all_sms"].delivered, line))

    env.dispatcher(progress_every=0.02, on_progress=watch).run_until_idle()
    assert len(smseagle.messages()) == 200
    middle = [(n, line) for n, line in live if 0 < n < 200]
    assert len(middle) >= 3, live  # status showed the send as it went
    assert any(f"delivered {n}/200" in line for n, line in middle)
    facts = [e for e in env.store.events(iid, after_seq=before)
             if e.kind == ev.DELIVERY_PROGRESS]
    assert 1 <= len(facts) <= 3, [e.payload["delivered"] for e in facts]
    assert len(live) > len(facts)
    st = env.engine.state(iid)
    half, full = st.targets["half_warned"], st.targets["owners_warned"]
    assert half.reached[1] == 200 and 100 <= half.reached[0] < 200  # met on the way
    assert full.reached == (200, 200) and half.met_at <= full.met_at
    assert env.store.verify(iid).ok
    env.store.close()


def test_an_old_log_full_of_progress_events_still_folds_and_verifies(tmp_path, db_url,
                                                                      smseagle):
    """Logs written before facts-only recording hold a delivery.progress per tick:
    they fold to the latest figures, meet their targets and verify."""
    from incident.notify.tally import progress_fields
    from incident.store import NewEvent

    env = build_env(tmp_path, db_url, playbook=TARGETS, sms=smseagle)
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor=OFFICER)
    env.dispatcher(engine=None).run_until_idle()
    final = progress_fields(step_tallies(env.store, iid)["tell_all_sms"])
    ticks = [{**final, "delivered": n, "waiting": 16 - n, "delivered_at": None}
             for n in (3, 9, 14)] + [final]
    env.engine.append_events(iid, lambda st, now: [
        NewEvent(ev.DELIVERY_PROGRESS, ev.SYSTEM, p, now) for p in ticks])
    st = env.engine.state(iid)
    assert st.step_delivery["tell_all_sms"]["delivered"] == 16
    assert st.targets["owners_warned"].reached == (16, 16)
    assert env.store.verify(iid).ok
    rep = build_incident_report(env.store, env.engine.playbooks, env.engine.directory, iid,
                                now=env.clock.now())
    row = next(r for r in rep.targets if r.id == "owners_warned")
    assert row.status == "met" and row.met_at is not None
    block = next(b for b in rep.notifications if b.step == "tell_all_sms")
    assert (block.reached, block.failed) == (16, 0)
    env.store.close()
