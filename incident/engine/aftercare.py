"""After the emergency: callbacks (回访), complaints and the close.

The service manuals do not end an incident when the water stops. The first
receiver owns it until the people it touched have been called back and any
complaint it raised is closed with the owner's satisfaction. This module folds
those events into the incident state and derives their timers; the engine-side
operations live in incident.engine.followups.

Due times that depend on the site calendar (a complaint's 3 working days) are
computed when the event is written and stored in its payload, so the fold needs
no calendar and every reader sees the same clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from incident import i18n
from incident.i18n import N_

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.engine.state import IncidentState

FOLLOWUP_SCHEDULED = "followup.scheduled"
FOLLOWUP_RECORDED = "followup.recorded"
COMPLAINT_OPENED = "complaint.opened"
COMPLAINT_STEP = "complaint.step"        # supervisor told / investigation done
COMPLAINT_CLOSED = "complaint.closed"
PROMISE_MADE = "promise.made"
REPORTED_BACK = "promise.reported_back"
INCIDENT_CLOSED = "incident.closed"

# Resolved incidents the background tick still looks at (by start date). Older ones fire
# their aftercare timers when someone opens them (`incident status`).
TICK_WINDOW = timedelta(days=45)

EVENTS = frozenset({FOLLOWUP_SCHEDULED, FOLLOWUP_RECORDED, COMPLAINT_OPENED, COMPLAINT_STEP,
                    COMPLAINT_CLOSED, PROMISE_MADE, REPORTED_BACK, INCIDENT_CLOSED})

LABELS: dict[str, str] = {  # event kind -> catalogue key
    FOLLOWUP_SCHEDULED: N_("kind.followup.scheduled"),
    FOLLOWUP_RECORDED: N_("kind.followup.recorded"),
    COMPLAINT_OPENED: N_("kind.complaint.opened"),
    COMPLAINT_STEP: N_("kind.complaint.step"),
    COMPLAINT_CLOSED: N_("kind.complaint.closed"),
    PROMISE_MADE: N_("kind.promise.made"),
    REPORTED_BACK: N_("kind.promise.reported_back"),
    INCIDENT_CLOSED: N_("kind.incident.closed"),
}

# Words by id: catalogue keys (incident.i18n). The ids are what YAML and events carry;
# CHANNELS also lists the reporting channels a start may name.
REASONS: dict[str, str] = {
    "reporter": N_("callback_reason.reporter"),
    "location_owner": N_("callback_reason.location_owner"),
    "notified": N_("callback_reason.notified"),
    "affected_unit": N_("callback_reason.affected_unit"),
    "vulnerable": N_("callback_reason.vulnerable"),
}

COMPLAINT_STEPS: dict[str, str] = {
    "supervisor_told": N_("complaint.supervisor_told"),
    "investigated": N_("complaint.investigated"),
}

CHANNELS: dict[str, str] = {
    "hotline": N_("received_via.hotline"),
    "panel": N_("received_via.panel"),
    "patrol": N_("received_via.patrol"),
    "walk_in": N_("received_via.walk_in"),
    "app": N_("received_via.app"),
}


def text(entry: str | tuple[str, str], lang: str) -> str:
    """A word of these tables (a catalogue key) in `lang`; an (en, zh) pair is taken
    as it is (old callers pass the raw id twice for an id no table knows)."""
    if isinstance(entry, tuple):
        return i18n.pair(entry, lang)
    return i18n.t(entry, lang)


@dataclass(slots=True)
class FollowupState:
    """One person owed a callback."""

    who: str                      # a person id, or "reporter"
    name: str
    reason: str                   # reporter, location_owner, notified, vulnerable
    due_at: datetime
    by_role: str
    phone: str | None = None
    unit: str | None = None
    attempts: int = 0
    reached: bool = False
    done_at: datetime | None = None
    done_by: str | None = None
    satisfaction: int | None = None
    note: str = ""
    fired: bool = False

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def status(self, now: datetime) -> str:
        """done, done_late, overdue or due."""
        if self.done_at is not None:
            return "done" if self.done_at <= self.due_at else "done_late"
        return "overdue" if (self.fired or now > self.due_at) else "due"


@dataclass(slots=True)
class ComplaintState:
    id: str
    by: str                       # who complains (a person id or a name)
    text: str
    opened_at: datetime
    opened_by: str
    supervisor_due: datetime
    investigation_due: datetime
    steps: dict[str, tuple[datetime, str, str]] = field(default_factory=dict)  # step: (ts, by, note)
    closed_at: datetime | None = None
    closed_by: str | None = None
    satisfaction: int | None = None
    note: str = ""
    fired: set[str] = field(default_factory=set)

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def clock(self, step: str, now: datetime) -> str:
        """met, met_late, missed or pending for one of the complaint's clocks."""
        due = self.supervisor_due if step == "supervisor_told" else self.investigation_due
        done = self.steps.get(step)
        if done is not None:
            return "met" if done[0] <= due else "met_late"
        return "missed" if now > due else "pending"


