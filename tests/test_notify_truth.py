"""What a send reports is what the server said; what is sent is what was meant.

Real loopback servers: aiosmtpd with a login and an unknown mailbox, an SMSEagle
gateway answering 429 with Retry-After. No mocks on the delivery path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fixtures_notify import ENV, build_env, make_estate
from servers import SmtpServer

from incident.directory import load_directory
from incident.errors import Refused, ValidationFailed
from incident.notify import load_channels, send_test
from incident.notify.send import PERMANENT, SENT, TEMPORARY, send_one

SMTP_USER = "noreply@estate.cn"          # what Exmail and DirectMail use as the login
SMTP_PASSWORD = "p@ss/w#rd?x&y=1"       # every character that used to break the URL


def _email_channels(folder: Path, smtp: SmtpServer, **limits: str) -> Path:
    lines = ["defaults:", "  retries: 2", "  backoff: 10s", "  timeout: 2s", "channels:",
             "  sms:", '    url: "sink://sms/{phone}"',
             "  email:",
             f'    url: "mailto://${{SMTP_USER}}:${{SMTP_PASSWORD}}@127.0.0.1:{smtp.port}/'
             '{email}?from=noreply%40estate.cn&mode=insecure"',
             "  chat:", '    url: "sink://chat/{chat}"']
    path = folder / "channels.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_smtp_login_with_an_at_sign_user_and_a_symbol_password_works(tmp_path):
    with SmtpServer(login=(SMTP_USER, SMTP_PASSWORD)) as smtp:
        path = _email_channels(tmp_path, smtp)
        cs = load_channels(path, env={"SMTP_USER": SMTP_USER, "SMTP_PASSWORD": SMTP_PASSWORD})
        assert not cs.warnings
        url, out = send_test(cs, "email", "li.ming@example.com")
        assert out.status == SENT, out.error
        assert SMTP_PASSWORD not in url and quote(SMTP_PASSWORD, safe="") not in url
        assert [m.to for m in smtp.messages()] == ["li.ming@example.com"]


def test_a_bad_smtp_login_is_permanent_with_the_servers_535(tmp_path, db_url):
    with SmtpServer(login=(SMTP_USER, SMTP_PASSWORD)) as smtp:
        env = build_env(tmp_path, db_url, smtp=smtp)
        _email_channels(env.contacts, smtp)
        iid = env.start()
        env.engine.act(iid, "tell_all_email", actor="night.officer")
        d = env.dispatcher(channels=env.channels(
            {"SMTP_USER": SMTP_USER, "SMTP_PASSWORD": "wrong"}))
        d.run_until_idle()
        rows = env.store.outbox_rows(iid)
        assert rows and {r.state for r in rows} == {"failed_permanent"}
        assert all(r.attempts == 1 for r in rows)  # no minutes of retries on a bad login
        assert all("SMTP 535" in r.last_error and "Authentication" in r.last_error
                   for r in rows), rows[0].last_error
        assert "wrong" not in rows[0].last_error
        assert not smtp.messages()
        env.store.close()


def test_an_unknown_mailbox_is_permanent_with_the_servers_550(tmp_path, db_url):
    with SmtpServer(unknown={"li.ming@example.com"}) as smtp:
        env = build_env(tmp_path, db_url, smtp=smtp)
        iid = env.start()
        env.engine.act(iid, "tell_all_email", actor="night.officer")
        env.dispatcher().run_until_idle()
        rows = {r.address: r for r in env.store.outbox_rows(iid)}
        bad = rows.pop("li.ming@example.com")
        assert bad.state == "failed_permanent" and bad.attempts == 1
        assert "SMTP 550" in bad.last_error and "User unknown" in bad.last_error
        assert rows and {r.state for r in rows.values()} == {"sent"}
        assert sorted(m.to for m in smtp.messages()) == sorted(rows)
        env.store.close()


def test_smtp_4xx_is_temporary_and_a_refused_connection_says_so(smtp):
    url = f"mailto://127.0.0.1:{smtp.port}/a%40example.com?from=n%40e.cn&mode=insecure&cto=2"
    smtp.faults.fail(421, times=1)
    out = send_one(url, "t", "b")
    assert out.status == TEMPORARY and "SMTP 421" in out.error
    smtp.stop()
    out = send_one(url, "t", "b")
    assert out.status == TEMPORARY and "refused" in out.error


def test_a_429_with_a_long_retry_after_is_a_temporary_failure_not_a_sleep(notify_env,
                                                                         smseagle):
    env = notify_env
    iid = env.start()
    env.engine.act(iid, "tell_all_sms", actor="night.officer")
    smseagle.faults.fail(429)
    smseagle.faults.retry_after = "600"
    t0 = time.monotonic()
    env.dispatcher().run_until_idle()
    assert time.monotonic() - t0 < 60  # nobody slept out ten minutes
    now = env.clock.now()
    rows = env.store.outbox_rows(iid)
    assert rows and {r.state for r in rows} == {"failed_temporary"}
    for r in rows:
        assert "HTTP 429" in r.last_error and "Retry-After 600" in r.last_error
        assert r.next_attempt_at == now + timedelta(seconds=600)  # not the 10 s back-off
    smseagle.faults.heal()
    env.clock.advance("5m")
    env.dispatcher().run_until_idle()
    assert {r.state for r in env.store.outbox_rows(iid)} == {"failed_temporary"}
    env.clock.advance("6m")
    env.dispatcher().run_until_idle()
    assert {r.state for r in env.store.outbox_rows(iid)} == {"sent"}


def test_a_gateway_that_says_no_for_good_shows_its_status(smseagle):
    url = f"smseagle://{ENV['SMSEAGLE_TOKEN']}@127.0.0.1:{smseagle.port}/+8613800000001"
    smseagle.faults.fail(403)
    out = send_one(url, "", "hi")
    assert out.status == PERMANENT and "HTTP 403" in out.error


def test_email_goes_as_plain_text_with_newlines_and_chinese_intact(smtp):
    url = f"mailto://127.0.0.1:{smtp.port}/li.ming%40example.com?from=n%40e.cn&mode=insecure"
    title = "B3栋停水通知 <紧急> & 请注意"
    body = "尊敬的业主：\n3号楼水管爆裂，停水至 18:00。\nA < B & C > D <b>not bold</b>\n热线 962777"
    out = send_one(url, title, body)
    assert out.status == SENT, out.error
    (msg,) = smtp.messages()
    assert msg.subject == title
    raw = msg.raw
    assert raw.get_content_type() == "text/plain"
    assert not [p for p in raw.walk() if p.get_content_type() == "text/html"]
    assert raw.get_content().replace("\r\n", "\n").strip() == body


def test_an_address_the_mail_sender_would_misread_is_refused_at_import(tmp_path):
    folder = make_estate(tmp_path / "contacts")
    rows = (folder / "owners.csv").read_text(encoding="utf-8").splitlines()
    rows.append("B3-1501,Sean O'Neil,13700000099,o'neil.sean@example.com,,en,,,")
    (folder / "owners.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_directory(folder)
    text = str(err.value)
    assert "owners.csv" in text and f":{len(rows)}" in text
    assert "o'neil.sean@example.com" in text and "'neil.sean@example.com'" in text


def test_notify_test_normalises_a_phone_number_like_the_roster(tmp_path, smseagle):
    env = build_env(tmp_path, "sqlite:///" + str(tmp_path / "db.sqlite"), sms=smseagle)
    cs = env.channels()
    _url, out = send_test(cs, "sms", "138 0000 0001")
    assert out.status == SENT, out.error
    assert [m.to for m in smseagle.messages()] == ["+8613800000001"]
    with pytest.raises(Refused, match="not a valid mainland mobile"):
        send_test(cs, "sms", "138 0000")
    env.store.close()


def test_validate_warns_about_a_url_whose_host_or_port_is_lost(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text('channels:\n  email:\n    url: "mailtos://user:pa#ss@smtp.estate.cn:465/'
                    '{email}"\n', encoding="utf-8")
    cs = load_channels(path, env={})
    assert any("channels.email.url" in w.format() or "email" in w.format()
               for w in cs.warnings)
    assert any("percent-encode" in w.format() for w in cs.warnings)


CHILD_PARENT = r"""
import sys, time
from incident.notify.procs import SendProcesses
procs = SendProcesses(2, 4)
print(" ".join(str(c.proc.pid) for c in procs._children), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for init to reap it is gone for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")
def test_send_processes_die_with_their_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(CHILD_PARENT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                              text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        # a child still importing under load arms the signal (or sees it is orphaned) late
        end = time.monotonic() + 60
        while any(_alive(p) for p in pids) and time.monotonic() < end:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


class _MatrixRateLimited:
    """A Matrix homeserver's client API that logs in and joins, then answers every
    message with 429 M_LIMIT_EXCEEDED and retry_after_ms (ten minutes)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler

        from servers import _Server

        owner = self
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                owner.paths.append(self.path)
                code, answer = 200, {}
                if "/send/" in self.path:
                    code, answer = 429, {"errcode": "M_LIMIT_EXCEEDED",
                                         "error": "Too many requests",
                                         "retry_after_ms": 600_000}
                elif "/join" in self.path:
                    answer = {"room_id": "!duty:estate.lan"}
                elif "/login" in self.path:
                    answer = {"access_token": "t0k", "user_id": "@bot:estate.lan",
                              "device_id": "D1"}
                body = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_a_matrix_retry_after_is_not_slept_out_inside_the_send():
    """Apprise's Matrix plugin sleeps out retry_after_ms inside notify(); the send's
    deadline stops it: a temporary failure carrying the ten minutes asked for."""
    mx = _MatrixRateLimited()
    try:
        t0 = time.monotonic()
        out = send_one(f"matrix://bot:pw@127.0.0.1:{mx.port}/!duty:estate.lan?mode=off",
                       "Burst", "Water off in B3", deadline=5)
        took = time.monotonic() - t0
    finally:
        mx.stop()
    assert any("/send/" in p for p in mx.paths)
    assert out.status == TEMPORARY and out.retry_after == 600
    assert "HTTP 429" in out.error and "wait 600 s" in out.error
    assert took < 30  # well inside any lease; without the deadline: ten minutes


# ---- what the officer reads (CLI) ----------------------------------------------------------
@pytest.fixture
def cli(tmp_path, monkeypatch):
    import shutil

    from fixtures_notify import PLAYBOOK

    from incident.notify import sink

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


def _run(*args: str):
    from click.testing import CliRunner

    from incident.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_notify_test_sends_one_sms_to_a_spaced_number(cli):
    from incident.notify import sink

    res = _run("notify", "test", "sms", "138 0000 0001")
    assert res.exit_code == 0, res.output
    got = sink.read(cli / "sink.jsonl")
    assert len(got) == 1 and "+8613800000001" in str(got[0])
    res = _run("notify", "test", "sms", "138 0000")
    assert res.exit_code != 0 and "not a valid mainland mobile" in res.output
    assert "Traceback" not in res.output


def test_cli_deliveries_shows_the_smtp_servers_refusal(cli, monkeypatch):
    with SmtpServer(login=(SMTP_USER, SMTP_PASSWORD)) as smtp:
        _email_channels(cli / "contacts", smtp)
        monkeypatch.setenv("SMTP_USER", SMTP_USER)
        monkeypatch.setenv("SMTP_PASSWORD", "not-the-password")
        iid = _run("start", "burst", "--at", "B3-1201").output.strip()
        _run("act", iid, "tell_all_email")
        res = _run("deliveries", iid)
    assert "SMTP 535" in res.output and "failed_permanent" in res.output
    assert "Connection error while submitting email" not in res.output.split("SMTP 535")[0]
    assert "not-the-password" not in res.output


def test_a_tls_certificate_that_does_not_verify_is_permanent_and_says_so(tmp_path):
    """A self-signed certificate on the SMTP server: retrying cannot fix it."""
    import shutil
    import socket
    import ssl
    import threading

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=smtp.estate.lan", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:  # an SMTPS server as far as the handshake: the client gives up
        with listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"220 smtp.estate.lan ESMTP\r\n")
            except (OSError, ssl.SSLError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    out = send_one(f"mailtos://127.0.0.1:{port}/a%40example.com?from=n%40e.cn&mode=ssl&cto=3",
                   "t", "b")
    t.join(5)
    assert out.status == PERMANENT
    assert "TLS certificate verify failed" in out.error
