"""Every event of the incident log told once, as a sentence in the reader's language.

`describe(event, names, lang)` is the only place an event becomes words: the console
timeline, `incident log`, the report's timeline (every format), the brief and the
drill's after-action report all print what it returns. Names (people, roles,
channels, places, steps) come from one `incident.names.Names`.

The sentences live in one table, `EVENT_TEXT` (`key: (en, zh)`, str.format fields,
the same fields in both languages) so they move into the gettext catalogue as they
are. What people typed (notes, reasons, summaries) is quoted as typed, on one line.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.engine import aftercare as ac
from incident.engine import events as ev
from incident.names import join, pick
from incident.safetext import terminal

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.names import Names

EVENT_TEXT: dict[str, tuple[str, str]] = {
    # ---- the incident ----
    "event.started": ("{who} started “{playbook}” at {place}, {severity}",
                      "{who}启动“{playbook}”，地点：{place}，级别：{severity}"),
    "event.started.drill": ("this is a drill", "本次为演练"),
    "event.started.received": ("received at {time}", "接报时间 {time}"),
    "event.started.reporter": ("reported by {reporter}", "报事人：{reporter}"),
    "event.started.channel": ("came in by {channel}", "接报渠道：{channel}"),
    "event.started.receiver": ("first receiver {receiver}", "首接人：{receiver}"),
    "event.started.input": ("{label}: {value}", "{label}：{value}"),
    "event.resolved": ("{who} resolved the incident", "{who}结束了事件"),
    "event.resolved.summary": ("{who} resolved the incident: {summary}",
                               "{who}结束了事件：{summary}"),
    "event.resolved.open": ("{count} left open: {steps}", "{count}未完成：{steps}"),
    "event.more": ("{n} more", "另有{n}个"),
    "event.reopened": ("{who} reopened the incident: {reason}", "{who}重开事件：{reason}"),
    "event.closed": ("{who} closed the incident: {reason}", "{who}关闭事件：{reason}"),
    "event.closed.all_done": ("{who} closed the incident: every callback and complaint is done",
                              "{who}关闭事件：回访与投诉均已完成"),
    "event.severity": ("{who} changed the severity from {old} to {new}",
                       "{who}将级别由{old}调整为{new}"),
    "event.severity.reason": ("{who} changed the severity from {old} to {new}: {reason}",
                              "{who}将级别由{old}调整为{new}：{reason}"),
    "event.handover": ("{who} handed the incident over from {old} to {new}",
                       "{who}将事件负责人由{old}交接给{new}"),
    "event.handover.reason": ("{who} handed the incident over from {old} to {new}: {reason}",
                              "{who}将事件负责人由{old}交接给{new}：{reason}"),
    "event.note": ("{who} noted: {text}", "{who}备注：{text}"),
    "event.note.step": ("{who} noted on “{step}”: {text}", "{who}在“{step}”备注：{text}"),
    # ---- steps ----
    "event.step_started": ("{who} started “{step}”", "{who}开始“{step}”"),
    "event.step_dispatched": ("{who} dispatched “{step}” to {to}", "{who}将“{step}”派给{to}"),
    "event.step_started.arrive_by": ("expected on site by {time}", "预计{time}前到场"),
    "event.step_done": ("{who} marked “{step}” done", "{who}完成“{step}”"),
    "event.step_done.option": ("{who} marked “{step}” done: {option}",
                               "{who}完成“{step}”：{option}"),
    "event.step_done.value": ("{who} recorded “{step}”: {value}", "{who}记录“{step}”：{value}"),
    "event.step_done.auto": ("“{step}” finished: its waiting time is over",
                             "“{step}”等待时间已到，自动完成"),
    "event.step_awaiting": ("{who} marked “{step}” done; a second person must confirm it",
                            "{who}完成“{step}”，须第二人确认"),
    "event.step_confirmed": ("{who} confirmed “{step}” as the second person",
                             "{who}作为第二人确认“{step}”"),
    "event.step_skipped": ("{who} skipped “{step}”: {reason}", "{who}跳过“{step}”：{reason}"),
    "event.entered_by": ("entered by {who}", "由{who}代录"),
    "event.report_done": ("{who} made the report “{report}”", "{who}已完成上报“{report}”"),
    # ---- timers ----
    "event.timer": ("Reminder: {label}", "提醒：{label}"),
    "event.timer.step_overdue": ("“{step}” is overdue", "“{step}”已超时未完成"),
    "event.timer.arrival_overdue": ("“{step}”: nobody on site by the expected time",
                                    "“{step}”：已过预计到场时间仍未到场"),
    "event.timer.wait_elapsed": ("“{step}”: the waiting time is over", "“{step}”：等待时间已到"),
    "event.timer.target": ("Time is up for the target “{target}”", "目标“{target}”时限已到"),
    "event.timer.report": ("The report “{report}” is due", "上报“{report}”时限已到"),
    "event.timer.escalation": ("Page {page} was not acknowledged within {wait}: "
                               "the ladder moves up to {to}",
                               "呼叫{page}在{wait}内无人确认，按升级流程通知{to}"),
    "event.timer.late": ("fired {late} late because no program was running",
                         "因程序当时未运行，晚{late}触发"),
    # ---- messages ----
    "event.notify": ("{who} sent “{step}” to {recipients}: {messages}",
                     "{who}发送“{step}”给{recipients}：{messages}"),
    "event.notify.messages": ("{messages} ({channels})", "{messages}（{channels}）"),
    "event.notify.none": ("{who} sent “{step}”, but nobody could be reached",
                          "{who}发送“{step}”，但无人可联系"),
    "event.notify.unreachable": ("{count} without a usable channel", "{count}无可用渠道"),
    "event.notify_retried": ("{who} sent {messages} of “{step}” again",
                             "{who}重发“{step}”的{messages}"),
    "event.notify_retried.channel": ("{who} sent {messages} of “{step}” again by {channel}",
                                     "{who}通过{channel}重发“{step}”的{messages}"),
    "event.delivery": ("“{step}”: {delivered} of {recipients} reached",
                       "“{step}”：{recipients}中已送达{delivered}位"),
    "event.delivery.waiting": ("{count} still being sent", "{count}发送中"),
    "event.delivery.failed": ("{count} failed for good", "{count}最终失败"),
    "event.delivery.channels": ("“{step}”: {channels}", "“{step}”：{channels}"),
    "event.delivery.channel": ("{channel} {sent} of {total} sent",
                               "{channel}已发送{sent}/{total}"),
    # ---- pages and escalation ----
    "event.page": ("Sent page {page} to {people} as {role}: {why}",
                   "向{role}（{people}）发出呼叫{page}：{why}"),
    "event.page.reminder": ("Sent reminder page {page} to {people} as {role}: {why}",
                            "向{role}（{people}）再次发出提醒呼叫{page}：{why}"),
    "list.and": ("{items} and {last}", "{items}、{last}"),
    "event.page.nobody": ("nobody could be reached", "无人可联系"),
    "event.page_acked": ("{who} acknowledged page {page}", "{who}确认收到呼叫{page}"),
    "event.page_acked.all": ("{who} acknowledged every page for everyone ({pages})",
                             "{who}代所有人确认全部呼叫（{pages}）"),
    "why.start": ("the incident started", "事件开始"),
    "why.no_ack": ("page {page} was not acknowledged within {wait}",
                   "呼叫{page}在{wait}内无人确认"),
    "why.no_ack.plain": ("page {page} was not acknowledged in time", "呼叫{page}未及时确认"),
    "why.at_once": ("at once, together with page {page}", "与呼叫{page}同时发出"),
    "why.skipped": ("nobody could be reached at the level before", "上一级无人可联系"),
    "why.step_overdue": ("“{step}” is overdue", "“{step}”已超时未完成"),
    "why.overdue": ("a step is overdue", "有步骤超时未完成"),
    "why.playbook": ("the playbook step “{step}” escalates", "预案步骤“{step}”要求升级"),
    "why.playbook.plain": ("the playbook escalates", "预案要求升级"),
    "why.manual": ("escalated by hand: {reason}", "人工升级：{reason}"),
    "why.severity": ("the severity was raised to {severity}", "级别升至{severity}"),
    "event.escalated": ("Escalated to {to}", "升级至{to}"),
    "event.escalated.from": ("Escalated from {old} to {to}", "由{old}升级至{to}"),
    "event.escalated.by": ("{who} escalated to {to}: {reason}", "{who}升级至{to}：{reason}"),
    "event.escalated.step": ("{who} escalated to {to}", "{who}升级至{to}"),
    "event.escalation_skipped": ("Did not page {to}: {why}", "未呼叫{to}：{why}"),
    "skip.repeat": ("this route was already followed {times}", "该升级路线已执行{times}"),
    "skip.max_pages": ("{pages} were already sent for this incident", "本事件已发出{pages}"),
    "skip.unreachable": ("{people} on duty, but cannot be reached", "{people}在岗但无法联系"),
    "skip.nobody": ("nobody is on duty in this role", "该岗位当前无人在岗"),
    # ---- drills ----
    "event.drill_inject": ("Drill inject: {headline}", "演练注入：{headline}"),
    "event.drill_inject.fault": ("{channel} fails on purpose", "{channel}故意设为故障"),
    "event.drill_scenario": ("{who} started the drill scenario “{title}” at {speed}× speed",
                             "{who}开始演练脚本“{title}”，{speed}倍速"),
    "event.drill_rated": ("{who} rated objective {objective}: {rating}",
                          "{who}评定目标{objective}：{rating}"),
    "event.drill_strength": ("{who} noted a strength: {text}", "{who}记录优点：{text}"),
    "event.drill_improvement": ("{who} noted an area for improvement: {text}",
                                "{who}记录待改进之处：{text}"),
    "event.drill_plan": ("{who} added to the improvement plan: {issue} → {action} "
                         "({owner}, due {due})",
                         "{who}新增改进计划：{issue} → {action}（{owner}，{due}前）"),
    "event.drill_plan_status": ("{who} set improvement item {item} to {status}",
                                "{who}将改进项{item}设为{status}"),
    "event.drill_counts": ("{who} recorded the counts: {counts}", "{who}记录统计：{counts}"),
    "event.drill_other": ("{who} added to the evaluation: {text}", "{who}补充评估：{text}"),
    "rating.P": ("performed without challenges", "顺利完成"),
    "rating.S": ("performed with some challenges", "完成但存在一些问题"),
    "rating.M": ("performed with major challenges", "完成但存在重大问题"),
    "rating.U": ("unable to be performed", "未能完成"),
    # ---- after the emergency ----
    "event.callbacks_due": ("Callbacks due within {within} to {people}",
                            "须在{within}内回访{people}"),
    "event.callbacks_due.people": ("{count} ({names})", "{count}（{names}）"),
    "event.reporter": ("the reporter", "报事人"),
    "event.callback": ("{who} called {person} back", "{who}已回访{person}"),
    "event.callback.missed": ("{who} could not reach {person} for the callback",
                              "{who}回访{person}未联系上"),
    "event.callback.final": ("no further attempts", "不再继续回访"),
    "event.satisfaction": ("satisfaction {score} of 5", "满意度{score}/5"),
    "event.complaint": ("{who} received complaint {complaint} from {person}: {text}",
                        "{who}接到{person}的投诉{complaint}：{text}"),
    "event.complaint_step": ("{who} recorded on complaint {complaint}: {step}",
                             "{who}处理投诉{complaint}：{step}"),
    "event.complaint_closed": ("{who} closed complaint {complaint}, satisfaction {score} of 5",
                               "{who}关闭投诉{complaint}，满意度{score}/5"),
    "event.promise": ("Handling time promised to the reporter: done by {time}, "
                      "reported back by {via}",
                      "已向报事人承诺处理时限：{time}前处理完毕，通过{via}反馈"),
    "event.reported_back": ("{who} reported back to the reporter by {via}",
                            "{who}已通过{via}向报事人反馈"),
    "event.other": ("{who}: {kind}", "{who}：{kind}"),
    # ---- counts and durations (en: one / other; zh has one form) ----
    "count.recipient.one": ("{n} recipient", "{n}位收件人"),
    "count.recipient.other": ("{n} recipients", "{n}位收件人"),
    "count.message.one": ("{n} message", "{n}条消息"),
    "count.message.other": ("{n} messages", "{n}条消息"),
    "count.person.one": ("{n} person", "{n}人"),
    "count.person.other": ("{n} people", "{n}人"),
    "count.step.one": ("{n} step", "{n}个步骤"),
    "count.step.other": ("{n} steps", "{n}个步骤"),
    "count.time.one": ("{n} time", "{n}次"),
    "count.time.other": ("{n} times", "{n}次"),
    "count.page.one": ("{n} page", "{n}次呼叫"),
    "count.page.other": ("{n} pages", "{n}次呼叫"),
    "count.hour.one": ("{n} hour", "{n}小时"),
    "count.hour.other": ("{n} hours", "{n}小时"),
    "count.minute.one": ("{n} minute", "{n}分钟"),
    "count.minute.other": ("{n} minutes", "{n}分钟"),
    "count.second.one": ("{n} second", "{n}秒"),
    "count.second.other": ("{n} seconds", "{n}秒"),
    "count.day.one": ("{n} day", "{n}天"),
    "count.day.other": ("{n} days", "{n}天"),
}

def _t(key: str, lang: str, **fields: Any) -> str:
    """The sentence `key` in the language (the catalogue's t() once it lands)."""
    en, zh = EVENT_TEXT[key]
    return (zh if lang == "zh" else en).format(**fields)


def count(noun: str, n: Any, lang: str) -> str:
    """'1 recipient', '3 recipients', '3位收件人'."""
    try:
        n = int(n)
    except (TypeError, ValueError):
        n = 0
    return _t(f"count.{noun}.{'one' if n == 1 else 'other'}", lang, n=n)


def duration(delta: timedelta | float | int | None, lang: str) -> str:
    """'1 hour 5 minutes', '45 seconds', '1小时5分钟': durations read aloud."""
    if delta is None:
        return "—"
    secs = int(abs(delta.total_seconds() if isinstance(delta, timedelta) else float(delta)))
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    parts = [count(noun, n, lang) for noun, n in (("day", days), ("hour", hours),
                                                  ("minute", minutes), ("second", seconds))
             if n][:2] or [count("second", 0, lang)]
    return ("" if lang == "zh" else " ").join(parts)


def clauses(lang: str, *parts: str) -> str:
    """A sentence and its added clauses: "A; B" / "A；B"."""
    return ("；" if lang == "zh" else "; ").join(p for p in parts if p)


def _typed(value: Any) -> str:
    """What a person typed, on one line (a note cannot forge a line of its own)."""
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    return terminal(str(value if value is not None else "")).strip()


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _when(iso: Any, zone: ZoneInfo | None) -> str:
    try:
        ts = datetime.fromisoformat(str(iso))
    except (TypeError, ValueError):
        return _typed(iso)
    if zone is not None and ts.tzinfo is not None:
        ts = ts.astimezone(zone)
    return f"{ts:%H:%M}"


def _when_date(iso: Any, zone: ZoneInfo | None) -> str:
    try:
        ts = datetime.fromisoformat(str(iso))
    except (TypeError, ValueError):
        return _typed(iso)
    if zone is not None and ts.tzinfo is not None:
        ts = ts.astimezone(zone)
    return f"{ts:%Y-%m-%d %H:%M}"


class _Ctx:
    """What one description needs: the event's fields, the names, the language."""

    __slots__ = ("actor", "kind", "lang", "names", "p", "zone")

    def __init__(self, e: Any, names: Names, lang: str, zone: ZoneInfo | None):
        self.kind: str = e.kind
        self.actor: str = e.actor
        self.p: dict[str, Any] = e.payload if isinstance(e.payload, dict) else {}
        self.names, self.lang, self.zone = names, lang, zone

    def t(self, key: str, **fields: Any) -> str:
        return _t(key, self.lang, **fields)

    @property
    def who(self) -> str:
        return self.names.who(self.actor, self.lang)

    def person(self, pid: Any) -> str:
        return self.names.who(pid, self.lang)

    def step(self, sid: Any = None) -> str:
        sid = self.p.get("step") if sid is None else sid
        if isinstance(sid, str) and sid.startswith("escalate:"):
            return sid.split(":", 1)[1]  # a page's own messages: the page id
        return self.names.step(sid, self.lang) if sid else ""

    def text(self, value: Any) -> str:
        return _typed(pick(value, self.lang) if isinstance(value, dict) else value)

    def count(self, noun: str, n: Any) -> str:
        return count(noun, n, self.lang)

    def clauses(self, *parts: str) -> str:
        return clauses(self.lang, *parts)

    def and_list(self, items: list[str]) -> str:
        """'Chen Jie and Liu Yang', 'A, B and C', '陈杰、刘洋'."""
        items = [i for i in items if i]
        if len(items) < 2:
            return "".join(items)
        return self.t("list.and", items=join(items[:-1], self.lang), last=items[-1])


# ---- the incident ----------------------------------------------------------------------

def _started(c: _Ctx) -> str:
    p = c.p
    playbook = c.names.title(c.lang) or _typed(p.get("playbook_id"))
    head = c.t("event.started", who=c.who, playbook=playbook,
               place=c.names.place(p.get("location"), c.lang) or "—",
               severity=c.names.severity(p.get("severity"), c.lang))
    more = []
    if p.get("drill"):
        more.append(c.t("event.started.drill"))
    if p.get("received_at"):
        more.append(c.t("event.started.received", time=_when(p["received_at"], c.zone)))
    contact = p.get("reporter_contact") or {}
    if contact:
        more.append(c.t("event.started.reporter", reporter=" ".join(
            _typed(contact[k]) for k in ("name", "phone", "unit") if contact.get(k))))
    elif p.get("reporter") and p.get("reporter") != c.actor:
        more.append(c.t("event.started.reporter", reporter=c.person(p["reporter"])))
    if p.get("channel"):
        more.append(c.t("event.started.channel", channel=c.names.channel(p["channel"], c.lang)))
    receiver = p.get("first_receiver")
    if receiver and receiver != c.actor:
        more.append(c.t("event.started.receiver", receiver=c.person(receiver)))
    for key, value in (p.get("inputs") or {}).items():
        if value not in (None, ""):
            more.append(c.t("event.started.input", label=c.names.input_label(key, c.lang),
                            value=_typed(value)))
    return c.clauses(head, *more)


def _resolved(c: _Ctx) -> str:
    summary = _typed(c.p.get("summary"))
    head = (c.t("event.resolved.summary", who=c.who, summary=summary) if summary
            else c.t("event.resolved", who=c.who))
    left = [s for s in c.p.get("open_steps") or [] if isinstance(s, str)]
    if left:
        shown = [f"“{c.step(s)}”" for s in left[:5]]
        if len(left) > 5:
            shown.append(c.t("event.more", n=len(left) - 5))
        head = c.clauses(head, c.t("event.resolved.open", count=c.count("step", len(left)),
                                   steps=join(shown, c.lang)))
    return head


def _reopened(c: _Ctx) -> str:
    return c.t("event.reopened", who=c.who, reason=_typed(c.p.get("reason")) or "—")


def _closed(c: _Ctx) -> str:
    reason = _typed(c.p.get("reason"))
    if reason in ("", "callbacks and complaints done"):  # the engine's own close
        return c.t("event.closed.all_done", who=c.who)
    return c.t("event.closed", who=c.who, reason=reason)


def _severity(c: _Ctx) -> str:
    old = c.names.severity(c.p.get("from"), c.lang)
    new = c.names.severity(c.p.get("to"), c.lang)
    reason = _typed(c.p.get("reason"))
    if reason:
        return c.t("event.severity.reason", who=c.who, old=old, new=new, reason=reason)
    return c.t("event.severity", who=c.who, old=old, new=new)


def _handover(c: _Ctx) -> str:
    old, new = c.person(c.p.get("from")), c.person(c.p.get("to"))
    reason = _typed(c.p.get("reason"))
    if reason:
        return c.t("event.handover.reason", who=c.who, old=old, new=new, reason=reason)
    return c.t("event.handover", who=c.who, old=old, new=new)


def _note(c: _Ctx) -> str:
    text = _typed(c.p.get("text"))
    if isinstance(c.p.get("step"), str):
        return c.t("event.note.step", who=c.who, step=c.step(), text=text)
    return c.t("event.note", who=c.who, text=text)


# ---- steps -----------------------------------------------------------------------------

def _with_note(c: _Ctx, head: str) -> str:
    return c.clauses(head, _typed(c.p.get("note")))


def _step_started(c: _Ctx) -> str:
    to = c.p.get("to")
    head = (c.t("event.step_dispatched", who=c.who, step=c.step(), to=c.person(to)) if to
            else c.t("event.step_started", who=c.who, step=c.step()))
    more = []
    if c.p.get("arrive_by"):
        more.append(c.t("event.step_started.arrive_by", time=_when(c.p["arrive_by"], c.zone)))
    return _with_note(c, c.clauses(head, *more))


def _value(c: _Ctx, value: Any) -> str:
    if isinstance(value, bool):
        value = ("是" if value else "否") if c.lang == "zh" else ("yes" if value else "no")
    return _typed(value)


def _step_done(c: _Ctx) -> str:
    p = c.p
    if p.get("auto") and c.actor == ev.SYSTEM:
        return c.t("event.step_done.auto", step=c.step())
    if p.get("option"):
        head = c.t("event.step_done.option", who=c.who, step=c.step(),
                   option=c.names.option(p.get("step"), p["option"], c.lang))
    elif p.get("value") not in (None, "", []):
        head = c.t("event.step_done.value", who=c.who, step=c.step(), value=_value(c, p["value"]))
    else:
        head = c.t("event.step_done", who=c.who, step=c.step())
    return _with_note(c, head)


def _step_awaiting(c: _Ctx) -> str:
    p = c.p
    extra = ""
    if p.get("option"):
        extra = c.names.option(p.get("step"), p["option"], c.lang)
    elif p.get("value") not in (None, "", []):
        extra = _value(c, p["value"])
    return _with_note(c, c.clauses(c.t("event.step_awaiting", who=c.who, step=c.step()), extra))


def _step_confirmed(c: _Ctx) -> str:
    return _with_note(c, c.t("event.step_confirmed", who=c.who, step=c.step()))


def _step_skipped(c: _Ctx) -> str:
    return c.t("event.step_skipped", who=c.who, step=c.step(),
               reason=_typed(c.p.get("reason")) or "—")


def _report_done(c: _Ctx) -> str:
    return _with_note(c, c.t("event.report_done", who=c.who,
                             report=c.names.report(c.p.get("report"), c.lang)))


def _timer(c: _Ctx) -> str:
    p = c.p
    kind = p.get("kind")
    if kind in ("step_overdue", "arrival_overdue", "wait_elapsed") and p.get("step"):
        head = c.t(f"event.timer.{kind}", step=c.step())
    elif kind == "target_missed" and p.get("target"):
        head = c.t("event.timer.target", target=c.names.target(p["target"], c.lang))
    elif kind == "report_due" and p.get("report"):
        head = c.t("event.timer.report", report=c.names.report(p["report"], c.lang))
    elif kind == "escalation_due" and p.get("page"):
        head = c.t("event.timer.escalation", page=_typed(p["page"]), to=c.person(p.get("to")),
                   wait=duration(float(p.get("wait_s") or 0), c.lang))
    elif kind == "drill_inject":  # the inject itself follows as its own event
        head = c.text(p.get("label")) or _typed(p.get("timer"))
    else:
        head = c.t("event.timer", label=c.text(p.get("label")) or _typed(p.get("timer")))
    if p.get("late"):
        head = c.clauses(head, c.t("event.timer.late",
                                   late=duration(float(p.get("late_by_s") or 0), c.lang)))
    return head


# ---- messages ----------------------------------------------------------------------------

def _channels(c: _Ctx, counts: Any) -> str:
    if isinstance(counts, dict):
        return join([f"{c.names.channel(ch, c.lang)} {n}" for ch, n in counts.items()], c.lang)
    if isinstance(counts, list):
        return join([c.names.channel(ch, c.lang) for ch in counts], c.lang)
    return ""


def _notify(c: _Ctx) -> str:
    p = c.p
    if not p.get("messages"):
        head = c.t("event.notify.none", who=c.who, step=c.step())
    else:
        messages = c.count("message", p.get("messages"))
        chans = _channels(c, p.get("channels"))
        head = c.t("event.notify", who=c.who, step=c.step(),
                   recipients=c.count("recipient", p.get("recipients", 0)),
                   messages=c.t("event.notify.messages", messages=messages, channels=chans)
                   if chans else messages)
    if p.get("unreachable"):
        head = c.clauses(head, c.t("event.notify.unreachable",
                                   count=c.count("person", p["unreachable"])))
    return head


def _retried(c: _Ctx) -> str:
    messages = c.count("message", c.p.get("messages", 0))
    if c.p.get("channel"):
        return c.t("event.notify_retried.channel", who=c.who, messages=messages, step=c.step(),
                   channel=c.names.channel(c.p["channel"], c.lang))
    return c.t("event.notify_retried", who=c.who, messages=messages, step=c.step())


def _delivery(c: _Ctx) -> str:
    p = c.p
    if "recipients" in p:
        head = c.t("event.delivery", step=c.step(), delivered=p.get("delivered", 0),
                   recipients=c.count("recipient", p.get("recipients", 0)))
        more = []
        if p.get("waiting"):
            more.append(c.t("event.delivery.waiting", count=c.count("message", p["waiting"])))
        if p.get("failed"):
            more.append(c.t("event.delivery.failed", count=c.count("recipient", p["failed"])))
        return c.clauses(head, *more)
    chans = []
    for ch, counts in sorted((p.get("channels") or {}).items()):
        if isinstance(counts, dict):
            chans.append(c.t("event.delivery.channel", channel=c.names.channel(ch, c.lang),
                             sent=counts.get("sent", 0), total=sum(counts.values())))
    return c.t("event.delivery.channels", step=c.step(), channels=join(chans, c.lang))


# ---- pages and escalation ----------------------------------------------------------------

def _page_why(c: _Ctx) -> str:
    p = c.p
    trigger = p.get("trigger")
    page = _typed(p.get("from_page"))
    if trigger == "start":
        return c.t("why.start")
    if trigger == "no_ack" and page:
        if p.get("wait_s"):
            return c.t("why.no_ack", page=page, wait=duration(p["wait_s"], c.lang))
        return c.t("why.no_ack.plain", page=page)
    if trigger == "at_once" and page:
        return c.t("why.at_once", page=page)
    if trigger == "skipped":
        return c.t("why.skipped")
    if trigger == "step_overdue":
        sid = p.get("about_step")
        return c.t("why.step_overdue", step=c.step(sid)) if sid else c.t("why.overdue")
    if trigger == "playbook":
        sid = p.get("about_step")
        return c.t("why.playbook", step=c.step(sid)) if sid else c.t("why.playbook.plain")
    if trigger == "manual":
        return c.t("why.manual", reason=c.text(p.get("reason")))
    if trigger == "severity" and p.get("raised_to") is not None:
        return c.t("why.severity", severity=c.names.severity(p["raised_to"], c.lang))
    return c.text(p.get("reason"))


def _page(c: _Ctx) -> str:
    p = c.p
    names = p.get("names") or {}
    people = []
    for pid in p.get("to") or []:
        kept = names.get(pid)  # the name as it was when paged, in both languages
        known = c.person(pid)
        people.append(known if known != pid or not kept else pick(kept, c.lang, pid))
    node = p.get("role") or p.get("node")
    key = "event.page.reminder" if p.get("reminder") else "event.page"
    return c.t(key, role=c.person(node) if node else "—",
               people=c.and_list(people) or c.t("event.page.nobody"),
               page=_typed(p.get("page")), why=_page_why(c))


def _acked(c: _Ctx) -> str:
    pages = [str(x) for x in c.p.get("pages") or []]
    if c.p.get("for_all"):
        return c.t("event.page_acked.all", who=c.who, pages=join(pages, c.lang))
    return c.t("event.page_acked", who=c.who, page=_typed(c.p.get("page") or join(pages, c.lang)))


def _raised(c: _Ctx) -> str:
    p = c.p
    to = c.person(p.get("to"))
    if p.get("manual") or (c.actor != ev.SYSTEM and not p.get("step") and p.get("reason")):
        return c.t("event.escalated.by", who=c.who, to=to, reason=c.text(p.get("reason")))
    if p.get("step") and c.actor != ev.SYSTEM:
        why = c.names.escalate_reason(p["step"], c.lang)
        head = c.t("event.escalated.step", who=c.who, to=to)
        return c.clauses(head, why or c.t("why.playbook", step=c.step()))
    if p.get("from"):
        return c.t("event.escalated.from", old=c.person(p["from"]), to=to)
    return c.t("event.escalated", to=to)


def _skipped_why(c: _Ctx) -> str:
    p = c.p
    reason = str(pick(p.get("reason"), "en"))
    if "trigger" in p or "unreachable" in p:  # the role resolved to nobody reachable
        away = [x for x in p.get("unreachable") or [] if isinstance(x, str)]
        if away:
            return c.t("skip.unreachable", people=join([c.person(x) for x in away], c.lang))
        return c.t("skip.nobody")
    if "pages already sent" in reason:
        return c.t("skip.max_pages", pages=c.count("page", reason.split()[0]))
    if "already followed" in reason:
        times = reason.split("already followed", 1)[1].split()[0]
        return c.t("skip.repeat", times=c.count("time", times if times.isdigit() else 0))
    return c.text(p.get("reason"))


def _escalation_skipped(c: _Ctx) -> str:
    return c.t("event.escalation_skipped", to=c.person(c.p.get("to")), why=_skipped_why(c))


# ---- drills --------------------------------------------------------------------------------

def _inject(c: _Ctx) -> str:
    p = c.p
    head = c.t("event.drill_inject",
               headline=c.text(p.get("headline")) or _typed(p.get("inject")))
    fault = p.get("fault")
    if isinstance(fault, dict) and fault.get("channel"):
        head = c.clauses(head, c.t("event.drill_inject.fault",
                                   channel=c.names.channel(fault["channel"], c.lang)))
    return head


def _scenario(c: _Ctx) -> str:
    speed = c.p.get("speed", 1)
    return c.t("event.drill_scenario", who=c.who,
               title=c.text(c.p.get("title")) or _typed(c.p.get("scenario")),
               speed=f"{float(speed):g}" if isinstance(speed, int | float) else _typed(speed))


def _rated(c: _Ctx) -> str:
    rating = str(c.p.get("rating") or "")
    said = c.t(f"rating.{rating}") if f"rating.{rating}" in EVENT_TEXT else _typed(rating)
    return c.clauses(c.t("event.drill_rated", who=c.who, objective=_typed(c.p.get("objective")),
                         rating=said), _typed(c.p.get("comment")))


def _evaluation(c: _Ctx) -> str:
    p = c.p
    kind = p.get("type")
    if kind == "strength":
        return c.t("event.drill_strength", who=c.who, text=_typed(p.get("text")))
    if kind == "improvement":
        return c.t("event.drill_improvement", who=c.who, text=_typed(p.get("text")))
    if kind == "plan":
        return c.t("event.drill_plan", who=c.who, issue=_typed(p.get("issue")),
                   action=_typed(p.get("action")), owner=c.person(p.get("owner")),
                   due=_typed(p.get("due")))
    if kind == "plan_status":
        return c.t("event.drill_plan_status", who=c.who, item=_typed(p.get("item")),
                   status=_typed(p.get("status")))
    if kind == "counts":
        counts = p.get("counts") or {}
        return c.t("event.drill_counts", who=c.who,
                   counts=join([f"{k} {v}" for k, v in counts.items()], c.lang))
    return c.t("event.drill_other", who=c.who, text=_typed(p.get("text")))


# ---- after the emergency -----------------------------------------------------------------

def _callbacks_due(c: _Ctx) -> str:
    people = c.p.get("people") or []
    listed = [_callee(c, x) for x in people[:6] if isinstance(x, dict)]
    if len(people) > 6:
        listed.append(f"+{len(people) - 6}")
    return c.t("event.callbacks_due", within=duration(float(c.p.get("within_s") or 0), c.lang),
               people=c.t("event.callbacks_due.people", count=c.count("person", len(people)),
                          names=join(listed, c.lang)))


def _callee(c: _Ctx, x: dict[str, Any]) -> str:
    """Someone owed a callback: a person the directory knows by name in the language,
    else the name taken down when the incident came in."""
    who = x.get("who")
    known = c.person(who) if who and who != "reporter" else ""
    return known if known and known != who else _typed(x.get("name") or who)


def _callback(c: _Ctx) -> str:
    p = c.p
    person = c.t("event.reporter") if p.get("who") == "reporter" else c.person(p.get("who"))
    head = c.t("event.callback" if p.get("reached") else "event.callback.missed",
               who=c.who, person=person)
    more = []
    if p.get("satisfaction"):
        more.append(c.t("event.satisfaction", score=p["satisfaction"]))
    if p.get("final"):
        more.append(c.t("event.callback.final"))
    return c.clauses(head, *more, _typed(p.get("note")))


def _complaint(c: _Ctx) -> str:
    p = c.p
    return c.t("event.complaint", who=c.who, complaint=_typed(p.get("complaint")),
               person=c.person(p.get("from")), text=_typed(p.get("text")))


def _complaint_step(c: _Ctx) -> str:
    step = ac.COMPLAINT_STEPS.get(c.p.get("step") or "")
    said = ac.text(step, c.lang) if step else _typed(c.p.get("step"))
    return c.clauses(c.t("event.complaint_step", who=c.who, complaint=_typed(c.p.get("complaint")),
                         step=said), _typed(c.p.get("note")))


def _complaint_closed(c: _Ctx) -> str:
    return c.clauses(c.t("event.complaint_closed", who=c.who,
                         complaint=_typed(c.p.get("complaint")),
                         score=c.p.get("satisfaction", "—")), _typed(c.p.get("note")))


def _promise(c: _Ctx) -> str:
    return c.t("event.promise", time=_when_date(c.p.get("due_at"), c.zone),
               via=c.names.channel(c.p.get("via"), c.lang))


def _reported_back(c: _Ctx) -> str:
    return c.clauses(c.t("event.reported_back", who=c.who,
                         via=c.names.channel(c.p.get("via"), c.lang)), _typed(c.p.get("note")))


_TELLERS = {
    ev.INCIDENT_STARTED: _started, ev.INCIDENT_RESOLVED: _resolved,
    ev.INCIDENT_REOPENED: _reopened, ev.SEVERITY_CHANGED: _severity,
    ev.OWNER_CHANGED: _handover, ev.NOTE_ADDED: _note,
    ev.STEP_STARTED: _step_started, ev.STEP_DONE: _step_done, ev.STEP_SKIPPED: _step_skipped,
    ev.STEP_AWAITING: _step_awaiting, ev.STEP_CONFIRMED: _step_confirmed,
    ev.REPORT_DONE: _report_done, ev.TIMER_FIRED: _timer,
    ev.NOTIFY_QUEUED: _notify, ev.NOTIFY_RETRIED: _retried, ev.DELIVERY_PROGRESS: _delivery,
    ev.PAGE_SENT: _page, ev.PAGE_ACKED: _acked,
    ev.ESCALATION_RAISED: _raised, ev.ESCALATION_SKIPPED: _escalation_skipped,
    ev.DRILL_INJECT: _inject, ev.DRILL_SCENARIO: _scenario, ev.DRILL_RATED: _rated,
    ev.DRILL_EVALUATION: _evaluation,
    ac.FOLLOWUP_SCHEDULED: _callbacks_due, ac.FOLLOWUP_RECORDED: _callback,
    ac.COMPLAINT_OPENED: _complaint, ac.COMPLAINT_STEP: _complaint_step,
    ac.COMPLAINT_CLOSED: _complaint_closed, ac.PROMISE_MADE: _promise,
    ac.REPORTED_BACK: _reported_back, ac.INCIDENT_CLOSED: _closed,
}
KINDS = frozenset(_TELLERS)


def page_reason(page: dict[str, Any], names: Names, lang: str = "en") -> str:
    """Why a page went out (a page.sent payload), as its sentence says it."""
    return _page_why(_Ctx(_Event(ev.PAGE_SENT, ev.SYSTEM, page), names, lang, None))


def skip_reason(payload: dict[str, Any], names: Names, lang: str = "en") -> str:
    """Why an escalation step paged nobody (an escalation.skipped payload)."""
    return _skipped_why(_Ctx(_Event(ev.ESCALATION_SKIPPED, ev.SYSTEM, payload), names, lang,
                             None))


class _Event:
    __slots__ = ("actor", "kind", "payload")

    def __init__(self, kind: str, actor: str, payload: dict[str, Any]):
        self.kind, self.actor, self.payload = kind, actor, payload


def describe(event: Any, names: Names, lang: str = "en", zone: ZoneInfo | None = None) -> str:
    """The event as one sentence in `lang` (no control codes, no line breaks).

    `event` has .kind, .actor and .payload (a StoredEvent or anything like it);
    `zone` gives clock times (arrival, promise) in the site's time."""
    tell = _TELLERS.get(event.kind)
    c = _Ctx(event, names, lang, zone)
    if tell is None:  # a kind from a newer version: say who and what, never the payload
        text = c.t("event.other", who=c.who, kind=ev.label(event.kind, lang))
    else:
        text = tell(c)
    by = c.p.get("entered_by")
    if by:  # typed by a colleague for the actor (a phone call to the desk)
        text = clauses(lang, text, c.t("event.entered_by", who=c.person(by)))
    text = terminal(text).replace("\n", " ")
    return text if lang == "zh" else _first_upper(text)
