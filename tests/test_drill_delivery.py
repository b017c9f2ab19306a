"""A drill against real loopback endpoints: nothing reaches them, the sandbox gets every
message, and an injected channel fault goes through retries and fall-back as live."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from fixtures_notify import ENV, write_channels

from incident.clock import ManualClock
from incident.config import load_settings
from incident.drill import load_scenario, run_auto, sandbox_fault
from incident.notify import build_dispatcher, sink
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def wired(tmp_path, db_url, smtp, smseagle, mattermost, monkeypatch):
    """The shipped estate, its channels pointed at the loopback servers (3 attempts, 10 s)."""
    contacts = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", contacts)
    write_channels(contacts, smtp=smtp, sms=smseagle, chat=mattermost)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    sink.configure(tmp_path / "sink.jsonl")
    clock = ManualClock()
    rt = Runtime(load_settings(database_url=db_url, contacts_dir=contacts), clock=clock)
    yield rt, tmp_path / "sink.jsonl"
    rt.close()
    sink.configure(None)


def test_drill_reaches_no_endpoint_and_faults_fall_back(wired, smtp, smseagle, mattermost):
    rt, sink_file = wired
    loaded = load_scenario(REPO / "playbooks" / "drills" / "elevator_rescue.yaml", rt.playbooks,
                           rt.directory, rt.channel_names)
    with build_dispatcher(rt) as dispatcher:
        run = run_auto(rt.engine, loaded, rt.clock, dispatcher=dispatcher)
        assert dispatcher.faults_hit > 0
    iid = run.incident_id

    # nothing reached the real (loopback) endpoints
    assert smseagle.faults.requests == smtp.faults.requests == mattermost.faults.requests == 0
    assert not smseagle.messages() and not smtp.messages() and not mattermost.messages()

    # the sandbox recorded every message that was delivered, marked as a drill
    rows = rt.store.outbox_rows(iid)
    sent = [r for r in rows if r.state == "sent"]
    recorded = sink.read(sink_file)
    assert len(recorded) == len(sent) > 150 and all(m["drill"] for m in recorded)
    assert Counter(m["channel"] for m in recorded) == Counter(r.channel for r in sent)
    assert all(m["body"].startswith(("[DRILL] ", "[演练] ")) for m in recorded)

    # WeCom went down at T+43 for 10 min; the building notice was queued at T+44:
    # every chat row failed 3 times (retries 2, back-off 10 s, 20 s) and fell back to SMS
    notice = [r for r in rows if r.step_id == "notify_building"]
    chat = [r for r in notice if r.channel == "chat"]
    assert chat and all(r.attempts == 3 for r in chat)
    fell = [r for r in chat if r.state == "fell_back"]
    # a recipient with no other channel fails for good, exactly as live
    assert len(fell) >= len(chat) - 2 and {r.state for r in chat} <= {"fell_back",
                                                                      "failed_permanent"}
    for r in fell[:3]:
        att = rt.store.attempts(r.id)
        assert [a.status for a in att] == ["failed_temporary", "failed_temporary",
                                           "failed_permanent"]
        assert [(a.started_at - run.started_at).total_seconds() for a in att] == \
            [2640, 2650, 2670]
    sms_for = {r.person_id: r for r in notice if r.channel == "sms"}
    assert all(sms_for[r.person_id].state == "sent" for r in fell)
    assert all(r.last_error.startswith("fell back to sms: gave up after 3 attempt(s)")
               for r in fell)
    # messages before the fault went through on the first attempt
    start = run.started_at
    before = [r for r in rows if r.created_at < start + timedelta(minutes=43)]
    assert before and all(r.state == "sent" and r.attempts == 1 for r in before)
    # the fault is derived from the log: active in its window only
    assert sandbox_fault(rt.store, iid, "chat", start + timedelta(minutes=45))
    assert sandbox_fault(rt.store, iid, "chat", start + timedelta(minutes=53)) is None
    assert sandbox_fault(rt.store, iid, "sms", start + timedelta(minutes=45)) is None


def test_live_messages_on_the_drill_dispatcher_go_out_for_real(wired, smseagle, mattermost):
    """The drill dispatcher sandboxes drills only: a live incident's messages go out."""
    rt, sink_file = wired
    st = rt.engine.start("fire", "B3-1302", actor="chen.jie", severity=2)
    rt.engine.act(st.id, "confirm_alarm", actor="chen.jie", option="real_fire")
    rt.engine.act(st.id, "start_internal_plan", actor="chen.jie")
    with build_dispatcher(rt, incident_id=st.id) as d:
        d.run_until_idle()
        assert d.faults_hit == 0
    assert rt.store.outbox_rows(st.id, "start_internal_plan")
    rows = rt.store.outbox_rows(st.id)  # the plan's messages and the escalation pages
    assert all(r.state == "sent" and not r.drill for r in rows)
    assert len(mattermost.messages()) + len(smseagle.messages()) == len(rows)
    assert not sink.read(sink_file)
