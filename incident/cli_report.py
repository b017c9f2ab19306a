"""`incident report` and `incident brief`: post-incident reports, ICS forms, monthly analysis.

Thin argument handling over incident.report; registered by cli._register_faces().
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from incident.files import write_output

    write_output(output, text)  # no mkdir; a bad path is one clear line (handled)
    from incident.cli import _output_lang
    from incident.i18n import t

    click.echo(t("cli.wrote", _output_lang(), path=output), err=True)


def register(main: click.Group) -> None:
    from incident.cli import Ctx, handled, pass_ctx

    @main.command()
    @click.argument("incident_id", required=False)
    @click.option("--format", "fmt", default="md", show_default=True,
                  type=click.Choice(["md", "html", "csv", "json", "ics214"]),
                  help="ics214: the ICS 214 activity log (an HTML form when -o ends in .html)")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  help="write to a file instead of standard output")
    @click.option("--lang", "report_lang", type=click.Choice(["en", "zh"]),
                  help="language of the report (default: the global --lang)")
    @click.option("--since", help="monthly analysis: first day, e.g. 2026-01-01 or 2026-01")
    @click.option("--until", help="monthly analysis: last day (inclusive), e.g. 2026-01-31")
    @click.option("--site", help="monthly analysis: only this site")
    @click.option("--table", type=click.Choice(["timeline", "clocks"]), default="timeline",
                  show_default=True,
                  help="csv of one incident: the timeline, or every target and report clock "
                       "with its result")
    @pass_ctx
    @handled
    def report(ctx: Ctx, incident_id: str | None, fmt: str, output: Path | None,
               report_lang: str | None, since: str | None, until: str | None,
               site: str | None, table: str = "timeline") -> None:
        """Report on one incident (ID), or analyse many (--since/--until [--site]).

        One incident: summary, targets met or missed and by how much, the full
        timeline, notifications and delivery, escalations, and the hash-chain
        check. Many: counts, median and 90th-percentile times per target,
        timeliness and delivery rates, missed targets, open follow-ups; drills apart.
        """
        from incident.i18n import t
        from incident.report import (
            build_incident_report,
            build_monthly,
            parse_day,
            render,
            render_monthly,
        )

        rt = ctx.runtime
        lang = report_lang or ctx.lang
        now = rt.clock.now()
        if incident_id and (since or until or site):
            raise click.UsageError(t("cli.report.id_or_since", ctx.lang))
        if not incident_id:
            if not since:
                raise click.UsageError(t("cli.report.id_or_monthly", ctx.lang))
            if fmt not in ("md", "html", "csv", "json"):
                raise click.UsageError(t("cli.report.monthly_formats", ctx.lang))
            from incident.engine.context import local_zone

            zone = local_zone(rt.directory)
            try:
                start = parse_day(since, zone)
                end = parse_day(until, zone, end=True) if until else now
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
            if end <= start:
                raise click.BadParameter(t("cli.report.until_after_since", ctx.lang))
            m = build_monthly(rt.store, rt.playbooks, rt.directory, since=start, until=end,
                              site=site, now=now, lang=lang)
            _emit(render_monthly(m, fmt), output)
            for f in m.tampered:
                click.secho(t("cli.report.left_out", ctx.lang, id=f.id, reason=f.chain_reason),
                            fg="red", err=True)
            if m.tampered:
                sys.exit(1)
            return
        rep = build_incident_report(rt.store, rt.playbooks, rt.directory, incident_id,
                                    now=now, lang=lang)
        if fmt == "ics214" and output is not None and output.suffix.lower() in (".html", ".htm"):
            fmt = "ics214-html"
        if table == "clocks":
            if fmt != "csv":
                raise click.UsageError(t("cli.report.clocks_csv", ctx.lang))
            fmt = "clocks-csv"
        _emit(render(rep, fmt, prepared_by=ctx.reader), output)
        if not rep.integrity.ok:
            from incident.cli_notify import chain_warning

            click.secho(chain_warning(incident_id, rep.integrity, ctx.lang), fg="red", err=True)
            sys.exit(1)

    @main.command()
    @click.argument("incident_id")
    @click.option("--format", "fmt", default="md", show_default=True,
                  type=click.Choice(["md", "html", "json"]))
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  help="write to a file instead of standard output")
    @click.option("--lang", "report_lang", type=click.Choice(["en", "zh"]),
                  help="language of the brief (default: the global --lang)")
    @pass_ctx
    @handled
    def brief(ctx: Ctx, incident_id: str, fmt: str, output: Path | None,
              report_lang: str | None) -> None:
        """An ICS 201-style briefing for shift handover: situation, objectives, actions
        so far, current organisation, resources ordered / ETA / arrived."""
        from incident.report import build_brief, build_incident_report, render_brief

        rt = ctx.runtime
        rep = build_incident_report(rt.store, rt.playbooks, rt.directory, incident_id,
                                    now=rt.clock.now(), lang=report_lang or ctx.lang)
        _emit(render_brief(build_brief(rep, rt.directory, prepared_by=ctx.reader), fmt), output)
        if not rep.integrity.ok:
            from incident.cli_notify import chain_warning

            click.secho(chain_warning(incident_id, rep.integrity, ctx.lang), fg="red", err=True)
            sys.exit(1)
