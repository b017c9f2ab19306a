"""Engine operations for the first receiver's record, callbacks and complaints.

Kept beside the engine (not in it) so the service loop the manuals require —
首问负责制, 回访, 投诉 — reads as one piece. Every write goes through
Engine.append_events, so it gets the same optimistic check, hooks and chain as
any other act; every read (`register`) only folds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.clock import parse_duration
from incident.engine import aftercare as ac
from incident.engine import events as ev
from incident.engine.context import local_zone
from incident.errors import Msg, Refused, known, suggest
from incident.i18n import in_sentence, t
from incident.store import NewEvent, NewOutbox

if TYPE_CHECKING:
    from incident.engine.service import Engine
    from incident.engine.state import IncidentState
    from incident.store import StoredEvent

RECEIVED_BOUND = timedelta(hours=24)   # a report typed in later than this is a new report
CLOCK_SKEW = timedelta(minutes=2)
MAX_TEXT = 2000
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")


# ---- the first receiver's record ---------------------------------------------------------

#: a reporter's contact details as a refusal names them
_CONTACT_FIELDS: dict[str, Msg] = {"phone": Msg("refused.care.field_phone"),
                                   "unit": Msg("refused.care.field_unit")}


def listed(items: list[str]) -> dict[str, str]:
    """Names or ids listed the way each language lists them ('a, b' / 'a、b')."""
    return {"en": ", ".join(items), "zh": "、".join(items)}


def parse_received(text: str, now: datetime, zone: Any) -> datetime:
    """`--received-at`: '14:05' (today, local), '2026-01-05 14:05', an ISO time, or
    '10m' (that long ago)."""
    raw = text.strip()
    try:
        return now - parse_duration(raw)
    except ValueError:
        pass
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", raw)
    if m:
        local = now.astimezone(zone)
        return local.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3] or 0),
                             microsecond=0)
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise Refused("refused.care.received_not_a_time", text=text) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=zone)


def first_receiver_record(engine: Engine, now: datetime, *, received_at: datetime | str | None,
                          reporter: str | None, contact: dict[str, Any] | None,
                          channel: str | None) -> dict[str, Any]:
    """The start event's 首问 fields, checked: when the report came in, who made it and how."""
    out: dict[str, Any] = {}
    zone = local_zone(engine.directory)
    if received_at is not None:
        ts = received_at if isinstance(received_at, datetime) else \
            parse_received(received_at, now, zone)
        if ts > now + CLOCK_SKEW:
            raise Refused("refused.care.received_in_future",
                          at=f"{ts.astimezone(zone):%Y-%m-%d %H:%M}")
        if ts < now - RECEIVED_BOUND:
            raise Refused("refused.care.received_too_old",
                          at=f"{ts.astimezone(zone):%Y-%m-%d %H:%M}")
        out["received_at"] = min(ts, now).isoformat()
    if channel is not None:
        key = channel.strip().lower().replace("-", "_")
        if key not in ac.CHANNELS:
            raise Refused("refused.care.unknown_channel", channel=channel,
                          hint=suggest(key, ac.CHANNELS) or known(ac.CHANNELS))
        out["channel"] = key
    if reporter is not None and len(reporter) > 100:
        raise Refused("refused.care.reporter_name_too_long")
    info: dict[str, Any] = {}
    for field_name, value in (contact or {}).items():
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        if len(value) > 100:
            raise Refused("refused.care.reporter_field_too_long",
                          field=_CONTACT_FIELDS.get(field_name, field_name))
        if field_name == "phone" and not _PHONE.match(value):
            raise Refused("refused.care.reporter_phone_invalid", phone=value)
        if field_name == "unit" and engine.directory is not None \
                and value not in engine.directory.units:
            raise Refused("refused.care.reporter_unit_unknown", unit=value,
                          hint=suggest(value, engine.directory.units)
                          or Msg("refused.care.hint_unit_example"))
        info[field_name] = value
    if reporter and engine.directory is not None:
        person = engine.directory.people.get(reporter)
        if person is not None:
            info["person"] = person.id
            info.setdefault("name", person.name)
            if person.phone:
                info.setdefault("phone", person.phone)
            if person.unit:
                info.setdefault("unit", person.unit)
            info["staff"] = person.kind == "staff"
    if reporter and "name" not in info:
        info["name"] = reporter.strip()
    if info:
        out["reporter_contact"] = info
    return out


# ---- callbacks (回访) --------------------------------------------------------------------

