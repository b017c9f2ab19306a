"""The after-action report of a drill: objectives and ratings, injects, the sandboxed
notifications, counts, strengths, areas for improvement, the improvement plan, the
trend against earlier runs of the same scenario, and the key timeline.

Markdown, HTML and JSON, in English or Chinese. The table and page helpers of
incident.report are reused so a drill report looks like every other report.
"""

from __future__ import annotations

import contextlib
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

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.directory import Directory
    from incident.playbook import PlaybookLibrary
    from incident.store import Store

FORMATS = ("md", "html", "json")

L: dict[str, tuple[str, str]] = {
    "title": ("After-action report", "演练总结评估报告"),
    "banner": ("EXERCISE — notifications went to the drill sandbox only; nothing reached a "
               "real person.", "演练——所有通知仅发往演练沙箱，未发送给任何真实对象。"),
    "summary": ("Summary", "概况"), "drill_id": ("Drill", "演练编号"),
    "scenario": ("Scenario", "演练脚本"), "playbook": ("Playbook", "预案"),
    "location": ("Location", "地点"), "started": ("Started", "开始时间"),
    "ended": ("Ended", "结束时间"), "duration": ("Duration", "用时"),
    "mode": ("Mode", "方式"), "lead": ("Lead (duty officer)", "指挥（值班员）"),
    "participants": ("Participants", "参演人员"), "evaluators": ("Evaluators", "评估人员"),
    "objectives": ("Objectives", "演练目标"), "objective": ("Objective", "目标"),
    "measured_by": ("Measured by", "衡量依据"), "allowed": ("Allowed", "时限"),
    "took": ("Took", "用时"), "result": ("Result", "结果"),
    "suggested": ("Suggested", "建议评级"), "rating": ("Rating", "评级"),
    "comment": ("Evaluator comment", "评估意见"), "met": ("met", "达成"),
    "rated_by": ("Rated by", "评估人"), "suggested_only": ("suggested (not yet rated)",
                                                          "系统建议（尚未评估）"),
    "overdue": ("OVERDUE", "已逾期"), "status": ("Status", "状态"),
    "open_item": ("open", "未完成"), "in_progress_item": ("in progress", "进行中"),
    "done_item": ("done", "已完成"), "item": ("Item", "编号"),
    "capability": ("Capability", "核心能力"), "start": ("Start", "开始日期"),
    "capabilities": ("Core capabilities", "核心能力评估"),
    "scope": ("Exercise scope", "演练范围"), "mission_areas": ("Mission areas", "任务领域"),
    "poc": ("Point of contact", "联络人"),
    "analysis": ("Analysis", "分析"), "recommendation": ("Recommendation", "建议"),
    "carried_over": ("carried over", "上次遗留"),
    "spare": ("spare", "余"), "late_by": ("late by", "超时"), "not_done": ("not done", "未完成"),
    "from_start": ("from the start", "自开始"), "from_step": ("from", "自"),
    "injects": ("Injects", "情景注入"), "at": ("At", "时间"), "inject": ("Inject", "注入内容"),
    "delivered": ("Reached players", "下达时间"), "expect": ("Expected response", "预期处置"),
    "fault": ("channel fault", "渠道故障"), "not_reached": ("not reached", "未下达"),
    "observed": ("Observed response (first action after it)", "实际处置（注入后的首个动作）"),
    "no_response": ("no action recorded after it", "注入后无处置记录"),
    "notifications": ("Notifications (sandbox)", "通知（演练沙箱）"),
    "channel": ("Channel", "渠道"), "messages": ("Messages", "消息"), "sent": ("Sent", "已送达"),
    "fell_back": ("Fell back", "已转其他渠道"), "failed": ("Failed", "失败"),
    "pending": ("Pending", "待发"), "attempts": ("Attempts", "尝试次数"),
    "counts": ("Counts", "人数统计"), "occupants_expected": ("Occupants expected", "预计人数"),
    "recorded": ("Recorded during the drill", "演练中记录"),
    "strengths": ("Strengths", "优点"), "improvements": ("Areas for improvement", "待改进"),
    "plan": ("Improvement plan", "改进计划"), "issue": ("Issue", "问题"),
    "action": ("Corrective action", "纠正措施"), "owner": ("Owner", "责任人"),
    "due": ("Due", "完成期限"), "none": ("None recorded.", "暂无。"),
    "trend": ("Trend against earlier drills of this scenario", "与本脚本历次演练对比"),
    "this_run": ("this drill", "本次"), "no_history": ("This is the first drill of this "
                                                      "scenario.", "本脚本首次演练。"),
    "timeline": ("Key timeline", "关键时间线"), "time": ("Time", "时间"),
    "who": ("Who", "人员"), "what": ("What", "事项"),
    "ratings_key": ("Ratings (HSEEP): ", "评级（HSEEP）："),
    "auto": ("headless rehearsal (scripted responses)", "无界面推演（脚本化响应）"),
    "console": ("console at {speed}× speed", "控制台，{speed}倍速"),
    "open": ("still running", "进行中"),
}


