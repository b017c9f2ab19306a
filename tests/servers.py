"""Real notification receivers on 127.0.0.1 for tests and benchmarks.

Each server speaks a real gateway's request shape, records what it received, and
can be told to misbehave: add latency, answer errors, hang past the client's
timeout, or refuse connections (the listening socket is closed and reopened on
the same port).

- ``SmtpServer`` — aiosmtpd; stores every message (envelope recipients, subject,
  text body). ``fail(code)`` answers DATA with an SMTP error (451 temporary,
  554 permanent). Like a real MTA it answers once the message is stored: the raw
  bytes are kept and parsed (MIME, headers) only when ``messages()`` is asked.
- ``SmsEagleServer`` — SMSEagle's JSON-RPC API (``POST /jsonrpc/sms`` with
  ``{"method": "sms.send_sms", "params": {"access_token", "to", "message", ...}}``),
  the shape Apprise's ``smseagle://TOKEN@host:port/+86…`` sends.
- ``MattermostServer`` — an incoming webhook (``POST /hooks/TOKEN`` with
  ``{"text", "channel", "username"}``), what ``mmost://host:port/TOKEN`` sends.
- ``JsonGateway`` — an in-house gateway fed by ``json://host:port/path``
  (``{"version", "title", "message", "type"}``).

Nothing here is mocked: clients open real sockets. Use as context managers, or
call ``start()``/``stop()``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HttpReceiver", "JsonGateway", "MattermostServer", "Received", "SmsEagleServer",
           "SmtpServer", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Received:
    """One delivered message, normalised across servers."""

    to: str
    subject: str
    body: str
    raw: Any = field(default=None, compare=False, repr=False)


class _Faults:
    """Shared misbehaviour controls (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency = 0.0
        self._fail: list[tuple[int | None, Any]] = []  # (remaining or None=forever, code)
        self.hang = 0.0
        self.requests = 0
        self.retry_after: str | None = None  # Retry-After header sent with a 429
        # drop the connection without an answer when it has already carried this many
        # messages (None: never); SMTP: at "mail" (before the message) or "data" (after it)
        self.drop_after: int | None = None
        self.drop_at = "mail"

    def drop_connections_after(self, messages: int | None, at: str = "mail") -> None:
        """Close each connection, unannounced, once it has carried `messages` messages."""
        self.drop_after = messages
        self.drop_at = at

    def set_latency(self, seconds: float) -> None:
        self.latency = float(seconds)

    def fail(self, code: Any, times: int | None = None) -> None:
        """Answer the next `times` requests (None: all) with this error."""
        with self._lock:
            self._fail = [(times, code)]

    def hang_for(self, seconds: float) -> None:
        """Sleep this long before answering (beyond the client's read timeout)."""
        self.hang = float(seconds)

    def heal(self) -> None:
        with self._lock:
            self._fail = []
        self.hang = 0.0
        self.latency = 0.0
        self.drop_after = None

    def next_failure(self) -> Any:
        with self._lock:
            self.requests += 1
            if not self._fail:
                return None
            left, code = self._fail[0]
            if left is None:
                return code
            if left <= 1:
                self._fail = []
            else:
                self._fail = [(left - 1, code)]
            return code


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a burst of thousands of connections must not be reset

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet
        pass


class HttpReceiver:
    """A threaded HTTP server on 127.0.0.1 that records JSON requests."""

    name = "http"

    def __init__(self, port: int = 0):
        self.faults = _Faults()
        self.received: list[Received] = []
        self.requests: list[dict[str, Any]] = []
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows here)
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    def start(self) -> HttpReceiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real gateways' servers (nginx, Go, Node) set it: without
            # it the answer's body waits for the client's delayed ACK (40 ms) on every
            # request after the first of a kept-alive connection (Nagle)
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                self.carried = 0
                with owner._lock:
                    owner.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                drop = owner.faults.drop_after
                if drop is not None and self.carried >= drop:
                    self.close_connection = True  # hang up without an answer
                    return
                self.carried += 1
                owner._handle(self, raw)

        server = _Server(("127.0.0.1", self._port), Handler)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"{self.name}-{self._port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def refuse(self) -> None:
        """Close the listening socket: clients get 'connection refused'."""
        self.stop()

    def accept(self) -> None:
        """Listen again on the same port after refuse()."""
        if self._server is None:
            self.start()

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- recording -------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        f = self.faults
        if f.latency:
            time.sleep(f.latency)
        if f.hang:
            time.sleep(f.hang)
        try:
            doc = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            doc = {}
        with self._lock:
            self.requests.append({"path": h.path, "headers": dict(h.headers), "json": doc})
        code = f.next_failure()
        if code is not None:
            extra = {"Retry-After": f.retry_after} if int(code) == 429 and f.retry_after \
                else None
            self._reply(h, int(code), {"error": f"injected {code}"}, extra)
            return
        status, answer, rec = self.accept_request(h.path, doc)
        if rec is not None:
            with self._lock:
                self.received.append(rec)
        self._reply(h, status, answer)

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, answer: Any,
               headers: dict[str, str] | None = None) -> None:
        body = (answer if isinstance(answer, bytes) else json.dumps(answer).encode())
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except OSError:  # the client gave up (timeout)
            pass

    def accept_request(self, path: str, doc: dict) -> tuple[int, Any, Received | None]:
        return 200, {"ok": True}, Received("", str(doc.get("title", "")),
                                           str(doc.get("message", "")), doc)

    # ---- assertions helpers ------------------------------------------------------------
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def count_by_to(self) -> Counter:
        return Counter(m.to for m in self.messages())

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.requests.clear()
            self.connections = 0
        self.faults.heal()
        self.faults.requests = 0


