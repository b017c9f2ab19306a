"""Roll call (点名): owners answer "1 safe / 2 need help / 3 not at home" by reply.

A `roll_call` step sends its question through the outbox like a notify step (each
owner in their language, drills to the sandbox); the engine records who was asked
with the step's ``notify.queued`` event. Replies arrive as ``reply.received`` events
(purpose "roll_call", from the inbound listener or a drill script, both through
``Engine.record_reply``). This module folds them into a board per unit and person
— answered safe, needs help, no answer, vulnerable — and turns the board into the
door-knock list a named team works through. A later answer from the same person
supersedes an earlier one; every reply stays in the person's history.

Pure core: no textual/rich, time is passed in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.engine import events as ev
from incident.errors import Refused
from incident.i18n import N_, channel_name, nt, t

if TYPE_CHECKING:
    from incident.directory import Directory, Recipient
    from incident.engine.service import Engine
    from incident.engine.state import IncidentState
    from incident.playbook import Step
    from incident.store import NewOutbox

ANSWERS: dict[str, tuple[str, str]] = {  # answer -> (number, catalogue key)
    "safe": ("1", N_("roll.answer.safe")),
    "help": ("2", N_("roll.answer.help")),
    "away": ("3", N_("roll.answer.away")),
}
TEXT_CAP = 500
KNOCK_PREFIX = "knock:"  # outbox step_id of a door-knock list: knock:<roll-call step>:<n>

# Board statuses of a unit, most urgent first.
STATUSES = ("help", "unclear", "no_answer", "waiting", "safe", "away")
LABELS: dict[str, str] = {  # a board status (or "vulnerable") -> catalogue key
    "help": N_("roll.status.help"),
    "unclear": N_("roll.status.unclear"),
    "no_answer": N_("roll.status.no_answer"),
    "waiting": N_("roll.status.waiting"),
    "safe": N_("roll.status.safe"),
    "away": N_("roll.status.away"),
    "vulnerable": N_("roll.status.vulnerable"),
}

_WORDS: dict[str, tuple[str, ...]] = {
    "safe": ("1", "safe", "ok", "okay", "fine", "i am safe", "im safe", "i'm safe", "安全",
             "平安", "我安全", "已撤离", "没事", "安全了"),
    "help": ("2", "help", "need help", "sos", "需要帮助", "帮助", "救命", "求助", "需要协助",
             "要帮助", "需帮助"),
    "away": ("3", "away", "not at home", "not home", "out", "不在家", "不在", "外出",
             "没在家"),
}
_LOOKUP = {w: a for a, words in _WORDS.items() for w in words}
_TRIM = re.compile(r"^[\s\"'“”‘’「」【】\[\](){}<>.,;:!?。，；：！？、~-]+|"
                   r"[\s\"'“”‘’「」【】\[\](){}<>.,;:!?。，；：！？、~-]+$")


def parse_answer(text: str | None) -> str | None:
    """"safe", "help", "away" or None (unparsed) for a reply's raw text.

    Accepts the numbers 1/2/3 (full-width too: NFKC), the answer words in English and
    Chinese, and a number followed by words ("1 安全", "2 stuck on 12F"). Anything
    else is None: the board shows it as an unclear reply for a person to read."""
    if not text:
        return None
    folded = unicodedata.normalize("NFKC", str(text)).strip().lower()
    folded = _TRIM.sub("", folded)
    if not folded:
        return None
    if folded in _LOOKUP:
        return _LOOKUP[folded]
    m = re.match(r"^([123])(?![0-9])", folded)
    if m:
        return _LOOKUP[m.group(1)]
    first = re.split(r"[\s,，。.!！]+", folded, maxsplit=1)[0]
    return _LOOKUP.get(first)


def reply_line(lang: str) -> str:
    """The numbered answers as the owner reads them after the question."""
    answers = t("roll.answer_sep", lang).join(t("roll.answer", lang, n=n, word=t(key, lang))
                                              for n, key in ANSWERS.values())
    return t("roll.reply_line", lang, answers=answers)


def label(key: str, lang: str) -> str:
    return t(LABELS[key], lang) if key in LABELS else key


def answer_label(answer: str | None, lang: str) -> str:
    return label(answer or "unclear", lang)


# ---- the outbound question ------------------------------------------------------------

def as_notify(step: Step) -> Step:
    """The roll-call step seen as a notify step, so the planner sends its question
    exactly like an owner notice (audience, channels, languages, fall-backs, drills)."""
    from incident.playbook.model import Message, Notify, Text

    rc = step.roll_call
    if rc is None:
        raise Refused("refused.rollcall.not_a_roll_call", step=step.title)
    body = Text(en=f"{rc.question.en}\n{reply_line('en')}",
                zh=f"{rc.question.zh}\n{reply_line('zh')}")
    notify = Notify(audience=rc.audience, channels=list(rc.channels),
                    message=Message(subject=step.title, body=body))
    return step.model_copy(update={"notify": notify})


def asked_summary(recipients: list[Recipient], directory: Directory | None) -> dict[str, Any]:
    """Who was asked, for the step's notify.queued event: [person, unit, floor,
    vulnerable kinds] each, so the board is rebuilt from the log alone."""
    units = getattr(directory, "units", {}) or {}
    asked = []
    for r in recipients:
        if getattr(r, "kind", "owner") != "owner":
            continue
        u = units.get(r.unit) if r.unit else None
        asked.append([r.person_id, r.unit, u.floor if u is not None else None,
                      list(r.vulnerable)])
    return {"asked": asked}


# ---- the board ----------------------------------------------------------------------

@dataclass(slots=True)
class PersonRow:
    person_id: str
    unit: str | None
    floor: int | None
    vulnerable: tuple[str, ...] = ()
    answer: str | None = None           # the latest parsed answer
    answered_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # every reply, in order

    @property
    def status(self) -> str | None:
        """safe / help / away, "unclear" (replied, nothing parsed), None (silent)."""
        if self.answer is not None:
            return self.answer
        return "unclear" if self.history else None

    @property
    def last_text(self) -> str:
        return str(self.history[-1].get("text") or "") if self.history else ""


@dataclass(slots=True)
class UnitRow:
    unit: str
    building: str
    floor: int | None
    people: list[PersonRow]
    status: str = "waiting"

    @property
    def vulnerable(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for p in self.people for k in p.vulnerable))

    @property
    def accounted(self) -> bool:
        return self.status in ("safe", "away")


@dataclass(slots=True)
class KnockItem:
    unit: str
    building: str
    floor: int | None
    reason: str                 # help, vulnerable, unclear, no_answer
    reasons: list[str]
    people: list[str]
    vulnerable: tuple[str, ...]
    last_text: str

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "building": self.building, "floor": self.floor,
                "reason": self.reason, "reasons": list(self.reasons),
                "people": list(self.people), "vulnerable": list(self.vulnerable),
                "last_text": self.last_text}


_PRIORITY = {"help": 0, "vulnerable": 1, "unclear": 2, "no_answer": 3}


@dataclass(slots=True)
class Board:
    step_id: str
    sent_at: datetime
    now: datetime
    no_answer_after: timedelta | None
    units: list[UnitRow]
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    @property
    def silent_from(self) -> datetime:
        return self.sent_at + (self.no_answer_after or timedelta(0))

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for u in self.units:
            out[u.status] += 1
        out["units"] = len(self.units)
        out["vulnerable"] = sum(1 for u in self.units if u.vulnerable)
        out["vulnerable_open"] = sum(1 for u in self.units if u.vulnerable and not u.accounted)
        out["people_safe"] = sum(1 for u in self.units for p in u.people if p.answer == "safe")
        out["replies"] = sum(len(p.history) for u in self.units for p in u.people)
        return out

    def floors(self) -> list[tuple[str, int | None, list[UnitRow]]]:
        """(building, floor, units) from the top floor down, as wardens sweep."""
        groups: dict[tuple[str, int | None], list[UnitRow]] = {}
        for u in self.units:
            groups.setdefault((u.building, u.floor), []).append(u)
        keys = sorted(groups, key=lambda k: (k[0], -(k[1] if k[1] is not None else -999)))
        return [(b, f, groups[(b, f)]) for b, f in keys]

    def knock_list(self) -> list[KnockItem]:
        """Whose door to knock on: needs help, vulnerable and not accounted for (at
        once, no waiting), unclear replies, and silence after `no_answer_after`."""
        out = []
        for u in self.units:
            reasons = []
            if u.status == "help":
                reasons.append("help")
            if u.vulnerable and not u.accounted:
                reasons.append("vulnerable")
            if u.status == "unclear":
                reasons.append("unclear")
            if u.status == "no_answer":
                reasons.append("no_answer")
            if not reasons:
                continue
            reasons.sort(key=_PRIORITY.__getitem__)
            last = max((p for p in u.people if p.history),
                       key=lambda p: p.history[-1]["seq"], default=None)
            out.append(KnockItem(u.unit, u.building, u.floor, reasons[0], reasons,
                                 [p.person_id for p in u.people], u.vulnerable,
                                 last.last_text if last is not None else ""))
        out.sort(key=lambda k: (_PRIORITY[k.reason], k.building,
                                -(k.floor if k.floor is not None else -999), k.unit))
        return out

    def missing(self, directory: Directory | None = None, lang: str = "en") -> list[str]:
        """The units not accounted for, as a missing list a record step takes."""
        out = []
        for k in self.knock_list():
            names = " / ".join(person_name(directory, p, lang) for p in k.people
                               if not p.startswith("unit:"))
            out.append(f"{k.unit} {names} ({label(k.reason, lang)})".replace("  ", " "))
        return out


def person_name(directory: Directory | None, person_id: str, lang: str) -> str:
    if directory is not None:
        p = directory.people.get(person_id)
        if p is not None:
            return p.display_name(lang)
    return person_id


def roll_call_steps(st: IncidentState) -> list[str]:
    """Ids of the incident's roll-call steps whose question went out, first sent first."""
    steps = st.playbook.steps()
    return [sid for sid in st.notifications
            if sid in steps and steps[sid].kind == "roll_call"]