def t(key: str, lang: str, **fmt: Any) -> str:
    en, zh = L[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


@dataclass(slots=True)
class AfterAction:
    lang: str
    zone: ZoneInfo
    drill: ScoredDrill
    earlier: list[EarlierRun]
    names: dict[str, str]
    role_titles: dict[str, str]
    location: str
    injects: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    values: list[tuple[str, str]]
    timeline: list[tuple[str, str, str]]
    generated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    carried: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (drill, item)

    def who(self, pid: str | None) -> str:
        return self.names.get(pid or "", pid or "—")

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
    names: dict[str, str] = {}
    roles: dict[str, str] = {}
    if directory is not None:
        for p in directory.staff.values():
            names[p.id] = (p.name_en or p.name) if lang == "en" else p.name
        for rid, r in directory.roles.items():
            title = getattr(r, "title", None)
            roles[rid] = (title.get(lang) if hasattr(title, "get") else str(title)) if title \
                else rid
    location = st.location
    if directory is not None:
        with contextlib.suppress(Exception):  # a location the estate no longer has
            location = directory.locate(st.location).label(lang)
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
                       names, roles, location, injects, sorted(channels.values(),
                                                               key=lambda c: c["channel"]),
                       values, _timeline(sd, names, lang), now, carried=carried)


_KEY_KINDS = {ev.INCIDENT_STARTED, ev.STEP_DONE, ev.STEP_CONFIRMED, ev.STEP_SKIPPED,
              ev.NOTIFY_QUEUED, ev.SEVERITY_CHANGED, ev.INCIDENT_RESOLVED, ev.NOTE_ADDED,
              dev.DRILL_INJECT}


def _timeline(sd: ScoredDrill, names: dict[str, str], lang: str) -> list[tuple[str, str, str]]:
    steps = sd.state.playbook.steps()
    out = []
    for e in sd.events:
        if e.kind not in _KEY_KINDS:
            continue
        p = e.payload
        what = dev.label(e.kind, lang) if e.kind in dev.KINDS else ev.label(e.kind, lang)
        sid = p.get("step")
        if isinstance(sid, str) and sid in steps:
            what += f": {steps[sid].title.get(lang)}"
            if p.get("option"):
                opt = next((o for o in steps[sid].options or [] if o.id == p["option"]), None)
                what += f" → {opt.title.get(lang) if opt else p['option']}"
            if p.get("value") not in (None, "", []):
                v = p["value"]
                what += f" = {', '.join(map(str, v)) if isinstance(v, list) else v}"
            if p.get("reason"):
                what += f" ({p['reason']})"
        elif e.kind == dev.DRILL_INJECT:
            head = p.get("headline") or {}
            what += f": {head.get(lang) or head.get('en') or p.get('inject')}"
            if p.get("fault"):
                what += f" [{t('fault', lang)}: {p['fault'].get('channel')}]"
        elif e.kind == ev.NOTE_ADDED:
            what += f": {p.get('text', '')}"
        out.append((_offset(e.ts - sd.state.started_at), names.get(e.actor, e.actor), what))
    return out


# ---- rendering ---------------------------------------------------------------------------

