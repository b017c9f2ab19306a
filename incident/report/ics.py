"""Forms people already know: ICS 214 (activity log) and ICS 201 (incident briefing).

Both are drawn from the same report data as the post-incident report; the 201 is
meant for a shift handover while the incident is still open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident.clock import format_duration
from incident.engine import events as ev
from incident.report.labels import t
from incident.report.model import IncidentReport, Names, duration_text
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

if TYPE_CHECKING:
    from incident.directory import Directory

QUIET = frozenset({ev.DELIVERY_PROGRESS})
ACTIONS = frozenset({ev.STEP_STARTED, ev.STEP_DONE, ev.STEP_AWAITING, ev.STEP_CONFIRMED,
                     ev.STEP_SKIPPED, ev.NOTE_ADDED, ev.OWNER_CHANGED, ev.SEVERITY_CHANGED,
                     ev.REPORT_DONE, ev.NOTIFY_QUEUED, ev.PAGE_SENT, ev.PAGE_ACKED,
                     ev.ESCALATION_RAISED, ev.ESCALATION_SKIPPED, ev.DRILL_INJECT,
                     ev.INCIDENT_RESOLVED, ev.INCIDENT_REOPENED})


def _names(rep: IncidentReport) -> Names:
    return rep.names or Names(None, rep.lang)


def _activity(rep: IncidentReport, row) -> str:
    text = row.what
    if row.step_title:
        text += f": {row.step_title}"
    if row.detail:
        text += f" — {row.detail}"
    if row.actor != ev.SYSTEM:
        text += f" ({row.who})"
    return text


# ---- ICS 214 ------------------------------------------------------------------------

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


def build_ics214(rep: IncidentReport, prepared_by: str | None = None,
                 period_from: datetime | None = None,
                 period_to: datetime | None = None) -> Ics214:
    names = _names(rep)
    st = rep.state
    home = rep.site or st.location
    start = period_from or rep.started_at
    end = period_to or rep.end
    seen: dict[str, tuple[str, str, str]] = {}
    for row in rep.timeline:
        if row.actor == ev.SYSTEM or row.actor in seen:
            continue
        seen[row.actor] = (row.who, names.role_for(row.actor) or row.role, home)
    for s in st.steps.values():
        if s.dispatched_to and s.dispatched_to not in seen:
            who = names.who(s.dispatched_to)
            seen[s.dispatched_to] = (who, names.role_title(s.dispatched_to)
                                     if who == s.dispatched_to else "", home)
    for p in st.pages:
        to = p.get("to")
        for pid in to if isinstance(to, list) else [to]:
            if pid and str(pid) not in seen:
                seen[str(pid)] = (names.who(pid), names.role_title(p.get("role") or p.get("node")),
                                  home)
    activity = [(r.ts, _activity(rep, r)) for r in rep.timeline
                if r.kind not in QUIET and start <= r.ts <= end]
    preparer = prepared_by or st.owner
    return Ics214(
        rep, f"{rep.title} — {rep.location} ({rep.id})", start, end, rep.owner,
        names.role_for(st.owner) or t("incident_commander", rep.lang), home,
        list(seen.values()), activity, names.who(preparer), names.role_for(preparer),
        rep.generated_at)


def ics214_markdown(form: Ics214) -> str:
    rep, lang = form.rep, form.rep.lang
    out = [f"# {t('ics214_title', lang)}", ""]
    if rep.drill:
        out += [f"> **{t('drill_banner', lang)}**", ""]
    out += md_table(["", ""], [
        [t("ics_incident_name", lang), form.incident_name],
        [t("ics_period", lang), f"{t('ics_from', lang)} {rep.local(form.period_from, True)} "
                                f"{t('ics_to', lang)} {rep.local(form.period_to, True)} "
                                f"({rep.zone.key})"],
        [t("ics_name", lang), form.name],
        [t("ics_position", lang), form.position],
        [t("ics_home_unit", lang), form.home_unit],
    ])
    out += ["", f"## {t('ics_resources', lang)}", ""]
    out += md_table([t("ics_name", lang)[3:], t("ics_position", lang)[3:], t("ics_unit", lang)],
                    [list(r) for r in form.resources])
    out += ["", f"## {t('ics_activity', lang)}", ""]
    out += md_table([t("ics_date_time", lang), t("ics_notable", lang)],
                    [[rep.local(ts, True), text] for ts, text in form.activity])
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
"""


