"""Notification building blocks: SMS length, channels.yaml, secrets, planning, preview, CLI."""

from __future__ import annotations

import csv
import io
import os
import shutil

import pytest
from click.testing import CliRunner
from fixtures_notify import PLAYBOOK, build_env, make_estate

from incident.errors import ValidationFailed
from incident.notify import (
    Masker,
    channel_names,
    load_channels,
    preview,
    read_secrets_file,
    send_test,
    sink,
    sms_segments,
)


# ---- SMS length -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("", ("GSM-7", 0)),
    ("a" * 160, ("GSM-7", 1)),
    ("a" * 161, ("GSM-7", 2)),
    ("a" * 306, ("GSM-7", 2)),
    ("a" * 307, ("GSM-7", 3)),
    ("{" * 80, ("GSM-7", 1)),        # extension characters count twice
    ("{" * 81, ("GSM-7", 2)),
    ("停" * 70, ("UCS-2", 1)),
    ("停" * 71, ("UCS-2", 2)),
    ("停" * 134, ("UCS-2", 2)),
    ("停" * 135, ("UCS-2", 3)),
    ("a" * 69 + "停", ("UCS-2", 1)),  # one Chinese character makes it all UCS-2
    ("🔥" * 35, ("UCS-2", 1)),        # outside the BMP: two units each
    ("🔥" * 36, ("UCS-2", 2)),
])
def test_sms_segments(text, expected):
    assert sms_segments(text) == expected


# ---- channels.yaml ----------------------------------------------------------------------
def _write(tmp_path, text):
    p = tmp_path / "channels.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_channels_use_the_sink_and_load_cleanly():
    cs = load_channels("contacts/channels.yaml", env={})
    assert set(cs.names()) == {"sms", "email", "chat"}
    assert all(ch.scheme == "sink" for ch in cs) and not cs.warnings
    assert cs["sms"].subject is False and cs["email"].subject is True
    assert channel_names("contacts") == {"sms", "email", "chat"}


def test_missing_file_gives_sink_defaults(tmp_path):
    assert load_channels(tmp_path / "channels.yaml").names() == {"sms", "email", "chat"}


def test_channel_errors_name_file_line_and_fix(tmp_path):
    p = _write(tmp_path, """\
defaults:
  concurency: 4
channels:
  sms:
    url: "smseagle://${T}@gw/{phone}"
    retrys: 2
  email:
    url: "nosuch://host/{email}"
  chat:
    url: "mmost://host/tok"
  wecom:
    url: "wecombot://${K}/{chat}"
  pager:
    kind: sms
    url: "json://gw/{email}"
""")
    with pytest.raises(ValidationFailed) as exc:
        load_channels(p, env={})
    text = "\n".join(i.format() for i in exc.value.issues)
    assert "channels.yaml:2" in text and "unknown key 'concurency'" in text \
        and "did you mean 'concurrency'" in text
    assert "channels.yaml:6" in text and "'retrys'" in text
    errs = ValidationFailed(exc.value.issues)
    assert len(errs.errors) == 2  # pydantic errors stop before the semantic checks
    p.write_text(p.read_text().replace("concurency", "concurrency").replace("retrys",
                                                                            "retries"))
    with pytest.raises(ValidationFailed) as exc:
        load_channels(p, env={})
    text = "\n".join(i.format() for i in exc.value.issues)
    assert "Apprise has no service 'nosuch://'" in text and "channels.yaml:8" in text
    assert "never names the recipient" in text and "put {chat}" in text
    assert "channel 'wecom' needs a 'kind'" in text
    assert "unknown placeholder '{email}'" in text and "{phone}" in text


def test_unset_secret_is_a_warning_at_load_and_an_error_when_used(tmp_path):
    p = _write(tmp_path, 'channels:\n  sms:\n    url: "smseagle://${SMS_TOKEN}@gw/{phone}"\n')
    cs = load_channels(p, env={})
    assert [w.severity for w in cs.warnings] == ["warning"]
    assert "${SMS_TOKEN} is not set: channel 'sms'" in cs.warnings[0].format()
    _url, outcome = send_test(cs, "sms", "+8613800000001")
    assert outcome.status == "failed_permanent"
    assert "channel 'sms' needs ${SMS_TOKEN}" in outcome.error
    ok = load_channels(p, env={"SMS_TOKEN": "s3cr3t-value"})
    assert not ok.warnings
    assert ok.url_for("sms", "+86 138") == "smseagle://s3cr3t-value@gw/%2B86%20138?cto=10&rto=10"
    assert "s3cr3t" not in ok.masked_template("sms")