class SmsEagleServer(HttpReceiver):
    """SMSEagle JSON-RPC: POST /jsonrpc/sms, method sms.send_sms."""

    name = "smseagle"

    def __init__(self, token: str = "eagle-secret-token", port: int = 0):
        super().__init__(port)
        self.token = token
        self._next_id = 0

    def accept_request(self, path: str, doc: dict) -> tuple[int, Any, Received | None]:
        params = doc.get("params") or {}
        if path.split("?")[0] != "/jsonrpc/sms" or doc.get("method") != "sms.send_sms":
            return 404, {"result": {"error_text": "unknown method", "status": "error"}}, None
        if params.get("access_token") != self.token:
            return 200, {"result": {"error_text": "Invalid login or password",
                                    "status": "error"}}, None
        with self._lock:
            self._next_id += 1
            mid = self._next_id
        rec = Received(str(params.get("to", "")), "", str(params.get("message", "")), doc)
        return 200, {"result": {"message_id": mid, "status": "ok"}}, rec


class MattermostServer(HttpReceiver):
    """Mattermost incoming webhook: POST /hooks/TOKEN {text, channel, username}."""

    name = "mattermost"

    def __init__(self, token: str = "mmhooktoken1234567890", port: int = 0):
        super().__init__(port)
        self.token = token

    def accept_request(self, path: str, doc: dict) -> tuple[int, Any, Received | None]:
        if path.rstrip("/").split("?")[0] != f"/hooks/{self.token}":
            return 404, {"id": "web.incoming_webhook.invalid", "status_code": 404}, None
        rec = Received(str(doc.get("channel", "")), "", str(doc.get("text", "")), doc)
        return 200, b"ok", rec


