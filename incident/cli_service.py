"""`incident service`: fire timers and deliver the outbox, with nobody watching.

Registered by cli._register_faces(); the loop itself is incident.service.
"""

from __future__ import annotations

import signal
from datetime import datetime

import click

from incident.i18n import nt, t


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
            raise click.UsageError(t("cli.service.public_needs_inbound", ctx.lang))
        if inbound and once:
            raise click.UsageError(t("cli.service.inbound_not_once", ctx.lang))
        listen_on = None
        if inbound:
            from incident.inbound import parse_listen

            listen_on = parse_listen(inbound, public=inbound_public)
        svc = Service(rt, deliver=not no_deliver, say=_stamp)
        if once:
            sweep = svc.run_once()
            if not sweep.fired:
                click.echo(t("cli.nothing_due", ctx.lang))
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: svc.stop())
        from incident.store.db import safe_url

        lang = ctx.lang
        _stamp(t("cli.service.started" if no_deliver else "cli.service.started_delivering",
                 lang, worker=svc.worker, url=safe_url(rt.store.url)))
        listening = None
        if listen_on is not None:
            from incident.inbound import listen

            listening = listen(rt, *listen_on, say=_stamp)
            chans = (", ".join(sorted(listening.inbox.config.channels))
                     or t("cli.service.none_configured", lang))
            _stamp(t("cli.service.inbound_on", lang, url=f"{listening.server.url}/{{channel}}",
                     channels=chans))
        try:
            svc.run()
        finally:
            if listening is not None:
                listening.stop()
                counts = ", ".join(f"{k} {v}" for k, v in sorted(listening.inbox.counts.items()))
                _stamp(t("cli.service.inbound_counts", lang,
                         counts=counts or t("cli.service.no_replies", lang)))
        _stamp(t("cli.service.stopped", lang, sweeps=nt("cli.service.sweeps", svc.sweeps, lang),
                 fired=nt("cli.service.timers_fired", svc.fired, lang)))
