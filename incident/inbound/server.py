"""The inbound listener of `incident service --inbound HOST:PORT`.

A stdlib ThreadingHTTPServer in its own thread (one thread per request), so the
service's sweep never waits on a gateway and a slow gateway never waits on the sweep.
Routes: ``POST /inbound/{channel}`` (GET too, for gateways configured to call with GET:
SMSEagle, Kannel's get-url) and ``GET /inbound`` for the counters (no addresses, no
secrets). Loopback by default; any other host only when asked for explicitly.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from incident.errors import Refused
from incident.i18n import bilingual, t
from incident.inbound.adapters import MAX_BODY, Request
from incident.inbound.router import Inbox


def parse_listen(text: str, *, public: bool = False) -> tuple[str, int]:
    """"HOST:PORT" (or ":PORT", or "PORT": loopback). A host that is not loopback is
    refused unless `public` (the operator asked for it, behind TLS and a firewall)."""
    raw = str(text).strip()
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        host, port_text = "", raw
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise Refused("refused.inbound.bad_address", raw=raw, example="127.0.0.1:8025") from None
    if not public and not _loopback(host):
        raise Refused("refused.inbound.not_loopback", raw=raw, host=host)
    return host, port


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    inbox: Inbox

    def __init__(self, addr: tuple[str, int], inbox: Inbox):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.inbox = inbox
        super().__init__(addr, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send its request (no slow-loris hold)
    server_version = "incident-inbound"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return  # the inbox logs each message (masked); no query strings with keys in logs

    def _reply(self, status: int, body: dict[str, Any], retry_after: float | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if retry_after:
            self.send_header("Retry-After", str(max(1, round(retry_after))))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        segs = [unquote(s) for s in parts.path.split("/") if s]
        if segs == ["inbound"] and self.command == "GET":
            self._reply(200, {"counts": dict(self.server.inbox.counts)})
            return
        if len(segs) != 2 or segs[0] != "inbound":
            self._reply(404, {"ok": False, "outcome": "not_found",
                              "reason": "post replies to /inbound/{channel}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._reply(413, {"ok": False, "outcome": "malformed",
                              "reason": f"the body must be at most {MAX_BODY} bytes"})
            return
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, parts.query,
                      {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            out = self.server.inbox.handle(segs[1], req)
        except Exception as exc:  # the database away: the gateway retries later
            inbox = self.server.inbox
            inbox.say(t("refused.inbound.log_failed", inbox.lang, channel=segs[1],
                        error=type(exc).__name__))
            self._reply(503, {"ok": False, "outcome": "error",
                              "reason": "could not record the reply now; retry later"},
                        retry_after=5)
            return
        retry = None
        if out.status == 429:
            retry = self.server.inbox.config.per
        elif out.status == 503:
            retry = 2
        body_out = out.body()
        ch = self.server.inbox.config.channels.get(segs[1])
        if ch is not None and ch.format == "mattermost" and out.outcome == "recorded":
            body_out["text"] = confirmation(out)  # Mattermost posts it under the reply
        self._reply(out.status, body_out, retry_after=retry)

    do_POST = _handle
    do_GET = _handle


def confirmation(out: Any) -> str:
    """The answer to the sender, in both languages (the number may be anyone's)."""
    if out.acknowledged:
        said = bilingual("inbound.acknowledged", page=out.acknowledged)
    else:
        said = bilingual("inbound.received")
    return f"{said['zh']} / {said['en']}"


class InboundServer:
    """The listener thread (start(), stop()); `port` is the one bound (0 picks a free one)."""

    def __init__(self, inbox: Inbox, host: str, port: int):
        self.inbox = inbox
        self.httpd = _Server((host, port), inbox)
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={
            "poll_interval": 0.2}, name="inbound-http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/inbound"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