def sent_at(st: IncidentState, step_id: str) -> datetime | None:
    s = st.steps.get(step_id)
    if s is None:
        return None
    return s.done_at or s.started_at


def board_time(st: IncidentState, now: datetime) -> datetime:
    """The moment a board is read at: a resolved incident's board as it stood when it
    was resolved; a drill's never before its own last event (its clock runs ahead)."""
    if st.status != "open" and st.resolved_at is not None:
        return st.resolved_at
    if st.drill and st.last_ts is not None and st.last_ts > now:
        return st.last_ts
    return now


def board(st: IncidentState, now: datetime, step_id: str | None = None, *,
          no_answer_after: timedelta | None = None) -> Board:
    """The roll-call board of `step_id` (default: the latest roll call sent) at `now`."""
    now = board_time(st, now)
    sent = roll_call_steps(st)
    if step_id is None:
        if not sent:
            raise Refused("refused.rollcall.none_sent", incident=st.id)
        step_id = sent[-1]
    steps = st.playbook.steps()
    if step_id not in steps or steps[step_id].kind != "roll_call":
        calls = [s.id for s in steps.values() if s.kind == "roll_call"]
        if not calls:
            raise Refused("refused.rollcall.not_a_step_none", step=step_id, incident=st.id)
        raise Refused("refused.rollcall.not_a_step", step=step_id, incident=st.id,
                      calls={"en": ", ".join(calls), "zh": "、".join(calls)})
    if step_id not in st.notifications:
        raise Refused("refused.rollcall.not_sent", step=steps[step_id].title)
    rc = steps[step_id].roll_call
    after = no_answer_after if no_answer_after is not None else (rc.no_answer_after if rc
                                                                 else None)
    at = sent_at(st, step_id) or st.started_at
    people: dict[str, PersonRow] = {}
    for pid, unit, floor, vuln in st.notifications[step_id].get("asked") or []:
        people[pid] = PersonRow(pid, unit, floor, tuple(vuln or ()))
    by_unit: dict[str, list[PersonRow]] = {}
    for p in people.values():
        if p.unit:
            by_unit.setdefault(p.unit, []).append(p)
    latest = sent[-1] if sent else step_id
    unmatched: list[dict[str, Any]] = []
    for r in st.replies:
        if r.get("purpose") != "roll_call":
            continue
        if (r.get("step_id") or latest) != step_id:
            continue
        row = people.get(r.get("person_id") or "")
        if row is None and r.get("unit") in by_unit:
            key = f"unit:{r['unit']}"
            row = people.get(key)
            if row is None:  # a reply from the unit's number, not an owner asked
                first = by_unit[r["unit"]][0]
                row = people[key] = PersonRow(key, r["unit"], first.floor)
                by_unit[r["unit"]].append(row)
        if row is None:
            unmatched.append(r)
            continue
        row.history.append(r)
        answer = r.get("answer")
        if answer in ANSWERS:
            row.answer, row.answered_at = answer, r.get("ts")
    silent_ok = now >= at + (after or timedelta(0))
    units: list[UnitRow] = []
    for unit, rows in by_unit.items():
        building = unit.split("-", 1)[0] if "-" in unit else ""
        u = UnitRow(unit, building, rows[0].floor, rows)
        u.status = _unit_status(rows, silent_ok)
        units.append(u)
    for p in people.values():  # asked without a unit (rare): a row of their own
        if not p.unit:
            units.append(UnitRow(p.person_id, "", None, [p], _unit_status([p], silent_ok)))
    units.sort(key=lambda u: (u.building, -(u.floor if u.floor is not None else -999), u.unit))
    return Board(step_id, at, now, after, units, unmatched)


