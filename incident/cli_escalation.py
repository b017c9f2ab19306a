"""CLI verbs for escalation: `ack`, `escalate`, `escalation check|show|pages`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from incident.cli import Ctx, handled, pass_ctx
from incident.errors import Issue, ValidationFailed
from incident.safetext import terminal


def _graph(ctx: Ctx):
    from incident.escalation import load_escalation

    path = ctx.runtime.settings.contacts_dir / "escalation.yaml"
    if not path.exists():
        raise ValidationFailed([Issue(str(path), "no escalation graph in the contacts folder",
                                      hint="copy contacts/escalation.yaml from the demo estate")])
    return load_escalation(path, ctx.runtime.directory)


@click.command("ack")
@click.argument("incident_id")
@click.option("--page", help="acknowledge one page (e.g. P3) instead of all your waiting pages")
@click.option("--all", "all_pages", is_flag=True,
              help="the commander (current owner) acknowledges every waiting page")
@pass_ctx
@handled
def ack(ctx: Ctx, incident_id: str, page: str | None, all_pages: bool = False) -> None:
    """Acknowledge your own pages (the commander: every page, with --all)."""
    from incident.escalation import acknowledge

    rt = ctx.runtime
    actor = ctx.user  # who acknowledges: the person at the keyboard (or --as, if allowed)
    rt.engine.tick(incident_id)
    st = acknowledge(rt.engine, incident_id, actor, page=page, all_pages=all_pages)
    acked = [p["id"] for p in st.pages if p.get("acked_by") == actor]
    click.echo(f"{incident_id}: acknowledged by {actor} ({', '.join(acked) or 'no page'})")


@click.command("escalate")
@click.argument("incident_id")
@click.option("--to", "role", required=True, help="role (or staff id) to page now")
@click.option("--reason", required=True, help="why you escalate")
@pass_ctx
@handled
def escalate(ctx: Ctx, incident_id: str, role: str, reason: str) -> None:
    """Escalate by hand: page a role now, saying why."""
    from incident.escalation import raise_escalation

    rt = ctx.runtime
    rt.engine.tick(incident_id)
    before = len(rt.engine.state(incident_id).pages)
    st = raise_escalation(rt.engine, incident_id, role, ctx.user, reason)
    new = st.pages[before:]
    if not new:
        click.echo(f"{incident_id}: escalated to {role}, but nobody could be paged "
                   "(see `incident log`)")
        return
    for p in new:
        click.echo(f"{incident_id}: paged {p['node']} ({p['id']}): {', '.join(p['to'])}")


@click.group("escalation")
def escalation() -> None:
    """The escalation graph: check it, show it, see an incident's pages."""


@escalation.command("check")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@handled
def escalation_check(ctx: Ctx, fmt: str) -> None:
    """Pre-flight check of the escalation graph against staff and rota. Exit 1 on errors."""
    from incident.escalation import check
    from incident.i18n import t
    from incident.yamlsrc import parse_file

    graph = _graph(ctx)
    directory = ctx.runtime.directory
    staff_path = ctx.runtime.settings.contacts_dir / "staff.yaml"
    staff = parse_file(staff_path) if staff_path.exists() else None
    report = check(graph, directory, staff)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        error, warning = (f": {t(k, ctx.lang)}: " for k in ("issue.error", "issue.warning"))
        for line in report.lines(directory, ctx.lang):
            color = None
            if error in line:
                color = "red"
            elif warning in line:
                color = "yellow"
            click.secho(line, fg=color)
    sys.exit(0 if report.ok else 1)


@escalation.command("show")
@click.option("--severity", type=int, help="severity level (1 = most severe)")
@click.option("--type", "type_", help="incident type (fire, flooding, …)")
@click.option("--at", "at", help="when: 03:00, 'sat 03:00' or 2026-01-10T03:00 (site time)")
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "dot"]), default="text")
@pass_ctx
@handled
def escalation_show(ctx: Ctx, severity: int | None, type_: str | None, at: str | None,
                    fmt: str) -> None:
    """The chain with who is on duty and each wait."""
    from incident.escalation import Escalation, render_dot, render_mermaid, render_text
    from incident.escalation.render import parse_at

    rt = ctx.runtime
    graph = _graph(ctx)
    esc = Escalation(graph, rt.directory)
    if severity is not None and severity not in graph.severities:
        raise click.BadParameter(f"use one of {', '.join(map(str, graph.severities))}",
                                 param_hint="--severity")
    try:
        when = parse_at(at, rt.clock.now(), rt.directory) if at else rt.clock.now()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    if fmt == "mermaid":
        click.echo(render_mermaid(esc, severity, type_, when, ctx.lang), nl=False)
    elif fmt == "dot":
        click.echo(render_dot(esc, severity, type_, when, ctx.lang), nl=False)
    else:
        levels = [severity] if severity is not None else list(graph.severities)
        for i, level in enumerate(levels):
            if i:
                click.echo("")
            for line in render_text(esc, level, type_, when, ctx.lang):
                click.echo(line)


@escalation.command("pages")
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@handled
def escalation_pages(ctx: Ctx, incident_id: str, fmt: str) -> None:
    """An incident's pages, who acknowledged, and the escalation waits still running."""
    from incident.engine.context import local_zone

    rt = ctx.runtime
    st = rt.engine.state(incident_id)  # a read: a wait that has run out shows as due
    timers = [t for t in rt.engine.timers(st) if t.kind == "escalation_due"]
    if fmt == "json":
        def plain(p: dict[str, Any]) -> dict[str, Any]:
            return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in p.items()}

        click.echo(json.dumps({"pages": [plain(p) for p in st.pages],
                               "waiting": [{"timer": t.id, "due_at": t.due_at.isoformat(),
                                            **t.data} for t in timers]},
                              ensure_ascii=False, indent=2))
        return
    zone = local_zone(rt.directory)
    if not st.pages:
        click.echo("nobody has been paged")
    for p in st.pages:
        ack = (f"acked {p['acked_at'].astimezone(zone):%H:%M:%S} by {p['acked_by']}"
               + (f" by reply ({p['acked_via']})" if p.get("acked_via") else "")
               if p.get("acked_at") else "waiting")
        kind = " (reminder)" if p.get("reminder") else ""
        click.echo(terminal(f"{p['id']:<4} {p['ts'].astimezone(zone):%H:%M:%S}  "
                            f"{p.get('node', ''):<18} {', '.join(p.get('to') or []):<28} "
                            f"{ack}{kind}  — {p.get('reason', '')}"))
    now = rt.clock.now()
    for t in timers:
        when = "due " if t.due_at <= now else "next:"  # due: fires when the service runs
        click.echo(f"  {when} {t.due_at.astimezone(zone):%H:%M:%S}  {t.label.get(ctx.lang)}")


def register(main: click.Group) -> None:
    main.add_command(ack)
    main.add_command(escalate)
    main.add_command(escalation)
