"""The served console over real loopback HTTP and WebSocket: only signed-in staff, from
the console's own page, reach a console — and it runs as them."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from incident.console.serve import COOKIE, Gate, StaffServer, make_ticket
from incident.credentials import CredentialStore
from incident.directory import load_directory

REPO = Path(__file__).resolve().parent.parent
EVIL = "http://evil.example"


class Served:
    """A StaffServer on a free loopback port inside one asyncio.run()."""

    def __init__(self, tmp_path: Path, *, read_only: bool = False):
        self.store = CredentialStore(tmp_path / "cred.json")
        self.staff = load_directory(REPO / "contacts").staff
        self.launched: list[str] = []
        self.read_only = read_only

    def check_password(self, person: str, password: str) -> str | None:
        if person in self.staff and self.store.verify(person, password, "password"):
            return person
        return None

    def command_for(self, person: str, proven: bool) -> str:
        self.launched.append(person)  # a harmless child that just waits for its stdin
        return f"{sys.executable} -c \"import sys; sys.stdin.buffer.read()\""

    async def run(self, body: Callable[[Served, str], Any]) -> None:
        with socket.socket() as probe:  # a free loopback port
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.gate = Gate(self.url, link_person="chen.jie", check_password=self.check_password)
        server = StaffServer(self.gate, self.command_for, host="127.0.0.1", port=port,
                             title="incident console", read_only=self.read_only)
        runner = web.AppRunner(await server._make_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            await body(self, self.url)
        finally:
            await runner.cleanup()

    def client(self) -> aiohttp.ClientSession:
        # unsafe=True: keep cookies from an IP-address host, as a browser does
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def serve(tmp_path: Path, body: Callable[[Served, str], Any], **kw: Any) -> Served:
    s = Served(tmp_path, **kw)
    asyncio.run(s.run(body))
    return s


async def _ws_status(session: aiohttp.ClientSession, url: str, origin: str | None) -> int:
    try:
        async with session.ws_connect(f"{url.replace('http', 'ws')}/ws", origin=origin) as ws:
            await ws.close()
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def _sign_in_by_link(session: aiohttp.ClientSession, s: Served) -> None:
    r = await session.get(s.gate.link, allow_redirects=False)
    assert r.status == 303 and COOKIE in r.cookies


def test_unauthenticated_connections_are_refused(tmp_path):
    async def body(s: Served, url: str) -> None:
        async with s.client() as c:
            r = await c.get(url + "/", allow_redirects=False)
            assert r.status == 303 and r.headers["Location"] == "/login"
            assert await _ws_status(c, url, origin=url) == 403
            r = await c.get(url + "/login?token=not-the-token", allow_redirects=False)
            assert r.status == 403
            r = await c.get(url + "/", cookies={COOKIE: "forged"}, allow_redirects=False)
            assert r.status == 303

    s = serve(tmp_path, body)
    assert s.launched == []  # no console was started for anyone


def test_a_foreign_origin_websocket_is_refused_even_when_signed_in(tmp_path):
    async def body(s: Served, url: str) -> None:
        async with s.client() as c:
            await _sign_in_by_link(c, s)
            assert await _ws_status(c, url, origin=EVIL) == 403
            assert await _ws_status(c, url, origin=None) == 403
            # and a form post from another site cannot sign anyone in
            r = await c.post(url + "/login", data={"person": "chen.jie", "password": "x" * 12},
                             headers={"Origin": EVIL}, allow_redirects=False)
            assert r.status == 403

    s = serve(tmp_path, body)
    assert s.launched == []


def test_a_foreign_host_header_is_refused(tmp_path):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil…"""

    async def body(s: Served, url: str) -> None:
        async with s.client() as c:
            r = await c.get(url + "/login", headers={"Host": "evil.example"})
            assert r.status == 421

    serve(tmp_path, body)


def test_the_one_time_link_signs_in_once_and_the_console_runs_as_that_person(tmp_path):
    async def body(s: Served, url: str) -> None:
        async with s.client() as c:
            await _sign_in_by_link(c, s)
            page = await (await c.get(url + "/")).text()
            assert "chen.jie" in page
            assert await _ws_status(c, url, origin=url) == 101
        async with s.client() as other:
            r = await other.get(s.gate.link, allow_redirects=False)
            assert r.status == 403  # used up

    s = serve(tmp_path, body)
    assert s.launched == ["chen.jie"]