def ics214_html(form: Ics214) -> str:
    rep, lang = form.rep, form.rep.lang
    parts = [f"<style>{FORM_CSS}</style><h1>{h(t('ics214_title', lang))}</h1>"]
    if rep.drill:
        parts.append(f'<div class="drill">{h(t("drill_banner", lang))}</div>')
    if not rep.integrity.ok:
        parts.append(f'<div class="banner">⚠ {h(integrity_text(rep))}</div>')
    parts.append('<div class="form"><table class="kv"><tbody>')
    for k, v in [
        (t("ics_incident_name", lang), form.incident_name),
        (t("ics_period", lang), f"{t('ics_from', lang)} {rep.local(form.period_from, True)}  "
                                f"{t('ics_to', lang)} {rep.local(form.period_to, True)} "
                                f"({rep.zone.key})"),
        (t("ics_name", lang), form.name), (t("ics_position", lang), form.position),
        (t("ics_home_unit", lang), form.home_unit),
    ]:
        parts.append(f"<tr><th>{h(k)}</th><td>{h(v)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append(f'<p class="boxhead">{h(t("ics_resources", lang))}</p>')
    parts.append(html_table([t("ics_name", lang)[3:], t("ics_position", lang)[3:],
                             t("ics_unit", lang)], [list(r) for r in form.resources]))
    parts.append(f'<p class="boxhead">{h(t("ics_activity", lang))}</p>')
    parts.append(html_table([t("ics_date_time", lang), t("ics_notable", lang)],
                            [[rep.local(ts, True), text] for ts, text in form.activity],
                            classes=["t", ""]))
    parts.append(f'<p class="boxhead">{h(t("ics_prepared", lang))}</p><table class="kv"><tbody>')
    parts.append(f"<tr><th>{h(t('ics_name', lang)[3:])}</th><td>{h(form.prepared_name)}</td></tr>"
                 f"<tr><th>{h(t('ics_position', lang)[3:])}</th>"
                 f"<td>{h(form.prepared_position)}</td></tr>"
                 f"<tr><th>{h(t('ics_signature', lang))}</th><td class=\"sig\"></td></tr>"
                 f"<tr><th>{h(t('ics_date_time', lang))}</th>"
                 f"<td>{h(rep.local(form.prepared_at, True))}</td></tr></tbody></table></div>")
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
    zh = lang == "zh"
    situation = [
        (f"{rep.title}，{rep.location}，{t('severity', lang)} {sev}，"
         f"{t('drill' if rep.drill else 'live', lang)}。" if zh else
         f"{rep.title} at {rep.location}, severity {sev}, "
         f"{t('drill' if rep.drill else 'live', lang).lower()}."),
        (f"{t('started', lang)} {rep.local(rep.started_at, True)}，"
         f"{t('ics_elapsed', lang)} {format_duration(rep.duration)}，{t('status', lang)}："
         f"{t(rep.status, lang)}。" if zh else
         f"Started {rep.local(rep.started_at, True)}; elapsed {format_duration(rep.duration)}; "
         f"status {t(rep.status, lang)}."),
        (f"步骤 {settled}/{len(st.steps)} 已完成或不适用，{len(open_steps)} 个进行中，"
         f"{len(overdue)} 个逾期。" if zh else
         f"Steps: {settled} of {len(st.steps)} settled, {len(open_steps)} open, "
         f"{len(overdue)} overdue."),
    ]
    for sid, s in st.steps.items():
        if s.status == "done" and s.option:
            opt = next((o.title.get(lang) for o in steps[sid].options or [] if o.id == s.option),
                       s.option)
            situation.append(f"{steps[sid].title.get(lang)}: {opt}")
    situation += [f"{k}: {v}" for k, v in rep.values]
    for n in rep.notes[-3:]:
        situation.append(f"{t('notes', lang)} {when(rep, n.ts)} {n.who}: {n.detail}")
    if rep.summary:
        situation.append(f"{t('resolution', lang)}: {rep.summary}")

    objectives: list[tuple[str, str, str]] = []
    for r in rep.targets:
        if r.status in ("pending", "not_yet_due"):
            left = r.due_at - now
            objectives.append((r.title, when(rep, r.due_at),
                               f"{format_duration(left)}" + (" left" if not zh else " 剩余")))
        elif r.status == "missed":
            objectives.append((r.title, when(rep, r.due_at), t("missed", lang)))
    for r in rep.report_clocks:
        if r.status in ("not_yet_due", "missed"):
            objectives.append((f"{t('report', lang)}: {r.title} → {r.to}", when(rep, r.due_at),
                               t(r.status, lang)))
    for s in open_steps:
        step = steps[s.id]
        state = t(s.status, lang)
        if s.overdue(now):
            state += f", {t('ics_overdue', lang)} {format_duration(now - s.due_at)}"
        objectives.append((f"{step.title.get(lang)} [{names.role_title(step.assignee)}]",
                           when(rep, s.due_at) if s.due_at else "—", state))

    actions = [(r.ts, _activity(rep, r)) for r in rep.timeline if r.kind in ACTIONS]

    organisation: list[tuple[str, str]] = [
        (t("incident_commander", lang), f"{rep.owner}"),
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
            organisation.append((f"{t('ics_on_duty', lang)}: {names.role_title(role)}",
                                 ", ".join(people) or "—"))

    resources = []
    for sid, s in st.steps.items():
        step = steps[sid]
        if step.kind != "dispatch" or s.status == "excluded":
            continue
        to = s.dispatched_to or (step.dispatch.vendor or step.dispatch.role
                                 if step.dispatch else None)
        resources.append({
            "step": sid, "title": step.title.get(lang), "resource": names.who(to) if to else "",
            "ordered": s.started_at, "eta": s.arrive_by,
            "arrived": s.done_at if s.status == "done" else None,
            "status": t(s.status, lang)})
    preparer = prepared_by or st.owner
    return Brief(rep, now, situation, objectives, actions, organisation, resources,
                 names.who(preparer), names.role_for(preparer))


def _resource_rows(b: Brief) -> list[list[str]]:
    rep = b.rep
    return [[r["resource"], r["title"], when(rep, r["ordered"]), when(rep, r["eta"]),
             when(rep, r["arrived"]), r["status"]] for r in b.resources]


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
    parts.append(f"</ul><h2>2. {h(t('ics_objectives', lang))}</h2>")
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
        "prepared_by": {"name": b.prepared_name, "position": b.prepared_position},
        "integrity": integrity_dict(rep.integrity),
    }, ensure_ascii=False, indent=2)