@dataclass(slots=True)
class Promise:
    """The handling time the first receiver promised the reporter (首问负责制)."""

    due_at: datetime
    made_at: datetime
    made_by: str
    via: str                      # sms or call
    step: str | None = None
    reported_at: datetime | None = None
    reported_by: str | None = None
    note: str = ""


def apply(st: IncidentState, event: Any) -> None:
    """Fold one aftercare event into the state."""
    p, k, ts = event.payload, event.kind, event.ts
    if k == FOLLOWUP_SCHEDULED:
        for item in p.get("people", []):
            if item["who"] in st.followups:
                continue
            st.followups[item["who"]] = FollowupState(
                who=item["who"], name=item.get("name") or item["who"], reason=item["reason"],
                due_at=datetime.fromisoformat(item["due_at"]), by_role=item.get("by_role", ""),
                phone=item.get("phone"), unit=item.get("unit"))
    elif k == FOLLOWUP_RECORDED:
        f = st.followups.get(p.get("who", ""))
        if f is not None:
            f.attempts += 1
            f.note = p.get("note", "")
            if p.get("reached"):
                f.reached, f.done_at, f.done_by = True, ts, event.actor
                f.satisfaction = p.get("satisfaction")
            elif p.get("final"):  # unreachable after the attempts the manual asks for
                f.done_at, f.done_by = ts, event.actor
    elif k == COMPLAINT_OPENED:
        st.closed_at = st.closed_by = None  # a complaint on a closed incident reopens its aftercare
        st.complaints[p["complaint"]] = ComplaintState(
            id=p["complaint"], by=p["from"], text=p.get("text", ""), opened_at=ts,
            opened_by=event.actor, supervisor_due=datetime.fromisoformat(p["supervisor_due"]),
            investigation_due=datetime.fromisoformat(p["investigation_due"]))
    elif k == COMPLAINT_STEP:
        c = st.complaints.get(p.get("complaint", ""))
        if c is not None:
            c.steps[p["step"]] = (ts, event.actor, p.get("note", ""))
    elif k == COMPLAINT_CLOSED:
        c = st.complaints.get(p.get("complaint", ""))
        if c is not None:
            c.closed_at, c.closed_by = ts, event.actor
            c.satisfaction, c.note = p.get("satisfaction"), p.get("note", "")
    elif k == PROMISE_MADE:
        st.promise = Promise(due_at=datetime.fromisoformat(p["due_at"]), made_at=ts,
                             made_by=event.actor, via=p.get("via", "call"), step=p.get("step"))
    elif k == REPORTED_BACK:
        if st.promise is not None:
            st.promise.reported_at, st.promise.reported_by = ts, event.actor
            st.promise.note = p.get("note", "")
    elif k == INCIDENT_CLOSED:
        st.closed_at, st.closed_by = ts, event.actor


def on_fired(st: IncidentState, payload: dict[str, Any]) -> None:
    kind = payload.get("kind")
    if kind == "followup_due" and payload.get("who") in st.followups:
        st.followups[payload["who"]].fired = True
    if kind in ("complaint_supervisor", "complaint_investigation") \
            and payload.get("complaint") in st.complaints:
        st.complaints[payload["complaint"]].fired.add(kind)


def pending(st: IncidentState) -> bool:
    """Callbacks or complaints still open: the incident is resolved but not closed."""
    return any(not f.done for f in st.followups.values()) or \
        any(c.open for c in st.complaints.values())


def timers(st: IncidentState) -> list[Any]:
    """Aftercare timers: they run after resolution too, until the incident closes."""
    from incident.engine.state import Timer

    out: list[Timer] = []
    if st.closed_at is not None:
        return out
    for f in st.followups.values():
        if not f.done:
            out.append(Timer(f"followup_due:{f.who}", "followup_due", f.due_at,
                             i18n.bilingual("timer.followup_due", name=f.name),
                             data={"who": f.who}))
    for c in st.complaints.values():
        if not c.open:
            continue
        if "supervisor_told" not in c.steps:
            out.append(Timer(f"complaint_supervisor:{c.id}", "complaint_supervisor",
                             c.supervisor_due,
                             i18n.bilingual("timer.complaint_supervisor", id=c.id),
                             data={"complaint": c.id}))
        if "investigated" not in c.steps:
            out.append(Timer(f"complaint_investigation:{c.id}", "complaint_investigation",
                             c.investigation_due,
                             i18n.bilingual("timer.complaint_investigation", id=c.id),
                             data={"complaint": c.id}))
    pr = st.promise
    if pr is not None and pr.reported_at is None:
        who = " ".join(str(st.reporter_contact[k]) for k in ("name", "phone")
                       if st.reporter_contact.get(k)) or st.reporter
        key = N_("timer.promise.call") if pr.via == "call" else N_("timer.promise.text")
        out.append(Timer("promise_due", "promise_due", pr.due_at,
                         i18n.bilingual(key, who=who)))
    return out