def _result(s: ObjectiveScore, lang: str) -> str:
    if s.status == "not_done":
        return f"{t('not_done', lang)}" + (f" ({s.why})" if s.why else "")
    m = s.margin
    assert m is not None
    if s.status == "met":
        return f"{t('met', lang)}, {format_duration(m)} {t('spare', lang)}" if lang == "en" \
            else f"{t('met', lang)}，{t('spare', lang)} {format_duration(m)}"
    return f"{t('late_by', lang)} {format_duration(-m)}"


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
        text += f" ({t('from_step', a.lang)} {st.title.get(a.lang) if st else s.anchor})"
    return text


def objective_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    lang = a.lang
    head = [t(k, lang) for k in ("objective", "measured_by", "allowed", "took", "result",
                                 "suggested", "rating", "comment", "rated_by")]
    rows = []
    for s in a.drill.scores:
        comment = (s.override or {}).get("comment", "")
        by = (s.override or {}).get("by")
        rows.append([s.title.get(lang, s.id), _measured_by(a, s), format_duration(s.within),
                     format_duration(s.elapsed) if s.elapsed is not None else "—",
                     _result(s, lang), s.suggested, s.rating, comment,
                     a.who(by) if by else t("suggested_only", lang)])
    return head, rows


def summary_rows(a: AfterAction) -> list[tuple[str, str]]:
    lang, sd = a.lang, a.drill
    st, sc, run = sd.state, sd.scenario, sd.run
    end = st.resolved_at
    mode = t("auto", lang) if run.mode == "auto" else t("console", lang, speed=f"{run.speed:g}")
    parts = "; ".join(f"{a.who(p.person)} — {a.role_titles.get(p.role, p.role)}"
                      for p in sc.participants) or "—"
    return [
        (t("drill_id", lang), st.id),
        (t("scenario", lang), f"{sc.title.get(lang)} ({sc.id} v{sc.version})"),
        (t("playbook", lang), st.playbook.title.get(lang)),
        (t("location", lang), a.location),
        (t("started", lang), a.local(st.started_at, True)),
        (t("ended", lang), a.local(end, True) if end else t("open", lang)),
        (t("duration", lang), format_duration((end or a.generated_at) - st.started_at)),
        (t("mode", lang), mode),
        (t("lead", lang), a.who(sc.lead)),
        (t("participants", lang), parts),
        (t("evaluators", lang), ", ".join(a.who(e) for e in sc.evaluators) or "—"),
    ] + [(k, v) for k, v in (
        (t("scope", lang), sc.scope.get(lang) if sc.scope else ""),
        (t("mission_areas", lang), ", ".join(sc.mission_areas)),
        (t("poc", lang), a.who(sc.point_of_contact) if sc.point_of_contact else ""),
    ) if v]


RESPONSES = frozenset({ev.STEP_STARTED, ev.STEP_DONE, ev.STEP_AWAITING, ev.STEP_CONFIRMED,
                       ev.STEP_SKIPPED, ev.NOTE_ADDED, ev.SEVERITY_CHANGED, ev.REPORT_DONE,
                       ev.ESCALATION_RAISED, ev.OWNER_CHANGED})


def _observed(sd: ScoredDrill, at: datetime | None, names: dict[str, str],
              lang: str) -> dict[str, Any] | None:
    """The players' first action after an inject reached them (HSEEP: the observed
    response next to the expected one), with how long it took."""
    if at is None:
        return None
    steps = sd.state.playbook.steps()
    for e in sd.events:
        if e.ts <= at or e.kind not in RESPONSES or e.actor == ev.SYSTEM:
            continue
        step = steps.get(e.payload.get("step") or "")
        what = ev.label(e.kind, lang) + (f": {step.title.get(lang)}" if step else "")
        if e.kind == ev.NOTE_ADDED:
            what += f" — {e.payload.get('text', '')}"
        return {"ts": e.ts, "after": e.ts - at, "who": names.get(e.actor, e.actor),
                "what": what}
    return None


def _response_text(r: dict[str, Any] | None, lang: str) -> str:
    if r is None:
        return t("no_response", lang)
    return f"+{format_duration(r['after'])} {r['who']}: {r['what']}"


