"""`incident anchor` and `incident key`: the chain key and checkpoints outside the database.

Thin argument handling over incident.anchoring and incident.store.keys; registered
by cli._register_faces(). `incident verify` (in cli.py) checks against both.
"""

from __future__ import annotations

import sys

import click

from incident.i18n import nt, t


def register(main: click.Group) -> None:
    from incident.cli import Ctx, handled, pass_ctx

    @main.command()
    @click.argument("incident_ids", nargs=-1)
    @pass_ctx
    @handled
    def anchor(ctx: Ctx, incident_ids: tuple[str, ...]) -> None:
        """Write signed checkpoints (incident, last event, head hash, time) of every
        incident whose log moved since its last anchor to the anchor file, and post them
        to anchor_url if set. Run it from cron, or let `incident service` do it.
        A log that no longer verifies is named and not anchored (exit 1)."""
        from incident.anchoring import write_anchor

        rt = ctx.runtime
        run = write_anchor(rt, list(incident_ids) or None, full=True)
        lang = ctx.lang
        for a in run.written:
            click.echo(t("cli.integrity.anchored_one", lang, id=a.incident_id, seq=a.seq,
                         head=a.head))
        click.echo(nt("cli.integrity.anchored", len(run.written), lang,
                      path=rt.anchor_log.path, unchanged=run.unchanged))
        if run.posted:
            click.echo(t("cli.integrity.posted", lang))
        elif run.posted is False:
            click.secho(t("cli.integrity.post_failed", lang, error=run.post_error),
                        fg="yellow", err=True)
        for iid, v in run.refused.items():
            click.secho(t("cli.integrity.not_anchored", lang, id=iid, seq=v.first_bad_seq,
                          reason=v.reason), fg="red", err=True)
        if not run.ok:
            sys.exit(1)

    @main.group()
    def key() -> None:
        """The chain key that signs the event log (kept outside the database)."""

    @key.command("show")
    @pass_ctx
    @handled
    def key_show(ctx: Ctx) -> None:
        """Where the key comes from and its key ids (never the secret)."""
        rt = ctx.runtime
        ring = rt.keyring
        lang = ctx.lang
        click.echo(t("cli.integrity.source", lang, source=ring.source))
        for k in ring.keys:
            created = k.created.isoformat() if k.created else "—"
            mark = t("cli.integrity.signs_new", lang) if k is ring.current else ""
            click.echo(t("cli.integrity.key_row", lang, id=k.id, created=created, mark=mark))
        click.echo(t("cli.integrity.anchor_file", lang, path=rt.anchor_log.path))

    @key.command("rotate")
    @pass_ctx
    @handled
    def key_rotate(ctx: Ctx) -> None:
        """Add a new key to the key file: new events use it, older ones keep verifying
        with theirs. Copy the updated file to every host that shares the database."""
        from incident.errors import Refused
        from incident.store.keys import rotate_key_file

        rt = ctx.runtime
        s = rt.settings
        if s.chain_key:
            raise Refused("refused.cli.key_from_env")
        rt.keyring  # noqa: B018 - make the first key if there is none yet
        ring = rotate_key_file(s.chain_key_path, rt.clock.now())
        click.echo(nt("cli.integrity.rotated", len(ring.keys) - 1, ctx.lang, id=ring.current.id,
                      path=s.chain_key_path))
        click.echo(t("cli.integrity.copy_key", ctx.lang))