def test_password_sign_in_attributes_the_console_and_pauses_after_failures(tmp_path):
    async def body(s: Served, url: str) -> None:
        s.store.set("song.hui", "night-shift-2026", "password")
        async with s.client() as c:
            r = await c.post(url + "/login", data={"person": "song.hui", "password": "wrong-one!"},
                             headers={"Origin": url}, allow_redirects=False)
            assert r.status == 403 and "Wrong staff id or password" in await r.text()
            r = await c.post(url + "/login",
                             data={"person": "song.hui", "password": "night-shift-2026"},
                             headers={"Origin": url}, allow_redirects=False)
            assert r.status == 303
            assert await _ws_status(c, url, origin=url) == 101
        async with s.client() as c:
            for _ in range(5):
                await c.post(url + "/login", data={"person": "song.hui", "password": "guess!!!!!"},
                             headers={"Origin": url}, allow_redirects=False)
            r = await c.post(url + "/login",
                             data={"person": "song.hui", "password": "night-shift-2026"},
                             headers={"Origin": url}, allow_redirects=False)
            assert r.status == 429  # paused, even with the right password

    s = serve(tmp_path, body)
    assert s.launched == ["song.hui"]


def test_the_page_loads_nothing_from_the_internet(tmp_path):
    async def body(s: Served, url: str) -> None:
        async with s.client() as c:
            await _sign_in_by_link(c, s)
            page = await (await c.get(url + "/")).text()
            login = await (await c.get(url + "/login")).text()
            for text in (page, login):
                foreign = [u for u in re.findall(r"(?:https?|wss?)://[^\s\"'<>)]+", text)
                           if not u.startswith((url, url.replace("http", "ws")))]
                assert foreign == [], foreign
                assert "googleapis" not in text
            refs = re.findall(r"(?:src|href)=\"([^\"]+)\"", page)
            assert refs and all(ref.startswith("/static/") for ref in refs)
            for ref in refs:  # every asset is served here
                r = await c.get(url + ref)
                assert r.status == 200, ref
            font = re.search(r"url\(\"([^\"]+\.ttf)\"\)", page)
            assert font and (await c.get(url + font.group(1))).status == 200
            r = await c.get(url + "/")
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]

    serve(tmp_path, body)


def test_served_console_refuses_a_forged_identity(tmp_path, monkeypatch):
    from incident.cli import main

    monkeypatch.setenv("INCIDENT_SERVE_SECRET", "the-server-secret")
    monkeypatch.setenv("INCIDENT_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    forged = make_ticket("a-guessed-secret", "deng.jianhua", False)
    r = CliRunner().invoke(main, ["console", "--served-as", "deng.jianhua",
                                  "--serve-ticket", forged])
    assert r.exit_code == 1 and "only for consoles started by `incident serve`" in r.output
    # a ticket for a read-write console does not open a read-only one's twin and back
    ro = make_ticket("the-server-secret", "han.xue", True)
    r = CliRunner().invoke(main, ["console", "--served-as", "han.xue", "--serve-ticket", ro])
    assert r.exit_code == 1
    # a session opened by the link of a starter who only declared who they were stays
    # declared: its ticket does not pass for a proven one
    declared = make_ticket("the-server-secret", "han.xue", False, proven=False)
    r = CliRunner().invoke(main, ["console", "--served-as", "han.xue", "--serve-ticket",
                                  declared])
    assert r.exit_code == 1


def test_serve_refuses_a_lan_address_without_a_tls_front(tmp_path, monkeypatch):
    from incident.cli import main

    monkeypatch.setenv("INCIDENT_USER", "chen.jie")
    r = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "reverse proxy" in r.output
    r = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0",
                                  "--public-url", "http://incident.lakeside.lan"])
    assert r.exit_code == 1 and "https://" in r.output


def test_read_only_console_refuses_every_act(tmp_path):
    from test_console import build, make_runtime, run, settle

    from incident.errors import Refused
    from incident.identity import Actor

    rt = make_runtime(tmp_path / "incident.db")
    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id

    async def walk() -> None:
        app = build(rt, tmp_path, user=Actor("han.xue", how="served"), read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert "read-only" in app.sub_title and "han.xue" in app.sub_title
            assert app.dispatcher is None  # follows along: sends nothing either
            for act in (lambda: rt.engine.note(iid, "x", actor=app.user),
                        lambda: rt.engine.act(iid, "confirm_alarm", actor=app.user,
                                              option="real_fire"),
                        lambda: rt.engine.start("fire", "B3-1201", actor=app.user)):
                with pytest.raises(Refused, match="read-only"):
                    act()

    run(walk())
    kinds = [e.kind for e in rt.store.events(iid)]
    assert "note.added" not in kinds and "step.done" not in kinds
    assert len(rt.store.incidents()) == 1
    rt.close()
