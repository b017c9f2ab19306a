"""`incident service`: fire timers and deliver the outbox, with nobody watching.

Registered by cli._register_faces(); the loop itself is incident.service.
"""

from __future__ import annotations

import signal
from datetime import datetime

import click


def _stamp(line: str) -> None:
    click.echo(f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S} {line}")


def register(main: click.Group) -> None:
    from incident.cli import Ctx, handled, pass_ctx

    @main.command("service")
    @click.option("--once", is_flag=True,
                  help="one pass (for cron): fire what is due, deliver what is queued, exit")
    @click.option("--no-deliver", is_flag=True,
                  help="fire timers only; another process delivers the outbox")
    @click.option("--inbound", "inbound", metavar="HOST:PORT",
                  help="also take replies (acknowledgements, roll-call answers) posted by "
                       "the gateways in contacts/inbound.yaml, on this address (loopback "
                       "unless --inbound-public; port 0 picks a free one)")
    @click.option("--inbound-public", is_flag=True,
                  help="allow --inbound on an address that is not loopback (put a TLS "
                       "proxy and a firewall in front)")
    @pass_ctx
    @handled
    def service_cmd(ctx: Ctx, once: bool, no_deliver: bool, inbound: str | None = None,
                    inbound_public: bool = False) -> None:
        """Fire every due timer and deliver the outbox, until stopped (SIGTERM, Ctrl-C).

        Run one under systemd (or in a container) next to the database; several on
        one PostgreSQL database never fire a timer or send a message twice. A
        damaged incident is named and skipped; the others keep firing (exit 0).
        """
        from incident.service import Service

        rt = ctx.runtime
        if inbound_public and not inbound:
            raise click.UsageError("--inbound-public needs --inbound HOST:PORT")
        if inbound and once:
            raise click.UsageError("--inbound listens until stopped; it cannot run --once")
        listen_on = None
        if inbound:
            from incident.inbound import parse_listen

            listen_on = parse_listen(inbound, public=inbound_public)
        svc = Service(rt, deliver=not no_deliver, say=_stamp)
        if once:
            sweep = svc.run_once()
            if not sweep.fired:
                click.echo("nothing due")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: svc.stop())
        from incident.store.db import safe_url

        _stamp(f"incident service {svc.worker} on {safe_url(rt.store.url)}: firing timers"
               + ("" if no_deliver else " and delivering the outbox") + "; SIGTERM stops")
        listening = None
        if listen_on is not None:
            from incident.inbound import listen

            listening = listen(rt, *listen_on, say=_stamp)
            chans = ", ".join(sorted(listening.inbox.config.channels)) or "none configured"
            _stamp(f"inbound replies on {listening.server.url}/{{channel}} ({chans})")
        try:
            svc.run()
        finally:
            if listening is not None:
                listening.stop()
                counts = ", ".join(f"{k} {v}" for k, v in sorted(listening.inbox.counts.items()))
                _stamp(f"inbound: {counts or 'no replies'}")
        _stamp(f"stopped after {svc.sweeps} sweep(s), {svc.fired} timer(s) fired")
