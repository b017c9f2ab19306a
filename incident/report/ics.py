"""Forms people already know: ICS 214 (activity log) and ICS 201 (incident briefing).

Both are drawn from the same report data as the post-incident report; the 201 is
meant for a shift handover while the incident is still open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.clock import format_duration
from incident.engine import events as ev
from incident.engine.state import waiting_for
from incident.i18n import status_label
from incident.names import Names
from incident.report.labels import t
from incident.report.model import IncidentReport, duration_text
from incident.report.render import (
    h,
    html_page,
    html_table,
    integrity_dict,
    integrity_text,
    md_table,
    when,
)
from incident.safetext import md_text
from incident.views import pick

if TYPE_CHECKING:
    from incident.directory import Directory

QUIET = frozenset({ev.DELIVERY_PROGRESS})
ACTIONS = frozenset({ev.STEP_STARTED, ev.STEP_DONE, ev.STEP_AWAITING, ev.STEP_CONFIRMED,
                     ev.STEP_SKIPPED, ev.NOTE_ADDED, ev.OWNER_CHANGED, ev.SEVERITY_CHANGED,
                     ev.REPORT_DONE, ev.NOTIFY_QUEUED, ev.PAGE_SENT, ev.PAGE_ACKED,
                     ev.ESCALATION_RAISED, ev.ESCALATION_SKIPPED, ev.DRILL_INJECT,
                     ev.INCIDENT_RESOLVED, ev.INCIDENT_REOPENED})


def _names(rep: IncidentReport) -> Names:
    return rep.names or Names(None, rep.state.playbook, rep.lang)


def _activity(rep: IncidentReport, row) -> str:
    """One line of ICS 201/214 activity: the event's sentence (incident.narrate)."""
    return row.detail


# ---- ICS 214 ------------------------------------------------------------------------

# Automatic entries (timers, delivery progress) are counted, not listed: box 7 holds
# what people did and decided. The full timeline is in the post-incident report.
AUTOMATIC = frozenset({ev.TIMER_FIRED, ev.DELIVERY_PROGRESS})
LINES_PER_PAGE = 24  # activity lines on one printed ICS 214 page, as on the paper form


@dataclass(slots=True)
class Ics214Period:
    """One ICS 214 form: one operational period (a handover or shift change opens the next)."""

    number: int
    period_from: datetime
    period_to: datetime
    name: str            # box 3: the unit leader of this period (the incident's owner)
    position: str        # box 4: their role in staff.yaml
    home_unit: str       # box 5: the company, and the leader's role as the unit
    resources: list[tuple[str, str, str, str]]  # box 6: name, position, home agency, arrived
    activity: list[tuple[datetime, str]]         # box 7: notable activities only
    automatic: dict[str, int] = field(default_factory=dict)  # left out of box 7, by kind
    opened_by: str = ""  # why this period began: start, handover, shift change
    pages: list[list[tuple[datetime, str]]] = field(default_factory=list)
    first_page: int = 1


@dataclass(slots=True)
class Ics214:
    rep: IncidentReport
    incident_name: str
    period_from: datetime
    period_to: datetime
    name: str
    position: str
    home_unit: str
    resources: list[tuple[str, str, str]]
    activity: list[tuple[datetime, str]]
    prepared_name: str
    prepared_position: str
    prepared_at: datetime
    periods: list[Ics214Period] = field(default_factory=list)
    total_pages: int = 1


def _company(rep: IncidentReport) -> str:
    d = _names(rep).directory
    if d is not None and getattr(d.site, "company", None):
        return pick(d.site.company, rep.lang, rep.site)
    return rep.site or rep.state.location


