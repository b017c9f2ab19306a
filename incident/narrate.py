"""Every event of the incident log told once, as a sentence in the reader's language.

`describe(event, names, lang)` is the only place an event becomes words: the console
timeline, `incident log`, the report's timeline (every format), the brief and the
drill's after-action report all print what it returns. Names (people, roles,
channels, places, steps) come from one `incident.names.Names`.

The sentences live in the message catalogue (incident/locale, keys event.*, why.*,
skip.*, count.*; the catalogue check keeps their fields equal across languages).
What people typed (notes, reasons, summaries) is quoted as typed, on one line.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident import i18n
from incident.engine import aftercare as ac
from incident.engine import events as ev
from incident.names import join, pick
from incident.safetext import terminal

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.names import Names

# The sentences live in the message catalogue (incident/locale, keys event.*, why.*,
# skip.*, count.*).

def _t(key: str, lang: str, **fields: Any) -> str:
    """The sentence `key` in the reader's language, from the catalogue."""
    return i18n.t(key, lang, **fields)


def count(noun: str, n: Any, lang: str) -> str:
    """'1 recipient', '3 recipients', '3位收件人'."""
    try:
        n = int(n)
    except (TypeError, ValueError):
        n = 0
    return i18n.nt(_COUNTS[noun], n, lang)


#: The plural messages count() knows, by noun (literal keys, so the catalogue check sees them).
_COUNTS = {
    "day": "count.day", "hour": "count.hour", "message": "count.message",
    "minute": "count.minute", "page": "count.page", "person": "count.person",
    "recipient": "count.recipient", "second": "count.second", "step": "count.step",
    "time": "count.time", "unit": "count.unit"}


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
    return i18n.t("duration.pair", lang, a=parts[0], b=parts[1]) if len(parts) > 1 else parts[0]


def clauses(lang: str, *parts: str) -> str:
    """A sentence and its added clauses: "A; B" / "A；B"."""
    return i18n.t("clause.sep", lang).join(p for p in parts if p)


def _typed(value: Any) -> str:
    """What a person typed, on one line (a note cannot forge a line of its own)."""
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    return terminal(str(value if value is not None else "")).strip()


def _when(iso: Any, zone: ZoneInfo | None, fmt: str = "%H:%M") -> str:
    """A stored ISO time on the site's clock; what is not a time is shown as typed."""
    try:
        ts = datetime.fromisoformat(str(iso))
    except (TypeError, ValueError):
        return _typed(iso)
    if zone is not None and ts.tzinfo is not None:
        ts = ts.astimezone(zone)
    return ts.strftime(fmt)


def _when_date(iso: Any, zone: ZoneInfo | None) -> str:
    return _when(iso, zone, "%Y-%m-%d %H:%M")


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
    text = c.text(c.p.get("text"))  # typed, or bilingual (a drill's mark)
    if isinstance(c.p.get("step"), str):
        return c.t("event.note.step", who=c.who, step=c.step(), text=text)
    return c.t("event.note", who=c.who, text=text)


# ---- steps -----------------------------------------------------------------------------

def _with_note(c: _Ctx, head: str) -> str:
    return c.clauses(head, c.text(c.p.get("note")))  # typed, or bilingual (from the board)


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
        value = c.t("word.yes") if value else c.t("word.no")
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


_TIMER_KEYS = {"step_overdue": "event.timer.step_overdue",
               "arrival_overdue": "event.timer.arrival_overdue",
               "wait_elapsed": "event.timer.wait_elapsed"}


def _timer(c: _Ctx) -> str:
    p = c.p
    kind = p.get("kind")
    if kind in ("step_overdue", "arrival_overdue", "wait_elapsed") and p.get("step"):
        head = c.t(_TIMER_KEYS[kind], step=c.step())
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


def _reply(c: _Ctx) -> str:
    """A person's reply to a page or a roll-call question, and what it did."""
    p = c.p
    who = c.person(p.get("person_id")) if p.get("person_id") else c.who
    said = dict(who=who, text=c.text(str(p.get("text") or "")[:200]),
                channel=c.names.channel(p.get("channel"), c.lang))
    if p.get("acknowledged"):
        return c.t("event.reply.acked", page=_typed(p["acknowledged"]), **said)
    if p.get("unit"):
        said["who"] = f"{who} {p['unit']}"
    if p.get("answer") in ("safe", "help", "away"):
        return c.t("event.reply.answer", answer=c.t(_ANSWERS[p["answer"]]), **said)
    return c.t("event.reply.unclear", **said)


def _knock(c: _Ctx) -> str:
    """A roll call's door-knock list sent to a team."""
    p = c.p
    return c.t("event.rollcall.knock", who=c.who, units=c.count("unit", len(p.get("units") or [])),
               team=c.person(p.get("team")), to=c.and_list([c.person(x) for x in p.get("to") or []]))


_ANSWERS = {"safe": "answer_safe", "help": "answer_help", "away": "answer_away"}


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
    # the cause as data (newer events); older events only carry the English reason
    if p.get("cause") == "max_pages":
        return c.t("skip.max_pages", pages=c.count("page", p.get("pages") or 0))
    if p.get("cause") == "repeat":
        return c.t("skip.repeat", times=c.count("time", p.get("times") or 0))
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
    said = c.t(f"rating.{rating}") if i18n.has(f"rating.{rating}") else _typed(rating)
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
    ev.PAGE_SENT: _page, ev.PAGE_ACKED: _acked, ev.REPLY_RECEIVED: _reply, ev.ROLLCALL_KNOCK: _knock,
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
    return i18n.sentence_start(text, lang)
