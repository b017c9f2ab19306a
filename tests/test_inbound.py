"""Replies by real loopback HTTP to a real `incident service --inbound` (subprocess):
each gateway's own form (generic JSON, SMSEagle, Kannel, Mattermost; Matrix through a
loopback fake homeserver speaking the /sync JSON), acknowledging a page by reply stops
that page's escalation and nothing else, replays change nothing, forged senders and
unknown addresses are refused, and a chatty address is rate-limited."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.engine import events as ev
from incident.errors import Refused
from incident.inbound.answers import is_ack
from incident.inbound.server import parse_listen
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = str(REPO / "playbooks")
T0 = datetime.fromisoformat("2026-03-09T14:00:00+08:00")
SECRET = "s3cret-inbound-key-7781"


def fixed(t: datetime) -> str:
    return f"fixed:{t.isoformat()}"


def contacts(tmp_path: Path, channel: str, fmt: str, *, first: str = "sms",
             extra: str = "", rate: str = "3/min") -> Path:
    """A copy of the shipped contacts whose ladder pages on `first` first, with one
    inbound channel."""
    out = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", out)
    esc = out / "escalation.yaml"
    text = esc.read_text(encoding="utf-8")
    other = "chat" if first == "sms" else "sms"
    text = re.sub(r"^channels: \[.*?\]", f"channels: [{first}, {other}]", text, flags=re.M)
    esc.write_text(text, encoding="utf-8")
    (out / "inbound.yaml").write_text(
        f"rate: {rate}\nchannels:\n  {channel}:\n    format: {fmt}\n"
        f"    secret: ${{TEST_INBOUND_SECRET}}\n{extra}", encoding="utf-8")
    return out


def runtime(db_url: str, contacts_dir: Path, when: datetime = T0) -> Runtime:
    return Runtime(load_settings(database_url=db_url, playbooks_dir=REPO / "playbooks",
                                 contacts_dir=contacts_dir, user="chen.jie"),
                   clock=ManualClock(when))


def cli(db_url: str, contacts_dir: Path, when: datetime, *args: str):
    env = {"INCIDENT_CLOCK": fixed(when), "INCIDENT_USER": "chen.jie"}
    return CliRunner().invoke(main, ["--db", db_url, "--playbooks", PLAYBOOKS,
                                     "--contacts", str(contacts_dir), *args], env=env,
                              catch_exceptions=False)


class Service:
    """`incident service --inbound 127.0.0.1:0` as a real process; its output read as it
    comes, the port taken from its "inbound replies on" line."""

    def __init__(self, db_url: str, contacts_dir: Path, when: datetime, *extra: str,
                 secret: str = SECRET):
        env = {**os.environ, "INCIDENT_CLOCK": fixed(when), "INCIDENT_USER": "chen.jie",
               "PYTHONUNBUFFERED": "1", "TEST_INBOUND_SECRET": secret}
        self.p = subprocess.Popen(
            [str(Path(sys.executable).parent / "incident"), "--db", db_url,
             "--playbooks", PLAYBOOKS, "--contacts", str(contacts_dir), "service",
             "--inbound", "127.0.0.1:0", *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.url = ""
        self.listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.listening.wait(60), "service did not listen:\n" + "".join(self.lines)
        assert self.url, "service exited:\n" + "".join(self.lines)

    def _read(self) -> None:
        for line in self.p.stdout:
            self.lines.append(line)
            m = re.search(r"inbound replies on (http://\S+)/\{channel\}", line)
            if m:
                self.url = m.group(1)
                self.listening.set()
        self.listening.set()

    def post(self, channel: str, *, json_body: Any = None, form: dict | None = None,
             query: dict | None = None, headers: dict | None = None,
             method: str = "POST", raw: bytes | None = None) -> tuple[int, dict]:
        url = f"{self.url}/{channel}" + (f"?{urlencode(query)}" if query else "")
        data, hdrs = raw, dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode()
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> str:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=10)
        return "".join(self.lines)


def wait_for(cond, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_fire(db_url: str, cdir: Path) -> str:
    res = cli(db_url, cdir, T0, "start", "fire", "--at", "B3-1201")
    assert res.exit_code == 0, res.output
    return res.output.strip().splitlines()[-1]


def sent_rows(db_url: str, cdir: Path, iid: str, page: str, channel: str) -> list:
    """The page's messages once the service has delivered them (sink channels)."""
    def rows():
        rt = runtime(db_url, cdir)
        try:
            got = [r for r in rt.store.outbox_rows(iid, step_id=f"escalation:{page}")
                   if r.channel == channel]
            return got if got and all(r.state == "sent" for r in got) else None
        finally:
            rt.close()
    return wait_for(rows, what=f"{page} delivered on {channel}")


