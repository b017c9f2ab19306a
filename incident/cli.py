"""The `incident` command: thin argument handling over the core.

Exit codes: 0 success, 1 invalid input or a refused operation (the message says
why and how to fix it), 2 wrong usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from incident.clihelp import HelpGroup
from incident.config import load_settings
from incident.errors import Issue, Refused, ValidationFailed, tell
from incident.files import OutputError
from incident.i18n import channel_name, join_list, nt, pad, status_label, t
from incident.identity import Actor
from incident.runtime import Runtime
from incident.safetext import terminal


class Ctx:
    def __init__(self, **flags: Any):
        self.flags = flags
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from incident import logs

            settings = load_settings(**self.flags)
            logs.setup(settings, stderr=sys.stderr)  # the rotating file, and stderr
            self._runtime = Runtime(settings)
        return self._runtime

    @property
    def keyboard(self) -> Actor:
        """The staff member at this keyboard (their login, or the declared `user`)."""
        from incident.identity import keyboard_person

        directory = self.runtime.directory
        declared = self.runtime.settings.acting_user or (
            self.flags.get("as_person") if directory.access.identify_by == "declared" else None)
        return keyboard_person(directory, declared)

    @property
    def user(self) -> Actor:
        """Who acts are recorded for: the keyboard person, or the `--as` colleague they
        may enter for (refused with a clear message otherwise)."""
        from incident.identity import acting_person

        return acting_person(self.runtime.directory, self.keyboard, self.flags.get("as_person"))

    @property
    def reader(self) -> str | None:
        """Who a read is prepared by, when known: reads never need an identity."""
        try:
            return str(self.user)
        except Refused:
            return None

    def confirmer(self, pin_stdin: bool) -> Actor:
        """The second person of a gated step, proven by their own login or their PIN —
        never by a typed id."""
        from incident.credentials import CredentialStore
        from incident.identity import staff_id

        keyboard = self.keyboard
        wanted = self.flags.get("as_person") or str(keyboard)
        if wanted == str(keyboard) and keyboard.proven:
            return keyboard
        person = staff_id(self.runtime.directory, wanted, what="confirming person")
        store = CredentialStore(self.runtime.settings.credentials_path)
        if not store.has(person):
            raise Refused("refused.cli.no_pin", person=person,
                          command=f"`incident staff set-pin {person}`")
        pin = read_secret(t("cli.main.pin_for", self.lang, person=person), pin_stdin)
        store.require(person, pin)
        return Actor(person, how="pin")

    @property
    def lang(self) -> str:
        return self.runtime.settings.lang

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


def read_secret(label: str, from_stdin: bool) -> str:
    """A PIN or password: one line of standard input (--pin-stdin, for scripts), or a
    prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(label, hide_input=True, default="", show_default=False, err=True)


