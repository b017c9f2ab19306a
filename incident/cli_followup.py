"""CLI for the service loop after an incident: callbacks (回访), complaints, the close,
and the first receiver's report-back to the reporter."""

from __future__ import annotations

import json

import click

from incident.cli import Ctx, _zone, handled, pass_ctx
from incident.engine import aftercare as ac
from incident.i18n import t
from incident.safetext import terminal

STATUS = ac.FOLLOWUP_STATUS


def _t(entry: str | tuple[str, str], lang: str) -> str:
    return ac.text(entry, lang)


def register(main: click.Group) -> None:
    main.add_command(followups)
    main.add_command(followup)
    main.add_command(complaint)
    main.add_command(complaint_handled)
    main.add_command(complaint_close)
    main.add_command(close)
    main.add_command(report_back)


@click.command()
@click.option("--overdue", is_flag=True, help="only callbacks past their due time")
@click.option("--all", "show_all", is_flag=True, help="include callbacks already made")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@handled
def followups(ctx: Ctx, overdue: bool, show_all: bool, fmt: str) -> None:
    """The callback register (回访台账) across incidents, soonest due first."""
    from incident.engine.followups import register as callback_register

    rows = callback_register(ctx.runtime.engine, overdue_only=overdue, include_done=show_all)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2,
                              default=lambda o: o.isoformat() if hasattr(o, "isoformat")
                              else str(o)))
        return
    if not rows:
        click.echo(t("cli.no_callbacks", ctx.lang))
        return
    zone = _zone(ctx)
    for r in rows:
        reason = _t(ac.REASONS.get(r["reason"], (r["reason"], r["reason"])), ctx.lang)
        sat = "  " + t("care.satisfaction", ctx.lang, n=r["satisfaction"]) \
            if r["satisfaction"] else ""
        click.echo(terminal(
            f"{r['incident']}  {r['due_at'].astimezone(zone):%m-%d %H:%M}  "
            f"{_t(STATUS[r['status']], ctx.lang):<9} {r['who']:<16} {r['name']} "
            f"{r['phone'] or ''}  ({reason}; {r['by_role']}){sat}"))


@click.command()
@click.argument("incident_id")
@click.argument("who")
@click.option("--reached", type=click.Choice(["yes", "no"]), required=True,
              help="did the call or visit reach the person")
@click.option("--satisfaction", type=click.IntRange(1, 5),
              help="1 very dissatisfied … 5 very satisfied (needed when reached)")
@click.option("--note", default="", help="what they said, what they need")
@click.option("--final", is_flag=True,
              help="with --reached no: attempts used up, stop calling")
@pass_ctx
@handled
def followup(ctx: Ctx, incident_id: str, who: str, reached: str, satisfaction: int | None,
             note: str, final: bool) -> None:
    """Record a callback (回访) to WHO (an owner id, or 'reporter')."""
    from incident.engine.followups import record_followup

    st = record_followup(ctx.runtime.engine, incident_id, who, actor=ctx.user,
                         reached=reached == "yes", satisfaction=satisfaction, note=note,
                         final=final)
    f = st.followups[who]
    if f.done:
        click.echo(t("cli.callback_recorded", ctx.lang, who=who))
    else:
        click.echo(t("cli.callback_missed", ctx.lang, who=who, n=f.attempts))
    if st.closed_at is not None:
        click.echo(t("cli.incident_closed", ctx.lang, id=st.id))


@click.command()
@click.argument("incident_id")
@click.option("--from", "by", required=True, help="who complains: owner id, name or unit")
@click.option("--text", required=True, help="the complaint in their words")
@pass_ctx
@handled
def complaint(ctx: Ctx, incident_id: str, by: str, text: str) -> None:
    """Open a complaint the incident raised; prints its id and clocks."""
    from incident.engine.followups import open_complaint

    st, cid = open_complaint(ctx.runtime.engine, incident_id, actor=ctx.user, by=by, text=text)
    c = st.complaints[cid]
    zone = _zone(ctx)
    click.echo(cid)
    click.echo(t("cli.supervisor_by", ctx.lang,
                 at=f"{c.supervisor_due.astimezone(zone):%Y-%m-%d %H:%M}"))
    click.echo(t("cli.investigation_by", ctx.lang,
                 at=f"{c.investigation_due.astimezone(zone):%Y-%m-%d %H:%M}"))


@click.command("complaint-handled")
@click.argument("incident_id")
@click.argument("complaint_id")
@click.argument("step", type=click.Choice(sorted(ac.COMPLAINT_STEPS)))
@click.option("--note", default="")
@pass_ctx
@handled
def complaint_handled(ctx: Ctx, incident_id: str, complaint_id: str, step: str,
                      note: str) -> None:
    """Record a complaint step: supervisor_told or investigated."""
    from incident.engine.followups import complaint_step

    st = complaint_step(ctx.runtime.engine, incident_id, complaint_id, step, actor=ctx.user,
                        note=note)
    c = st.complaints[complaint_id.upper()]
    click.echo(f"{c.id}: {_t(ac.COMPLAINT_STEPS[step], ctx.lang)} "
               f"({_t(ac.CLOCK_STATUS[c.clock(step, ctx.runtime.clock.now())], ctx.lang)})")


@click.command("complaint-close")
@click.argument("incident_id")
@click.argument("complaint_id")
@click.option("--satisfaction", type=click.IntRange(1, 5), required=True,
              help="the owner's satisfaction, 1-5 (3 or more to close)")
@click.option("--note", default="")
@pass_ctx
@handled
def complaint_close(ctx: Ctx, incident_id: str, complaint_id: str, satisfaction: int,
                    note: str) -> None:
    """Close a complaint with the owner's satisfaction recorded."""
    from incident.engine.followups import close_complaint

    st = close_complaint(ctx.runtime.engine, incident_id, complaint_id, actor=ctx.user,
                         satisfaction=satisfaction, note=note)
    click.echo(t("cli.complaint_closed", ctx.lang, id=complaint_id.upper()))
    if st.closed_at is not None:
        click.echo(t("cli.incident_closed", ctx.lang, id=st.id))


@click.command()
@click.argument("incident_id")
@click.option("--note", default="")
@pass_ctx
@handled
def close(ctx: Ctx, incident_id: str, note: str) -> None:
    """Close a resolved incident that owes no callback or complaint."""
    from incident.engine.followups import close as close_incident

    st = close_incident(ctx.runtime.engine, incident_id, actor=ctx.user, note=note)
    click.echo(t("cli.incident_closed", ctx.lang, id=st.id))


@click.command("report-back")
@click.argument("incident_id")
@click.option("--via", type=click.Choice(["sms", "call"]),
              help="SMS to the reporter's phone, or a call you made (default: the promise's)")
@click.option("--text", default="", help="what the reporter is told")
@pass_ctx
@handled
def report_back(ctx: Ctx, incident_id: str, via: str | None, text: str) -> None:
    """Report back to the person who reported the incident (首问负责制)."""
    from incident.engine.followups import report_back as do_report_back

    do_report_back(ctx.runtime.engine, incident_id, actor=ctx.user, text=text, via=via)
    click.echo(t("cli.reported_back", ctx.lang))

