"""`incident console` (the duty officer's terminal console) and `incident serve`
(the same console in a browser over loopback, via textual-serve)."""

from __future__ import annotations

import ipaddress
import shlex
import socket
import sys
from typing import TYPE_CHECKING, Any

import click

from incident.cli import Ctx, handled, pass_ctx
from incident.errors import Refused
from incident.i18n import nt, t
from incident.identity import Actor

if TYPE_CHECKING:
    from incident.console.terminal import EarlyKeys

LOOPBACK = "127.0.0.1"
FLAG_NAMES = {"database_url": "--db", "playbooks_dir": "--playbooks",
              "contacts_dir": "--contacts", "as_person": "--as", "lang": "--lang"}


def global_args(ctx: Ctx) -> list[str]:
    """The global options this invocation was given, to pass on to a child console."""
    out: list[str] = []
    for name, flag in FLAG_NAMES.items():
        value = ctx.flags.get(name)
        if value not in (None, ""):
            out += [flag, str(value)]
    return out


def console_command(ctx: Ctx, dispatch: bool, person: str | None = None,
                    read_only: bool = False, proven: bool = True) -> str:
    """The command a served session runs: a console as `person`, with the ticket that
    proves this server started it (see incident.console.serve)."""
    args = [sys.executable, "-m", "incident.console", *global_args(ctx), "console"]
    if person is not None:
        from incident.console.serve import make_ticket, server_secret

        if "--as" in args:  # the session's person, not whoever started the server
            i = args.index("--as")
            del args[i:i + 2]
        args += ["--served-as", person,
                 "--serve-ticket", make_ticket(server_secret(), person, read_only, proven)]
        if not proven:
            args.append("--served-declared")
    if read_only:
        args.append("--read-only")
    if not dispatch or read_only:
        args.append("--no-dispatch")
    return shlex.join(args)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _port_free(port: int, host: str = LOOPBACK) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--no-dispatch", is_flag=True,
                  help="leave queued messages to another process's dispatcher")
    @click.option("--home", is_flag=True, help="start on the home screen, not the last incident")
    @click.option("--read-only", is_flag=True,
                  help="follow along: every act is refused (and no messages are sent)")
    @click.option("--served-as", hidden=True)
    @click.option("--serve-ticket", hidden=True)
    @click.option("--served-declared", is_flag=True, hidden=True)
    @pass_ctx
    @handled
    def console(ctx: Ctx, no_dispatch: bool, home: bool, read_only: bool,
                served_as: str | None, serve_ticket: str | None, served_declared: bool) -> None:
        """The duty officer's console: run a live incident from the keyboard."""
        from incident.console.terminal import EarlyKeys

        with EarlyKeys() as keys:  # keys typed from now on reach the console as typed
            _run_console(ctx, keys, dispatch=not no_dispatch, restore=not home,
                         read_only=read_only, served_as=served_as, serve_ticket=serve_ticket,
                         served_declared=served_declared)

    @main.command()
    @click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
                  help="port to listen on")
    @click.option("--host", default=LOOPBACK, show_default=True,
                  help="address to listen on; anything but loopback needs --public-url "
                       "(a TLS reverse proxy in front, see README)")
    @click.option("--public-url", help="the address staff open, e.g. "
                                       "https://incident.lakeside.lan (the reverse proxy's)")
    @click.option("--read-only", is_flag=True,
                  help="consoles that follow along: every act is refused (managers)")
    @click.option("--dispatch", is_flag=True,
                  help="let served consoles deliver queued messages too")
    @pass_ctx
    @handled
    def serve(ctx: Ctx, port: int, host: str, public_url: str | None, read_only: bool,
              dispatch: bool) -> None:
        """Publish the console to staff in a browser (signed in; loopback by default)."""
        from incident.console.serve import Gate, StaffServer
        from incident.credentials import CredentialStore
        from incident.identity import staff_id

        if not _is_loopback(host) and not public_url:
            raise Refused("refused.cli.host_needs_public_url", host=host)
        if public_url and not public_url.startswith(("https://", "http://127.", "http://localhost",
                                                     "http://[::1]")):
            raise Refused("refused.cli.public_url_https")
        if not _port_free(port, host):
            raise Refused("refused.cli.port_in_use", port=port, host=host)
        rt = ctx.runtime
        directory = rt.directory
        store = CredentialStore(rt.settings.credentials_path)
        try:
            me = ctx.keyboard
            owner: str | None = str(me)
        except Refused as exc:  # nobody known runs this: password sign-in only
            me, owner = None, None
            click.echo(t("cli.console.no_link", ctx.lang, why=exc.text(ctx.lang)), err=True)

        def check_password(person: str, password: str) -> str | None:
            try:
                pid = staff_id(directory, person)
            except Refused:
                store.verify("", password, "password")  # the same time either way
                return None
            return pid if store.verify(pid, password, "password") else None

        shown_host = f"[{host}]" if ":" in host else host
        url = (public_url or f"http://{shown_host}:{port}").rstrip("/")
        gate = Gate(url, link_person=owner, check_password=check_password,
                    link_proven=bool(me is not None and me.proven))
        server = StaffServer(gate, lambda person, proven: console_command(
                                 ctx, dispatch, person, read_only, proven),
                             host=host, port=port, read_only=read_only,
                             title=t("cli.console.title_read_only" if read_only
                                     else "cli.console.title", ctx.lang))
        lang = ctx.lang
        click.echo(t("cli.console.serving_read_only" if read_only else "cli.console.serving",
                     lang, url=url))
        if gate.link:
            click.echo(t("cli.console.link_for", lang, person=owner))
            click.echo(f"  {gate.link}")
        who = store.who_has("password")
        command = "`incident staff set-password ID`"
        click.echo(nt("cli.console.passwords", len(who), lang, command=command) if who
                   else t("cli.console.no_passwords", lang, command=command))
        server.serve()


