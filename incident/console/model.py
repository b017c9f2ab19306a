"""Plain data the console's workers hand to its widgets.

Nothing here imports Textual, SQLAlchemy or Apprise: these are small frozen
views computed from an IncidentState snapshot in a worker thread, then posted
to the UI thread inside a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident import i18n
from incident.clock import format_duration
from incident.names import Names

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.engine import IncidentState, Timer

STEP_MARKS = {"done": "✔", "skipped": "–", "excluded": " ", "ready": "▶",
              "in_progress": "…", "awaiting_confirmation": "?", "pending": "·"}


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    """One row of the home screen."""

    id: str
    title: dict[str, str]
    type: str
    location: str
    location_label: dict[str, str]
    severity: int
    severity_name: dict[str, str]
    drill: bool
    status: str
    started_at: datetime
    resolved_at: datetime | None
    owner: str
    owner_name: str
    overdue: int = 0
    unacked: int = 0
    open_steps: int = 0


def person_name(directory: Directory | None, person_id: str | None, lang: str = "en") -> str:
    """'陈杰' / 'Chen Jie' for a staff id, else the id itself (incident.names)."""
    return Names(directory).who(person_id, lang)


def location_labels(directory: Directory | None, location: str) -> dict[str, str]:
    if directory is None:
        return {"en": location, "zh": location}
    try:
        loc = directory.locate(location)
    except Exception:
        return {"en": location, "zh": location}
    return {"en": loc.label("en"), "zh": loc.label("zh")}


def summarize(st: IncidentState, now: datetime, directory: Directory | None) -> IncidentSummary:
    try:
        sev = st.playbook.severity(st.severity).name
        sev_name = {"en": sev.en, "zh": sev.zh}
    except KeyError:
        sev_name = {"en": str(st.severity), "zh": str(st.severity)}
    return IncidentSummary(
        id=st.id, title=st.title, type=st.playbook.type, location=st.location,
        location_label=location_labels(directory, st.location), severity=st.severity,
        severity_name=sev_name, drill=st.drill, status=st.status, started_at=st.started_at,
        resolved_at=st.resolved_at, owner=st.owner,
        owner_name=person_name(directory, st.owner, "en"),
        overdue=len(st.overdue_steps(now)) if st.status == "open" else 0,
        unacked=len(st.unacked_pages()) if st.status == "open" else 0,
        open_steps=len(st.open_steps()),
    )


HOME_CLOSED = 8  # recently resolved incidents the home lists


def read_home(rt: Any) -> tuple[list[IncidentSummary], list[IncidentSummary], datetime]:
    """The home lists (open incidents, the last resolved ones) and the time they were
    read: through the engine once it is loaded (its cached folds), before that by the
    lean read path (Runtime.read_state). Neither writes. Shared by the console's worker
    and the forked reader (incident/console/preload.py)."""
    from incident.errors import Refused

    state = rt.engine.state if rt.loaded("engine") else rt.read_state
    now = rt.clock.now()
    lists: list[list[IncidentSummary]] = []
    for status, limit in (("open", None), ("resolved", HOME_CLOSED)):
        found = []
        for row in rt.store.incidents(status=status, limit=limit):
            try:
                found.append(summarize(state(row.id), now, rt.directory))
            except Refused:
                continue  # an incident of a playbook no longer loaded
        lists.append(found)
    return lists[0], lists[1], now


def countdown(delta: timedelta) -> str:
    """'04:59', '1:02:03', '-00:30' (overdue)."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m:02d}:{s:02d}"


def urgency(due_at: datetime, now: datetime, window: timedelta | None = None) -> str:
    """'ok', 'amber' (little time left) or 'red' (overdue)."""
    left = due_at - now
    if left.total_seconds() < 0:
        return "red"
    amber = timedelta(seconds=60)
    if window is not None and window.total_seconds() > 0:
        amber = max(amber, window * 0.25)
    return "amber" if left <= amber else "ok"


@dataclass(frozen=True, slots=True)
class TimerRow:
    """One line of the timers panel."""

    kind: str  # target, report, step, timer
    id: str
    label: dict[str, str]
    due_at: datetime | None
    window: timedelta | None = None
    status: str = "pending"  # pending, met, met_late, missed, n/a
    met_at: datetime | None = None


def timer_rows(st: IncidentState, timers: Iterable[Timer]) -> list[TimerRow]:
    """Targets and report clocks (with their outcome), then the other pending timers."""
    rows: list[TimerRow] = []
    seen: set[str] = set()
    for t in st.targets.values():
        seen.add(f"target_missed:{t.id}")
        if t.not_applicable:
            status = "n/a"
        elif t.met_at is not None:
            status = "met" if t.met_at <= t.due_at else "met_late"
        else:
            status = "pending"
        rows.append(TimerRow("target", t.id, dict(t.title), t.due_at, t.due_at - st.started_at,
                             status, t.met_at))
    for r in st.reports.values():
        seen.add(f"report_due:{r.id}")
        status = "pending" if r.done_at is None else ("met" if r.done_at <= r.due_at
                                                      else "met_late")
        if r.done_at is None and r.superseded_at is not None:
            status = "superseded"  # the severity changed before it fell due
        label = {code: i18n.t("tm.report_label", code, title=r.title.get(code) or r.title["en"],
                         to=r.to, by=i18n.means_name(r.by, code)) for code in ("en", "zh")}
        rows.append(TimerRow("report", r.id, label, r.due_at, r.due_at - st.started_at,
                             status, r.done_at))
    for t in timers:
        if t.id in seen:
            continue
        rows.append(TimerRow("step" if t.step else "timer", t.id, dict(t.label), t.due_at))
    return rows