def owed_callbacks(engine: Engine, st: IncidentState, now: datetime) -> list[dict[str, Any]]:
    """Who the playbook says is owed a callback after this resolution."""
    cb = st.playbook.callbacks
    directory = engine.directory
    people: dict[str, dict[str, Any]] = {}

    def add(who: str, reason: str, name: str, phone: str | None, unit: str | None,
            vulnerable: bool = False) -> None:
        if who in st.followups or who in people:
            return
        people[who] = {"who": who, "reason": "vulnerable" if vulnerable else reason,
                       "name": name, "phone": phone, "unit": unit,
                       "by_role": cb.vulnerable_by if vulnerable else cb.by,
                       "due_at": (now + cb.within).isoformat()}

    if "reporter" in cb.to:
        info = st.reporter_contact
        staff = info.get("staff") or (not info and (directory is None
                                                    or st.reporter in directory.staff))
        if not staff and (info.get("phone") or info.get("person") or info.get("unit")):
            add(info.get("person") or "reporter", "reporter", info.get("name") or st.reporter,
                info.get("phone"), info.get("unit"))
    if directory is None:
        return list(people.values())
    unit = st.location_detail.get("unit")
    if "location_owners" in cb.to and unit:
        for p in directory.owners_of(unit):
            add(p.id, "location_owner", p.name, p.phone, p.unit, bool(p.vulnerable))
    for name in cb.units_from:  # units a step recorded as damaged or affected
        value = st.values.get(name)
        for unit_id in value if isinstance(value, list) else [value] if value else []:
            for p in directory.owners_of(str(unit_id).strip().upper()):
                add(p.id, "affected_unit", p.name, p.phone, p.unit, bool(p.vulnerable))
    if "notified" in cb.to or "notified_vulnerable" in cb.to:
        seen: set[str] = set()
        for row in engine.store.outbox_rows(st.id):
            if row.person_id in seen:
                continue
            seen.add(row.person_id)
            p = directory.people.get(row.person_id)
            if p is None or p.kind != "owner":
                continue
            if p.vulnerable or "notified" in cb.to:
                add(p.id, "notified", p.name, p.phone, p.unit, bool(p.vulnerable))
    return list(people.values())


def _closing(st: IncidentState, actor: str, now: datetime) -> list[NewEvent]:
    """The close, when an act leaves nothing owed on a resolved incident."""
    if st.status != "resolved" or st.closed_at is not None or ac.pending(st):
        return []
    return [NewEvent(ac.INCIDENT_CLOSED, actor, {"reason": "callbacks and complaints done"}, now)]


def _then_close(engine: Engine, incident_id: str, actor: str) -> IncidentState:
    def plan(st: IncidentState, now: datetime):
        events = _closing(st, actor, now)
        return events, [], ({"status": "closed"} if events else {})

    st = engine._commit(incident_id, plan)
    assert st is not None
    return st


def record_followup(engine: Engine, incident_id: str, who: str, *, actor: str, reached: bool,
                    satisfaction: int | None = None, note: str = "",
                    final: bool = False) -> IncidentState:
    """One callback: reached (with the owner's satisfaction, 1-5) or an attempt that
    did not reach them (`final` when the manual's attempts are used up)."""
    engine.check_actor(actor)
    if satisfaction is not None and not 1 <= int(satisfaction) <= 5:
        raise Refused("refused.care.satisfaction_range")
    if reached and satisfaction is None:
        raise Refused("refused.care.reached_needs_satisfaction")
    if len(note) > MAX_TEXT:
        raise Refused("refused.care.note_too_long", n=MAX_TEXT)

    def make(st: IncidentState, now: datetime) -> list[NewEvent]:
        if st.status == "open":
            raise Refused("refused.care.callback_while_open", incident=st.id)
        f = st.followups.get(who)
        if f is None:
            raise Refused("refused.care.no_callback", who=who, incident=st.id,
                          hint=suggest(who, st.followups) or known(st.followups))
        if f.done:
            raise Refused("refused.care.callback_done", name=f.name, by=f.done_by,
                          at=f"{f.done_at.astimezone(local_zone(engine.directory)):%H:%M}")
        payload: dict[str, Any] = {"who": who, "reached": bool(reached), "note": note.strip()}
        if satisfaction is not None:
            payload["satisfaction"] = int(satisfaction)
        if final and not reached:
            payload["final"] = True
        return [NewEvent(ac.FOLLOWUP_RECORDED, actor, payload, now)]

    engine.append_events(incident_id, make)
    return _then_close(engine, incident_id, actor)