def _output_lang() -> str:
    """The reader's language for a message printed outside a command's body (errors):
    the settings' when the runtime is loaded, else --lang, else English."""
    click_ctx = click.get_current_context(silent=True)
    obj = click_ctx.find_object(Ctx) if click_ctx is not None else None
    if obj is None:
        return "en"
    if obj._runtime is not None:
        return obj.lang
    return obj.flags.get("lang") or "en"


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def handled(fn: Callable) -> Callable:
    """Turn validation failures and refusals into clear messages and exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationFailed as exc:
            for issue in exc.issues:
                click.secho(issue.format(_output_lang()),
                            fg="red" if issue.severity == "error" else "yellow", err=True)
            click.secho(nt("cli.nothing_changed", len(exc.errors), _output_lang()), fg="red",
                        err=True)
            sys.exit(1)
        except OutputError as exc:  # -o into a missing folder, no permission...
            _fail(str(exc))
        except Refused as exc:
            lang = _output_lang()
            _fail(t("cli.refused", lang, reason=exc.text(lang)))
        except KeyError as exc:
            _fail(str(exc.args[0]) if exc.args else t("cli.main.not_found", _output_lang()))
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("sqlalchemy", "sqlite3"):
                raise
            from incident.store.db import database_error_text

            text = database_error_text(exc)
            if text is None:
                raise
            _fail(text)  # "database is locked" and friends: one line, not a traceback

    return wrapper


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(cls=HelpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "database_url", help="database URL (default: SQLite in the data dir)")
@click.option("--playbooks", "playbooks_dir", type=click.Path(path_type=Path),
              help="folder of playbooks")
@click.option("--contacts", "contacts_dir", type=click.Path(path_type=Path),
              help="estate directory folder")
@click.option("--as", "as_person", help="the acting person (staff id; see README, Identity)")
@click.option("--lang", type=click.Choice(["en", "zh"]), help="language for output")
@click.option("--log-level", "log_level",
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="what reaches stderr and the log file (default: WARNING; "
                   "INCIDENT_LOG_LEVEL, [logging] level in incident.toml)")
@click.version_option(package_name="incident")
@click.pass_context
def main(ctx: click.Context, **flags: Any) -> None:
    """Emergency response and incident coordination for managed estates."""
    from incident.safetext import guard_streams

    guard_streams()  # no data printed by any verb can drive the terminal
    ctx.obj = Ctx(**flags)
    ctx.call_on_close(ctx.obj.close)  # release the database when the verb is done


# ---- validation and data ---------------------------------------------------------------

def _classify(path: Path) -> str:
    if path.is_dir():
        if (path / "estate.yaml").exists() or (path / "staff.yaml").exists():
            return "directory"
        return "playbooks"
    if path.suffix.lower() == ".csv":
        return "roster"
    return "playbook"


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
def validate(ctx: Ctx, paths: tuple[Path, ...], fmt: str) -> None:
    """Check playbooks, the estate directory, channels and rosters. Exit 1 on errors."""
    from incident.directory import load_directory, read_roster
    from incident.playbook import load_library, load_playbook

    settings = ctx.runtime.settings
    lang = ctx.lang
    issues: list[Issue] = []
    checked: list[str] = []
    directory = None
    dir_path = next((p for p in paths if p.exists() and _classify(p) == "directory"),
                    settings.contacts_dir)
    try:
        directory = load_directory(dir_path)
        issues.extend(directory.warnings)
        if not paths or dir_path in paths:
            checked.append(t("cli.main.checked_directory", lang, path=dir_path))
    except ValidationFailed as exc:
        issues.extend(exc.issues)
        checked.append(t("cli.main.checked_directory", lang, path=dir_path))
    if not paths or dir_path in paths:
        checked += _validate_channels(dir_path, settings.secrets_file, issues, lang)
        checked += _validate_escalation(dir_path, directory, issues, lang)
        checked += _validate_inbound(dir_path, settings.secrets_file, issues, lang)
    channels = ctx.runtime.channel_names
    for path in paths or (settings.playbooks_dir,):
        if not path.exists():
            issues.append(Issue(str(path), "cli.main.no_such_path"))
            continue
        kind = _classify(path)
        try:
            if kind == "directory":
                continue
            if kind == "playbooks":
                lib = load_library(path, directory, channels)
                checked.append(nt("cli.main.checked_playbooks", len(lib), lang, path=path))
            elif kind == "roster":
                result = read_roster(path)
                issues.extend(result.issues)
                checked.append(nt("cli.main.checked_roster", len(result.owners), lang, path=path,
                                  encoding=result.encoding))
            else:
                load_playbook(path, directory, channels)
                checked.append(t("cli.main.checked_playbook", lang, path=path))
        except ValidationFailed as exc:
            issues.extend(exc.issues)
    if not paths:  # the default check includes the drill scenarios beside the playbooks
        checked += _validate_drills(ctx, directory, issues, lang)
    errors = [i for i in issues if i.severity == "error"]
    if fmt == "json":
        click.echo(json.dumps({"ok": not errors, "checked": checked,
                               "issues": [i.as_dict() for i in issues]},
                              ensure_ascii=False, indent=2))
    else:
        for issue in issues:
            click.secho(issue.format(lang), fg="red" if issue.severity == "error" else "yellow")
        for line in checked:
            click.echo(t("cli.main.checked", lang, what=line))
        warnings = len(issues) - len(errors)
        if errors:
            click.secho(t("cli.main.errors_warnings", lang,
                          errors=nt("cli.main.n_errors", len(errors), lang),
                          warnings=nt("cli.main.n_warnings", warnings, lang)), fg="red")
        else:
            click.secho(t("cli.main.valid", lang,
                          warnings=nt("cli.main.n_warnings", warnings, lang)), fg="green")
    sys.exit(1 if errors else 0)


def _validate_channels(contacts: Path, secrets_file: Path | None,
                       issues: list[Issue], lang: str = "en") -> list[str]:
    """channels.yaml in full: Apprise knows each scheme, every secret is set."""
    from incident.notify import channels_path, load_channels

    path = channels_path(contacts)
    if not path.exists():
        return []
    try:
        cs = load_channels(path, secrets_file=secrets_file)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
        return [t("cli.main.checked_channels", lang, path=path)]
    issues.extend(cs.warnings)
    return [t("cli.main.checked_channels_list", lang, path=path,
              names=", ".join(sorted(cs.names())))]


def _validate_inbound(contacts: Path, secrets_file: Path | None,
                      issues: list[Issue], lang: str = "en") -> list[str]:
    """inbound.yaml: formats, secrets set, each channel one that pages go out on."""
    from incident.inbound.config import inbound_path, load_inbound

    path = inbound_path(contacts)
    if not path.exists():
        return []
    try:
        cfg = load_inbound(contacts, secrets_file=secrets_file, warn_unset=False)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
        return [t("cli.main.checked_inbound", lang, path=path)]
    issues.extend(cfg.warnings)
    return [t("cli.main.checked_inbound_list", lang, path=path,
              names=", ".join(sorted(cfg.channels)) or t("cli.main.no_channel", lang))]


def _validate_escalation(contacts: Path, directory: Any, issues: list[Issue],
                         lang: str = "en") -> list[str]:
    """escalation.yaml against the directory: a broken ladder is an error here, as it
    is for every command that opens the engine (a missing file is no ladder at all)."""
    from incident.escalation import load_escalation

    path = contacts / "escalation.yaml"
    if not path.exists() or directory is None:
        return []
    try:
        load_escalation(path, directory)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
    return [t("cli.main.checked_escalation", lang, path=path)]


def _validate_drills(ctx: Ctx, directory: Any, issues: list[Issue],
                     lang: str = "en") -> list[str]:
    from incident.drill import drills_dir, load_scenario, scenario_files
    from incident.playbook import load_library

    folder = drills_dir(ctx.runtime.settings.playbooks_dir)
    files = scenario_files(folder) if folder.exists() else []
    if not files:
        return []
    try:
        library = load_library(ctx.runtime.settings.playbooks_dir, directory,
                               ctx.runtime.channel_names)
    except ValidationFailed:
        return []  # the playbook errors are already listed
    for path in files:
        try:
            load_scenario(path, library, directory, ctx.runtime.channel_names)
        except ValidationFailed as exc:
            issues.extend(exc.issues)
    return [nt("cli.main.checked_drills", len(files), lang, path=folder)]


@main.group()
def schema() -> None:
    """Export JSON Schemas for editors."""


@schema.command("playbook")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write to a file")
def schema_playbook(output: Path | None) -> None:
    """The playbook JSON Schema (YAML language servers autocomplete with it)."""
    from incident.playbook import schema_text

    text = schema_text()
    if output:
        from incident.files import OutputError, write_output

        try:
            write_output(output, text)
        except OutputError as exc:
            _fail(str(exc))
        click.echo(t("cli.wrote", _output_lang(), path=output))
    else:
        click.echo(text, nl=False)


@main.group()
def contacts() -> None:
    """The estate directory: owners, staff, vendors."""


@contacts.command("show")
@click.argument("selector", nargs=-1, required=True)
@click.option("--at", "at", help="incident location for relative selectors (@)")
@click.option("--limit", default=40, show_default=True, help="rows to list")
@pass_ctx
@handled
def contacts_show(ctx: Ctx, selector: tuple[str, ...], at: str | None, limit: int) -> None:
    """List who a selector reaches and how, e.g. `owners building:B3 floors:11..13`."""
    from incident.directory import SelectorError

    directory = ctx.runtime.directory
    text = " ".join(selector)
    try:
        location = directory.locate(at) if at else None
        recipients = directory.resolve(text, location, at=ctx.runtime.clock.now())
    except SelectorError as exc:
        _fail(t("cli.main.selector_error", ctx.lang, selector=text, error=exc.text(ctx.lang)))
        return
    by_channel: dict[str, int] = {}
    for r in recipients:
        for ch in r.addresses:
            by_channel[ch] = by_channel.get(ch, 0) + 1
    none = sum(1 for r in recipients if not r.addresses)
    lang = ctx.lang
    click.echo(nt("cli.main.recipients_for", len(recipients), lang, selector=text)
               + (t("cli.main.recipients_at", lang, at=at) if at else ""))
    counts = [f"{channel_name(k, lang)} {v}" for k, v in sorted(by_channel.items())]
    if none:
        counts.append(t("cli.main.no_channel_n", lang, n=none))
    click.echo(t("cli.notify.by_channel", lang, channels=join_list(counts, lang)))
    for r in recipients[:limit]:
        flags = (" [" + ",".join(r.vulnerable) + "]") if r.vulnerable else ""
        click.echo(terminal(f"  {r.person_id:<24} {r.name:<14} {r.unit or '':<10} {r.lang}  "
                            f"{' '.join(sorted(r.addresses))}{flags}"))
    if len(recipients) > limit:
        click.echo(t("cli.main.more", lang, n=len(recipients) - limit))


@contacts.command("import")
@click.argument("roster", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="validate only")
@click.option("--allow-shrink", is_flag=True,
              help="accept a roster with no owners or far fewer than today's")
@pass_ctx
@handled
def contacts_import(ctx: Ctx, roster: Path, dry_run: bool, allow_shrink: bool) -> None:
    """Validate an owner roster CSV and make it the active roster.

    Refused when it has no owner rows, or would remove more than roster_max_shrink
    (default 10%) of the current owners, unless --allow-shrink."""
    from incident.directory import import_roster

    settings = ctx.runtime.settings
    result = import_roster(roster, settings.contacts_dir, dry_run=dry_run,
                           allow_shrink=allow_shrink, max_shrink=settings.roster_max_shrink)
    lang = ctx.lang
    for issue in result.issues:
        click.secho(issue.format(lang), fg="red" if issue.severity == "error" else "yellow",
                    err=True)
    errors = [i for i in result.issues if i.severity == "error"]
    if errors:
        _fail(nt("cli.main.import_errors", len(errors), lang, path=roster,
                 encoding=result.encoding))
    if dry_run:
        click.echo(nt("cli.main.would_import", len(result.owners), lang, path=roster,
                      encoding=result.encoding))
    else:
        click.echo(nt("cli.main.imported", len(result.owners), lang, path=roster,
                      encoding=result.encoding, target=result.target))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_ctx
@handled
def db_upgrade(ctx: Ctx) -> None:
    """Create or upgrade the database schema (needed once for a server database)."""
    from incident.store import current_revision, upgrade_database

    url = ctx.runtime.settings.db_url
    upgrade_database(url)
    click.echo(t("cli.main.db_revision", ctx.lang, revision=current_revision(url)))


# ---- incidents -------------------------------------------------------------------------

def _zone(ctx: Ctx):
    return ctx.runtime.site_zone()


def _parse_inputs(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.UsageError(t("cli.main.input_usage", _output_lang(), got=pair))
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@main.command()
@click.argument("playbook")
@click.option("--at", "at", required=True, help="location: a unit (B3-1201), 'B3 12F', 'B3'…")
@click.option("--severity", type=int, help="severity level (1 = most severe)")
@click.option("--drill", is_flag=True, help="an exercise: notifications go to the sandbox")
@click.option("--reporter", help="who reported it: a name or a staff/owner id (default: you)")
@click.option("--reporter-phone", help="the reporter's phone, for the report-back and callback")
@click.option("--reporter-unit", help="the reporter's unit, e.g. B3-1201")
@click.option("--channel", help="how it came in: hotline, panel, patrol, walk-in, app")
@click.option("--received-at", help="when the call or alarm came in: 14:05, '10m' ago, or "
                                    "a date and time (targets count from it)")
@click.option("--owner", "first_receiver", help="first receiver who owns it (default: you)")
@click.option("--input", "inputs", multiple=True, help="playbook input NAME=VALUE")
@click.option("--note", help="a first note")
@click.option("--new", "separate", is_flag=True,
              help="start a separate incident even if one of this playbook is open in the "
                   "same building")
@pass_ctx
@handled
def start(ctx: Ctx, playbook: str, at: str, severity: int | None, drill: bool,
          reporter: str | None, reporter_phone: str | None, reporter_unit: str | None,
          channel: str | None, received_at: str | None, first_receiver: str | None,
          inputs: tuple[str, ...], note: str | None, separate: bool) -> None:
    """Start an incident; prints its id.

    Refused (exit 1, nothing written) when an incident of the same playbook is open in
    the same building: two starts would page the same people twice. Join it with
    `incident note ID …`, or pass --new for a separate incident."""
    from incident.quickstart import open_duplicates

    rt = ctx.runtime
    if not separate:
        dups = open_duplicates(rt.store, rt.directory, playbook, at, drill=drill)
        if dups:
            d = dups[0]
            raise Refused("refused.cli.already_open", id=d.id, playbook=d.playbook_id,
                          location=d.location, owner=d.owner,
                          command=f"`incident status {d.id}`")
    contact = {"phone": reporter_phone, "unit": reporter_unit}
    st = rt.engine.start(playbook, at, actor=ctx.user, severity=severity, drill=drill,
                         reporter=reporter, first_receiver=first_receiver,
                         inputs=_parse_inputs(inputs), note=note, received_at=received_at,
                         reporter_contact=contact, channel=channel)
    click.echo(st.id)


@main.command("list")
@click.option("--all", "show_all", is_flag=True, help="include resolved incidents")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@handled
def list_(ctx: Ctx, show_all: bool, fmt: str) -> None:
    """Incidents, open ones first."""
    rows = ctx.runtime.store.incidents(status=None if show_all else "open")
    if fmt == "json":
        click.echo(json.dumps([{
            "id": r.id, "playbook": r.playbook_id, "type": r.type, "location": r.location,
            "severity": r.severity, "drill": r.drill, "status": r.status, "owner": r.owner,
            "created_at": r.created_at.isoformat()} for r in rows], ensure_ascii=False, indent=2))
        return
    zone = _zone(ctx)
    if not rows:
        click.echo(t("cli.no_incidents" if show_all else "cli.no_open", ctx.lang))
    for r in rows:
        click.echo(terminal(
            f"{r.id}  {r.created_at.astimezone(zone):%Y-%m-%d %H:%M}  "
            f"{pad(status_label(r.status, ctx.lang), 8)} "
            f"{pad(r.title.get(ctx.lang, r.playbook_id), 22)} {r.location:<10} "
            f"{t('cli.sev', ctx.lang, n=r.severity)}  {r.owner}"
            f"{t('cli.drill', ctx.lang) if r.drill else ''}"))


@main.command()
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@handled
def status(ctx: Ctx, incident_id: str, fmt: str) -> None:
    """Tracks, steps, targets and timers of an incident."""
    from incident.views import status_lines

    rt = ctx.runtime
    # the lean read path: the fold alone, no engine (nothing fired: due shows as due)
    st = rt.read_state(incident_id)
    now = rt.clock.now()
    if fmt == "json":
        from incident.notify.tally import progress_fields, step_tallies

        doc = _state_json(st, now)
        doc["delivery"] = {sid: progress_fields(t) for sid, t in
                           step_tallies(rt.store, incident_id).items()}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        return
    from incident.notify.tally import step_tallies

    delivery = step_tallies(rt.store, incident_id)
    for line in status_lines(st, now, _zone(ctx), ctx.lang, delivery):
        click.echo(line)


def _aftercare_json(st: Any, now: Any) -> dict[str, Any]:
    """First receiver's record, callbacks and complaints (status --format json)."""
    return {
        "phase": st.phase, "first_receiver": st.first_receiver, "reporter": st.reporter,
        "reporter_contact": st.reporter_contact, "channel": st.channel,
        "received_at": st.counted_from, "closed_at": st.closed_at,
        "promise": None if st.promise is None else {
            "due_at": st.promise.due_at, "via": st.promise.via,
            "reported_at": st.promise.reported_at},
        "followups": {w: {"name": f.name, "reason": f.reason, "due_at": f.due_at,
                          "status": f.status(now), "attempts": f.attempts,
                          "satisfaction": f.satisfaction, "by_role": f.by_role}
                      for w, f in st.followups.items()},
        "complaints": {c.id: {"from": c.by, "text": c.text, "open": c.open,
                              "supervisor_due": c.supervisor_due,
                              "investigation_due": c.investigation_due,
                              "supervisor_told": c.clock("supervisor_told", now),
                              "investigated": c.clock("investigated", now),
                              "satisfaction": c.satisfaction}
                       for c in st.complaints.values()},
    }