def _shift_changes(rep: IncidentReport, role: str, start: datetime,
                   end: datetime) -> list[datetime]:
    """Moments between start and end when the people rostered for `role` change."""
    d = _names(rep).directory
    if d is None or not role or role not in d.rota.slots:
        return []
    week = 7 * 1440
    marks = sorted({sl.start % week for sl in d.rota.slots[role]}
                   | {sl.end % week for sl in d.rota.slots[role]})
    local = start.astimezone(rep.zone)
    monday = datetime(local.year, local.month, local.day, tzinfo=rep.zone) \
        - timedelta(days=local.weekday())
    out = []
    for w in range(int((end - start).days // 7) + 2):
        for m in marks:
            at = monday + timedelta(weeks=w, minutes=m)
            if start < at < end and d.rota.at(role, (m - 1) % week) != d.rota.at(role, m):
                out.append(at.astimezone(start.tzinfo))
    return sorted(out)


def _periods(rep: IncidentReport, start: datetime,
             end: datetime) -> list[tuple[datetime, datetime, str, str]]:
    """(from, to, leader id, opened by) for each operational period."""
    st, names = rep.state, _names(rep)
    owner = st.first_receiver
    cuts: list[tuple[datetime, str | None, str]] = []
    for h_ in st.handovers:
        if start < h_["ts"] < end:
            cuts.append((h_["ts"], h_.get("to"), "handover"))
        elif h_["ts"] <= start:
            owner = h_.get("to") or owner
    roles = names.roles_of(st.first_receiver)
    role = "duty_officer" if "duty_officer" in roles else (roles[0] if roles else "")
    cuts += [(ts, None, "shift") for ts in _shift_changes(rep, role, start, end)]
    cuts.sort(key=lambda c: c[0])
    out: list[tuple[datetime, datetime, str, str]] = []
    at, why = start, "start"
    for ts, to, kind in cuts:
        if ts > at:
            out.append((at, ts, owner, why))
            at, why = ts, kind
        elif kind == "handover":  # a handover at the shift change: say handover
            why = kind
        owner = to or owner
    out.append((at, end, owner, why))
    return out


def _resources(rep: IncidentReport, company: str, start: datetime,
               end: datetime) -> list[tuple[str, str, str, str]]:
    """Box 6: who worked in the period (people who acted), the external agencies called
    (119, 120, the housing authority) and the vendors dispatched, with arrival times."""
    names, st, lang = _names(rep), rep.state, rep.lang
    steps = st.playbook.steps()
    d = names.directory
    seen: dict[str, tuple[str, str, str, str]] = {}
    for row in rep.timeline:
        if not (start <= row.ts <= end) or row.actor == ev.SYSTEM or row.actor in seen:
            continue
        seen[row.actor] = (row.who, names.role_for(row.actor) or row.role, company,
                           when(rep, row.ts))
    for sid, s in st.steps.items():
        step = steps[sid]
        call = getattr(step, "call", None)
        if call and s.status == "done" and s.done_at and start <= s.done_at <= end \
                and f"ext:{call}" not in seen:
            ext = d.externals.get(call) if d is not None else None
            label = pick(ext.name, lang, call) + (f" ({ext.phone})" if ext else "")
            # arrival: the playbook's "meet them at the gate" step after the call, if done
            met = [st.steps[m].done_at for m, ms in steps.items() if sid in ms.after
                   and m.startswith("meet") and st.steps[m].status == "done"]
            seen[f"ext:{call}"] = (label, t("ics_external", lang),
                                   pick(ext.name, lang, call) if ext else call,
                                   f"{t('ics_called_at', lang)} {when(rep, s.done_at)}"
                                   + (f"; {t('ics_arrived_lc', lang)} {when(rep, met[0])}"
                                      if met and met[0] else ""))
        if step.kind == "dispatch" and s.started_at and start <= s.started_at <= end:
            to = s.dispatched_to or (step.dispatch.vendor or step.dispatch.role
                                     if step.dispatch else None)
            if not to or to in seen:
                continue
            is_vendor = d is not None and (to in d.vendors or to.removeprefix("vendor:")
                                           in d.vendors)
            arrived = when(rep, s.done_at) if s.status == "done" else (
                f"{t('ics_eta', lang)} {when(rep, s.arrive_by)}" if s.arrive_by else "—")
            seen[to] = (names.who(to), t("ics_vendor", lang) if is_vendor
                        else names.role(to), names.who(to) if is_vendor else company,
                        arrived)
    return list(seen.values())


def build_ics214(rep: IncidentReport, prepared_by: str | None = None,
                 period_from: datetime | None = None,
                 period_to: datetime | None = None) -> Ics214:
    names = _names(rep)
    st, lang = rep.state, rep.lang
    company = _company(rep)
    start = period_from or rep.started_at
    end = period_to or rep.end
    periods: list[Ics214Period] = []
    for i, (a, b, leader, why) in enumerate(_periods(rep, start, end), 1):
        last = b == end
        rows = [r for r in rep.timeline if a <= r.ts and (r.ts <= b if last else r.ts < b)]
        notable = [(r.ts, _activity(rep, r)) for r in rows if not _automatic(r)]
        auto: dict[str, int] = {}
        for r in rows:
            if _automatic(r):
                auto[r.what] = auto.get(r.what, 0) + 1
        role = names.role_for(leader)
        periods.append(Ics214Period(
            i, a, b, names.who(leader), role or t("ics_commander_now", lang),
            f"{company} — {role}" if role else company,
            _resources(rep, company, a, b), notable, auto, why,
            [notable[j:j + LINES_PER_PAGE] for j in range(0, len(notable), LINES_PER_PAGE)]
            or [[]]))
    page = 1
    for p in periods:
        p.first_page = page
        page += len(p.pages)
    preparer = prepared_by or st.owner
    first = periods[0]
    return Ics214(
        rep, f"{rep.title} — {rep.location} ({rep.id})", start, end, first.name,
        first.position, first.home_unit, [r[:3] for r in first.resources],
        [a for p in periods for a in p.activity], names.who(preparer),
        names.role_for(preparer), rep.generated_at, periods, page - 1)


def _automatic(row: Any) -> bool:
    """Timers, delivery progress and the pages the system sends on its own: counted
    under box 7, not listed (the escalation that caused a page is listed)."""
    return row.kind in AUTOMATIC or row.kind in QUIET or (
        row.kind == ev.PAGE_SENT and row.actor == ev.SYSTEM)


def _period_text(rep: IncidentReport, p: Ics214Period, lang: str) -> str:
    why = {"start": "", "handover": t("ics_opened_handover", lang),
           "shift": t("ics_opened_shift", lang)}.get(p.opened_by, "")
    return (f"{t('ics_from', lang)} {rep.local(p.period_from, True)} "
            f"{t('ics_to', lang)} {rep.local(p.period_to, True)} ({rep.zone.key})"
            + (f" — {why}" if why else ""))


def _auto_text(p: Ics214Period, lang: str) -> str:
    if not p.automatic:
        return ""
    kinds = ", ".join(f"{n} × {k}" for k, n in p.automatic.items())
    return t("ics_automatic", lang, n=sum(p.automatic.values()), kinds=kinds)


def _resource_head_214(lang: str) -> list[str]:
    return [t("ics_name", lang)[3:], t("ics_position", lang)[3:], t("ics_unit", lang),
            t("ics_first_seen", lang)]


def ics214_markdown(form: Ics214) -> str:
    rep, lang = form.rep, form.rep.lang
    out: list[str] = []
    for p in form.periods:
        pg = p.first_page
        out += [f"# {t('ics214_title', lang)}", "",
                f"*{t('ics_form_of', lang, n=p.number, of=len(form.periods))} · "
                f"{t('ics_page_of', lang, n=pg, of=form.total_pages)}*", ""]
        if rep.drill:
            out += [f"> **{t('drill_banner', lang)}**", ""]
        if not rep.integrity.ok:
            out += [f"> **⚠ {integrity_text(rep)}**", ""]
        out += md_table(["", ""], [
            [t("ics_incident_name", lang), form.incident_name],
            [t("ics_period", lang), _period_text(rep, p, lang)],
            [t("ics_name", lang), p.name],
            [t("ics_position", lang), p.position],
            [t("ics_home_unit", lang), p.home_unit],
        ])
        out += ["", f"## {t('ics_resources', lang)}", ""]
        out += md_table(_resource_head_214(lang), [list(r) for r in p.resources])
        for i, chunk in enumerate(p.pages):
            if i:
                out += ["", f"*{t('ics_page_of', lang, n=pg + i, of=form.total_pages)}*"]
            out += ["", f"## {t('ics_activity', lang)}"
                    + (f" ({t('ics_continued', lang)})" if i else ""), ""]
            out += md_table([t("ics_date_time", lang), t("ics_notable", lang)],
                            [[rep.local(ts, True), text] for ts, text in chunk])
        if p.automatic:
            out += ["", f"*{_auto_text(p, lang)}*"]
        out += ["", f"## {t('ics_prepared', lang)}", ""]
        out += md_table(["", ""], [
            [t("ics_name", lang)[3:], form.prepared_name],
            [t("ics_position", lang)[3:], form.prepared_position],
            [t("ics_signature", lang), ""],
            [t("ics_date_time", lang), rep.local(form.prepared_at, True)],
        ])
        out += ["", f"*{t('integrity', lang)}: {integrity_text(rep)}*", ""]
    return "\n".join(out)


FORM_CSS = """
.form { border: 2px solid #000; }
.form table { margin: 0; }
.form th { width: 24%; background: #f2f2f2; }
.boxhead { background: #000; color: #fff; font-weight: 700; padding: 3px 8px; margin: 0; }
.sig { height: 34px; }
.pageno { text-align: right; font-size: 11px; color: #333; }
.auto { font-size: 11px; font-style: italic; color: #555; }
.newpage { break-before: page; page-break-before: always; }
"""


def ics214_html(form: Ics214) -> str:
    rep, lang = form.rep, form.rep.lang
    parts = [f"<style>{FORM_CSS}</style>"]
    for p in form.periods:
        pg = p.first_page
        parts.append(f'<section class="form214{" newpage" if p.number > 1 else ""}">'
                     f"<h1>{h(t('ics214_title', lang))}</h1>"
                     f'<div class="pageno">{h(t("ics_form_of", lang, n=p.number, of=len(form.periods)))}'
                     f" · {h(t('ics_page_of', lang, n=pg, of=form.total_pages))}</div>")
        if rep.drill:
            parts.append(f'<div class="drill">{h(t("drill_banner", lang))}</div>')
        if not rep.integrity.ok:
            parts.append(f'<div class="banner">⚠ {h(integrity_text(rep))}</div>')
        parts.append('<div class="form"><table class="kv"><tbody>')
        for k, v in [
            (t("ics_incident_name", lang), form.incident_name),
            (t("ics_period", lang), _period_text(rep, p, lang)),
            (t("ics_name", lang), p.name), (t("ics_position", lang), p.position),
            (t("ics_home_unit", lang), p.home_unit),
        ]:
            parts.append(f"<tr><th>{h(k)}</th><td>{h(v)}</td></tr>")
        parts.append("</tbody></table>")
        parts.append(f'<p class="boxhead">{h(t("ics_resources", lang))}</p>')
        parts.append(html_table(_resource_head_214(lang), [list(r) for r in p.resources]))
        for i, chunk in enumerate(p.pages):
            if i:
                parts.append(f'</div><div class="form newpage"><div class="pageno">'
                             f"{h(t('ics_page_of', lang, n=pg + i, of=form.total_pages))}</div>")
            parts.append(f'<p class="boxhead">{h(t("ics_activity", lang))}'
                         + (f" ({h(t('ics_continued', lang))})" if i else "") + "</p>")
            parts.append(html_table([t("ics_date_time", lang), t("ics_notable", lang)],
                                    [[rep.local(ts, True), text] for ts, text in chunk],
                                    classes=["t", ""]))
        if p.automatic:
            parts.append(f'<p class="auto">{h(_auto_text(p, lang))}</p>')
        parts.append(f'<p class="boxhead">{h(t("ics_prepared", lang))}</p>'
                     '<table class="kv"><tbody>')
        parts.append(f"<tr><th>{h(t('ics_name', lang)[3:])}</th>"
                     f"<td>{h(form.prepared_name)}</td></tr>"
                     f"<tr><th>{h(t('ics_position', lang)[3:])}</th>"
                     f"<td>{h(form.prepared_position)}</td></tr>"
                     f"<tr><th>{h(t('ics_signature', lang))}</th><td class=\"sig\"></td></tr>"
                     f"<tr><th>{h(t('ics_date_time', lang))}</th>"
                     f"<td>{h(rep.local(form.prepared_at, True))}</td></tr></tbody></table>"
                     "</div></section>")
    parts.append(f"<footer><b>{h(t('integrity', lang))}:</b> {h(integrity_text(rep))}</footer>")
    return html_page(f"ICS 214 — {rep.id}", lang, "".join(parts))


# ---- ICS 201 (briefing at shift handover) ----------------------------------------------

@dataclass(slots=True)
class Brief:
    rep: IncidentReport
    now: datetime
    situation: list[str]
    objectives: list[tuple[str, str, str]]       # what, due, state
    actions: list[tuple[datetime, str]]
    organisation: list[tuple[str, str]]          # position, name(s)
    resources: list[dict[str, Any]] = field(default_factory=list)
    prepared_name: str = ""
    prepared_position: str = ""
    planned: list[tuple[str, str, str]] = field(default_factory=list)  # what, who, waits for
    safety: list[str] = field(default_factory=list)      # health and safety briefing
    assembly: list[str] = field(default_factory=list)    # assembly points for the building
    sketch: str = ""                                     # schematic SVG of the estate


def build_brief(rep: IncidentReport, directory: Directory | None, *,
                prepared_by: str | None = None) -> Brief:
    lang, st, now = rep.lang, rep.state, rep.generated_at
    names = _names(rep)
    pb = st.playbook
    steps = pb.steps()
    settled = sum(1 for s in st.steps.values() if s.settled)
    open_steps = [s for s in st.steps.values() if s.open]
    overdue = [s for s in open_steps if s.overdue(now)]
    sev = f"{rep.severity}" + (f" ({rep.severity_name})" if rep.severity_name else "")
    situation = [
        t("brief.situation", lang, title=rep.title, location=rep.location, severity=sev,
          mode=t("brief.mode.drill" if rep.drill else "brief.mode.live", lang)),
        t("brief.started", lang, at=rep.local(rep.started_at, True),
          elapsed=format_duration(rep.duration), status=status_label(rep.status, lang)),
        t("brief.steps", lang, settled=settled, total=len(st.steps), open=len(open_steps),
          overdue=len(overdue)),
    ]
    for sid, s in st.steps.items():
        if s.status == "done" and s.option:
            opt = next((o.title.get(lang) for o in steps[sid].options or [] if o.id == s.option),
                       s.option)
            situation.append(f"{steps[sid].title.get(lang)}: {opt}")
    situation += [f"{k}: {v}" for k, v in rep.values]
    for n in rep.notes[-3:]:
        situation.append(f"{when(rep, n.ts)} {n.detail}")
    if rep.summary:
        situation.append(f"{t('resolution', lang)}: {rep.summary}")

    objectives: list[tuple[str, str, str]] = []
    for r in rep.targets:
        if r.status in ("pending", "not_yet_due"):
            left = r.due_at - now
            objectives.append((r.title, when(rep, r.due_at),
                               t("brief.left", lang, d=format_duration(left))))
        elif r.status == "missed":
            objectives.append((r.title, when(rep, r.due_at), status_label("missed", lang)))
    for r in rep.report_clocks:
        if r.status in ("not_yet_due", "missed"):
            objectives.append((f"{t('report', lang)}: {r.title} → {r.to}", when(rep, r.due_at),
                               status_label(r.status, lang)))
    for s in open_steps:
        step = steps[s.id]
        state = status_label(s.status, lang)
        if s.overdue(now):
            state += f", {t('ics_overdue', lang)} {format_duration(now - s.due_at)}"
        objectives.append((f"{step.title.get(lang)} [{names.role(step.assignee)}]",
                           when(rep, s.due_at) if s.due_at else "—", state))

    actions = [(r.ts, _activity(rep, r)) for r in rep.timeline if r.kind in ACTIONS]

    organisation: list[tuple[str, str]] = [
        (t("ics_commander_now", lang), f"{rep.owner}"),
        (t("first_receiver", lang), rep.first_receiver),
    ]
    acted: dict[str, list[str]] = {}
    for r in rep.timeline:
        if r.actor == ev.SYSTEM or not r.role:
            continue
        lst = acted.setdefault(r.role, [])
        if r.who not in lst:
            lst.append(r.who)
    organisation += [(role, ", ".join(people)) for role, people in acted.items()]
    if directory is not None and st.status == "open":
        roles = sorted({s.assignee for s in steps.values() if s.assignee})
        for role in roles:
            if role not in directory.roles:
                continue
            people = [p.display_name(lang) for p in directory.on_duty(role, now)]
            organisation.append((f"{t('ics_on_duty', lang)}: {names.role(role)}",
                                 ", ".join(people) or "—"))

    resources = []
    for sid, s in st.steps.items():
        step = steps[sid]
        if step.kind != "dispatch" or s.status == "excluded":
            continue
        to = s.dispatched_to or (step.dispatch.vendor or step.dispatch.role
                                 if step.dispatch else None)
        status = status_label(s.status, lang)
        late = s.status == "in_progress" and s.arrive_by is not None and now > s.arrive_by
        if late:  # an overdue arrival stands out: chase it at the handover
            status = f"{t('ics_overdue_arrival', lang)} {format_duration(now - s.arrive_by)}"
        resources.append({
            "step": sid, "title": step.title.get(lang), "resource": names.who(to) if to else "",
            "ordered": s.started_at, "eta": s.arrive_by,
            "arrived": s.done_at if s.status == "done" else None,
            "status": status, "overdue": late})
    for sid, s in st.steps.items():  # external agencies called (119, 120, authorities)
        step = steps[sid]
        if not step.call or s.status != "done":
            continue
        ext = directory.externals.get(step.call) if directory is not None else None
        met = [st.steps[m].done_at for m, ms in steps.items() if sid in ms.after
               and m.startswith("meet") and st.steps[m].status == "done"]
        resources.append({
            "step": sid, "title": step.title.get(lang),
            "resource": (pick(ext.name, lang, step.call) + f" ({ext.phone})") if ext
            else step.call, "ordered": s.done_at, "eta": None,
            "arrived": met[0] if met else None,
            "status": t("ics_external", lang), "overdue": False})
    planned = []
    for sid, s in st.steps.items():  # what comes next, once what it waits for is settled
        if s.status != "pending":
            continue
        step = steps[sid]
        waits = [steps[w].title.get(lang) for w in waiting_for(st, sid) if w in steps]
        planned.append((step.title.get(lang), names.role(step.assignee),
                        ", ".join(waits) or "—"))
    assembly = _assembly_points(rep, directory)
    safety = [t("ics_safety_assembly", lang, points="; ".join(assembly))] if assembly else []
    for sid, s in st.steps.items():
        step = steps[sid]
        if step.gate is not None and not s.settled:
            safety.append(t("ics_safety_gate", lang, step=step.title.get(lang),
                            text=step.gate.text.get(lang),
                            role=names.role(step.gate.role) if step.gate.role
                            else t("ics_second_person", lang)))
    try:
        crit = pb.severity(st.severity).criteria.get(lang)
        safety.append(t("ics_safety_level", lang, level=sev, criteria=crit))
    except KeyError:
        pass
    preparer = prepared_by or st.owner
    return Brief(rep, now, situation, objectives, actions, organisation, resources,
                 names.who(preparer), names.role_for(preparer), planned, safety, assembly,
                 estate_sketch(rep, directory))


def estate_sketch(rep: IncidentReport, directory: Directory | None) -> str:
    """ICS 201 box 2 as a schematic SVG (not to scale): each assembly point with the
    buildings it serves on one row, the incident's building in red with its floor."""
    if directory is None or not directory.buildings:
        return ""
    lang = rep.lang
    building = rep.state.location_detail.get("building")
    floor = rep.state.location_detail.get("floor")
    points = list(directory.assembly_points.values())
    rows: list[tuple[Any, list[str]]] = [(p, [b for b in p.serves if b in directory.buildings])
                                         for p in points]
    served = {b for _, bs in rows for b in bs}
    rest = [b for b in directory.buildings if b not in served]
    if rest:
        rows.append((None, rest))
    box_w, box_h, gap, left, top = 64, 34, 10, 170, 24
    per_row = max(len(bs) for _, bs in rows)
    width = left + per_row * (box_w + gap) + 10
    height = top + len(rows) * (box_h + 18) + 26
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="{h(t("ics_map", lang))}" class="chart">'
           '<style>.bld{fill:#eceff1;stroke:#455a64}.hit{fill:#c62828;stroke:#7f0000}'
           '.ap{fill:#2e7d32}.lbl{font-size:11px;fill:#222}.hitl{font-size:11px;fill:#fff;'
           'font-weight:bold}.note{font-size:10px;fill:#666}.lnk{stroke:#2e7d32;'
           'stroke-dasharray:3 2}</style>'
           f'<text x="4" y="14" class="note">{h(t("ics_map_note", lang))}</text>']
    for i, (p, bs) in enumerate(rows):
        y = top + i * (box_h + 18)
        cy = y + box_h / 2
        if p is not None:
            out.append(f'<circle cx="18" cy="{cy}" r="9" class="ap"/>'
                       f'<text x="32" y="{cy + 4}" class="lbl">{h(pick(p.name, lang, p.id))}'
                       "</text>")
            out.append(f'<line x1="27" y1="{cy}" x2="{left - 4}" y2="{cy}" class="lnk"/>')
        for j, b in enumerate(bs):
            x = left + j * (box_w + gap)
            hit = b == building
            name = b if not hit or floor is None else f"{b} {floor}F"
            out.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="3" '
                       f'class="{"hit" if hit else "bld"}"><title>'
                       f'{h(pick(directory.buildings[b].name, lang, b))}</title></rect>'
                       f'<text x="{x + box_w / 2}" y="{cy + 4}" text-anchor="middle" '
                       f'class="{"hitl" if hit else "lbl"}">{h(name)}</text>')
    ly = height - 10
    out.append(f'<circle cx="18" cy="{ly - 4}" r="5" class="ap"/><text x="28" y="{ly}" '
               f'class="note">{h(t("ics_map_ap", lang))}</text>'
               f'<rect x="150" y="{ly - 9}" width="12" height="10" class="hit"/>'
               f'<text x="166" y="{ly}" class="note">{h(t("ics_map_incident", lang))}</text>'
               "</svg>")
    return "".join(out)