def _unit_status(rows: list[PersonRow], silent_ok: bool) -> str:
    statuses = [p.status for p in rows]
    if "help" in statuses:
        return "help"
    if "safe" in statuses:
        return "safe"
    if statuses and all(s == "away" for s in statuses):
        return "away"
    if "unclear" in statuses:
        return "unclear"
    return "no_answer" if silent_ok else "waiting"


def suggested_value(st: IncidentState, step: Step, now: datetime,
                    directory: Directory | None = None, lang: str = "en") -> Any:
    """The value a record step with `from_roll_call` is offered (None: no roll call yet)."""
    rec = step.record
    if rec is None or rec.from_roll_call is None or not roll_call_steps(st):
        return None
    b = board(st, now)
    if rec.from_roll_call == "safe_count":
        return b.counts()["people_safe"]
    missing = b.missing(directory, lang)
    return missing or [t("none", lang)]


# ---- engine operations (Engine.record_reply / Engine.knock delegate here) ---------------

def knock_message(st: IncidentState, items: list[KnockItem], directory: Directory | None,
                  lang: str, team: str) -> tuple[str, str]:
    """(subject, body) of a door-knock list sent to the team, in one language."""
    from incident.store.records import drill_mark

    where = st.location
    subject = nt("roll.knock_subject", len(items), lang, where=where)
    lines = [knock_line(k, directory, lang) for k in items]
    body = "\n".join([subject, *lines]) if lines else subject
    if st.drill:
        subject, body = drill_mark(lang) + subject, drill_mark(lang) + body
    return subject, body


