"""Plain-text views of incident state, shared by the CLI and the console.

They take state and return strings or rows: no I/O, no widgets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.clock import format_duration
from incident.engine import aftercare
from incident.engine import events as ev
from incident.safetext import terminal

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.engine import IncidentState
    from incident.store import StoredEvent

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "pending": ("waiting", "等待"), "ready": ("ready", "待办"),
    "in_progress": ("in progress", "进行中"),
    "awaiting_confirmation": ("needs 2nd person", "待复核"), "done": ("done", "完成"),
    "skipped": ("skipped", "跳过"), "excluded": ("n/a", "不适用"),
    "met": ("met", "达成"), "met_late": ("met late", "超时达成"), "missed": ("missed", "未达成"),
    "n/a": ("n/a", "不适用"), "open": ("open", "处理中"), "resolved": ("resolved", "已结束"),
    "closed": ("closed", "已关闭"),
    "superseded": ("superseded", "已被取代"),  # a report clock of a level no longer in force
}


def status_label(status: str, lang: str = "en") -> str:
    en, zh = STATUS_LABELS.get(status, (status, status))
    return zh if lang == "zh" else en


def clock_text(ts: datetime | None, zone: ZoneInfo, with_date: bool = False) -> str:
    if ts is None:
        return "—"
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def offset(ts: datetime, start: datetime) -> str:
    return "T+" + format_duration(ts - start)


def status_lines(st: IncidentState, now: datetime, zone: ZoneInfo, lang: str = "en",
                 delivery: dict[str, Any] | None = None) -> list[str]:
    """What `incident status` prints: header, tracks and steps, targets, timers.

    `delivery`: {step: notify.tally.StepTally} read from the outbox, for each notify
    step's own messages (else the fold's latest delivery.progress is shown)."""
    pb = st.playbook
    zh = lang == "zh"
    sev = pb.severity(st.severity) if any(s.level == st.severity for s in pb.severities) else None
    lines = [
        f"{st.id}  {pb.title.get(lang)}{'  [DRILL/演练]' if st.drill else ''}  "
        f"{status_label(st.phase, lang)}",
        f"{'地点' if zh else 'Location'}: {st.location}   "
        f"{'级别' if zh else 'Severity'}: {st.severity}"
        f"{' ' + sev.name.get(lang) if sev else ''}   "
        f"{'负责人' if zh else 'Owner'}: {st.owner}",
        f"{'开始' if zh else 'Started'}: {clock_text(st.started_at, zone, True)}   "
        f"{'已用时' if zh else 'Elapsed'}: "
        f"{format_duration((st.resolved_at or now) - st.started_at)}",
        *aftercare.header_lines(st, zone, lang),
        "",
    ]
    steps = pb.steps()
    for track in pb.tracks:
        lines.append(f"[{track.title.get(lang)}]")
        for step in track.steps:
            s = st.steps[step.id]
            mark = {"done": "x", "skipped": "-", "excluded": " ", "ready": ">",
                    "in_progress": "~", "awaiting_confirmation": "?"}.get(s.status, ".")
            extra = ""
            if s.status == "done":
                extra = f"{clock_text(s.done_at, zone)} {s.confirmed_by or s.done_by}"
                if s.option:
                    extra += f" → {s.option}"
                if s.value is not None:
                    extra += f" = {s.value}"
            elif s.status == "skipped":
                extra = f"{clock_text(s.done_at, zone)} {s.done_by}: {s.reason}"
            elif s.open and s.due_at is not None:
                left = s.due_at - now
                extra = (f"{'逾期' if zh else 'OVERDUE'} {format_duration(-left)}" if left.total_seconds() < 0
                         else f"{'剩余' if zh else 'due in'} {format_duration(left)}")
            label = status_label(s.status, lang)
            lines.append(f"  [{mark}] {step.id:<24} {steps[step.id].title.get(lang)[:38]:<38} "
                         f"{label:<16} {extra}".rstrip())
            if step.notify is not None:
                msg = delivery_line(st, step.id, (delivery or {}).get(step.id), lang)
                if msg:
                    lines.append(f"        {'消息' if zh else 'messages'}: {msg}")
        lines.append("")
    if st.targets:
        lines.append("目标" if zh else "Targets")
        for t in st.targets.values():
            status = t.status(now)
            delta = t.delta(now)
            lines.append(f"  {t.title.get(lang, t.id):<28} {'截止' if zh else 'due'} "
                         f"{clock_text(t.due_at, zone)}  {status_label(status, lang):<10} "
                         f"{'' if status == 'n/a' else format_duration(delta)}".rstrip())
            if t.rule == "delivered" and status != "n/a":
                how = target_rule_text(t.rule, t.threshold, lang)
                if t.reached is not None and t.met_at is not None:
                    how += (f"（达成时 {t.reached[0]}/{t.reached[1]}）" if zh
                            else f" (at the time: {t.reached[0]}/{t.reached[1]})")
                lines.append(f"    {how}")
        lines.append("")
    if st.reports:
        lines.append("上报时限" if zh else "Report clocks")
        for r in st.reports.values():
            lines.append(f"  {r.title.get(lang, r.id):<28} → {r.to:<16} {r.by:<8} "
                         f"{'截止' if zh else 'due'} {clock_text(r.due_at, zone)}  "
                         f"{status_label(r.status(now), lang)}")
        lines.append("")
    lines += aftercare.aftercare_lines(st, now, zone, lang)
    timers = st.timers()
    if timers:
        lines.append("计时器" if zh else "Timers")
        for t in timers[:8]:
            # a read fires nothing: a timer past due waits for the service (or `tick`)
            due = (" (到期，待服务触发)" if zh else " (due, not yet fired)") \
                if t.due_at <= now else ""
            lines.append(f"  {clock_text(t.due_at, zone)}  {t.label.get(lang, t.id)}{due}")
    return [terminal(line) for line in lines]  # data stays on its line, escapes removed


def target_rule_text(rule: str, threshold: float = 100.0, lang: str = "en") -> str:
    """How a target is met, said the way a report states it."""
    zh = lang == "zh"
    if rule == "resolved":
        return "事件结束即达成" if zh else "met when the incident is resolved"
    if rule == "delivered":
        if threshold >= 100:
            return ("每位可联系的收件人至少收到一条消息即达成" if zh else
                    "met when every reachable recipient has a message delivered")
        pct = f"{threshold:g}%"
        return (f"{pct} 的可联系收件人收到消息即达成" if zh else
                f"met when {pct} of the reachable recipients have a message delivered")
    return "步骤完成即达成" if zh else "met when its step is done"


def delivery_line(st: IncidentState, step_id: str, tally: Any = None, lang: str = "en",
                  ) -> str | None:
    """A notify step's own messages, per recipient ("delivered 7/9, failed for good 2 …").

    `tally` is a notify.tally.StepTally read from the outbox; without it the latest
    delivery.progress of the step is used, then the queued count."""
    zh = lang == "zh"
    try:
        from incident.notify.tally import from_progress, summary_line
    except ImportError:  # notifications not installed: only the queued count is known
        tally = None
    else:
        if tally is None and step_id in st.step_delivery:
            tally = from_progress(st.step_delivery[step_id])
        if tally is not None and tally.recipients:
            return summary_line(tally, lang)
    queued = st.notifications.get(step_id)
    if queued is None:
        return None
    n = queued.get("messages", 0)
    if not n:
        lost = queued.get("unreachable", 0)
        return (f"无消息（{lost} 位收件人无可用渠道）" if zh
                else f"no messages ({lost} recipient(s) without a usable channel)")
    return f"已排队 {n} 条，尚未发送" if zh else f"{n} message(s) queued, none sent yet"


def pick(texts: dict[str, str] | None, lang: str, fallback: str = "") -> str:
    """A bilingual dict ({'en':…, 'zh':…}) in the wanted language."""
    if not texts:
        return fallback
    return texts.get(lang) or texts.get("en") or texts.get("zh") or fallback


def event_summary(e: StoredEvent, lang: str = "en") -> str:
    """One line of the timeline for an event (control codes removed, line breaks shown as ⏎,
    so a note cannot forge a line that reads like another event)."""
    p: dict[str, Any] = e.payload
    head = ev.label(e.kind, lang)
    bits = []
    for key in ("step", "option", "value", "reason", "text", "to", "summary"):
        if p.get(key) not in (None, "", []):
            bits.append(f"{key}={p[key]}" if key not in ("text", "summary") else str(p[key]))
    if e.kind == ev.TIMER_FIRED:
        bits = [pick(p.get("label"), lang, p.get("timer", ""))]
        if p.get("late"):
            bits.append(("晚触发 " if lang == "zh" else "fired late by ")
                        + format_duration(timedelta(seconds=float(p.get("late_by_s") or 0)))
                        + (" (程序当时未运行)" if lang == "zh" else " (no process was running)"))
    if e.kind == ev.INCIDENT_STARTED:
        bits = [p.get("playbook_id", ""), p.get("location", ""), f"severity {p.get('severity')}"]
        if p.get("drill"):
            bits.append("DRILL")
        if p.get("received_at"):
            bits.append(("接报 " if lang == "zh" else "received ") + p["received_at"][11:16])
        who = (p.get("reporter_contact") or {})
        if who:
            bits.append(("报事人 " if lang == "zh" else "reporter ") + " ".join(
                str(who[k]) for k in ("name", "phone", "unit") if who.get(k)))
        if p.get("channel"):
            bits.append(aftercare.text(aftercare.CHANNELS.get(p["channel"], (p["channel"],) * 2),
                                       lang))
    if e.kind in aftercare.EVENTS:
        bits = aftercare.event_bits(e.kind, p, lang)
    if e.kind in (ev.REPLY_RECEIVED, ev.ROLLCALL_KNOCK):
        from incident.engine.rollcall import event_bits as rollcall_bits

        bits = rollcall_bits(e.kind, p, lang) or bits
    if e.kind == ev.PAGE_SENT:
        names = p.get("names") or {}
        # logs written before names were kept in both languages hold plain strings
        people = [n if isinstance(n := names.get(pid, pid), str) else pick(n, lang, pid)
                  for pid in p.get("to") or []]
        bits = [f"{p.get('page', '')} {p.get('role') or p.get('node') or ''}".strip(),
                ", ".join(people) or ("无人" if lang == "zh" else "nobody"),
                str(p.get("reason") or "")]
        if p.get("reminder"):
            bits.append("提醒" if lang == "zh" else "reminder")
    if e.kind == ev.PAGE_ACKED:
        bits = [str(p.get("page") or ("全部呼叫" if lang == "zh" else "all pages"))]
    if e.kind in (ev.ESCALATION_RAISED, ev.ESCALATION_SKIPPED):
        bits = [f"→ {p.get('to')}" if p.get("to") else "", str(p.get("reason") or "")]
    if e.kind == ev.DELIVERY_PROGRESS:
        bits = [str(p.get("step") or "")] + [
            f"{ch} {c.get('sent', 0)}/{sum(c.values())}"
            for ch, c in sorted((p.get("channels") or {}).items())]
    if e.kind == ev.DRILL_INJECT:
        bits = [pick(p.get("headline"), lang, str(p.get("text") or ""))]
    if e.kind == ev.NOTIFY_RETRIED:
        bits = [f"step={p.get('step')}",
                (f"重发 {p.get('messages', 0)} 条" if lang == "zh"
                 else f"{p.get('messages', 0)} message(s) sent again")]
        if p.get("channel"):
            bits.append(f"channel={p['channel']}")
    if e.kind == ev.DELIVERY_PROGRESS and "recipients" in p:
        bits = [str(p.get("step") or ""),
                (f"已送达 {p.get('delivered', 0)}/{p.get('recipients', 0)}" if lang == "zh"
                 else f"delivered {p.get('delivered', 0)}/{p.get('recipients', 0)}")]
        if p.get("waiting"):
            bits.append(f"待发 {p['waiting']}" if lang == "zh" else f"waiting {p['waiting']}")
        if p.get("failed"):
            bits.append(f"最终失败 {p['failed']}" if lang == "zh"
                        else f"failed for good {p['failed']}")
    if e.kind == ev.NOTIFY_QUEUED:
        bits = [f"step={p.get('step')}", f"{p.get('recipients', 0)} recipients",
                " ".join(f"{k}:{v}" for k, v in (p.get("channels") or {}).items())]
    if p.get("entered_by"):  # typed by a colleague for the actor
        bits.append(("代录：" if lang == "zh" else "entered by ") + str(p["entered_by"]))
    return terminal(f"{head}: " + ", ".join(str(b) for b in bits if b) if bits else head)