def inject_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    lang = a.lang
    head = [t(k, lang) for k in ("at", "inject", "delivered", "expect", "observed")]
    rows = []
    for i in a.injects:
        text = i["title"] + (f" — {i['detail']}" if i["detail"] else "")
        if i["fault"]:
            dur = f", {format_duration(i['fault_for'])}" if i["fault_for"] else ""
            text += f" [{t('fault', lang)}: {i['fault']}{dur}]"
        rows.append(["T+" + format_duration(i["at"]), text,
                     _offset(i["delivered"]) if i["delivered"] is not None
                     else t("not_reached", lang), i["expect"],
                     _response_text(i.get("response"), lang)
                     if i["delivered"] is not None else "—"])
    return head, rows


def channel_rows(a: AfterAction) -> tuple[list[str], list[list[Any]]]:
    keys = ("channel", "messages", "sent", "fell_back", "failed", "pending", "attempts")
    return [t(k, a.lang) for k in keys], [[c[k] for k in keys] for c in a.channels]


def plan_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    """The improvement plan (HSEEP IP): this drill's items, then the items of earlier
    runs of the scenario not done yet — carried over, never silently dropped."""
    head = [t(k, a.lang) for k in ("item", "capability", "issue", "action", "owner", "start",
                                   "due", "status")]
    today = a.generated_at.astimezone(a.zone).date().isoformat()

    def owner(o: str) -> str:
        return a.who(o) if o in a.names else a.role_titles.get(o, o)

    def status(p: dict[str, Any]) -> str:  # a due date already past stands out
        st = p.get("status", "open")
        if st != "done" and str(p["due"]) < today:
            return t("overdue", a.lang)
        return t({"open": "open_item", "in_progress": "in_progress_item",
                  "done": "done_item"}.get(st, "open_item"), a.lang)

    rows = [[p.get("item", ""), p.get("capability") or "—", p["issue"], p["action"],
             owner(p["owner"]), p.get("start") or "—", p["due"], status(p)]
            for p in a.drill.evaluation.plan]
    rows += [[f"{src}/{p.get('item', '')} ({t('carried_over', a.lang)})",
              p.get("capability") or "—", p["issue"], p["action"], owner(p["owner"]),
              p.get("start") or "—", p["due"], status(p)] for src, p in a.carried]
    return head, rows


def observation_text(i: dict[str, Any], lang: str) -> str:
    """An HSEEP observation: [capability] text. Analysis: … Recommendation: …"""
    text = (f"[{i['capability']}] " if i.get("capability") else "") + i["text"]
    if i.get("analysis"):
        text += f" {t('analysis', lang)}: {i['analysis']}"
    if i.get("recommendation"):
        text += f" {t('recommendation', lang)}: {i['recommendation']}"
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
        rows.append((t("occupants_expected", a.lang), str(a.drill.scenario.occupants)))
    rows += [(k, str(v)) for k, v in a.drill.evaluation.counts.items()]
    rows += [(f"{label} ({t('recorded', a.lang)})", v) for label, v in a.values]
    return rows


def trend_rows(a: AfterAction) -> tuple[list[str], list[list[str]]]:
    lang = a.lang
    head = [t("objective", lang)] + [r.started_at.astimezone(a.zone).strftime("%Y-%m-%d")
                                     for r in a.earlier] + [t("this_run", lang)]
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
    return t("ratings_key", lang) + "; ".join(
        f"{k} = {v[1] if lang == 'zh' else v[0]}" for k, v in RATING_TEXT.items())