def events_of(db_url: str, cdir: Path, iid: str) -> list:
    rt = runtime(db_url, cdir)
    try:
        return rt.store.events(iid)
    finally:
        rt.close()


def answered(db_url: str, cdir: Path, iid: str) -> int:
    """Replies and acknowledgements on the timeline (the service also records delivery
    progress meanwhile, so the log's length is no measure)."""
    return sum(1 for e in events_of(db_url, cdir, iid)
               if e.kind in (ev.REPLY_RECEIVED, ev.PAGE_ACKED))


def state_of(db_url: str, cdir: Path, iid: str):
    rt = runtime(db_url, cdir)
    try:
        return rt.engine.state(iid)
    finally:
        rt.close()


# ---- each gateway's own form ------------------------------------------------------------

def _generic(svc: Service, ch: str, sender: str, text: str, pid: str, secret: str | None):
    hdrs = {"X-Incident-Secret": secret} if secret is not None else {}
    return svc.post(ch, json_body={"from": sender, "text": text, "id": pid}, headers=hdrs)


def _smseagle(svc: Service, ch: str, sender: str, text: str, pid: str, secret: str | None):
    form = {"sender": sender.removeprefix("+86"), "text": text, "msgid": pid,
            "timestamp": "20260309140200", "oid": ""}
    if secret is not None:
        form["apikey"] = secret
    return svc.post(ch, form=form)


def _kannel(svc: Service, ch: str, sender: str, text: str, pid: str, secret: str | None):
    # get-url = "http://127.0.0.1:PORT/inbound/sms?from=%p&text=%a&id=%I&key=SECRET"
    query = {"from": "00" + sender.lstrip("+"), "text": text, "id": pid}
    if secret is not None:
        query["key"] = secret
    return svc.post(ch, query=query, method="GET")


def _mattermost(svc: Service, ch: str, sender: str, text: str, pid: str,
                secret: str | None):
    form = {"channel_id": "hw3kq8", "channel_name": "control-room", "team_domain": "estate",
            "team_id": "t1", "timestamp": "1773036120000", "user_id": "u1",
            "user_name": sender, "post_id": pid, "text": f"ack {text}",
            "trigger_word": "ack", "file_ids": ""}
    if secret is not None:
        form["token"] = secret
    return svc.post(ch, form=form)