def _assembly_points(rep: IncidentReport, directory: Directory | None) -> list[str]:
    """The estate's assembly points for the incident's building (every one if unknown)."""
    if directory is None:
        return []
    points = directory.assembly_points
    building = rep.state.location_detail.get("building")
    mine = [p for p in points.values() if building and building in p.serves]
    return [pick(p.name, rep.lang, p.id) + (f" ({', '.join(p.serves)})" if p.serves else "")
            for p in (mine or list(points.values()))]


def _resource_rows(b: Brief) -> list[list[str]]:
    rep = b.rep
    return [[r["resource"], r["title"], when(rep, r["ordered"]), when(rep, r["eta"]),
             when(rep, r["arrived"]), r["status"]] for r in b.resources]


def _planned_head(lang: str) -> list[str]:
    return [t("step", lang), t("role", lang), t("ics_waits_for", lang)]


def _resource_head(lang: str) -> list[str]:
    return [t("ics_resource", lang), t("step", lang), t("ics_ordered", lang), t("ics_eta", lang),
            t("ics_arrived", lang), t("status", lang)]


def brief_markdown(b: Brief) -> str:
    rep, lang = b.rep, b.rep.lang
    out = [f"# {t('ics201_title', lang)} — {rep.id}", "",
           f"**{md_text(rep.title)}** · {md_text(rep.location)} · {t('generated', lang)} "
           f"{rep.local(b.now, True)} ({rep.zone.key})", ""]
    if rep.drill:
        out += [f"> **{t('drill_banner', lang)}**", ""]
    if not rep.integrity.ok:
        out += [f"> **⚠ {integrity_text(rep)}**", ""]
    out += [f"## 1. {t('ics_situation', lang)}", ""]
    out += [f"- {md_text(line)}" for line in b.situation]
    out += ["", f"## 2. {t('ics_objectives', lang)}", ""]
    out += md_table([t("what", lang), t("due", lang), t("status", lang)],
                    [list(o) for o in b.objectives]) if b.objectives else [t("none", lang)]
    out += ["", f"## 3. {t('ics_actions', lang)}", ""]
    out += md_table([t("time", lang), t("offset", lang), t("what", lang)],
                    [[when(rep, ts), "T+" + duration_text(ts - rep.started_at), text]
                     for ts, text in b.actions]) if b.actions else [t("none", lang)]
    out += ["", f"## 4. {t('ics_organisation', lang)}", ""]
    out += md_table([t("role", lang), t("who", lang)], [list(o) for o in b.organisation])
    out += ["", f"## 5. {t('ics_resources_201', lang)}", ""]
    out += md_table(_resource_head(lang), _resource_rows(b)) if b.resources \
        else [t("none", lang)]
    out += ["", f"## 6. {t('ics_planned', lang)}", ""]
    out += md_table(_planned_head(lang), [list(p) for p in b.planned]) if b.planned \
        else [t("none", lang)]
    out += ["", f"## 7. {t('ics_safety', lang)}", ""]
    out += [f"- {md_text(line)}" for line in b.safety] or [t("none", lang)]
    out += ["", f"{t('ics_prepared', lang)[3:]}: {md_text(b.prepared_name)}"
            + (f" ({md_text(b.prepared_position)})" if b.prepared_position else "")
            + f" · {rep.local(b.now, True)}", "",
            f"*{t('integrity', lang)}: {integrity_text(rep)}*", ""]
    return "\n".join(out)