def _state_json(st: Any, now: Any) -> dict[str, Any]:
    return {
        "id": st.id, "playbook": st.playbook.id, "status": st.status, "location": st.location,
        "severity": st.severity, "drill": st.drill, "owner": st.owner,
        "started_at": st.started_at, "resolved_at": st.resolved_at,
        **_aftercare_json(st, now),
        "steps": {sid: {"status": s.status, "track": s.track, "done_by": s.done_by,
                        "done_at": s.done_at, "option": s.option, "value": s.value,
                        "due_at": s.due_at, "overdue": s.overdue(now)}
                  for sid, s in st.steps.items()},
        "targets": {tid: {"status": t.status(now), "due_at": t.due_at, "met_at": t.met_at,
                          "rule": t.rule, "threshold_pct": t.threshold,
                          "reached": list(t.reached) if t.reached else None}
                    for tid, t in st.targets.items()},
        "reports": {rid: {"status": r.status(now), "due_at": r.due_at, "to": r.to}
                    for rid, r in st.reports.items()},
        "timers": [{"id": t.id, "due_at": t.due_at} for t in st.timers()],
    }


@main.command()
@click.argument("incident_id")
@click.argument("step")
@click.option("--option", help="decision option")
@click.option("--value", help="recorded value")
@click.option("--note", help="a note on this action")
@click.option("--skip", "skip_reason", metavar="REASON", help="skip the step, saying why")
@click.option("--start", "start_", is_flag=True, help="take the step on / dispatch")
@click.option("--confirm", is_flag=True, help="second-person confirmation of a gated step")
@click.option("--to", help="dispatch to this person or vendor")
@click.option("--pin-stdin", is_flag=True,
              help="with --confirm: read the confirming person's PIN from standard input")