def live_status(row: TimerRow, now: datetime) -> str:
    """The row's status at `now` (a pending target past due reads 'missed')."""
    if row.status == "pending" and row.due_at is not None and now > row.due_at \
            and row.kind in ("target", "report"):
        return "missed"
    return row.status


@dataclass(frozen=True, slots=True)
class ChannelProgress:
    channel: str
    total: int
    sent: int
    failed: int
    pending: int
    other: int = 0

    @property
    def finished(self) -> int:
        return self.sent + self.failed + self.other


@dataclass(frozen=True, slots=True)
class StepDelivery:
    step_id: str
    channels: tuple[ChannelProgress, ...]
    tally: Any = None  # notify.tally.StepTally: the step's messages per recipient

    @property
    def total(self) -> int:
        if self.tally is not None:
            return self.tally.recipients
        return sum(c.total for c in self.channels)

    @property
    def finished(self) -> int:
        if self.tally is not None:
            return self.tally.recipients - self.tally.waiting
        return sum(c.finished for c in self.channels)

    @property
    def failed(self) -> int:
        return self.tally.failed if self.tally is not None else \
            sum(c.failed for c in self.channels)


def delivery_from_tallies(found: dict[str, Any], st: IncidentState | None = None,
                          ) -> list[StepDelivery]:
    """Per step, per channel, counted per recipient (notify.tally), the playbook's notify
    steps first in playbook order, escalation pages after them."""
    order = list(st.playbook.steps()) if st is not None else []
    rank = {sid: i for i, sid in enumerate(order)}

    def key(sid: str) -> tuple[int, int, str]:
        return (1 if sid.startswith("escalation:") else 0, rank.get(sid, len(rank)), sid)

    out = []
    for sid in sorted(found, key=key):
        tl = found[sid]
        chans = tuple(ChannelProgress(c.channel, c.total, c.delivered, c.failed, c.waiting,
                                      c.fell_back + c.cancelled) for c in tl.channels)
        out.append(StepDelivery(sid, chans, tl))
    return out


@dataclass(frozen=True, slots=True)
class PageRow:
    """One page (escalation) as the panel shows it."""

    id: str
    who: str
    role: str
    level: Any
    channel: str
    sent_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None


def page_rows(st: IncidentState, directory: Directory | None, lang: str) -> list[PageRow]:
    out = []
    for p in st.pages:
        people = p.get("to") or []
        if isinstance(people, str):
            people = [people]
        who = ", ".join(person_name(directory, pid, lang) for pid in people) or "—"
        channels = p.get("channels") or {}
        if isinstance(channels, dict):
            chans = sorted({c[0] for c in channels.values() if c})
        else:
            chans = [str(channels)]
        node = str(p.get("node") or p.get("role") or "")
        label = node
        if directory is not None and node in directory.roles:
            label = directory.roles[node].title.get(lang) or node
        if p.get("reminder"):
            label += " ↻"
        out.append(PageRow(str(p.get("id") or p.get("page") or ""), who, label,
                           p.get("level", ""), ",".join(chans), p.get("ts"),
                           p.get("acked_at"), p.get("acked_by")))
    return out


def escalation_timers(timers: Iterable[Timer]) -> list[Timer]:
    return [t for t in timers if "escalat" in t.kind]


def first_open_step(st: IncidentState, after: str | None = None) -> str | None:
    """The step to show: the next open one in the same track after `after`, else the first."""
    order = list(st.playbook.steps())
    if after in st.steps:
        track = st.steps[after].track
        idx = order.index(after)
        for sid in order[idx + 1:] + order[:idx]:
            s = st.steps[sid]
            if s.track == track and s.open:
                return sid
    for sid in order:
        if st.steps[sid].open:
            return sid
    return None


def urgent_steps(st: IncidentState, now: datetime, limit: int | None = None) -> list[str]:
    """Open steps most urgent first: overdue (longest overdue first), then by due time;
    steps with no due time are not urgent. What `u` jumps to and the list shows on top."""
    order = {sid: i for i, sid in enumerate(st.playbook.steps())}
    timed = [(s.due_at, order[sid], sid) for sid, s in st.steps.items()
             if s.open and s.due_at is not None]
    timed.sort()
    out = [sid for _, _, sid in timed]
    return out[:limit] if limit is not None else out


def urgent_step(st: IncidentState, now: datetime) -> str | None:
    """The step to act on now: the most overdue, else the next due, else the first open."""
    if st.status != "open":
        return None
    found = urgent_steps(st, now, 1)
    return found[0] if found else first_open_step(st)


def location_candidates(directory: Directory | None) -> list[str]:
    """What the location field completes: units, buildings, 'B3 12F' floors, places."""
    if directory is None:
        return []
    out: list[str] = []
    for b in directory.buildings.values():
        out.append(b.id)
        for f in b.all_floors:
            out.append(f"{b.id} {'B' + str(-f) if f < 0 else f}F")
    out.extend(directory.units)
    out.extend(directory.places)
    return out


def elapsed_text(st_started: datetime, now: datetime, resolved: datetime | None = None) -> str:
    return format_duration((resolved or now) - st_started)


@dataclass(slots=True)
class Drafts:
    """What the officer typed per step and field: never lost on refusal or navigation."""

    values: dict[tuple[str, str], str] = field(default_factory=dict)

    def get(self, step: str, name: str) -> str:
        return self.values.get((step, name), "")

    def put(self, step: str, name: str, text: str) -> None:
        if text:
            self.values[(step, name)] = text
        else:
            self.values.pop((step, name), None)