def brief_html(b: Brief) -> str:
    rep, lang = b.rep, b.rep.lang
    parts = [f"<h1>{h(t('ics201_title', lang))} — {h(rep.id)}</h1>",
             f'<div class="sub"><b>{h(rep.title)}</b> · {h(rep.location)} · '
             f"{h(t('generated', lang))} {h(rep.local(b.now, True))}</div>"]
    if rep.drill:
        parts.append(f'<div class="drill">{h(t("drill_banner", lang))}</div>')
    if not rep.integrity.ok:
        parts.append(f'<div class="banner">⚠ {h(integrity_text(rep))}</div>')
    parts.append(f"<h2>1. {h(t('ics_situation', lang))}</h2><ul>")
    parts += [f"<li>{h(line)}</li>" for line in b.situation]
    parts.append("</ul>")
    if b.sketch:
        parts.append(f'<h3>{h(t("ics_map", lang))}</h3><div class="figure">{b.sketch}</div>')
    parts.append(f"<h2>2. {h(t('ics_objectives', lang))}</h2>")
    parts.append(html_table([t("what", lang), t("due", lang), t("status", lang)],
                            [list(o) for o in b.objectives]))
    parts.append(f"<h2>3. {h(t('ics_actions', lang))}</h2>")
    parts.append(html_table([t("time", lang), t("offset", lang), t("what", lang)],
                            [[when(rep, ts), "T+" + duration_text(ts - rep.started_at), text]
                             for ts, text in b.actions], classes=["t", "t", ""]))
    parts.append(f"<h2>4. {h(t('ics_organisation', lang))}</h2>")
    parts.append(html_table([t("role", lang), t("who", lang)], [list(o) for o in b.organisation]))
    parts.append(f"<h2>5. {h(t('ics_resources_201', lang))}</h2>")
    parts.append(html_table(_resource_head(lang), _resource_rows(b)) if b.resources
                 else f"<p>{h(t('none', lang))}</p>")
    parts.append(f"<h2>6. {h(t('ics_planned', lang))}</h2>")
    parts.append(html_table(_planned_head(lang), [list(p) for p in b.planned]) if b.planned
                 else f"<p>{h(t('none', lang))}</p>")
    parts.append(f"<h2>7. {h(t('ics_safety', lang))}</h2><ul>")
    parts += [f"<li>{h(line)}</li>" for line in b.safety]
    parts.append("</ul>")
    parts.append(f"<footer><p>{h(t('ics_prepared', lang)[3:])}: {h(b.prepared_name)} "
                 f"{h(b.prepared_position)} · {h(rep.local(b.now, True))}</p>"
                 f"<p><b>{h(t('integrity', lang))}:</b> {h(integrity_text(rep))}</p></footer>")
    return html_page(f"ICS 201 — {rep.id}", lang, "".join(parts))


def brief_json(b: Brief) -> str:
    def iso(ts: datetime | None) -> str | None:
        return ts.isoformat() if ts else None

    rep = b.rep
    return json.dumps({
        "id": rep.id, "generated_at": iso(b.now), "situation": b.situation,
        "objectives": [{"what": w, "due": d, "state": s} for w, d, s in b.objectives],
        "actions": [{"ts": iso(ts), "offset_s": (ts - rep.started_at).total_seconds(),
                     "action": text} for ts, text in b.actions],
        "organisation": [{"position": p, "who": w} for p, w in b.organisation],
        "resources": [{**r, "ordered": iso(r["ordered"]), "eta": iso(r["eta"]),
                       "arrived": iso(r["arrived"])} for r in b.resources],
        "planned": [{"step": w, "role": r, "waits_for": f} for w, r, f in b.planned],
        "safety": b.safety, "assembly_points": b.assembly,
        "prepared_by": {"name": b.prepared_name, "position": b.prepared_position},
        "integrity": integrity_dict(rep.integrity),
    }, ensure_ascii=False, indent=2)