@pass_ctx
@handled
def act(ctx: Ctx, incident_id: str, step: str, option: str | None, value: str | None,
        note: str | None, skip_reason: str | None, start_: bool, confirm: bool,
        to: str | None, pin_stdin: bool) -> None:
    """Act on a step: done by default; --skip, --start, --confirm."""
    chosen = [name for name, on in (("skip", skip_reason is not None), ("start", start_),
                                    ("confirm", confirm)) if on]
    if len(chosen) > 1:
        raise click.UsageError(t("cli.main.one_action", ctx.lang))
    action = chosen[0] if chosen else "done"
    rt = ctx.runtime
    actor = ctx.confirmer(pin_stdin) if action == "confirm" else ctx.user
    rt.engine.tick(incident_id)
    st = rt.engine.act(incident_id, step, actor=actor, action=action, option=option,
                       value=value, reason=skip_reason, note=note, to=to)
    s = st.steps[step]
    click.echo(t("cli.step_status", ctx.lang, step=step, status=status_label(s.status, ctx.lang)))
    from incident.proposals import severity_proposal

    prop = severity_proposal(st, step)
    if prop is not None:  # the facts say worse: proposed, never applied silently
        click.echo(t("cli.proposal", ctx.lang, level=prop.level,
                     name=prop.name.get(ctx.lang) or prop.name["en"],
                     command=f"incident severity {st.id} {prop.level} "
                             f"--reason \"{step}: {prop.option}\""))
    if step in st.notifications:
        n = st.notifications[step]
        click.echo(t("cli.queued", ctx.lang,
                     messages=nt("n.messages", n.get("messages", 0), ctx.lang),
                     recipients=nt("n.recipients", n.get("recipients", 0), ctx.lang)))


