"""`incident serve`: the console in a browser, for staff only.

textual-serve on its own serves a fully interactive console to anyone who can reach
the port, and to any web page open in a browser on that machine (a WebSocket from a
foreign Origin drives it). This server adds what a served console needs:

- Sign-in: a one-time link printed on start (it signs in the person who ran
  `incident serve`, once), or a staff id with that person's password (`incident staff
  set-password`; hashed at rest). A session is a random cookie (HttpOnly,
  SameSite=Strict; Secure behind https), kept only as its hash.
- Host and Origin: every request must name this server (Host) — DNS rebinding fails —
  and every WebSocket and form post must come from its own page (Origin).
- Attribution: each browser session runs its own console as the signed-in person; the
  child proves it was started by this server with an HMAC ticket keyed by a secret
  only this process and its children hold.
- Read-only: `--read-only` serves consoles that follow along and refuse every act.
- Every asset is local (our own page template; textual-serve's bundled JS, CSS, fonts).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

log = logging.getLogger("incident.serve")

COOKIE = "incident_session"
SESSION_TTL = 12 * 3600.0  # one shift and a half
TICKET_ENV = "INCIDENT_SERVE_SECRET"
MAX_FAILURES, LOCKOUT = 5, 60.0  # wrong passwords per person before a pause (seconds)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WEB_DIR = Path(__file__).parent / "web"
PERSON = web.RequestKey("person", str)  # the signed-in staff id of a request
PROVEN = web.RequestKey("proven", bool)  # ...and whether that proves them (see Session)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_ticket(secret: str, person: str, read_only: bool, proven: bool = True) -> str:
    """Proof that a console child was started by this server for `person` (signed in by
    password, or by the link of a starter who was `proven` rather than only declared)."""
    text = f"{person}\n{int(read_only)}\n{int(proven)}"
    return hmac.new(secret.encode("utf-8"), text.encode(), hashlib.sha256).hexdigest()


def check_ticket(person: str, read_only: bool, ticket: str | None, proven: bool = True) -> bool:
    secret = os.environ.get(TICKET_ENV, "")
    return bool(secret and ticket) and hmac.compare_digest(
        make_ticket(secret, person, read_only, proven), ticket or "")


def server_secret() -> str:
    """The ticket key, created once per serving process and inherited by its children."""
    secret = os.environ.get(TICKET_ENV)
    if not secret:
        secret = secrets.token_hex(32)
        os.environ[TICKET_ENV] = secret
    return secret


@dataclass(slots=True)
class Session:
    person: str
    expires: float
    proven: bool = True  # False: signed in by the link of a starter who only declared


class Gate:
    """Who may use the served console: allowed Host/Origin, the one-time link,
    password sign-in with a pause after repeated failures, and sessions."""

    def __init__(self, public_url: str, *, link_person: str | None,
                 check_password: Callable[[str, str], str | None],
                 clock: Callable[[], float] = time.monotonic, link_proven: bool = True):
        parts = urlsplit(public_url)
        self.public_url = public_url.rstrip("/")
        self.secure = parts.scheme == "https"
        default = 443 if self.secure else 80
        port = parts.port or default
        self.hosts = {parts.netloc.lower()}
        if parts.port in (None, default):
            self.hosts.add(f"{parts.hostname}:{default}".lower())
        if parts.hostname in LOOPBACK_NAMES:
            self.hosts |= {f"{name}:{port}" for name in LOOPBACK_NAMES}
        self.origins = {f"{parts.scheme}://{h}" for h in self.hosts}
        if parts.port in (None, default):
            self.origins.add(f"{parts.scheme}://{parts.hostname}".lower())
        self.link_person = link_person
        self.link_proven = link_proven
        self.link_token = secrets.token_urlsafe(32) if link_person else None
        self._link_hash = _digest(self.link_token) if self.link_token else None
        self.check_password = check_password  # (person, password) -> staff id or None
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.failures: dict[str, tuple[int, float]] = {}

    # ---- where a request comes from ----------------------------------------------------
    def host_ok(self, host: str | None) -> bool:
        return bool(host) and host.lower() in self.hosts

    def origin_ok(self, origin: str | None) -> bool:
        return bool(origin) and origin.lower().rstrip("/") in self.origins

    # ---- the one-time link -------------------------------------------------------------
    @property
    def link(self) -> str | None:
        return f"{self.public_url}/login?token={self.link_token}" if self.link_token else None

    def use_link(self, token: str) -> str | None:
        """The person the link signs in, once; None for a wrong or used token."""
        if self._link_hash is None or not token:
            return None
        if not hmac.compare_digest(_digest(token), self._link_hash):
            return None
        self._link_hash = None  # one time only
        return self.link_person

    # ---- sessions ----------------------------------------------------------------------
    def open_session(self, person: str, proven: bool = True) -> str:
        sid = secrets.token_urlsafe(32)
        self.sessions[_digest(sid)] = Session(person, self.clock() + SESSION_TTL, proven)
        return sid

    def session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        key = _digest(sid)
        s = self.sessions.get(key)
        if s is None:
            return None
        if s.expires < self.clock():
            del self.sessions[key]
            return None
        return s

    def close_session(self, sid: str | None) -> None:
        if sid:
            self.sessions.pop(_digest(sid), None)

    # ---- passwords -----------------------------------------------------------------------
    def locked(self, person: str) -> bool:
        count, until = self.failures.get(person, (0, 0.0))
        return count >= MAX_FAILURES and self.clock() < until

    def sign_in(self, person: str, password: str) -> str | None:
        """A staff id when `password` is theirs; None otherwise (and when paused)."""
        person = person.strip()
        if not person or self.locked(person):
            return None
        who = self.check_password(person, password)
        if who is None:
            count, _ = self.failures.get(person, (0, 0.0))
            self.failures[person] = (count + 1, self.clock() + LOCKOUT)
            return None
        self.failures.pop(person, None)
        return who


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{title} — sign in · 登录</title>
<style>
 body {{ background:#0c181f; color:#eee; font-family: menlo, monospace; display:flex;
        align-items:center; justify-content:center; height:100vh; margin:0; }}
 form {{ background:#12232d; padding:32px; width:360px; }}
 label {{ display:block; margin-top:12px; }}
 input {{ width:100%; padding:8px; margin-top:4px; box-sizing:border-box; }}
 button {{ margin-top:20px; padding:10px 24px; background:#a3262a; color:#fff; border:0; }}
 .msg {{ color:#ff8a80; margin-top:12px; }}
</style></head><body>
<form method="post" action="/login">
 <h2>{title}</h2>
 <div>Staff sign-in · 员工登录</div>
 <label>Staff id · 员工编号<input name="person" autocomplete="username" required></label>
 <label>Password · 密码<input name="password" type="password"
   autocomplete="current-password" required></label>
 <button type="submit">Sign in · 登录</button>
 <div class="msg">{message}</div>
</form></body></html>"""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; img-src 'self' data: blob:; connect-src 'self' {ws}; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


