"""The data of a post-incident report, drawn from the event log and the outbox.

``build_incident_report`` reads; it never writes. Times are kept as aware UTC
datetimes and durations as timedeltas; display strings (names, titles, event
details) are resolved once, in the report's language, so every renderer prints
the same words.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from incident.clock import format_duration
from incident.engine import events as ev
from incident.engine.context import local_zone, location_label
from incident.engine.state import IncidentState, fold
from incident.errors import Refused
from incident.i18n import channel_name, join_list, outbox_state, with_unit
from incident.names import Names
from incident.narrate import describe, page_reason, skip_reason
from incident.notify.tally import tally
from incident.report.labels import t
from incident.views import pick, target_rule_text

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.playbook import Playbook, PlaybookLibrary
    from incident.store import OutboxRow, Store, StoredEvent, VerifyReport

FAILED_STATES = ("failed_permanent",)
NO_CHANNEL = "\0no_channel"
PENDING_STATES = ("queued", "sending", "failed_temporary")


# ---- value types -------------------------------------------------------------------

@dataclass(slots=True)
class TargetRow:
    id: str
    title: str
    due_at: datetime
    met_at: datetime | None
    status: str            # met, met_late, missed, not_met, pending, n/a
    took: timedelta | None  # start → met
    margin: timedelta | None  # positive: to spare; negative: late by
    how: str = ""             # the rule that decides "met" (a notify step: delivery)

    @property
    def ok(self) -> bool | None:
        if self.status in ("met",):
            return True
        if self.status in ("met_late", "missed", "not_met"):
            return False
        return None


@dataclass(slots=True)
class ReportClockRow:
    id: str
    title: str
    to: str
    by: str
    due_at: datetime
    done_at: datetime | None
    done_by: str | None
    status: str             # met, met_late, missed, superseded, not_yet_due
    margin: timedelta | None
    how: str = ""           # what honoured it: reported, a step done, a page acknowledged
    level: int | None = None
    superseded_at: datetime | None = None
    superseded_by: int | None = None


@dataclass(slots=True)
class TimelineRow:
    seq: int
    ts: datetime
    offset: timedelta
    actor: str
    who: str
    role: str
    kind: str
    what: str
    step: str | None
    step_title: str
    track: str
    detail: str             # the event as a sentence (incident.narrate)
    text: str = ""          # what the person typed: a note's text, a skip's reason


@dataclass(slots=True)
class ChannelStats:
    channel: str
    total: int = 0
    sent: int = 0
    failed: int = 0
    fell_back: int = 0
    pending: int = 0
    cancelled: int = 0

    def add(self, state: str, n: int = 1) -> None:
        self.total += n
        if state == "sent":
            self.sent += n
        elif state in FAILED_STATES:
            self.failed += n
        elif state == "fell_back":
            self.fell_back += n
        elif state == "cancelled":
            self.cancelled += n
        else:
            self.pending += n

    @property
    def attempted(self) -> int:
        return self.total - self.cancelled

    @property
    def rate(self) -> float | None:
        return self.sent / self.attempted if self.attempted else None


@dataclass(slots=True)
class Unreached:
    person_id: str
    name: str
    reason: str


@dataclass(slots=True)
class NotifyBlock:
    step: str
    title: str
    queued_at: datetime | None
    queued_by: str
    recipients: int
    messages: int
    channels: list[ChannelStats]
    never_reached: list[Unreached]
    reached: int
    still_pending: int = 0
    failed: int = 0           # recipients failed for good on every channel
    retried: int = 0          # messages sent again (incident notify retry)


@dataclass(slots=True)
class PageRow:
    page: str
    to: str
    role: str
    level: str
    sent_at: datetime
    acked_at: datetime | None
    acked_by: str
    ack_after: timedelta | None
    channels: str = ""
    delivered: str = ""     # e.g. "1/2" messages sent
    reason: str = ""
    # sent_at above is when the page was queued; delivered_at when its first message
    # went out (to the person who acknowledged, if theirs did). Time to acknowledge
    # counts from delivery: a page that sat queued for 50 minutes was not ignored.
    delivered_at: datetime | None = None
    ack_from: str = ""      # "delivery" or "queued" (never delivered before the ack)
    for_all: bool = False   # acknowledged by the commander for everyone paged


@dataclass(slots=True)
class EscalationRow:
    ts: datetime
    kind: str   # raised / skipped
    to: str
    step: str
    reason: str


@dataclass(slots=True)
class GanttBar:
    track: str
    track_title: str
    step: str
    title: str
    status: str
    start: datetime | None
    end: datetime | None
    due: datetime | None


@dataclass(slots=True)
class DeliveryPoint:
    ts: datetime
    channel: str


@dataclass(slots=True)
class IncidentReport:
    id: str
    lang: str
    zone: ZoneInfo
    generated_at: datetime
    state: IncidentState
    title: str
    type: str
    location: str
    site: str
    severity: int
    severity_name: str
    drill: bool
    status: str
    started_at: datetime
    resolved_at: datetime | None
    resolved_by: str
    summary: str
    end: datetime          # resolved_at, or "now" for an open incident
    reporter: str
    first_receiver: str
    owner: str
    handovers: list[dict[str, Any]]
    targets: list[TargetRow]
    report_clocks: list[ReportClockRow]
    timeline: list[TimelineRow]
    notes: list[TimelineRow]
    skipped: list[TimelineRow]
    values: list[tuple[str, str]]
    notifications: list[NotifyBlock]
    other_messages: list[ChannelStats]
    pages: list[PageRow]
    escalations: list[EscalationRow]
    gantt: list[GanttBar]
    deliveries: list[DeliveryPoint]
    integrity: VerifyReport
    events_count: int
    names: Names | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> timedelta:
        return self.end - self.started_at

    def local(self, ts: datetime | None, with_date: bool = False) -> str:
        if ts is None:
            return "—"
        return ts.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


# ---- helpers ------------------------------------------------------------------------

def duration_text(delta: timedelta | None) -> str:
    return "—" if delta is None else format_duration(delta)


def margin_text(delta: timedelta | None, lang: str) -> str:
    if delta is None:
        return "—"
    if delta.total_seconds() >= 0:
        return t("margin.spare", lang, time=format_duration(delta))
    return t("margin.late", lang, time=format_duration(-delta))


# ---- build ---------------------------------------------------------------------------

def load_incident(store: Store, playbooks: PlaybookLibrary, incident_id: str,
                  ) -> tuple[Any, Playbook, list[StoredEvent], VerifyReport]:
    """The incident row, its playbook, its events and their hash-chain check.

    The chain is checked on the very events the report is drawn from (one read, as
    Store.verify does it), against the row's recorded length read after them, so
    an event appended meanwhile is picked up rather than reported as missing.
    """
    row = store.incident(incident_id)
    try:
        pb = playbooks.get(row.playbook_id)
    except KeyError:
        raise Refused("refused.report.playbook_not_loaded", incident=incident_id,
                      playbook=row.playbook_id) from None
    events = store.events(incident_id)
    for _ in range(3):
        row = store.incident(incident_id)
        last = events[-1].seq if events else 0
        if row.last_seq <= last:
            break
        events += store.events(incident_id, after_seq=last)
    return row, pb, events, store.check_chain(incident_id, events, row.last_seq)


def build_incident_report(store: Store, playbooks: PlaybookLibrary,
                          directory: Directory | None, incident_id: str, *, now: datetime,
                          lang: str = "en") -> IncidentReport:
    row, pb, events, integrity = load_incident(store, playbooks, incident_id)
    outbox = store.outbox_rows(incident_id)
    return assemble(row, pb, events, outbox, integrity, directory, now=now, lang=lang)


def assemble(row: Any, pb: Playbook, events: list[StoredEvent], outbox: list[OutboxRow],
             integrity: VerifyReport, directory: Directory | None, *, now: datetime,
             lang: str = "en") -> IncidentReport:
    st = fold(row.id, pb, events)
    names = Names(directory, pb, lang)
    zone = local_zone(directory)
    end = st.resolved_at if st.status == "resolved" and st.resolved_at else now
    steps = pb.steps()
    track_titles = {tr.id: tr.title.get(lang) for tr in pb.tracks}

    try:
        sev_name = pb.severity(st.severity).name.get(lang)
    except KeyError:
        sev_name = ""
    site = ""
    if directory is not None:
        site = pick(directory.site.name, lang, row.site)
    timeline = _timeline(st, pb, events, names, lang, zone, track_titles)
    page_seqs = {e.seq for e in events if e.kind == ev.PAGE_SENT}
    notifications, other = _notifications(
        st, pb, events, [r for r in outbox if r.event_seq not in page_seqs], names, lang)
    report = IncidentReport(
        id=row.id, lang=lang, zone=zone, generated_at=now, state=st,
        title=pb.title.get(lang), type=pb.type, location=location_label(st, directory, lang),
        site=site or row.site, severity=st.severity, severity_name=sev_name, drill=st.drill,
        status=st.status, started_at=st.started_at, resolved_at=st.resolved_at,
        resolved_by=names.who(st.resolved_by) if st.resolved_by else "",
        summary=st.summary or "", end=end, reporter=names.who(st.reporter),
        first_receiver=names.who(st.first_receiver), owner=names.who(st.owner),
        handovers=[{**h, "from_name": names.who(h.get("from")), "to_name": names.who(h.get("to")),
                    "by_name": names.who(h.get("by"))} for h in st.handovers],
        targets=not_yet_due(target_rows(st, end, lang)),
        report_clocks=_report_clocks(st, now, names, lang),
        timeline=timeline,
        notes=[r for r in timeline if r.kind == ev.NOTE_ADDED],
        skipped=[r for r in timeline if r.kind == ev.STEP_SKIPPED],
        values=_values(st, pb, lang),
        notifications=notifications, other_messages=other,
        pages=_pages(st, events, outbox, names, directory, lang),
        escalations=_escalations(events, names, steps, lang),
        gantt=_gantt(st, pb, track_titles, lang),
        deliveries=sorted((DeliveryPoint(r.sent_at, r.channel) for r in outbox if r.sent_at),
                          key=lambda p: p.ts),
        integrity=integrity, events_count=len(events), names=names,
    )
    return report


def target_rows(st: IncidentState, end: datetime, lang: str = "en") -> list[TargetRow]:
    out = []
    resolved = st.status == "resolved"
    for tg in st.targets.values():
        status = tg.status(end)
        if status == "pending" and resolved:
            status = "not_met"
        took = (tg.met_at - st.started_at) if tg.met_at else None
        margin = None if status in ("n/a", "pending", "not_met") else tg.delta(end)
        how = target_rule_text(tg.rule, tg.threshold, lang)
        if tg.reached is not None and tg.rule == "delivered" and tg.met_at is not None:
            how += t("reached_then", lang, n=tg.reached[0], of=tg.reached[1])
        out.append(TargetRow(tg.id, pick(tg.title, lang, tg.id), tg.due_at, tg.met_at, status,
                             took, margin, how))
    return out


def not_yet_due(rows: list[TargetRow]) -> list[TargetRow]:
    """A target still running in an open incident reads "not yet due" (as of the
    report's time), never "pending" or "not met"."""
    for r in rows:
        if r.status == "pending":
            r.status = "not_yet_due"
    return rows


def _report_clocks(st: IncidentState, now: datetime, names: Names,
                   lang: str) -> list[ReportClockRow]:
    """Report clocks as of the report's own time (``now``), not the incident's end:
    the written summary is due 48 h after the start and may still be pending after
    the incident closed — "not yet due", never "not met"."""
    steps = st.playbook.steps()
    out = []
    for r in st.reports.values():
        status = r.status(now)
        if status == "pending":
            status = "not_yet_due"
        margin = r.due_at - (r.done_at or now) if status in ("met", "met_late", "missed") \
            else None
        out.append(ReportClockRow(r.id, pick(r.title, lang, r.id), names.role(r.to), r.by,
                                  r.due_at, r.done_at, names.who(r.done_by) if r.done_by else "",
                                  status, margin, _clock_how(r.done_via, steps, lang),
                                  r.level, r.superseded_at, r.superseded_by))
    return out


def _clock_how(via: str | None, steps: dict[str, Any], lang: str) -> str:
    """What honoured a report clock, in words: reported, a step, a page acknowledged."""
    if not via:
        return ""
    kind, _, ref = via.partition(":")
    if kind == "step":
        step = steps.get(ref)
        return t("clock_via_step", lang, step=step.title.get(lang) if step is not None else ref)
    if kind == "page":
        return t("clock_via_page", lang, page=ref)
    return t("clock_via_reported", lang)


def _values(st: IncidentState, pb: Playbook, lang: str) -> list[tuple[str, str]]:
    out = []
    for step in pb.steps().values():
        rec = step.record
        if rec is None or rec.name not in st.values:
            continue
        label = rec.label.get(lang) if rec.label else step.title.get(lang)
        v = st.values[rec.name]
        text = with_unit(join_list(list(map(str, v)), lang) if isinstance(v, list) else v,
                         rec.unit, lang)
        out.append((label, text))
    return out


def _option_title(pb: Playbook, step_id: str | None, option: str | None, lang: str) -> str:
    if not option:
        return ""
    step = pb.steps().get(step_id or "")
    for o in (step.options or []) if step is not None else []:
        if o.id == option:
            return o.title.get(lang)
    return option


def _value_text(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def _timeline(st: IncidentState, pb: Playbook, events: list[StoredEvent], names: Names,
              lang: str, zone: ZoneInfo, track_titles: dict[str, str]) -> list[TimelineRow]:
    steps = pb.steps()
    track_of = pb.track_of()
    start = st.started_at
    labels = {k: ev.label(k, lang) for k in ev.LABELS}
    step_titles = {sid: s.title.get(lang) for sid, s in steps.items()}
    out: list[TimelineRow] = []
    append = out.append
    for e in events:
        p = e.payload
        sid = p.get("step") if isinstance(p.get("step"), str) else None
        step = steps.get(sid) if sid else None
        track = track_titles.get(track_of.get(sid, ""), p.get("track") or "") if sid else ""
        role = names.role_for(e.actor, step.assignee if step is not None else None)
        who = names.who(e.actor)
        if p.get("entered_by"):  # typed by a colleague for them (a phone call to the desk)
            who += f" ({t('entered_by', lang)} {names.who(p['entered_by'])})"
        typed = p.get("text") if e.kind == ev.NOTE_ADDED else \
            p.get("reason") if e.kind == ev.STEP_SKIPPED else ""
        append(TimelineRow(e.seq, e.ts, e.ts - start, e.actor, who, role, e.kind,
                           labels.get(e.kind, e.kind), sid,
                           step_titles.get(sid, sid or "") if sid else "", track,
                           describe(e, names, lang, zone), pick(typed, lang) if isinstance(typed, dict) else str(typed or "")))
    return out


def _notifications(st: IncidentState, pb: Playbook, events: list[StoredEvent],
                   outbox: list[OutboxRow], names: Names, lang: str,
                   ) -> tuple[list[NotifyBlock], list[ChannelStats]]:
    steps = pb.steps()
    by_step: dict[str, list[OutboxRow]] = defaultdict(list)
    for r in outbox:
        by_step[r.step_id].append(r)
    queued: dict[str, StoredEvent] = {}
    retried: dict[str, int] = defaultdict(int)
    for e in events:
        if e.kind == ev.NOTIFY_QUEUED and isinstance(e.payload.get("step"), str):
            queued.setdefault(e.payload["step"], e)
        if e.kind == ev.NOTIFY_RETRIED and isinstance(e.payload.get("step"), str):
            retried[e.payload["step"]] += int(e.payload.get("messages") or 0)
    order = list(queued)
    order += [s for s in by_step if s not in queued and s in steps]
    blocks = []
    for sid in order:
        rows = by_step.get(sid, [])
        e = queued.get(sid)
        p = e.payload if e is not None else {}
        # per recipient: one failed-then-fell-back-then-sent owner is one delivered owner,
        # and a message sent again supersedes the one that failed (notify/tally.py)
        tl = tally(sid, rows)
        chans = {c.channel: ChannelStats(c.channel, c.total, c.delivered, c.failed, c.fell_back,
                                         c.waiting, c.cancelled) for c in tl.channels}
        people: dict[str, list[OutboxRow]] = defaultdict(list)
        for r in rows:
            people[r.person_id].append(r)
        unreached = []
        reached, pending = tl.delivered, tl.waiting
        for pid, prs in people.items():
            if any(r.state == "sent" for r in prs) or any(r.state in PENDING_STATES
                                                          for r in prs):
                continue  # reached, or still being sent: not "never reached"
            reasons = [f"{channel_name(r.channel, lang)}: "
                       f"{r.last_error or outbox_state(r.state, lang)}" for r in prs]
            unreached.append(Unreached(pid, names.who(pid), "; ".join(reasons)))
        for pid, why in _payload_unreached(p):
            if pid not in people:
                why = t("no_channel", lang) if why == NO_CHANNEL else why
                unreached.append(Unreached(pid, names.who(pid), why))
        step = steps.get(sid)
        recipients = p.get("recipients")
        blocks.append(NotifyBlock(
            sid, step.title.get(lang) if step else sid, e.ts if e else None,
            names.who(e.actor) if e else "",
            int(recipients) if isinstance(recipients, int) else len(people),
            int(p.get("messages") or len(rows)), sorted(chans.values(), key=lambda c: c.channel),
            unreached, reached, pending, tl.failed, retried.get(sid, 0)))
    other: dict[str, ChannelStats] = {}
    for sid, rows in by_step.items():
        if sid in queued or sid in steps:
            continue
        for r in rows:
            other.setdefault(r.channel, ChannelStats(r.channel)).add(r.state)
    return blocks, sorted(other.values(), key=lambda c: c.channel)


def _payload_unreached(p: dict[str, Any]) -> list[tuple[str, str]]:
    """Recipients the planner could not queue at all (no working channel), if it says so."""
    out = []
    for key in ("unreachable_ids", "unreachable", "no_channel", "no_address", "unreached"):
        val = p.get(key)
        if not isinstance(val, list):
            continue
        for item in val:
            if isinstance(item, str):
                out.append((item, NO_CHANNEL))
            elif isinstance(item, dict):
                pid = item.get("person") or item.get("person_id") or item.get("id")
                if pid:
                    out.append((str(pid), str(item.get("reason") or NO_CHANNEL)))
    return out


def _pages(st: IncidentState, events: list[StoredEvent], outbox: list[OutboxRow],
           names: Names, directory: Directory | None, lang: str) -> list[PageRow]:
    seq_of = {e.payload.get("page"): e.seq for e in events if e.kind == ev.PAGE_SENT}
    rows_by_seq: dict[int, list[OutboxRow]] = defaultdict(list)
    for r in outbox:
        rows_by_seq[r.event_seq].append(r)
    for_all = {pg for e in events if e.kind == ev.PAGE_ACKED and e.payload.get("for_all")
               for pg in (e.payload.get("pages") or [])}
    out = []
    for p in st.pages:
        acked = p.get("acked_at")
        pid = p.get("id") or p.get("page") or ""
        role = p.get("role") or p.get("node")
        level = p.get("level")
        if level is None and directory is not None and role in directory.roles:
            level = directory.roles[role].level
        chans = p.get("channels")
        if isinstance(chans, dict):
            chan_text = "; ".join(f"{names.who(k)}: {' → '.join(map(names.channel, v))}"
                                  if isinstance(v, list) else f"{names.who(k)}: {names.channel(v)}"
                                  for k, v in chans.items())
        elif isinstance(chans, list):
            chan_text = " ".join(map(names.channel, chans))
        else:
            chan_text = str(chans or "")
        rows = rows_by_seq.get(seq_of.get(pid, -1), [])
        delivered = ""
        if rows:
            people = {r.person_id for r in rows}
            reached = {r.person_id for r in rows if r.state == "sent"}
            delivered = f"{len(reached)}/{len(people)}"
        delivered_at, ack_after, ack_from = _page_delivery(p, rows, acked)
        out.append(PageRow(
            str(pid), names.who(p.get("to")), names.role(role),
            "" if level is None else str(level), p["ts"], acked,
            names.who(p.get("acked_by")) if p.get("acked_by") else "",
            ack_after, chan_text, delivered,
            page_reason(p, names, lang), delivered_at, ack_from, pid in for_all))
    return out


def _page_delivery(p: dict[str, Any], rows: list[OutboxRow], acked: datetime | None,
                   ) -> tuple[datetime | None, timedelta | None, str]:
    """When a page reached someone, and the time to acknowledge counted from then.

    The acknowledging person's own delivery counts when there is one; a page
    acknowledged before any message went out counts from when it was queued."""
    sent = [r for r in rows if r.sent_at is not None and r.state == "sent"]
    own = [r.sent_at for r in sent if r.person_id == p.get("acked_by")]
    first = min(own) if own else (min(r.sent_at for r in sent) if sent else None)
    if acked is None:
        return first, None, ""
    if first is not None and first <= acked:
        return first, acked - first, "delivery"
    return first, acked - p["ts"], "queued"


def _escalations(events: list[StoredEvent], names: Names, steps: dict[str, Any],
                 lang: str) -> list[EscalationRow]:
    pages = {e.payload.get("page"): e.payload for e in events if e.kind == ev.PAGE_SENT}
    out = []
    for e in events:
        if e.kind not in (ev.ESCALATION_RAISED, ev.ESCALATION_SKIPPED):
            continue
        p = e.payload
        sid = p.get("step") or ""
        step = steps.get(sid)
        if e.kind == ev.ESCALATION_SKIPPED:
            reason = skip_reason(p, names, lang)
        elif not p.get("manual") and p.get("page") in pages:
            reason = page_reason(pages[p["page"]], names, lang)
        else:  # by hand (typed), or a playbook step (its own words)
            reason = names.escalate_reason(sid, lang) or pick(p.get("reason"), lang)
        out.append(EscalationRow(
            e.ts, "raised" if e.kind == ev.ESCALATION_RAISED else "skipped",
            names.who(str(p.get("to") or "")) if p.get("to") else "",
            step.title.get(lang) if step is not None else str(sid), str(reason)))
    return out


def _gantt(st: IncidentState, pb: Playbook, track_titles: dict[str, str],
           lang: str) -> list[GanttBar]:
    out = []
    for tr in pb.tracks:
        for step in tr.steps:
            s = st.steps[step.id]
            start = s.started_at or s.ready_at
            end = s.done_at if s.status in ("done", "skipped") else None
            out.append(GanttBar(tr.id, track_titles[tr.id], step.id, step.title.get(lang),
                                s.status, start, end, s.due_at))
    return out