@main.command()
@click.argument("incident_id")
@click.argument("text", nargs=-1, required=True)
@click.option("--step", help="attach the note to a step")
@pass_ctx
@handled
def note(ctx: Ctx, incident_id: str, text: tuple[str, ...], step: str | None) -> None:
    """Add a note to the timeline."""
    ctx.runtime.engine.note(incident_id, " ".join(text), actor=ctx.user, step=step)
    click.echo(t("cli.noted", ctx.lang))


@main.command()
@click.argument("incident_id")
@click.argument("person")
@click.option("--reason", help="why ownership moves")
@pass_ctx
@handled
def handover(ctx: Ctx, incident_id: str, person: str, reason: str | None) -> None:
    """Hand ownership of an incident to another person."""
    st = ctx.runtime.engine.handover(incident_id, person, actor=ctx.user, reason=reason)
    click.echo(t("cli.owned_by", ctx.lang, id=st.id, owner=st.owner))


@main.command()
@click.argument("incident_id")
@click.argument("level", type=int)
@click.option("--reason", required=True)
@pass_ctx
@handled
def severity(ctx: Ctx, incident_id: str, level: int, reason: str) -> None:
    """Change the severity level (report clocks and targets follow)."""
    st = ctx.runtime.engine.set_severity(incident_id, level, actor=ctx.user, reason=reason)
    click.echo(t("cli.severity", ctx.lang, id=st.id, level=st.severity))