class StaffServer(Server):
    """textual-serve's server behind the Gate; one console per session, run as its person."""

    def __init__(self, gate: Gate, command_for: Callable[[str, bool], str], *, host: str,
                 port: int,
                 title: str, read_only: bool = False):
        super().__init__("incident console", host=host, port=port, title=title,
                         public_url=gate.public_url, templates_path=WEB_DIR)
        self.gate = gate
        self.command_for = command_for
        self.read_only = read_only
        ws = gate.public_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        self.csp = CSP.format(ws=ws)

    def initialize_logging(self) -> None:
        """incident's own setup (rotating file, stderr, secrets masked) instead of
        textual-serve's rich log; INFO unless configured, so sign-ins and refusals show."""
        import sys

        from incident import logs
        from incident.config import load_settings

        settings = load_settings()
        logs.setup(settings, stderr=sys.stderr, level=settings.log_level or "INFO")

    async def on_startup(self, app: web.Application) -> None:
        log.info("serving the console on %s", self.public_url)

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path),
                             autoescape=True)
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/login", self.handle_login_page, name="login"),
            web.post("/login", self.handle_login, name="login_post"),
            web.post("/logout", self.handle_logout, name="logout"),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        app.on_startup.append(self.on_startup)
        return app

    # ---- the gate ------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        gate = self.gate
        if not gate.host_ok(request.headers.get("Host")):
            log.warning("refused: Host %r", request.headers.get("Host"))
            return web.Response(status=421, text="this server does not answer to that host name")
        is_ws = request.path == "/ws"
        if (is_ws or request.method not in ("GET", "HEAD")) \
                and not gate.origin_ok(request.headers.get("Origin")):
            log.warning("refused: Origin %r on %s", request.headers.get("Origin"), request.path)
            return web.Response(status=403, text="refused: request from another site")
        if request.path != "/login":
            session = gate.session(request.cookies.get(COOKIE))
            if session is None:
                if is_ws or request.method != "GET":
                    return web.Response(status=403, text="refused: sign in first")
                return web.Response(status=303, headers={"Location": "/login"})
            request[PERSON] = session.person
            request[PROVEN] = session.proven
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _login_page(self, message: str = "", status: int = 200) -> web.Response:
        return web.Response(status=status, content_type="text/html", text=LOGIN_PAGE.format(
            title=html.escape(self.title), message=html.escape(message)))

    def _signed_in(self, person: str, proven: bool = True) -> web.Response:
        sid = self.gate.open_session(person, proven)
        log.info("signed in: %s", person)
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", path="/",
                            secure=self.gate.secure, max_age=int(SESSION_TTL))
        return response

    async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("token")
        if token is not None:
            person = self.gate.use_link(token)
            if person is None:
                return self._login_page("This link was already used or is wrong — sign in "
                                        "with your password · 链接已使用或无效，请用密码登录",
                                        status=403)
            return self._signed_in(person, self.gate.link_proven)
        return self._login_page()

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        person, password = str(form.get("person", "")), str(form.get("password", ""))
        if self.gate.locked(person.strip()):
            return self._login_page("Too many wrong passwords — wait a minute · "
                                    "密码错误次数过多，请一分钟后再试", status=429)
        who = await asyncio.to_thread(self.gate.sign_in, person, password)
        if who is None:
            log.warning("refused sign-in for %r", person)
            return self._login_page("Wrong staff id or password · 员工编号或密码错误",
                                    status=403)
        return self._signed_in(who)

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        self.gate.close_session(request.cookies.get(COOKIE))
        response = web.Response(status=303, headers={"Location": "/login"})
        response.del_cookie(COOKIE, path="/")
        return response

    # ---- the console -----------------------------------------------------------------------
    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        ws = self.public_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return {
            "font_size": _int(request.query.get("fontsize"), 16, 8, 40),
            "app_websocket_url": f"{ws}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
            "person": request[PERSON] + (" · read-only" if self.read_only else ""),
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One console per browser session, run as the signed-in person."""
        person = request[PERSON]
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=256 * 1024)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            log.info("console opened for %s", person)
            app_service = AppService(self.command_for(person, request[PROVEN]),
                                     write_bytes=websocket.send_bytes,
                                     write_str=websocket.send_str, close=websocket.close,
                                     download_manager=self.download_manager, debug=False)
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # a broken browser message: close this session only
            log.warning("console session for %s ended: %s", person, error)
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket


def _int(value: str | None, default: int, low: int = 10, high: int = 1000) -> int:
    """A number from the query string, kept within bounds (the browser sends them)."""
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default
