"""`incident staff`: who am I, and each person's own PIN / console password.

A PIN proves the second person of a gated step; a password signs a person in to the
served console. Both are stored only as salted scrypt hashes in a private file
(settings `credentials_file`, default: the user data folder, mode 600).
"""

from __future__ import annotations

import click

from incident.cli import Ctx, handled, pass_ctx, read_secret
from incident.errors import Refused


def _set(ctx: Ctx, person: str, kind: str, from_stdin: bool) -> None:
    from incident.credentials import KINDS, CredentialStore, check_strength
    from incident.identity import staff_id

    label = KINDS[kind]
    pid = staff_id(ctx.runtime.directory, person, what="person")
    store = CredentialStore(ctx.runtime.settings.credentials_path)
    if store.has(pid, kind):
        store.require(pid, read_secret(f"current {label} for {pid}", from_stdin), kind)
    elif str(ctx.keyboard) != pid:
        raise Refused(f"only {pid} sets their first {label} — at their own login (or "
                      f"declared as themselves: INCIDENT_USER={pid})")
    new = read_secret(f"new {label} for {pid}", from_stdin)
    check_strength(kind, new)
    if not from_stdin and read_secret(f"repeat the new {label}", False) != new:
        raise Refused(f"the two {label}s differ — nothing was changed")
    store.set(pid, new, kind)
    click.echo(f"{label} set for {pid} (stored hashed in {store.path})")


def register(main: click.Group) -> None:
    @main.group()
    def staff() -> None:
        """Who you are, and your own PIN and console password."""

    @staff.command("whoami")
    @pass_ctx
    @handled
    def whoami(ctx: Ctx) -> None:
        """Who `incident` takes you for, and how it knows."""
        from incident.credentials import CredentialStore

        me = ctx.keyboard
        user = ctx.user
        person = ctx.runtime.directory.staff[str(user)]
        how = {"login": "by your login", "declared": "as declared (user / INCIDENT_USER)",
               }.get(me.how, me.how)
        line = f"{user} — {person.display_name('en')} / {person.name} ({how})"
        if user.entered_by:
            line += f", entered by {user.entered_by}"
        click.echo(line)
        store = CredentialStore(ctx.runtime.settings.credentials_path)
        has = [k for k in ("pin", "password") if store.has(str(user), k)]
        click.echo("credentials: " + (", ".join(has) if has else "none (incident staff set-pin)"))

    @staff.command("set-pin")
    @click.argument("person")
    @click.option("--pin-stdin", is_flag=True,
                  help="read the PINs from standard input (current one first if set)")
    @pass_ctx
    @handled
    def set_pin(ctx: Ctx, person: str, pin_stdin: bool) -> None:
        """Set your PIN (4-12 digits) to confirm gated steps as the second person."""
        _set(ctx, person, "pin", pin_stdin)

    @staff.command("set-password")
    @click.argument("person")
    @click.option("--password-stdin", is_flag=True,
                  help="read the passwords from standard input (current one first if set)")
    @pass_ctx
    @handled
    def set_password(ctx: Ctx, person: str, password_stdin: bool) -> None:
        """Set your password (10+ characters) to sign in to `incident serve`."""
        _set(ctx, person, "password", password_stdin)