def test_secrets_file_must_be_private(tmp_path):
    f = tmp_path / "secrets"
    f.write_text("# tokens\nexport SMS_TOKEN='abc123'\nMM_HOOK=xyz789\n", encoding="utf-8")
    os.chmod(f, 0o644)
    with pytest.raises(ValidationFailed) as exc:
        read_secrets_file(f)
    assert "readable by others" in str(exc.value) and "chmod 600" in str(exc.value)
    os.chmod(f, 0o600)
    assert read_secrets_file(f) == {"SMS_TOKEN": "abc123", "MM_HOOK": "xyz789"}
    p = _write(tmp_path, 'channels:\n  sms:\n    url: "smseagle://${SMS_TOKEN}@gw/{phone}"\n')
    assert load_channels(p, secrets_file=f, env={}).secrets == {"SMS_TOKEN": "abc123"}


def test_masker_hides_secrets_and_credentials():
    m = Masker(["tok-123456", "p@ss/word"])
    text = m("failed https://user:hunter2@gw/x?token=abc&x=1 tok-123456 p%40ss%2Fword")
    assert "hunter2" not in text and "abc" not in text and "tok-123456" not in text
    assert "p%40ss" not in text and "***@gw" in text and "x=1" in text


def test_send_test_through_the_sink(tmp_path):
    sink.configure(tmp_path / "s.jsonl")
    try:
        cs = load_channels("contacts/channels.yaml", env={})
        url, outcome = send_test(cs, "sms", "+8613800000001", lang="zh")
        assert outcome.status == "sent" and url.startswith("sink://sms/")
        rec = sink.read(tmp_path / "s.jsonl")
        assert rec[0]["to"] == "+8613800000001" and "测试消息" not in rec[0]["subject"]
        assert "应急通知渠道" in rec[0]["body"]
    finally:
        sink.configure(None)


# ---- planning --------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path, db_url):
    e = build_env(tmp_path, db_url)
    yield e
    e.store.close()


def test_planning_writes_one_row_per_recipient_with_fallbacks(env):
    iid = env.queue()
    rows = {r.person_id: r for r in env.store.outbox_rows(iid)}
    assert len(rows) == 9  # B3 owners; B3-1201 is named twice but gets one row
    li = rows["owner:B3-1201:2"]
    assert (li.channel, li.fallback_channels, li.lang) == ("sms", ["email"], "en")
    assert li.idempotency_key == f"{iid}:tell_owners:owner:B3-1201:2:sms"
    assert li.subject == "Water off in Building 3" and li.body.startswith("Dear Li Ming,")
    assert rows["owner:B3-1502:1"].fallback_channels == ["chat"]
    assert rows["owner:B3-1201:1"].body.startswith("尊敬的马晓宇：3号楼水管爆裂")
    assert not any(r.drill for r in rows.values())
    queued = next(e for e in env.store.events(iid) if e.kind == "notify.queued")
    assert queued.payload["recipients"] == 9 and queued.payload["channels"] == {"sms": 9}
    # the rows were written with their event
    assert {r.event_seq for r in rows.values()} == {queued.seq}


def test_recipients_without_a_usable_channel_are_reported(env):
    iid = env.start()
    env.engine.act(iid, "tell_all_email", actor="night.officer")
    n = env.engine.state(iid).notifications["tell_all_email"]
    assert n["messages"] == 4 and n["recipients"] == 16 and n["unreachable"] == 12
    assert "owner:B3-1201:1" in n["unreachable_ids"]


def test_drill_messages_are_marked_in_each_language(env):
    iid = env.queue(drill=True)
    rows = {r.person_id: r for r in env.store.outbox_rows(iid)}
    assert all(r.drill for r in rows.values())
    assert rows["owner:B3-1201:2"].subject.startswith("[DRILL] Water off")
    assert rows["owner:B3-1201:1"].body.startswith("[演练] 尊敬的")