# ---- the site calendar ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Calendar:
    """Working days of a site: Monday to Friday, minus listed holidays, plus listed
    make-up working days (调休上班) on weekends."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int, zone: ZoneInfo) -> datetime:
        """The end of the `days`-th working day after the day of `start` (local time).

        A complaint received on Friday with 3 working days is due at the end of
        Wednesday: Saturday and Sunday do not count."""
        day = start.astimezone(zone).date()
        left = days
        while left > 0:
            day += timedelta(days=1)
            if self.working(day):
                left -= 1
        return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


def calendar_of(directory: Any) -> Calendar:
    """The site calendar from estate.yaml (`calendar: holidays / workdays`)."""
    return Calendar(frozenset(getattr(directory, "holidays", ()) or ()),
                    frozenset(getattr(directory, "workdays", ()) or ()))


def snapshot_into(new: IncidentState, st: IncidentState) -> None:
    """Private copies of what the aftercare fold mutates (see service._snapshot)."""
    from dataclasses import replace

    new.followups = {k: replace(v) for k, v in st.followups.items()}
    new.complaints = {k: replace(v, steps=dict(v.steps), fired=set(v.fired))
                      for k, v in st.complaints.items()}
    new.promise = replace(st.promise) if st.promise is not None else None
    new.reporter_contact = dict(st.reporter_contact)


# ---- plain-text views (status, log, reports) ---------------------------------------------

def _clock(ts: datetime | None, zone: ZoneInfo, date_too: bool = True) -> str:
    if ts is None:
        return "—"
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M" if date_too else "%H:%M")


def reporter_text(st: IncidentState, lang: str) -> str:
    """'Wang Li 138 1234 5678 B3-1201 (hotline)' — who reported, how to reach them."""
    info = st.reporter_contact
    bits = [str(info.get("name") or st.reporter)]
    bits += [str(info[k]) for k in ("phone", "unit") if info.get(k)]
    out = " ".join(bits)
    if st.channel:
        out += f" ({text(CHANNELS.get(st.channel, (st.channel, st.channel)), lang)})"
    return out


def header_lines(st: IncidentState, zone: ZoneInfo, lang: str) -> list[str]:
    """The first receiver's record: who received it and when, from whom, the phase."""
    lines = [i18n.t("care.header", lang, receiver=st.first_receiver,
                    reporter=reporter_text(st, lang), at=_clock(st.counted_from, zone))]
    if st.promise is not None:
        pr = st.promise
        done = (i18n.t("care.reported_back", lang, at=_clock(pr.reported_at, zone, False))
                if pr.reported_at else i18n.t("care.report_back_due", lang))
        lines.append(i18n.t("care.promise", lang, at=_clock(pr.due_at, zone), state=done,
                            via=i18n.channel_name(pr.via, lang)))
    if st.closed_at is not None and st.status != "open":
        lines.append(i18n.t("care.closed", lang, at=_clock(st.closed_at, zone), by=st.closed_by))
    return lines


FOLLOWUP_STATUS: dict[str, str] = {
    "due": N_("callback.due"), "overdue": N_("callback.overdue"), "done": N_("callback.done"),
    "done_late": N_("callback.done_late")}
CLOCK_STATUS: dict[str, str] = {
    "met": N_("status.met"), "met_late": N_("status.met_late"), "missed": N_("status.missed"),
    "pending": N_("complaint.pending")}


def aftercare_lines(st: IncidentState, now: datetime, zone: ZoneInfo, lang: str) -> list[str]:
    """Callbacks and complaints, for `incident status`."""
    lines: list[str] = []
    if st.followups:
        lines.append(i18n.t("care.callbacks", lang))
        how = st.playbook.callbacks.instructions
        if how is not None:
            lines.append(f"  {how.get(lang)}")
        for f in st.followups.values():
            sat = ("  " + i18n.t("care.satisfaction", lang, n=f.satisfaction)
                   if f.satisfaction else "")
            reason = text(REASONS[f.reason], lang) if f.reason in REASONS else f.reason
            lines.append(f"  {f.who:<16} {f.name:<10} {reason}  "
                         f"{i18n.t('care.due', lang, at=_clock(f.due_at, zone))}  "
                         f"{text(FOLLOWUP_STATUS[f.status(now)], lang)}{sat}")
        lines.append("")
    if st.complaints:
        lines.append(i18n.t("care.complaints", lang))
        for c in st.complaints.values():
            state = (i18n.t("care.closed_state", lang) + " "
                     + i18n.t("care.satisfaction", lang, n=c.satisfaction)) if not c.open \
                else i18n.t("care.open_state", lang)
            lines.append(f"  {c.id} {c.by}: {c.text[:40]}  {state}")
            for step, key in COMPLAINT_STEPS.items():
                due = c.supervisor_due if step == "supervisor_told" else c.investigation_due
                lines.append(f"    {text(key, lang):<22} "
                             f"{i18n.t('care.due', lang, at=_clock(due, zone))}  "
                             f"{text(CLOCK_STATUS[c.clock(step, now)], lang)}")
        lines.append("")
    return lines