class JsonGateway(HttpReceiver):
    """An in-house gateway behind json://: the recipient is the last path part."""

    name = "json"

    def accept_request(self, path: str, doc: dict) -> tuple[int, Any, Received | None]:
        to = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        return 200, {"ok": True}, Received(to, str(doc.get("title", "")),
                                           str(doc.get("message", "")), doc)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 that keeps every message it accepts.

    ``login=(user, password)``: AUTH is offered (without TLS) and any other
    credentials get ``535 5.7.8``. ``unknown``: mailboxes answered ``550 5.1.1`` at RCPT.
    """

    def __init__(self, port: int = 0, login: tuple[str, str] | None = None,
                 unknown: set[str] | None = None):
        self.login = login
        self.unknown = set(unknown or ())
        self._port = port or free_port()
        self._raw: list[tuple[tuple[str, ...], bytes]] = []  # (rcpt_tos, content)
        self._parsed: list[Received] = []
        self._parsed_from: list[int] = []  # one entry per raw message already parsed
        self.sessions = 0  # SMTP connections accepted (session reuse shows here)
        self.faults = _Faults()
        self._lock = threading.Lock()
        self._controller = None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        owner = self

        def hang_up(server: Any, session: Any, stage: str) -> bool:
            f = owner.faults
            if f.drop_after is None or f.drop_at != stage \
                    or getattr(session, "carried", 0) < f.drop_after:
                return False
            server.transport.close()
            return True

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, mail_options):
                if hang_up(server, session, "mail"):
                    return "421 4.3.0 closing"  # never read: the connection is gone
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 OK"

            async def handle_RCPT(self, server, session, envelope, address, options):
                if address.lower() in owner.unknown:
                    return f"550 5.1.1 <{address}>: Recipient address rejected: " \
                           "User unknown in local recipient table"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                if hang_up(server, session, "data"):
                    return "451 4.3.0 closing"  # never read: the connection is gone
                session.carried = getattr(session, "carried", 0) + 1
                f = owner.faults
                if f.latency:
                    await asyncio.sleep(f.latency)
                if f.hang:
                    await asyncio.sleep(f.hang)
                code = f.next_failure()
                if code is not None:
                    text = "Requested action aborted: try again later" if str(code)[0] == "4" \
                        else "Transaction failed: mailbox unavailable"
                    return f"{code} {text}"
                with owner._lock:
                    owner._raw.append((tuple(envelope.rcpt_tos), envelope.content))
                return "250 Message accepted for delivery"

        # server_hostname: name the greeting without a socket.getfqdn() per connection
        # (a blocking resolver call on the server's one event-loop thread)
        auth: dict[str, Any] = {}
        if self.login is not None:
            from aiosmtpd.smtp import AuthResult

            def check(server, session, envelope, mechanism, data) -> AuthResult:
                user = data.login.decode() if isinstance(data.login, bytes) else data.login
                word = data.password.decode() if isinstance(data.password, bytes) \
                    else data.password
                return AuthResult(success=(user, word) == owner.login, handled=False)

            auth = {"authenticator": check, "auth_require_tls": False}
        class Counting(Controller):
            def factory(self):  # called once per accepted connection
                with owner._lock:
                    owner.sessions += 1
                return super().factory()

        self._controller = Counting(Handler(), hostname="127.0.0.1", port=self._port,
                                      server_hostname="localhost", ready_timeout=5.0, **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    refuse = stop

    def accept(self) -> None:
        if self._controller is None:
            self.start()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def received(self) -> list[Received]:
        return self.messages()

    def messages(self) -> list[Received]:
        """Every accepted message (one per envelope recipient), parsed on first ask."""
        with self._lock:
            for rcpts, content in self._raw[len(self._parsed_from):]:
                msg = email.message_from_bytes(content, policy=email.policy.default)
                part = msg.get_body(preferencelist=("plain", "html"))
                body = part.get_content() if part is not None else ""
                subject = str(msg.get("Subject", ""))
                self._parsed.extend(Received(r, subject, body.strip(), msg) for r in rcpts)
                self._parsed_from.append(len(rcpts))
            return list(self._parsed)

    def count_by_to(self) -> Counter:
        """Recipients counted from the envelopes alone (no parsing)."""
        with self._lock:
            return Counter(r for rcpts, _ in self._raw for r in rcpts)

    def reset(self) -> None:
        with self._lock:
            self._raw.clear()
            self._parsed.clear()
            self._parsed_from.clear()
            self.sessions = 0
        self.faults.heal()
        self.faults.requests = 0