def knock_line(k: KnockItem, directory: Directory | None, lang: str) -> str:
    from incident.directory.models import vulnerable_name

    names = ", ".join(person_name(directory, p, lang) for p in k.people if not
                      p.startswith("unit:"))
    why = " + ".join(label(r, lang) for r in k.reasons)
    vuln = "; ".join(vulnerable_name(v, lang) for v in k.vulnerable)
    floor = t("roll.floor", lang, f=k.floor) if k.floor is not None else ""
    parts = [f"{k.unit} {floor}".strip(), names, why]
    if vuln:
        parts.append(vuln)
    if k.last_text and k.reason in ("help", "unclear"):
        from incident.safetext import one_line

        parts.append(f"“{one_line(k.last_text)[:60]}”")
    return " · ".join(p for p in parts if p)


def knock(engine: Engine, incident_id: str, *, team: str, actor: str,
          step_id: str | None = None, no_answer_after: timedelta | None = None,
          channels: tuple[str, ...] = ("chat", "sms")) -> IncidentState:
    """Send the door-knock list to the team on duty for role `team` through the outbox,
    and log it (rollcall.knock) with the units listed, so the timeline says who was
    sent to which doors and when."""
    from incident.store import NewEvent
    from incident.store import NewOutbox as Row
    from incident.store.records import idempotency_key

    engine.check_actor(actor)
    directory = engine.directory
    if directory is None:
        raise Refused("refused.rollcall.no_directory")
    if team not in directory.roles:
        from incident.errors import known, suggest

        raise Refused("refused.rollcall.unknown_role", role=team,
                      hint=suggest(team, directory.roles) or known(directory.roles))

    def plan(st: IncidentState, now: datetime):
        if st.status != "open":
            raise Refused("refused.incident_resolved", incident=st.id)
        b = board(st, now, step_id, no_answer_after=no_answer_after)
        items = b.knock_list()
        if not items:
            raise Refused("refused.rollcall.nobody_to_knock")
        team_people = directory.on_duty(team, now) or directory.holders(team)
        if not team_people:
            raise Refused("refused.rollcall.nobody_holds_role", role=team)
        n = len(st.knocks) + 1
        # its own step id: a guard's reply to the list is never read as a roll-call answer
        knock_step = f"{KNOCK_PREFIX}{b.step_id}:{n}"
        rows: list[NewOutbox] = []
        to, unreachable = [], []
        for person in team_people:
            addr = person.channels
            usable = [c for c in channels if addr.get(c)]
            if not usable:
                unreachable.append(person.id)
                continue
            lang = person.lang if person.lang in ("en", "zh") else "zh"
            subject, body = knock_message(st, items, directory, lang, team)
            rows.append(Row(
                idempotency_key=idempotency_key(st.id, knock_step, person.id, usable[0]),
                step_id=knock_step, person_id=person.id, channel=usable[0],
                address=addr[usable[0]], lang=lang, subject=subject, body=body,
                drill=bool(st.drill), fallback_channels=usable[1:]))
            to.append(person.id)
        if not rows:
            raise Refused("refused.rollcall.no_address", role=team,
                          channels={"en": " or ".join(channels),
                                    "zh": "或".join(channel_name(c, "zh") for c in channels)})
        payload = {"step": b.step_id, "outbox_step": knock_step, "team": team, "list": n,
                   "to": to,
                   "unreachable": unreachable, "units": [k.as_dict() for k in items],
                   "no_answer_after_s": (b.no_answer_after.total_seconds()
                                         if b.no_answer_after is not None else None)}
        return [NewEvent(ev.ROLLCALL_KNOCK, actor, payload, now)], rows, {}

    return engine._commit(incident_id, plan)


__all__ = ["ANSWERS", "Board", "KnockItem", "PersonRow", "UnitRow", "as_notify",
           "asked_summary", "board", "knock", "parse_answer", "reply_line",
           "suggested_value"]