@main.command()
@click.argument("incident_id")
@click.argument("report_id")
@click.option("--note")
@pass_ctx
@handled
def reported(ctx: Ctx, incident_id: str, report_id: str, note: str | None) -> None:
    """Record that a severity report (e.g. leadership phoned) was made."""
    ctx.runtime.engine.report_done(incident_id, report_id, actor=ctx.user, note=note)
    click.echo(t("cli.reported", ctx.lang, report=report_id))


@main.command()
@click.argument("incident_id")
@click.option("--summary", default="", help="closing summary")
@click.option("--force", is_flag=True, help="resolve although steps are open (needs --summary)")
@pass_ctx
@handled
def resolve(ctx: Ctx, incident_id: str, summary: str, force: bool) -> None:
    """Resolve an incident."""
    rt = ctx.runtime
    rt.engine.tick(incident_id)
    st = rt.engine.resolve(incident_id, actor=ctx.user, summary=summary, force=force)
    click.echo(t("cli.resolved", ctx.lang, id=st.id))


@main.command()
@click.argument("incident_id")
@click.option("--reason", required=True)
@pass_ctx
@handled
def reopen(ctx: Ctx, incident_id: str, reason: str) -> None:
    """Reopen a resolved incident."""
    st = ctx.runtime.engine.reopen(incident_id, actor=ctx.user, reason=reason)
    click.echo(t("cli.reopened", ctx.lang, id=st.id))