def test_preview_shows_languages_segments_and_audience(env):
    iid = env.start()
    st = env.engine.state(iid)
    p = preview(env.engine.planner, st, "tell_owners", env.clock.now())
    assert p.recipients == 9 and p.per_channel == {"sms": 9} and p.fallbacks == {"sms": 2}
    assert set(p.rendered) == {"en", "zh"}
    assert p.rendered["zh"].encoding == "UCS-2" and p.rendered["zh"].segments == 1
    assert p.rendered["en"].encoding == "GSM-7" and p.rendered["zh"].recipients == 8
    assert not env.store.outbox_rows(iid)  # a preview writes nothing
    p2 = preview(env.engine.planner, st, "tell_all_email", env.clock.now())
    assert len(p2.unreachable) == 12 and p2.per_channel == {"email": 4}


# ---- CLI -------------------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    contacts = make_estate(tmp_path / "contacts")
    pb = tmp_path / "playbooks"
    pb.mkdir()
    (pb / "burst.yaml").write_text(PLAYBOOK, encoding="utf-8")
    shutil.copy("contacts/channels.yaml", contacts / "channels.yaml")
    monkeypatch.setenv("INCIDENT_CONTACTS_DIR", str(contacts))
    monkeypatch.setenv("INCIDENT_PLAYBOOKS_DIR", str(pb))
    monkeypatch.setenv("INCIDENT_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("INCIDENT_USER", "night.officer")
    sink.configure(tmp_path / "sink.jsonl")
    yield tmp_path
    sink.configure(None)


def _run(*args):
    from incident.cli import main

    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res


def test_cli_act_delivers_and_deliveries_reports(cli_env):
    iid = _run("start", "burst", "--at", "B3-1201").output.strip()
    res = _run("notify", "preview", iid, "tell_owners")
    assert res.exit_code == 0 and "9 recipient(s)" in res.output and "sms 9" in res.output
    res = _run("act", iid, "tell_owners")
    assert res.exit_code == 0, res.output
    assert "queued 9 messages" in res.output and "delivered 9/9" in res.output
    assert len(sink.read(cli_env / "sink.jsonl")) == 9
    res = _run("deliveries", iid, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert len(rows) == 9 and {r["state"] for r in rows} == {"sent"}
    assert {r["channel"] for r in rows} == {"sms"} and rows[0]["name"]
    res = _run("deliveries", iid)
    assert "9 message(s): sent 9" in res.output


def test_cli_act_no_send_then_notify_send(cli_env):
    iid = _run("start", "burst", "--at", "B3-1201").output.strip()
    res = _run("act", iid, "tell_staff", "--no-send")
    assert "not sent yet" in res.output and not sink.read(cli_env / "sink.jsonl")
    res = _run("notify", "send", iid)
    assert res.exit_code == 0 and "2 message(s) sent" in res.output
    assert "delivered 2/2" in res.output
    assert _run("dispatch").output.strip() == "0 message(s) sent"


def test_cli_notify_test_and_channels(cli_env):
    res = _run("notify", "test", "sms", "+8613800000001")
    assert res.exit_code == 0 and "sent in" in res.output and "local sink" in res.output
    res = _run("notify", "test", "fax", "1")
    assert res.exit_code == 1 and "channel 'fax' is not configured" in res.output
    res = _run("notify", "channels")
    assert "sink://sms/{phone}" in res.output and "concurrency 16" in res.output


def test_cli_notify_test_reports_a_failure(cli_env, smseagle):
    (cli_env / "contacts" / "channels.yaml").write_text(
        f'channels:\n  sms:\n    url: "smseagle://${{SMSEAGLE_TOKEN}}@127.0.0.1:{smseagle.port}'
        '/{phone}"\n', encoding="utf-8")
    os.environ["SMSEAGLE_TOKEN"] = "not-the-token"
    try:
        res = _run("notify", "test", "sms", "+8613800000001")
    finally:
        del os.environ["SMSEAGLE_TOKEN"]
    assert res.exit_code == 1 and "Invalid login" in res.output
    assert "not-the-token" not in res.output