def _run_console(ctx: Ctx, keys: EarlyKeys, *, dispatch: bool, restore: bool, read_only: bool,
                 served_as: str | None, serve_ticket: str | None,
                 served_declared: bool) -> None:
    from incident.identity import staff_id

    if served_as is not None:  # a browser session of `incident serve`
        from incident.console.serve import check_ticket

        if not check_ticket(served_as, read_only, serve_ticket, not served_declared):
            raise Refused("refused.cli.served_as_only", command="`incident serve`")
        user = Actor(staff_id(ctx.runtime.directory, served_as),
                     how="declared" if served_declared else "served")
    else:
        user = _keyboard_or_ask(ctx, keys)
    from incident.console import create_app, preload

    # before Textual is imported: the home lists are read on the other core meanwhile
    early = preload.start(ctx.runtime)
    app = create_app(ctx.runtime, dispatcher=dispatch, restore=restore, user=user,
                     read_only=read_only, preload=early)
    try:
        app.run()
    finally:
        if early is not None:
            early.close()
        ctx.runtime.close()


def _keyboard_or_ask(ctx: Ctx, keys: EarlyKeys) -> Actor:
    """Who is at the console. On a shared control-room PC (`identify_by: declared`) with
    nobody declared, ask at the terminal — the duty officer on shift is the default —
    rather than refuse; the header then shows who acts. Elsewhere (a login-identified
    estate, no terminal) the refusal with its fix stands."""
    try:
        return ctx.user
    except Refused:
        rt = ctx.runtime
        if rt.directory.access.identify_by != "declared" or not sys.stdin.isatty():
            raise
    with keys.cooked():  # the question is typed and echoed as at any prompt
        return _ask_who(ctx, rt)


def _ask_who(ctx: Ctx, rt: Any) -> Actor:
    from incident.identity import staff_id

    on_shift = rt.directory.on_duty("duty_officer", rt.clock.now())
    default = on_shift[0].id if on_shift else ""
    while True:
        typed = click.prompt(t("cli.console.who_prompt", ctx.lang), default=default,
                             show_default=bool(default), err=True).strip()
        try:
            person = staff_id(rt.directory, typed, what="person at the keyboard")
        except Refused as exc:
            click.echo(f"  {exc.text(ctx.lang)}", err=True)
            continue
        ctx.flags["as_person"] = person
        return ctx.user