@main.command()
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@handled
def log(ctx: Ctx, incident_id: str, fmt: str) -> None:
    """The incident's event log, in order: each event told as a sentence."""
    from incident.names import Names
    from incident.narrate import describe
    from incident.views import offset

    rt = ctx.runtime
    row = rt.store.incident(incident_id)
    events = rt.store.events(incident_id)
    if fmt == "json":
        click.echo(json.dumps([{"seq": e.seq, "ts": e.ts.isoformat(), "actor": e.actor,
                                "kind": e.kind, "payload": e.payload, "hash": e.hash,
                                "key_id": e.key_id}
                               for e in events], ensure_ascii=False, indent=2))
        return
    zone = _zone(ctx)
    try:  # its read form from the compiled cache (a read needs no pydantic)
        playbook = rt.read_playbook(incident_id, row.playbook_id, compile_on_miss=False)
    except Refused:  # a playbook no longer loaded: steps read by their ids
        playbook = None
    names = Names(rt.directory, playbook, ctx.lang)
    start0 = events[0].ts if events else None
    for e in events:
        click.echo(f"{e.seq:>5}  {e.ts.astimezone(zone):%H:%M:%S}  {offset(e.ts, start0):<10} "
                   f"{describe(e, names, ctx.lang, zone)}")


@main.command()
@click.argument("incident_id", required=False)
@click.option("--expect", metavar="SEQ:HASH",
              help="also check that event SEQ has this hash (the head printed on a filed "
                   "report)")