def to_markdown(a: AfterAction) -> str:
    from incident.report.render import md_table

    lang, sc = a.lang, a.drill.scenario
    from incident.safetext import md_text

    out = [f"# {t('title', lang)} — {md_text(sc.title.get(lang))}", "",
           f"> **{t('banner', lang)}**", "",
           f"## {t('summary', lang)}", ""]
    out += md_table(["", ""], [[k, v] for k, v in summary_rows(a)])
    out += ["", f"## {t('objectives', lang)}", ""]
    out += md_table(*objective_rows(a))
    out += ["", f"_{_ratings_key(lang)}_", ""]
    if a.injects:
        out += [f"## {t('injects', lang)}", "", *md_table(*inject_rows(a)), ""]
    out += [f"## {t('notifications', lang)}", ""]
    out += md_table(*channel_rows(a)) if a.channels else [t("none", lang)]
    out += ["", f"## {t('counts', lang)}", ""]
    rows = count_rows(a)
    out += md_table(["", ""], [list(r) for r in rows]) if rows else [t("none", lang)]
    caps = capability_rows(a)
    if caps:
        out += ["", f"## {t('capabilities', lang)}", ""]
        out += md_table([t("capability", lang), t("objectives", lang), t("rating", lang),
                         t("strengths", lang), t("improvements", lang)], caps)
    for key, items in (("strengths", a.drill.evaluation.strengths),
                       ("improvements", a.drill.evaluation.improvements)):
        out += ["", f"## {t(key, lang)}", ""]
        out += [f"- {md_text(observation_text(i, lang))}" for i in items] or [t("none", lang)]
    out += ["", f"## {t('plan', lang)}", ""]
    out += md_table(*plan_rows(a)) if a.drill.evaluation.plan or a.carried \
        else [t("none", lang)]
    out += ["", f"## {t('trend', lang)}", ""]
    out += md_table(*trend_rows(a)) if a.earlier else [t("no_history", lang)]
    out += ["", f"## {t('timeline', lang)}", ""]
    out += md_table([t("time", lang), t("who", lang), t("what", lang)],
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
             f"<h1>{h(t('title', lang))} — {h(sc.title.get(lang))}</h1>",
             f'<div class="drill">{h(t("banner", lang))}</div>',
             f"<h2>{h(t('summary', lang))}</h2><table class=\"kv\"><tbody>"]
    parts += [f"<tr><th>{h(k)}</th><td>{h(v)}</td></tr>" for k, v in summary_rows(a)]
    parts.append("</tbody></table>")
    head, rows = objective_rows(a)
    parts.append(f"<h2>{h(t('objectives', lang))}</h2>")
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
        parts += [f"<h2>{h(t('injects', lang))}</h2>", html_table(*inject_rows(a))]
    parts.append(f"<h2>{h(t('notifications', lang))}</h2>")
    parts.append(html_table(*channel_rows(a)) if a.channels else f"<p>{h(t('none', lang))}</p>")
    rows_c = count_rows(a)
    parts.append(f"<h2>{h(t('counts', lang))}</h2>")
    parts.append(html_table(["", ""], [list(r) for r in rows_c]) if rows_c
                 else f"<p>{h(t('none', lang))}</p>")
    caps = capability_rows(a)
    if caps:
        parts.append(f"<h2>{h(t('capabilities', lang))}</h2>")
        parts.append(html_table([t("capability", lang), t("objectives", lang),
                                 t("rating", lang), t("strengths", lang),
                                 t("improvements", lang)], caps))
    for key, items in (("strengths", a.drill.evaluation.strengths),
                       ("improvements", a.drill.evaluation.improvements)):
        parts.append(f"<h2>{h(t(key, lang))}</h2>")
        parts.append("<ul>" + "".join(f"<li>{h(observation_text(i, lang))}</li>"
                                      for i in items) + "</ul>"
                     if items else f"<p>{h(t('none', lang))}</p>")
    parts.append(f"<h2>{h(t('plan', lang))}</h2>")
    parts.append(html_table(*plan_rows(a)).replace(
        f"<td>{h(t('overdue', lang))}</td>", f'<td class="overdue">{h(t("overdue", lang))}</td>')
        if a.drill.evaluation.plan or a.carried else f"<p>{h(t('none', lang))}</p>")
    parts.append(f"<h2>{h(t('trend', lang))}</h2>")
    parts.append(html_table(*trend_rows(a)) if a.earlier
                 else f"<p>{h(t('no_history', lang))}</p>")
    parts.append(f"<h2>{h(t('timeline', lang))}</h2>")
    parts.append(html_table([t("time", lang), t("who", lang), t("what", lang)],
                            [list(r) for r in a.timeline]))
    return html_page(f"{t('title', lang)} — {sc.title.get(lang)}", lang, "".join(parts))


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
