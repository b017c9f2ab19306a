"""The after-action report of a drill: objectives and ratings, injects, the sandboxed
notifications, counts, strengths, areas for improvement, the improvement plan, the
trend against earlier runs of the same scenario, and the key timeline.

Markdown, HTML and JSON, in English or Chinese. The table and page helpers of
incident.report are reused so a drill report looks like every other report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.clock import format_duration
from incident.drill import events as dev
from incident.drill.model import RATING_TEXT
from incident.drill.score import (
    EarlierRun,
    ObjectiveScore,
    ScoredDrill,
    evaluation,
    history,
    scored,
)
from incident.engine import events as ev
from incident.engine.context import local_zone
from incident.i18n import t
from incident.names import Names
from incident.narrate import describe

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.directory import Directory
    from incident.playbook import PlaybookLibrary
    from incident.store import Store

FORMATS = ("md", "html", "json")

@dataclass(slots=True)
class AfterAction:
    lang: str
    zone: ZoneInfo
    drill: ScoredDrill
    earlier: list[EarlierRun]
    names: Names
    location: str
    injects: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    values: list[tuple[str, str]]
    timeline: list[tuple[str, str]]  # (T+offset, the event as a sentence)
    generated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    carried: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (drill, item)

    def who(self, pid: str | None) -> str:
        return self.names.who(pid)

    def local(self, ts: datetime | None, with_date: bool = False) -> str:
        if ts is None:
            return "—"
        return ts.astimezone(self.zone).strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M:%S")


def _offset(delta: timedelta | None) -> str:
    return "—" if delta is None else "T+" + format_duration(delta)


def build_aar(store: Store, playbooks: PlaybookLibrary, directory: Directory | None,
              incident_id: str, *, now: datetime, lang: str = "en") -> AfterAction:
    sd = scored(store, playbooks, incident_id)
    st, sc = sd.state, sd.scenario
    names = Names(directory, st.playbook, lang)
    location = names.place(st.location)
    delivered = {e.payload.get("inject"): e.ts for e in sd.events if e.kind == dev.DRILL_INJECT}
    injects = []
    for inj in sc.injects:
        injects.append({
            "id": inj.id, "at": inj.at, "title": inj.title.get(lang),
            "detail": inj.detail.get(lang) if inj.detail else "",
            "expect": inj.expect.get(lang) if inj.expect else "",
            "fault": inj.fault.channel if inj.fault else None,
            "fault_for": inj.fault.duration if inj.fault else None,
            "delivered": (delivered[inj.id] - st.started_at) if inj.id in delivered else None,
            "response": _observed(sd, delivered.get(inj.id), names, lang)})
    channels: dict[str, dict[str, Any]] = {}
    for r in store.outbox_rows(incident_id):
        c = channels.setdefault(r.channel, {"channel": r.channel, "messages": 0, "sent": 0,
                                            "fell_back": 0, "failed": 0, "pending": 0,
                                            "attempts": 0})
        c["messages"] += 1
        c["attempts"] += r.attempts
        if r.state == "sent":
            c["sent"] += 1
        elif r.state == "fell_back":
            c["fell_back"] += 1
        elif r.state in ("failed_permanent", "cancelled"):
            c["failed"] += 1
        else:
            c["pending"] += 1
    values = []
    for step in st.playbook.steps().values():
        rec = step.record
        if rec is not None and rec.name in st.values:
            v = st.values[rec.name]
            label = rec.label.get(lang) if rec.label else rec.name
            values.append((label, ", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    earlier = history(store, playbooks, incident_id)
    carried = [(r.incident_id, item) for r in earlier
               for item in evaluation(store.events(r.incident_id)).plan
               if item.get("status", "open") != "done"]
    return AfterAction(lang, local_zone(directory), sd, earlier,
                       names, location, injects, sorted(channels.values(),
                                                               key=lambda c: c["channel"]),
                       values, _timeline(sd, names, lang, local_zone(directory)), now, carried=carried)


_KEY_KINDS = {ev.INCIDENT_STARTED, ev.STEP_DONE, ev.STEP_CONFIRMED, ev.STEP_SKIPPED,
              ev.NOTIFY_QUEUED, ev.SEVERITY_CHANGED, ev.INCIDENT_RESOLVED, ev.NOTE_ADDED,
              dev.DRILL_INJECT}


def _timeline(sd: ScoredDrill, names: Names, lang: str,
              zone: ZoneInfo | None = None) -> list[tuple[str, str]]:
    """The key moments: offset, and the event told as a sentence (incident.narrate)."""
    start = sd.state.started_at
    return [(_offset(e.ts - start), describe(e, names, lang, zone))
            for e in sd.events if e.kind in _KEY_KINDS]


# ---- rendering ---------------------------------------------------------------------------

def _result(s: ObjectiveScore, lang: str) -> str:
    if s.status == "not_done":
        return f"{t('aar.not_done', lang)}" + (f" ({s.why})" if s.why else "")
    m = s.margin
    assert m is not None
    if s.status == "met":
        return t("aar.met_spare", lang, d=format_duration(m))
    return f"{t('aar.late_by', lang)} {format_duration(-m)}"


def _measured_by(a: AfterAction, s: ObjectiveScore) -> str:
    kind, ref = s.ref.split(":", 1)
    pb = a.drill.state.playbook
    if kind == "step":
        text = pb.steps()[ref].title.get(a.lang) if ref in pb.steps() else ref
    else:
        tg = next((x for x in pb.targets if x.id == ref), None)
        text = tg.title.get(a.lang) if tg else ref
    if s.anchor:
        st = pb.steps().get(s.anchor)
        text += f" ({t('aar.from_step', a.lang)} {st.title.get(a.lang) if st else s.anchor})"
    return text


def objective_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    lang = a.lang
    head = [t(k, lang) for k in ("aar.objective", "aar.measured_by", "aar.allowed", "aar.took",
                                 "aar.result", "aar.suggested", "aar.rating", "aar.comment",
                                 "aar.rated_by")]
    rows = []
    for s in a.drill.scores:
        comment = (s.override or {}).get("comment", "")
        by = (s.override or {}).get("by")
        rows.append([s.title.get(lang, s.id), _measured_by(a, s), format_duration(s.within),
                     format_duration(s.elapsed) if s.elapsed is not None else "—",
                     _result(s, lang), s.suggested, s.rating, comment,
                     a.who(by) if by else t("aar.suggested_only", lang)])
    return head, rows


def summary_rows(a: AfterAction) -> list[tuple[str, str]]:
    lang, sd = a.lang, a.drill
    st, sc, run = sd.state, sd.scenario, sd.run
    end = st.resolved_at
    mode = t("aar.auto", lang) if run.mode == "auto" else t("aar.console", lang, speed=f"{run.speed:g}")
    parts = "; ".join(f"{a.who(p.person)} — {a.names.role(p.role)}"
                      for p in sc.participants) or "—"
    return [
        (t("aar.drill_id", lang), st.id),
        (t("aar.scenario", lang), f"{sc.title.get(lang)} ({sc.id} v{sc.version})"),
        (t("aar.playbook", lang), st.playbook.title.get(lang)),
        (t("aar.location", lang), a.location),
        (t("aar.started", lang), a.local(st.started_at, True)),
        (t("aar.ended", lang), a.local(end, True) if end else t("aar.open", lang)),
        (t("aar.duration", lang), format_duration((end or a.generated_at) - st.started_at)),
        (t("aar.mode", lang), mode),
        (t("aar.lead", lang), a.who(sc.lead)),
        (t("aar.participants", lang), parts),
        (t("aar.evaluators", lang), ", ".join(a.who(e) for e in sc.evaluators) or "—"),
    ] + [(k, v) for k, v in (
        (t("aar.scope", lang), sc.scope.get(lang) if sc.scope else ""),
        (t("aar.mission_areas", lang), ", ".join(sc.mission_areas)),
        (t("aar.poc", lang), a.who(sc.point_of_contact) if sc.point_of_contact else ""),
    ) if v]


RESPONSES = frozenset({ev.STEP_STARTED, ev.STEP_DONE, ev.STEP_AWAITING, ev.STEP_CONFIRMED,
                       ev.STEP_SKIPPED, ev.NOTE_ADDED, ev.SEVERITY_CHANGED, ev.REPORT_DONE,
                       ev.ESCALATION_RAISED, ev.OWNER_CHANGED})


def _observed(sd: ScoredDrill, at: datetime | None, names: Names,
              lang: str) -> dict[str, Any] | None:
    """The players' first action after an inject reached them (HSEEP: the observed
    response next to the expected one), with how long it took."""
    if at is None:
        return None
    for e in sd.events:
        if e.ts <= at or e.kind not in RESPONSES or e.actor == ev.SYSTEM:
            continue
        return {"ts": e.ts, "after": e.ts - at, "who": names.who(e.actor),
                "what": describe(e, names, lang)}
    return None


def _response_text(r: dict[str, Any] | None, lang: str) -> str:
    if r is None:
        return t("aar.no_response", lang)
    return f"+{format_duration(r['after'])} {r['who']}: {r['what']}"


def inject_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    lang = a.lang
    head = [t(k, lang) for k in ("aar.at", "aar.inject", "aar.delivered", "aar.expect",
                                 "aar.observed")]
    rows = []
    for i in a.injects:
        text = i["title"] + (f" — {i['detail']}" if i["detail"] else "")
        if i["fault"]:
            dur = f", {format_duration(i['fault_for'])}" if i["fault_for"] else ""
            text += f" [{t('aar.fault', lang)}: {i['fault']}{dur}]"
        rows.append(["T+" + format_duration(i["at"]), text,
                     _offset(i["delivered"]) if i["delivered"] is not None
                     else t("aar.not_reached", lang), i["expect"],
                     _response_text(i.get("response"), lang)
                     if i["delivered"] is not None else "—"])
    return head, rows


def channel_rows(a: AfterAction) -> tuple[list[str], list[list[Any]]]:
    keys = ("channel", "messages", "sent", "fell_back", "failed", "pending", "attempts")
    heads = ("aar.channel", "aar.messages", "aar.sent", "aar.fell_back", "aar.failed",
             "aar.pending", "aar.attempts")
    return [t(k, a.lang) for k in heads], [[c[k] for k in keys] for c in a.channels]


def plan_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    """The improvement plan (HSEEP IP): this drill's items, then the items of earlier
    runs of the scenario not done yet — carried over, never silently dropped."""
    head = [t(k, a.lang) for k in ("aar.item", "aar.capability", "aar.issue", "aar.action",
                                   "aar.owner", "aar.start", "aar.due", "aar.status")]
    today = a.generated_at.astimezone(a.zone).date().isoformat()

    def owner(o: str) -> str:
        return a.who(o)

    def status(p: dict[str, Any]) -> str:  # a due date already past stands out
        st = p.get("status", "open")
        if st != "done" and str(p["due"]) < today:
            return t("aar.overdue", a.lang)
        return t({"open": "aar.open_item", "in_progress": "aar.in_progress_item",
                  "done": "aar.done_item"}.get(st, "aar.open_item"), a.lang)

    rows = [[p.get("item", ""), p.get("capability") or "—", p["issue"], p["action"],
             owner(p["owner"]), p.get("start") or "—", p["due"], status(p)]
            for p in a.drill.evaluation.plan]
    rows += [[f"{src}/{p.get('item', '')} ({t('aar.carried_over', a.lang)})",
              p.get("capability") or "—", p["issue"], p["action"], owner(p["owner"]),
              p.get("start") or "—", p["due"], status(p)] for src, p in a.carried]
    return head, rows


def observation_text(i: dict[str, Any], lang: str) -> str:
    """An HSEEP observation: [capability] text. Analysis: … Recommendation: …"""
    text = (f"[{i['capability']}] " if i.get("capability") else "") + i["text"]
    if i.get("analysis"):
        text += f" {t('aar.analysis', lang)}: {i['analysis']}"
    if i.get("recommendation"):
        text += f" {t('aar.recommendation', lang)}: {i['recommendation']}"
    return text


WORST = "PSMU"  # a capability is rated by its weakest objective


def capability_rows(a: AfterAction) -> list[list[str]]:
    """Core capabilities (from the scenario's objectives and the observations), each with
    its objectives, the weakest rating among them and its strengths / areas to improve."""
    sc, ev_ = a.drill.scenario, a.drill.evaluation
    by_obj = {s.id: s for s in a.drill.scores}
    caps: dict[str, dict[str, list[str]]] = {}
    for o in sc.objectives:
        if o.capability:
            caps.setdefault(o.capability, {"obj": [], "r": [], "s": [], "i": []})
            caps[o.capability]["obj"].append(o.title.get(a.lang))
            if o.id in by_obj:
                caps[o.capability]["r"].append(by_obj[o.id].rating)
    for key, items in (("s", ev_.strengths), ("i", ev_.improvements)):
        for it in items:
            if it.get("capability"):
                caps.setdefault(it["capability"], {"obj": [], "r": [], "s": [], "i": []})
                caps[it["capability"]][key].append(it["text"])
    return [[name, "; ".join(c["obj"]) or "—",
             max(c["r"], key=WORST.index) if c["r"] else "—",
             str(len(c["s"])), str(len(c["i"]))] for name, c in caps.items()]


def count_rows(a: AfterAction) -> list[tuple[str, str]]:
    rows = []
    if a.drill.scenario.occupants is not None:
        rows.append((t("aar.occupants_expected", a.lang), str(a.drill.scenario.occupants)))
    rows += [(k, str(v)) for k, v in a.drill.evaluation.counts.items()]
    rows += [(f"{label} ({t('aar.recorded', a.lang)})", v) for label, v in a.values]
    return rows


def trend_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    lang = a.lang
    head = [t("aar.objective", lang)] + [r.started_at.astimezone(a.zone).strftime("%Y-%m-%d")
                                     for r in a.earlier] + [t("aar.this_run", lang)]
    rows = []

    def cell(s: ObjectiveScore | None) -> str:
        if s is None:
            return "—"
        took = format_duration(s.elapsed) if s.elapsed is not None else "—"
        return f"{took} {s.rating}"

    for s in a.drill.scores:
        rows.append([s.title.get(lang, s.id)] + [cell(r.by_objective.get(s.id))
                                                 for r in a.earlier] + [cell(s)])
    return head, rows


def _ratings_key(lang: str) -> str:
    return t("aar.ratings_key", lang) + "; ".join(
        f"{k} = {t(key, lang)}" for k, key in RATING_TEXT.items())


def to_markdown(a: AfterAction) -> str:
    from incident.report.render import md_table

    lang, sc = a.lang, a.drill.scenario
    from incident.safetext import md_text

    out = [f"# {t('aar.title', lang)} — {md_text(sc.title.get(lang))}", "",
           f"> **{t('aar.banner', lang)}**", "",
           f"## {t('aar.summary', lang)}", ""]
    out += md_table(["", ""], [[k, v] for k, v in summary_rows(a)])
    out += ["", f"## {t('aar.objectives', lang)}", ""]
    out += md_table(*objective_rows(a))
    out += ["", f"_{_ratings_key(lang)}_", ""]
    if a.injects:
        out += [f"## {t('aar.injects', lang)}", "", *md_table(*inject_rows(a)), ""]
    out += [f"## {t('aar.notifications', lang)}", ""]
    out += md_table(*channel_rows(a)) if a.channels else [t("aar.none", lang)]
    out += ["", f"## {t('aar.counts', lang)}", ""]
    rows = count_rows(a)
    out += md_table(["", ""], [list(r) for r in rows]) if rows else [t("aar.none", lang)]
    caps = capability_rows(a)
    if caps:
        out += ["", f"## {t('aar.capabilities', lang)}", ""]
        out += md_table([t("aar.capability", lang), t("aar.objectives", lang), t("aar.rating", lang),
                         t("aar.strengths", lang), t("aar.improvements", lang)], caps)
    for key, items in (("aar.strengths", a.drill.evaluation.strengths),
                       ("aar.improvements", a.drill.evaluation.improvements)):
        out += ["", f"## {t(key, lang)}", ""]
        out += [f"- {md_text(observation_text(i, lang))}" for i in items] or [t("aar.none", lang)]
    out += ["", f"## {t('aar.plan', lang)}", ""]
    out += md_table(*plan_rows(a)) if a.drill.evaluation.plan or a.carried \
        else [t("aar.none", lang)]
    out += ["", f"## {t('aar.trend', lang)}", ""]
    out += md_table(*trend_rows(a)) if a.earlier else [t("aar.no_history", lang)]
    out += ["", f"## {t('aar.timeline', lang)}", ""]
    out += md_table([t("aar.time", lang), t("aar.what", lang)],
                    [list(r) for r in a.timeline])
    return "\n".join(out) + "\n"


# A problem must stand out at least as much as a success: S amber, M and U red, P green.
RATING_CSS = (".rating{text-align:center}.rating.ok{background:#e8f5e9;color:#1b5e20}"
              ".rating.warn{background:#fff3e0;color:#e65100;border-left:4px solid #ef6c00}"
              ".rating.bad{background:#ffebee;color:#b71c1c;border-left:4px solid #c62828}"
              "td.overdue{color:#b71c1c;font-weight:700}")


def to_html(a: AfterAction) -> str:
    from incident.report.render import h, html_page, html_table

    lang, sc = a.lang, a.drill.scenario
    parts = [f"<style>{RATING_CSS}</style>",
             f"<h1>{h(t('aar.title', lang))} — {h(sc.title.get(lang))}</h1>",
             f'<div class="drill">{h(t("aar.banner", lang))}</div>',
             f"<h2>{h(t('aar.summary', lang))}</h2><table class=\"kv\"><tbody>"]
    parts += [f"<tr><th>{h(k)}</th><td>{h(v)}</td></tr>" for k, v in summary_rows(a)]
    parts.append("</tbody></table>")
    head, rows = objective_rows(a)
    parts.append(f"<h2>{h(t('aar.objectives', lang))}</h2>")
    body = [f"<table><thead><tr>{''.join(f'<th>{h(x)}</th>' for x in head)}</tr></thead><tbody>"]
    for s, row in zip(a.drill.scores, rows, strict=True):
        cls = {"P": "ok", "S": "warn", "M": "bad", "U": "bad"}[s.rating]
        cells = "".join(f"<td>{h(c)}</td>" for c in row[:6])
        body.append(f'<tr>{cells}<td class="rating {cls}"><b>{h(row[6])}</b></td>'
                    f"<td>{h(row[7])}</td><td>{h(row[8])}</td></tr>")
    body.append("</tbody></table>")
    parts += body
    parts.append(f"<p><i>{h(_ratings_key(lang))}</i></p>")
    if a.injects:
        parts += [f"<h2>{h(t('aar.injects', lang))}</h2>", html_table(*inject_rows(a))]
    parts.append(f"<h2>{h(t('aar.notifications', lang))}</h2>")
    parts.append(html_table(*channel_rows(a)) if a.channels else f"<p>{h(t('aar.none', lang))}</p>")
    rows_c = count_rows(a)
    parts.append(f"<h2>{h(t('aar.counts', lang))}</h2>")
    parts.append(html_table(["", ""], [list(r) for r in rows_c]) if rows_c
                 else f"<p>{h(t('aar.none', lang))}</p>")
    caps = capability_rows(a)
    if caps:
        parts.append(f"<h2>{h(t('aar.capabilities', lang))}</h2>")
        parts.append(html_table([t("aar.capability", lang), t("aar.objectives", lang),
                                 t("aar.rating", lang), t("aar.strengths", lang),
                                 t("aar.improvements", lang)], caps))
    for key, items in (("aar.strengths", a.drill.evaluation.strengths),
                       ("aar.improvements", a.drill.evaluation.improvements)):
        parts.append(f"<h2>{h(t(key, lang))}</h2>")
        parts.append("<ul>" + "".join(f"<li>{h(observation_text(i, lang))}</li>"
                                      for i in items) + "</ul>"
                     if items else f"<p>{h(t('aar.none', lang))}</p>")
    parts.append(f"<h2>{h(t('aar.plan', lang))}</h2>")
    parts.append(html_table(*plan_rows(a)).replace(
        f"<td>{h(t('aar.overdue', lang))}</td>", f'<td class="overdue">{h(t("aar.overdue", lang))}</td>')
        if a.drill.evaluation.plan or a.carried else f"<p>{h(t('aar.none', lang))}</p>")
    parts.append(f"<h2>{h(t('aar.trend', lang))}</h2>")
    parts.append(html_table(*trend_rows(a)) if a.earlier
                 else f"<p>{h(t('aar.no_history', lang))}</p>")
    parts.append(f"<h2>{h(t('aar.timeline', lang))}</h2>")
    parts.append(html_table([t("aar.time", lang), t("aar.what", lang)],
                            [list(r) for r in a.timeline]))
    return html_page(f"{t('aar.title', lang)} — {sc.title.get(lang)}", lang, "".join(parts))


def _secs(d: timedelta | None) -> float | None:
    return None if d is None else d.total_seconds()


def score_dict(s: ObjectiveScore) -> dict[str, Any]:
    return {"id": s.id, "title": s.title, "ref": s.ref, "within_s": _secs(s.within),
            "after": s.anchor, "elapsed_s": _secs(s.elapsed), "status": s.status,
            "late_by_s": _secs(s.late_by), "why": s.why, "suggested": s.suggested,
            "rating": s.rating, "override": {k: (v.isoformat() if isinstance(v, datetime)
                                                 else v) for k, v in s.override.items()}
            if s.override else None}


def to_dict(a: AfterAction) -> dict[str, Any]:
    sd = a.drill
    ev_ = sd.evaluation

    def clean(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in i.items()}
                for i in items]

    return {
        "drill": sd.state.id, "scenario": sd.scenario.id, "version": sd.scenario.version,
        "playbook": sd.state.playbook.id, "location": sd.state.location,
        "started_at": sd.state.started_at.isoformat(),
        "ended_at": sd.state.resolved_at.isoformat() if sd.state.resolved_at else None,
        "mode": sd.run.mode, "speed": sd.run.speed,
        "lead": sd.scenario.lead,
        "participants": [{"person": p.person, "role": p.role} for p in sd.scenario.participants],
        "evaluators": list(sd.scenario.evaluators),
        "objectives": [score_dict(s) for s in sd.scores],
        "injects": [{"id": i["id"], "at_s": _secs(i["at"]), "fault": i["fault"],
                     "delivered_s": _secs(i["delivered"]), "expected": i["expect"],
                     "observed": None if not i.get("response") else {
                         "ts": i["response"]["ts"].isoformat(), "who": i["response"]["who"],
                         "what": i["response"]["what"],
                         "after_s": _secs(i["response"]["after"])}} for i in a.injects],
        "notifications": a.channels,
        "counts": dict(ev_.counts), "values": dict(a.values),
        "strengths": clean(ev_.strengths), "improvements": clean(ev_.improvements),
        "plan": [{**item, "overdue": item.get("status", "open") != "done" and str(
                  item.get("due", "")) < a.generated_at.astimezone(a.zone).date().isoformat()}
                 for item in clean(ev_.plan)],
        "carried_over": [{"drill": src, **{k: v for k, v in clean([p])[0].items()}}
                         for src, p in a.carried],
        "trend": [{"drill": r.incident_id, "started_at": r.started_at.isoformat(),
                   "objectives": {k: {"elapsed_s": _secs(v.elapsed), "rating": v.rating}
                                  for k, v in r.by_objective.items()}} for r in a.earlier],
    }


def render_aar(a: AfterAction, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(a)
    if fmt == "html":
        return to_html(a)
    if fmt == "json":
        return json.dumps(to_dict(a), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown format '{fmt}' — use one of {', '.join(FORMATS)}")
