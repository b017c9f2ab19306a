"""CLI verbs for escalation: `ack`, `escalate`, `escalation check|show|pages`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from incident.cli import Ctx, handled, pass_ctx
from incident.errors import Issue, Msg, ValidationFailed
from incident.i18n import join_list, t
from incident.safetext import terminal


def _graph(ctx: Ctx):
    from incident.escalation import load_escalation

    path = ctx.runtime.settings.contacts_dir / "escalation.yaml"
    if not path.exists():
        raise ValidationFailed([Issue(str(path), "cli.esc.no_graph",
                                      hint=Msg("cli.esc.no_graph_hint"))])
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
    click.echo(t("cli.esc.acked", ctx.lang, id=incident_id, person=actor,
                 pages=", ".join(acked) or t("cli.esc.no_page", ctx.lang)))


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
        click.echo(t("cli.esc.nobody_paged", ctx.lang, id=incident_id, role=role,
                     command="`incident log`"))
        return
    for p in new:
        click.echo(t("cli.esc.paged", ctx.lang, id=incident_id, node=p["node"], page=p["id"],
                     to=", ".join(p["to"])))


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
    from incident.yamlsrc import parse_file

    graph = _graph(ctx)
    directory = ctx.runtime.directory
    staff_path = ctx.runtime.settings.contacts_dir / "staff.yaml"
    staff = parse_file(staff_path) if staff_path.exists() else None
    report = check(graph, directory, staff)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines(directory, ctx.lang):
            color = None
            if f": {t('issue.error', ctx.lang)}:" in line:
                color = "red"
            elif f": {t('issue.warning', ctx.lang)}:" in line:
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
        raise click.BadParameter(t("cli.esc.use_one_of", ctx.lang,
                                   levels=", ".join(map(str, graph.severities))),
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
    from incident.i18n import channel_name, pad
    from incident.names import Names
    from incident.narrate import page_reason

    zone = local_zone(rt.directory)
    lang = ctx.lang
    names = Names(rt.directory, st.playbook, lang)
    if not st.pages:
        click.echo(t("cli.esc.nobody_yet", lang))
    for p in st.pages:
        if p.get("acked_at"):
            ack = t("cli.esc.acked_at", lang, at=f"{p['acked_at'].astimezone(zone):%H:%M:%S}",
                    person=p["acked_by"])
            if p.get("acked_via"):
                ack += t("cli.esc.by_reply", lang, channel=channel_name(p["acked_via"], lang))
        else:
            ack = t("cli.esc.waiting", lang)
        kind = t("cli.esc.reminder", lang) if p.get("reminder") else ""
        reason = page_reason(p, names, lang) if p.get("trigger") else p.get("reason", "")
        click.echo(terminal(f"{p['id']:<4} {p['ts'].astimezone(zone):%H:%M:%S}  "
                            f"{p.get('node', ''):<18} "
                            f"{pad(join_list(list(p.get('to') or []), lang), 28)} "
                            f"{ack}{kind}  — {reason}"))
    now = rt.clock.now()
    for timer in timers:
        when = t("cli.esc.due" if timer.due_at <= now else "cli.esc.next", lang)
        click.echo(f"  {when} {timer.due_at.astimezone(zone):%H:%M:%S}  "
                   f"{timer.label.get(lang)}")


def register(main: click.Group) -> None:
    main.add_command(ack)
    main.add_command(escalate)
    main.add_command(escalation)