# ---- complaints (投诉) -------------------------------------------------------------------

def open_complaint(engine: Engine, incident_id: str, *, actor: str, by: str,
                   text: str) -> tuple[IncidentState, str]:
    """Record a complaint the incident raised, with the manuals' clocks."""
    engine.check_actor(actor)
    by, text = (by or "").strip(), (text or "").strip()
    if not by:
        raise Refused("refused.care.complaint_needs_from")
    if not text:
        raise Refused("refused.care.complaint_needs_text")
    if len(text) > MAX_TEXT or len(by) > 100:
        raise Refused("refused.care.complaint_too_long", n=MAX_TEXT)
    made: list[str] = []

    def make(st: IncidentState, now: datetime):
        rules = st.playbook.complaints
        cid = f"C{len(st.complaints) + 1}"
        made[:] = [cid]
        due = ac.calendar_of(engine.directory).add_working_days(
            now, rules.investigate_working_days, local_zone(engine.directory))
        return [NewEvent(ac.COMPLAINT_OPENED, actor, {
            "complaint": cid, "from": by, "text": text,
            "supervisor_role": rules.supervisor_role,
            "supervisor_due": (now + rules.supervisor_within).isoformat(),
            "investigation_due": due.isoformat(),
            "working_days": rules.investigate_working_days}, now)], [], \
            ({"status": "resolved"} if st.closed_at is not None and st.status != "open" else {})

    got = engine._commit(incident_id, make)
    assert got is not None
    return got, made[0]


def complaint_step(engine: Engine, incident_id: str, complaint: str, step: str, *,
                   actor: str, note: str = "") -> IncidentState:
    """supervisor_told or investigated."""
    engine.check_actor(actor)
    if step not in ac.COMPLAINT_STEPS:
        raise Refused("refused.care.unknown_complaint_step", step=step,
                      hint=known(ac.COMPLAINT_STEPS))

    def make(st: IncidentState, now: datetime) -> list[NewEvent]:
        c = _complaint(st, complaint)
        if step in c.steps:
            raise Refused("refused.care.complaint_step_done", complaint=c.id,
                          what=Msg(ac.COMPLAINT_STEPS[step]), by=c.steps[step][1])
        return [NewEvent(ac.COMPLAINT_STEP, actor, {"complaint": c.id, "step": step,
                                                    "note": note.strip()[:MAX_TEXT]}, now)]

    return engine.append_events(incident_id, make)


def close_complaint(engine: Engine, incident_id: str, complaint: str, *, actor: str,
                    satisfaction: int, note: str = "") -> IncidentState:
    """Closed only with the owner's satisfaction recorded, and only when satisfied (3+)."""
    engine.check_actor(actor)
    if satisfaction is None or not 1 <= int(satisfaction) <= 5:
        raise Refused("refused.care.complaint_close_needs_satisfaction")
    if int(satisfaction) < 3:
        raise Refused("refused.care.owner_not_satisfied", n=satisfaction)

    def make(st: IncidentState, now: datetime) -> list[NewEvent]:
        c = _complaint(st, complaint)
        return [NewEvent(ac.COMPLAINT_CLOSED, actor, {"complaint": c.id,
                                                      "satisfaction": int(satisfaction),
                                                      "note": note.strip()[:MAX_TEXT]}, now)]

    engine.append_events(incident_id, make)
    return _then_close(engine, incident_id, actor)


def _complaint(st: IncidentState, complaint: str) -> ac.ComplaintState:
    c = st.complaints.get(complaint.upper())
    if c is None:
        raise Refused("refused.care.no_complaint", complaint=complaint, incident=st.id,
                      hint=known(st.complaints) if st.complaints
                      else Msg("refused.care.hint_no_complaints"))
    if not c.open:
        raise Refused("refused.care.complaint_closed", complaint=c.id, by=c.closed_by)
    return c


# ---- closing by hand, report-back ---------------------------------------------------------

def close(engine: Engine, incident_id: str, *, actor: str, note: str = "") -> IncidentState:
    """Close a resolved incident that owes nothing (no callbacks were due)."""
    engine.check_actor(actor)

    def make(st: IncidentState, now: datetime):
        if st.status == "open":
            raise Refused("refused.care.close_while_open", incident=st.id)
        if st.closed_at is not None:
            raise Refused("refused.care.already_closed", incident=st.id)
        left = [f.name for f in st.followups.values() if not f.done]
        if left:
            raise Refused("refused.care.callbacks_due", n=len(left), names=listed(left[:5]))
        opened = [c.id for c in st.complaints.values() if c.open]
        if opened:
            raise Refused("refused.care.complaints_open", complaints=listed(opened))
        return [NewEvent(ac.INCIDENT_CLOSED, actor, {"reason": note.strip()[:MAX_TEXT]}, now)], \
            [], {"status": "closed"}

    st = engine._commit(incident_id, make)
    assert st is not None
    return st


