"""`incident anchor` and `incident key`: the chain key and checkpoints outside the database.

Thin argument handling over incident.anchoring and incident.store.keys; registered
by cli._register_faces(). `incident verify` (in cli.py) checks against both.
"""

from __future__ import annotations

import sys

import click


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
        for a in run.written:
            click.echo(f"{a.incident_id}: anchored event {a.seq} head {a.head}")
        click.echo(f"anchored {len(run.written)} incident(s) to {rt.anchor_log.path}"
                   f" ({run.unchanged} unchanged since their last anchor)")
        if run.posted:
            click.echo("posted the checkpoints to anchor_url")
        elif run.posted is False:
            click.secho(f"warning: posting the checkpoints to anchor_url failed: "
                        f"{run.post_error} (the anchor file has them)", fg="yellow", err=True)
        for iid, v in run.refused.items():
            click.secho(f"{iid}: NOT anchored — chain BROKEN at event {v.first_bad_seq}: "
                        f"{v.reason}", fg="red", err=True)
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
        click.echo(f"source: {ring.source}")
        for k in ring.keys:
            created = k.created.isoformat() if k.created else "—"
            mark = "  (signs new events)" if k is ring.current else ""
            click.echo(f"  {k.id}  created {created}{mark}")
        click.echo(f"anchor file: {rt.anchor_log.path}")

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
            raise Refused("the chain key comes from INCIDENT_CHAIN_KEY: rotate by appending a "
                          "new secret to it (comma-separated, the last one signs), keeping the "
                          "old ones")
        rt.keyring  # noqa: B018 - make the first key if there is none yet
        ring = rotate_key_file(s.chain_key_path, rt.clock.now())
        click.echo(f"new chain key {ring.current.id} in {s.chain_key_path}; "
                   f"{len(ring.keys) - 1} older key(s) kept for verifying")
        click.echo("copy this file to every host that writes to the same database, and "
                   "back it up")
