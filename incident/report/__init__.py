"""Post-incident reports: timeline, KPIs, ICS-214/201, the monthly analysis.

Everything here reads the event log and the outbox; nothing mutates an incident.

    rep = build_incident_report(store, playbooks, directory, "INC-…", now=clock.now())
    render(rep, "html")            # md, html, csv, json, ics214, ics214-html
    brief = build_brief(rep, directory)   # ICS 201 at shift handover
    m = build_monthly(store, playbooks, directory, since=…, until=…, now=…)
    render_monthly(m, "md")        # md, html, csv, json
"""

from __future__ import annotations

from incident.report.ics import (
    Brief,
    Ics214,
    brief_html,
    brief_json,
    brief_markdown,
    build_brief,
    build_ics214,
    ics214_html,
    ics214_markdown,
)
from incident.report.model import IncidentReport, build_incident_report
from incident.report.monthly import Monthly, build_monthly, parse_day, render_monthly
from incident.report.render import to_clocks_csv, to_csv, to_html, to_json, to_markdown

FORMATS = ("md", "html", "csv", "json", "ics214", "ics214-html", "clocks-csv")
BRIEF_FORMATS = ("md", "html", "json")


def render(rep: IncidentReport, fmt: str, *, prepared_by: str | None = None) -> str:
    """One incident's report in a format: md, html, csv, json, ics214 (text), ics214-html."""
    if fmt == "md":
        return to_markdown(rep)
    if fmt == "html":
        return to_html(rep)
    if fmt == "csv":
        return to_csv(rep)
    if fmt == "json":
        return to_json(rep)
    if fmt == "clocks-csv":
        return to_clocks_csv(rep)
    if fmt == "ics214":
        return ics214_markdown(build_ics214(rep, prepared_by))
    if fmt == "ics214-html":
        return ics214_html(build_ics214(rep, prepared_by))
    raise ValueError(f"unknown report format '{fmt}' — use one of {', '.join(FORMATS)}")


def render_brief(brief: Brief, fmt: str) -> str:
    if fmt == "md":
        return brief_markdown(brief)
    if fmt == "html":
        return brief_html(brief)
    if fmt == "json":
        return brief_json(brief)
    raise ValueError(f"unknown brief format '{fmt}' — use one of {', '.join(BRIEF_FORMATS)}")


__all__ = [
    "BRIEF_FORMATS", "FORMATS", "Brief", "Ics214", "IncidentReport", "Monthly",
    "build_brief", "build_ics214", "build_incident_report", "build_monthly", "parse_day",
    "render", "render_brief", "render_monthly",
]
