"""`incident staff`: who am I, and each person's own PIN / console password.

A PIN proves the second person of a gated step; a password signs a person in to the
served console. Both are stored only as salted scrypt hashes in a private file
(settings `credentials_file`, default: the user data folder, mode 600).
"""

from __future__ import annotations

import click

from incident.cli import Ctx, handled, pass_ctx, read_secret
from incident.errors import Msg, Refused
from incident.i18n import N_, data_lang, t

#: what each credential is called (the keys of credentials.KINDS)
KIND_NAMES = {"pin": N_("cli.staff.kind.pin"), "password": N_("cli.staff.kind.password")}


def _set(ctx: Ctx, person: str, kind: str, from_stdin: bool) -> None:
    from incident.credentials import CredentialStore, check_strength
    from incident.identity import staff_id

    lang = ctx.lang
    label = Msg(KIND_NAMES[kind])
    pid = staff_id(ctx.runtime.directory, person, what="person")
    store = CredentialStore(ctx.runtime.settings.credentials_path)
    if store.has(pid, kind):
        store.require(pid, read_secret(t("cli.staff.current", lang, kind=label.text(lang),
                                         person=pid), from_stdin), kind)
    elif str(ctx.keyboard) != pid:
        raise Refused("refused.cli.first_own", person=pid, kind=label)
    new = read_secret(t("cli.staff.new", lang, kind=label.text(lang), person=pid), from_stdin)
    check_strength(kind, new)
    if not from_stdin and read_secret(t("cli.staff.repeat", lang, kind=label.text(lang)),
                                      False) != new:
        raise Refused("refused.cli.differ", kind=label)
    store.set(pid, new, kind)
    click.echo(t("cli.staff.set", lang, kind=label.text(lang), person=pid, path=store.path))


#: how `incident` knows who is at the keyboard (identity.Actor.how)
HOW = {"login": N_("cli.staff.how.login"), "declared": N_("cli.staff.how.declared")}


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
        lang = ctx.lang
        how = t(f"cli.staff.how.{me.how}", lang) if me.how in HOW else me.how
        name = person.name if data_lang(lang) == "zh" else \
            f"{person.display_name('en')} / {person.name}"
        line = t("cli.staff.whoami", lang, user=user, name=name, how=how)
        if user.entered_by:
            line += t("cli.staff.entered_by", lang, person=user.entered_by)
        click.echo(line)
        store = CredentialStore(ctx.runtime.settings.credentials_path)
        has = [t(KIND_NAMES[k], lang) for k in ("pin", "password") if store.has(str(user), k)]
        click.echo(t("cli.staff.credentials", lang, kinds=", ".join(has)) if has
                   else t("cli.staff.no_credentials", lang,
                          command="`incident staff set-pin`"))

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
