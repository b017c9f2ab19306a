"""`incident console` (the duty officer's terminal console) and `incident serve`
(the same console in a browser over loopback, via textual-serve)."""

from __future__ import annotations

import shlex
import socket
import sys

import click

from incident.cli import Ctx, handled, pass_ctx

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


def console_command(ctx: Ctx, dispatch: bool) -> str:
    args = [sys.executable, "-m", "incident.console", *global_args(ctx), "console"]
    if not dispatch:
        args.append("--no-dispatch")
    return shlex.join(args)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--no-dispatch", is_flag=True,
                  help="leave queued messages to another process's dispatcher")
    @click.option("--home", is_flag=True, help="start on the home screen, not the last incident")
    @pass_ctx
    @handled
    def console(ctx: Ctx, no_dispatch: bool, home: bool) -> None:
        """The duty officer's console: run a live incident from the keyboard."""
        from incident.console import create_app

        app = create_app(ctx.runtime, dispatcher=not no_dispatch, restore=not home)
        try:
            app.run()
        finally:
            ctx.runtime.close()

    @main.command()
    @click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
                  help="loopback port to listen on")
    @click.option("--dispatch", is_flag=True,
                  help="let served consoles deliver queued messages too")
    @pass_ctx
    @handled
    def serve(ctx: Ctx, port: int, dispatch: bool) -> None:
        """Publish the console in a browser on http://127.0.0.1:PORT (loopback only)."""
        from textual_serve.server import Server

        if not _port_free(port):
            click.secho(f"port {port} on {LOOPBACK} is in use — choose another with --port",
                        fg="red", err=True)
            sys.exit(1)
        server = Server(console_command(ctx, dispatch), host=LOOPBACK, port=port,
                        title="incident console")
        click.echo(f"serving the console on http://{LOOPBACK}:{port} (Ctrl+C stops)")
        server.serve()