FORMATS = {  # format: (poster, channel the pages go out on)
    "generic": (_generic, "chat"),
    "smseagle": (_smseagle, "sms"),
    "kannel": (_kannel, "sms"),
    "mattermost": (_mattermost, "chat"),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_reply_in_each_gateways_form_acknowledges_only_that_persons_page(
        db_url, tmp_path, fmt):
    post, channel = FORMATS[fmt]
    cdir = contacts(tmp_path, channel, fmt, first=channel)
    iid = start_fire(db_url, cdir)
    svc = Service(db_url, cdir, T0 + timedelta(minutes=1))
    try:
        p1 = sent_rows(db_url, cdir, iid, "P1", channel)
        first, second = p1[0], p1[1]
        # the page says, in the person's language and in words, how to acknowledge
        assert "回复 1 确认收到" in first.body or "Reply 1 to acknowledge" in first.body
        assert "incident ack" not in first.body
        before = answered(db_url, cdir, iid)
        assert before == 0

        # a forged sender: no secret, then a wrong one — refused, nothing recorded
        status, body = post(svc, channel, first.address, "1", "forged-1", None)
        assert status == 401, body
        status, body = post(svc, channel, first.address, "1", "forged-2", "guess")
        assert status == 403, body
        assert SECRET not in json.dumps(body) and "guess" not in json.dumps(body)
        # an address nobody in the directory has
        stranger = "+8613900000000" if channel == "sms" else "nobody.here"
        status, body = post(svc, channel, stranger, "1", "stranger-1", SECRET)
        assert (status, body["outcome"]) == (403, "unmatched"), body
        # someone the directory knows, but nothing was sent to them: nothing to answer
        st = state_of(db_url, cdir, iid)
        paged = {x for p in st.pages for x in p.get("to") or ()}
        rt = runtime(db_url, cdir)
        try:
            bystander = next(p for p in rt.directory.staff.values()
                             if p.id not in paged and p.channels.get(channel))
        finally:
            rt.close()
        status, body = post(svc, channel, bystander.channels[channel], "1", "by-1", SECRET)
        assert (status, body["outcome"]) == (409, "unroutable"), body
        assert answered(db_url, cdir, iid) == 0

        # the real reply
        status, body = post(svc, channel, first.address, "1", "msg-1001", SECRET)
        assert status == 200, body
        assert body["outcome"] == "recorded" and body["acknowledged"] == "P1", body
        assert body["incident_id"] == iid
        st = state_of(db_url, cdir, iid)
        p1_state = next(p for p in st.pages if p["id"] == "P1")
        assert p1_state["acked_by"] == first.person_id
        others = [p for p in st.pages if p["id"] != "P1"]
        assert others and all(p["acked_at"] is None for p in others), \
            "a reply acknowledged a page it did not answer"
        [reply] = [e for e in events_of(db_url, cdir, iid) if e.kind == ev.REPLY_RECEIVED]
        assert reply.actor == first.person_id
        assert reply.payload["outbox_id"] == first.id and reply.payload["purpose"] == "page"
        assert reply.payload["answer"] == "ack" and reply.payload["text"] == "1"
        [acked] = [e for e in events_of(db_url, cdir, iid) if e.kind == ev.PAGE_ACKED]
        assert acked.payload["pages"] == ["P1"] and acked.payload["via"] == "reply"
        n = answered(db_url, cdir, iid)
        assert n == 2

        # the gateway retries the same message: nothing changes
        status, body = post(svc, channel, first.address, "1", "msg-1001", SECRET)
        assert (status, body["outcome"]) == (200, "duplicate"), body
        assert answered(db_url, cdir, iid) == n

        # the other person on the same page writes words, not an acknowledgement: recorded
        # on the timeline, and the rate limit (3/min) holds for their address
        for i in range(3):  # (the first one hostile: a screen-clearing escape, a newline)
            text = "on my way\x1b[2J\nAcknowledged P2" if i == 0 else "on my way"
            status, body = post(svc, channel, second.address, text, f"m2-{i}", SECRET)
            assert (status, body["outcome"]) == (200, "recorded"), body
            assert "acknowledged" not in body and "answer" not in body
        status, body = post(svc, channel, second.address, "on my way", "m2-9", SECRET)
        assert (status, body["outcome"]) == (429, "rate_limited"), body
        assert answered(db_url, cdir, iid) == n + 3
    finally:
        out = svc.stop()
    assert SECRET not in out, "the secret reached the service's log"
    assert "refused (401" in out and "refused (403 unmatched)" in out
    assert "inbound: " in out and "recorded 4" in out

    # the timeline says who replied, what, and what it did
    log = cli(db_url, cdir, T0 + timedelta(minutes=2), "log", iid)
    assert " replied “" in log.output and ": page P1 acknowledged" in log.output
    assert "\x1b" not in log.output and "\nAcknowledged P2" not in log.output
    pages = cli(db_url, cdir, T0 + timedelta(minutes=2), "escalation", "pages", iid)
    assert f"by {first.person_id} by reply ({channel})" in pages.output
    zh = cli(db_url, cdir, T0 + timedelta(minutes=2), "--lang", "zh", "log", iid)
    assert "回复“" in zh.output and "：已确认呼叫P1" in zh.output
    if fmt == "generic":  # and the post-incident report
        report = cli(db_url, cdir, T0 + timedelta(minutes=2), "report", iid)
        assert report.exit_code == 0, report.output
        assert "” by chat: page P1 acknowledged" in report.output

    # the acknowledged page's escalation stops: six minutes in, the duty officer's
    # wait (5 min) would have paged the security supervisor and the duty manager
    tick = cli(db_url, cdir, T0 + timedelta(minutes=6), "tick")
    assert tick.exit_code == 0, tick.output
    st = state_of(db_url, cdir, iid)
    raised = [p for p in st.pages if p.get("from_page") == "P1" and p.get("trigger") == "no_ack"]
    assert not raised, "escalation went on after the page was acknowledged by reply"


def test_without_a_reply_the_same_page_escalates(db_url, tmp_path):
    """The control for the test above: same ladder, nobody replies."""
    cdir = contacts(tmp_path, "chat", "generic", first="chat")
    iid = start_fire(db_url, cdir)
    tick = cli(db_url, cdir, T0 + timedelta(minutes=6), "tick")
    assert tick.exit_code == 0, tick.output
    st = state_of(db_url, cdir, iid)
    assert [p for p in st.pages if p.get("from_page") == "P1" and p.get("trigger") == "no_ack"]


# ---- Matrix: a loopback homeserver speaking the real /sync JSON -------------------------

class FakeHomeserver:
    """GET /_matrix/client/v3/account/whoami and /sync with since/next_batch, bearer
    token checked; `push` queues timeline events for the next sync."""

    def __init__(self, token: str):
        self.token = token
        self.pending: list[dict] = []
        self.invites: dict[str, dict] = {}
        self.joined: list[str] = []
        self.batch = 0
        self.syncs: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                return

            def _send(self, code: int, doc: dict) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "bad token"})
                    return
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                prefix = "/_matrix/client/v3/join/"
                if not path.startswith(prefix):
                    self._send(404, {"errcode": "M_UNRECOGNIZED"})
                    return
                room = unquote(path[len(prefix):])
                fake.joined.append(room)
                self._send(200, {"room_id": room})

            def do_GET(self):
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "bad token"})
                    return
                parts = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/_matrix/client/v3/account/whoami":
                    self._send(200, {"user_id": "@incident-bot:estate.lan",
                                     "device_id": "BOTDEVICE"})
                    return
                if parts.path != "/_matrix/client/v3/sync":
                    self._send(404, {"errcode": "M_UNRECOGNIZED"})
                    return
                fake.syncs.append(q)
                deadline = time.monotonic() + min(int(q.get("timeout", 0)), 500) / 1000
                while time.monotonic() < deadline and not fake.pending:
                    time.sleep(0.02)
                with fake.lock:
                    events, fake.pending = fake.pending, []
                    invites, fake.invites = fake.invites, {}
                    fake.batch += 1
                    since = q.get("since")
                body: dict[str, Any] = {"next_batch": f"s{fake.batch}_757284961"}
                if invites:
                    body["rooms"] = {"invite": invites, "join": {}, "leave": {}}
                if events:
                    body.setdefault("rooms", {"invite": {}, "leave": {}})
                    body["rooms"]["join"] = {"!dmRoom:estate.lan": {
                        "timeline": {"events": events, "limited": False,
                                     "prev_batch": since or "t0"},
                        "state": {"events": []}, "ephemeral": {"events": []},
                        "account_data": {"events": []},
                        "unread_notifications": {"highlight_count": 0,
                                                 "notification_count": 0}}}
                self._send(200, body)

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                return  # the bot hanging up a long poll at shutdown

        self.httpd = Quiet(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def push(self, sender: str, body: str, event_id: str, msgtype: str = "m.text",
             ts: datetime = T0 + timedelta(minutes=2)) -> None:
        with self.lock:
            self.pending.append({
                "type": "m.room.message", "sender": sender, "event_id": event_id,
                "origin_server_ts": int(ts.timestamp() * 1000), "unsigned": {"age": 120},
                "content": {"msgtype": msgtype, "body": body}})

    def invite(self, room_id: str, inviter: str) -> None:
        with self.lock:
            self.invites[room_id] = {"invite_state": {"events": [
                {"type": "m.room.name", "state_key": "", "sender": inviter,
                 "content": {"name": "Direct chat"}},
                {"type": "m.room.member", "state_key": "@incident-bot:estate.lan",
                 "sender": inviter, "content": {"membership": "invite", "is_direct": True}},
            ]}}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_matrix_reply_read_through_sync_acknowledges_the_page(db_url, tmp_path):
    token = "syt_aW5jaWRlbnQtYm90_matrixtoken_0x1"
    hs = FakeHomeserver(token)
    cdir = contacts(tmp_path, "chat", "matrix", first="chat",
                    extra=f"    homeserver: {hs.url}\n")
    staff = cdir / "staff.yaml"
    staff.write_text(staff.read_text(encoding="utf-8")
                     .replace("chat: ChenJie", "chat: '@chenjie:estate.lan'")
                     .replace("chat: LiuYang", "chat: '@liuyang:estate.lan'"),
                     encoding="utf-8")
    iid = start_fire(db_url, cdir)
    svc = Service(db_url, cdir, T0 + timedelta(minutes=1), secret=token)
    try:
        p1 = sent_rows(db_url, cdir, iid, "P1", "chat")
        person = {r.address: r.person_id for r in p1}
        assert "@chenjie:estate.lan" in person
        wait_for(lambda: hs.syncs, what="the bot's first /sync")
        # a person of the directory opens a direct chat with the bot: it joins; a
        # stranger's invitation is left alone
        hs.invite("!strangerRoom:evil.example", "@stranger:evil.example")
        hs.invite("!dmLiu:estate.lan", "@LiuYang:estate.lan")
        wait_for(lambda: hs.joined, what="the bot joining the direct chat")
        hs.push("@incident-bot:estate.lan", "1", "$own-message")       # its own: skipped
        hs.push("@stranger:evil.example", "1", "$stranger")           # unknown: refused
        # yesterday's "1" in the room (read again after a restart) answers nothing new
        hs.push("@liuyang:estate.lan", "1", "$yesterday", ts=T0 - timedelta(days=1))
        hs.push("@chenjie:estate.lan", "see picture", "$img", msgtype="m.image")
        hs.push("@chenjie:estate.lan", "收到", "$143273582443PhrSn:estate.lan")
        hs.push("@chenjie:estate.lan", "收到", "$143273582443PhrSn:estate.lan")  # replay
        st = wait_for(lambda: (s := state_of(db_url, cdir, iid)).replies and s,
                      what="the Matrix reply on the timeline")
        p1_state = next(p for p in st.pages if p["id"] == "P1")
        assert p1_state["acked_by"] == person["@chenjie:estate.lan"]
        wait_for(lambda: len(hs.syncs) >= 3, what="more syncs")
        replies = [e for e in events_of(db_url, cdir, iid) if e.kind == ev.REPLY_RECEIVED]
        assert len(replies) == 1 and replies[0].payload["channel"] == "chat"
        assert replies[0].payload["provider_id"] == "$143273582443PhrSn:estate.lan"
        # the sync loop follows next_batch and long-polls
        assert hs.joined == ["!dmLiu:estate.lan"]
        later = [q for q in hs.syncs if q.get("since")]
        assert later and later[0]["since"].startswith("s") and int(later[0]["timeout"]) > 0
    finally:
        out = svc.stop()
        hs.close()
    assert token not in out
    assert "reading rooms as @incident-bot:estate.lan" in out
    assert "refused (403 unmatched)" in out and "refused (409 unroutable)" in out


# ---- the listener's own rules -------------------------------------------------------------

def test_listener_is_loopback_unless_asked_and_needs_inbound_yaml_channels():
    assert parse_listen("127.0.0.1:8025") == ("127.0.0.1", 8025)
    assert parse_listen(":0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:8025") == ("::1", 8025)
    with pytest.raises(Refused, match="not a loopback address"):
        parse_listen("0.0.0.0:8025")
    assert parse_listen("0.0.0.0:8025", public=True) == ("0.0.0.0", 8025)
    with pytest.raises(Refused, match="HOST:PORT"):
        parse_listen("localhost:http")


def test_service_refuses_a_public_address_without_the_flag(tmp_path):
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "--playbooks",
                                    PLAYBOOKS, "--contacts", str(REPO / "contacts"),
                                    "service", "--inbound", "0.0.0.0:8025"],
                             env={"INCIDENT_USER": "chen.jie"})
    assert res.exit_code != 0 and "not a loopback address" in res.output