def report_back(engine: Engine, incident_id: str, *, actor: str, text: str = "",
                via: str | None = None) -> IncidentState:
    """The first receiver tells the reporter how it went: an SMS queued to the reporter's
    phone, or a call recorded as made."""
    engine.check_actor(actor)

    def make(st: IncidentState, now: datetime):
        how = via or (st.promise.via if st.promise else "call")
        if how not in ("sms", "call"):
            raise Refused("refused.care.report_back_via", via=how)
        payload = {"via": how, "note": text.strip()[:MAX_TEXT]}
        events = [NewEvent(ac.REPORTED_BACK, actor, payload, now)]
        if how == "call":
            return events
        phone = st.reporter_contact.get("phone")
        if not phone:
            raise Refused("refused.care.no_reporter_phone")
        lang = "zh"
        body = text.strip() or report_back_text(st, lang)
        row = NewOutbox(idempotency_key=f"{st.id}:report_back:{st.last_seq}",
                        step_id="report_back", person_id=st.reporter_contact.get("person")
                        or "reporter", channel="sms", address=phone.replace(" ", ""),
                        lang=lang, subject="", body=body, drill=bool(st.drill), event_index=0)
        return events, [row]

    return engine.append_events(incident_id, make)


def report_back_text(st: IncidentState, lang: str) -> str:
    title = st.playbook.title.get(lang)
    return t("owner.report_back", lang, what=in_sentence(title, lang),
             location=st.location)


# ---- the reactor: schedule callbacks at resolution, promises when made --------------------

@dataclass
class Aftercare:
    engine: Engine

    def react(self, st: IncidentState, events: list[StoredEvent],
              now: datetime) -> tuple[list[NewEvent], list[NewOutbox]]:
        out: list[NewEvent] = []
        for e in events:
            if e.kind == ev.INCIDENT_RESOLVED and not st.drill:
                people = owed_callbacks(self.engine, st, now)
                if people:
                    out.append(NewEvent(ac.FOLLOWUP_SCHEDULED, ev.SYSTEM,
                                        {"people": people,
                                         "within_s": st.playbook.callbacks.within.total_seconds()},
                                        now))
            if e.kind == ev.STEP_DONE and e.payload.get("step") in st.steps:
                step = st.playbook.steps()[e.payload["step"]]
                if step.promise is not None:
                    value = st.steps[step.id].value
                    try:
                        within = parse_duration(str(value)) if value else step.promise.default
                    except ValueError:
                        within = step.promise.default
                    if within is not None:
                        out.append(NewEvent(ac.PROMISE_MADE, ev.SYSTEM, {
                            "due_at": (now + within).isoformat(), "via": step.promise.report_back,
                            "step": step.id}, now))
        return out, []


def install(engine: Engine) -> Aftercare:
    care = Aftercare(engine)
    engine.reactors.append(care.react)
    return care


# ---- the register (read only) -------------------------------------------------------------

def register(engine: Engine, *, overdue_only: bool = False,
             include_done: bool = False) -> list[dict[str, Any]]:
    """Callbacks across incidents, soonest due first. Reads only: nothing is appended."""
    now = engine.clock.now()
    rows: list[dict[str, Any]] = []
    ids = [r.id for r in engine.store.incidents(status="resolved", drill=False)]
    if include_done:
        ids += [r.id for r in engine.store.incidents(status="closed", drill=False)]
    for iid in ids:
        try:
            st = engine.state(iid)
        except Refused:
            continue
        for f in st.followups.values():
            status = f.status(now)
            if f.done and not include_done:
                continue
            if overdue_only and status != "overdue":
                continue
            rows.append({"incident": iid, "who": f.who, "name": f.name, "phone": f.phone,
                         "unit": f.unit, "reason": f.reason, "by_role": f.by_role,
                         "due_at": f.due_at, "status": status, "attempts": f.attempts,
                         "satisfaction": f.satisfaction, "location": st.location,
                         "title": st.title})
    rows.sort(key=lambda r: (r["due_at"], r["incident"], r["who"]))
    return rows