@pass_ctx
@handled
def verify(ctx: Ctx, incident_id: str | None, expect: str | None) -> None:
    """Check an incident's log (or every incident's) with the chain key and against its
    last anchor; names the first broken link or what no longer matches. Exit 1 if any
    log fails."""
    store = ctx.runtime.store
    if expect and not incident_id:
        raise click.UsageError(t("cli.integrity.expect_needs_id", ctx.lang))
    ids = [incident_id] if incident_id else [r.id for r in reversed(store.incidents())]
    bad = 0
    lang = ctx.lang
    for iid in ids:
        rep = store.verify(iid)
        if rep.ok:
            extra = ([t("cli.integrity.head", lang, seq=rep.head_seq, hash=rep.head_hash)]
                     if rep.head_hash else [])
            if rep.key_ids:
                extra.append(t("cli.integrity.keyed", lang, keys=",".join(rep.key_ids)))
            if rep.unkeyed:
                extra.append(nt("cli.integrity.unkeyed", rep.unkeyed, lang))
            extra.append(t("cli.integrity.anchored_at", lang, seq=rep.anchor_seq,
                           at=f"{rep.anchor_at:%Y-%m-%d %H:%M:%S}") if rep.anchor_at
                         else t("cli.integrity.not_anchored_yet", lang))
            click.secho(nt("cli.integrity.intact", rep.count, lang, id=iid,
                           extra=" · ".join(extra)), fg="green")
        else:
            bad += 1
            click.secho(t("cli.integrity.broken_at" if rep.first_bad_seq
                          else "cli.integrity.broken", lang, id=iid, seq=rep.first_bad_seq,
                          reason=rep.reason), fg="red", err=True)
    if expect:
        seq_text, _, want = expect.partition(":")
        want = want.strip().lower()
        if len(want) < 12:
            raise click.BadParameter(t("cli.integrity.expect_12_hex", lang),
                                     param_hint="--expect")
        try:
            seq = int(seq_text)
        except ValueError:
            raise click.BadParameter(t("cli.integrity.expect_form", lang, expect=expect),
                                     param_hint="--expect") from None
        got = next((e.hash for e in store.events(ids[0], after_seq=seq - 1) if e.seq == seq),
                   None)
        if got is not None and got.startswith(want):
            click.secho(t("cli.integrity.matches", lang, id=ids[0], seq=seq), fg="green")
        else:
            bad += 1
            click.secho(t("cli.integrity.mismatch_is" if got else "cli.integrity.mismatch_gone",
                          lang, id=ids[0], seq=seq, want=want, got=got), fg="red", err=True)
    if len(ids) > 1:
        click.echo(nt("cli.integrity.summary", len(ids), lang, ok=len(ids) - bad))
    if bad:
        sys.exit(1)


@main.command()
@pass_ctx
@handled
def tick(ctx: Ctx) -> None:
    """Fire every timer that has fallen due, once (`incident service` keeps doing it)."""
    sweep = ctx.runtime.engine.sweep()
    for iid, payload in sweep.fired:
        late = t("cli.fired_late", ctx.lang) if payload.get("late") else ""
        click.echo(t("cli.fired", ctx.lang, id=iid, late=late,
                     timer=f"{payload['kind']} {payload['timer']}"))
    if not sweep.fired:
        click.echo(t("cli.nothing_due", ctx.lang))
    for iid, why in sweep.broken.items():  # named, skipped; the others still fired
        click.secho(t("cli.main.skipped_damaged", ctx.lang, id=iid, why=tell(why, ctx.lang)),
                    fg="yellow", err=True)


@main.command()
@pass_ctx
@handled
def playbooks(ctx: Ctx) -> None:
    """The loaded playbooks."""
    for pb in ctx.runtime.playbooks:
        levels = ",".join(str(s.level) for s in pb.severities)
        click.echo(t("cli.playbook_row", ctx.lang, id=f"{pb.id:<22}",
                     title=pad(pb.title.get(ctx.lang), 28), type=f"{pb.type:<20}",
                     levels=levels, steps=len(pb.steps())))


def _register_faces() -> None:
    """Command groups that live beside their core package (notify, escalation, drill,
    report, console) register themselves here; a missing one is simply absent."""
    import importlib

    for name in ("notify", "escalation", "drill", "report", "console", "integrity", "staff",
                 "service", "followup", "rollcall"):
        module = f"incident.cli_{name}"
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        mod.register(main)


def _set_user(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Ctx).flags["as_person"] = value


def _accept_as_everywhere(group: click.Group) -> None:
    """`incident start fire --at B3 --as chen.jie` reads naturally: every verb takes
    --as as well as the group (the verb's wins)."""
    for cmd in group.commands.values():
        if isinstance(cmd, click.Group):
            _accept_as_everywhere(cmd)
        elif not any("--as" in p.opts for p in cmd.params):
            cmd.params.append(click.Option(["--as", "as_user"], expose_value=False,
                                           callback=_set_user,
                                           help="the acting person (staff id)"))


_register_faces()
_accept_as_everywhere(main)

if __name__ == "__main__":  # pragma: no cover
    main()