def test_validate_names_a_broken_inbound_file(tmp_path):
    cdir = contacts(tmp_path, "wechat", "generic")
    env = {"INCIDENT_USER": "chen.jie"}
    res = CliRunner().invoke(main, ["--playbooks", PLAYBOOKS, "--contacts", str(cdir),
                                    "validate"], env=env)
    assert res.exit_code == 1
    assert "inbound.yaml:3" in res.output and "'wechat' is not a channel" in res.output
    (cdir / "inbound.yaml").write_text("channels:\n  sms:\n    format: smsgle\n"
                                       "    secret: ${X}\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["--playbooks", PLAYBOOKS, "--contacts", str(cdir),
                                    "validate"], env=env)
    assert res.exit_code == 1 and "inbound.yaml:3" in res.output and "format" in res.output


def test_gateway_forms_read_without_a_server():
    """The shapes that need no page to check: Kannel's post-url (text body, X-Kannel
    headers, key in the URL), Mattermost's JSON, missing fields named."""
    from incident.inbound.adapters import InboundError, Request, read
    from incident.inbound.config import InboundChannel

    kannel = InboundChannel("sms", "kannel", "K", SECRET)
    msg = read(kannel, Request("POST", f"key={SECRET}", {
        "content-type": "text/plain; charset=utf-8", "x-kannel-from": "+8617720246633",
        "x-kannel-time": "2026-03-09 14:02:00"}, "确认=收到".encode()))
    assert (msg.sender, msg.text) == ("+8617720246633", "确认=收到")
    assert msg.provider_id.startswith("h:")  # no %I: from + text + time
    mm = InboundChannel("chat", "mattermost", "M", SECRET, trigger="ack")
    msg = read(mm, Request("POST", "", {"content-type": "application/json"}, json.dumps({
        "token": SECRET, "user_name": "chenjie", "text": "ACK 收到", "post_id": "p1x",
        "trigger_word": "", "team_id": "t", "channel_id": "c"}).encode()))
    assert (msg.sender, msg.text, msg.provider_id) == ("chenjie", "收到", "p1x")
    with pytest.raises(InboundError, match="field 'msgid'") as err:
        read(InboundChannel("sms", "smseagle", "S", SECRET), Request(
            "GET", urlencode({"sender": "1", "text": "1", "apikey": SECRET}), {}, b""))
    assert err.value.status == 400
    with pytest.raises(InboundError) as err:
        read(InboundChannel("chat", "generic", "G", ""), Request(
            "POST", "", {"x-incident-secret": ""}, b'{"from":"a","text":"1","id":"x"}'))
    assert err.value.status == 403 and "no secret set" in err.value.reason


def test_what_counts_as_an_acknowledgement():
    for text in ("1", "１", " ok ", "OK!", "收到", "确认", "确认收到。", "好的"):
        assert is_ack(text), text
    for text in ("2", "1 but cannot come", "no", "", "不行"):
        assert not is_ack(text), text
