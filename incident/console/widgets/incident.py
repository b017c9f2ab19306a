"""Widgets of the incident screen. Each takes data (snapshots, rows) — never a session.

Time-dependent text (elapsed, countdowns, amber/red) is recomputed from the last
snapshot and `now` once a second without touching the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import Label, Log, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from incident.console.i18n import t
from incident.console.model import (
    STEP_MARKS,
    PageRow,
    StepDelivery,
    TimerRow,
    countdown,
    escalation_timers,
    live_status,
    urgency,
    urgent_steps,
)
from incident.i18n import join_list
from incident.names import Names
from incident.narrate import describe
from incident.views import clock_text, delivery_line, offset, status_label

if TYPE_CHECKING:
    from incident.engine import IncidentState, Timer
    from incident.store import StoredEvent

URGENCY_STYLE = {"ok": "", "amber": "$warning", "red": "$error"}
# A badge is black on its colour, never "reverse": reversed, its text took the row's
# background, which on the highlighted row was blue on red (1.2:1)
BADGE = "b #000000 on "


def _styled(text: str, style: str) -> str:
    return f"[{style}]{text}[/]" if style else text


# ---- header -----------------------------------------------------------------------------

class IncidentHeader(Static):
    """Two lines: what, where, how bad, live/drill; elapsed, owner, next due, alarms."""

    _last = ""

    def show(self, st: IncidentState, timers: list[Timer], now: datetime, lang: str,
             location: str, owner: str, warning: str = "") -> None:
        pb = st.playbook
        try:
            sev = pb.severity(st.severity).name.get(lang)
        except KeyError:
            sev = ""
        mode = (f"[{BADGE}$warning] {t('mode.drill', lang)} [/]" if st.drill
                else f"[{BADGE}$error] {t('mode.live', lang)} [/]")
        status = ""
        if st.status != "open":  # one state: RESOLVED replaces LIVE (a drill stays marked)
            status = f" [{BADGE}$success] {t('inc.resolved', lang)} [/]"
            mode = f"[{BADGE}$warning] {t('mode.drill', lang)} [/]" if st.drill else ""
        line1 = (f"[b]{escape(st.id)}[/b] {mode} [b]{escape(pb.title.get(lang))}[/b] · "
                 f"{escape(location)} · [b]S{st.severity}[/b] {escape(sev)}{status}")
        elapsed = countdown((st.resolved_at or now) - st.started_at)
        parts = [f"{t('inc.elapsed', lang)} [b]{elapsed}[/b]",
                 f"{t('inc.owner', lang)} [b]{escape(owner)}[/b]"]
        if st.first_receiver and st.first_receiver != st.owner:  # 首问: stays after handover
            parts.append(f"{t('inc.first_receiver', lang)} {escape(st.first_receiver)}")
        upcoming = [tm for tm in timers if tm.due_at > now] if st.status == "open" else []
        if upcoming:
            nxt = upcoming[0]
            style = URGENCY_STYLE[urgency(nxt.due_at, now)]
            parts.append(f"{t('inc.next', lang)}: {escape(nxt.label.get(lang, nxt.id))} "
                         + _styled(countdown(nxt.due_at - now), style))
        overdue = len(st.overdue_steps(now)) if st.status == "open" else 0
        if overdue:
            parts.append(f"[$error]{t('col.overdue', lang)} {overdue}[/]")
        unacked = len(st.unacked_pages()) if st.status == "open" else 0
        if unacked:
            parts.append(f"[$warning]{t('col.pages', lang)} {unacked}[/]")
        text = line1 + "\n" + " · ".join(parts)
        if warning and st.status == "open":  # no service: only this console escalates
            text += f"\n[$warning]{escape(warning)}[/]"
        if text != self._last:
            # A countdown ticking needs a repaint; a new next-due label may wrap
            # differently on a narrow terminal, so it gets a reflow.
            reflow = abs(len(text) - len(self._last)) > 3 or text.count("\n") != \
                self._last.count("\n")
            self._last = text
            self.update(text, layout=reflow)


# ---- steps --------------------------------------------------------------------------------

def step_prompt(st: IncidentState, step_id: str, now: datetime, lang: str) -> str:
    s = st.steps[step_id]
    step = st.playbook.steps()[step_id]
    mark = STEP_MARKS.get(s.status, "·")
    title = escape(step.title.get(lang))
    if s.status in ("done", "skipped", "excluded"):
        return f"[dim]{mark} {title}[/]"
    if st.status != "open":  # resolved: the clocks have stopped
        return f"{mark} {title}"
    if s.overdue(now):
        # a badge, not red text: the highlighted row stays readable (no red on blue)
        late = countdown(now - s.due_at) if s.due_at is not None else ""
        return f"[b]{mark} {title}[/b] [{BADGE}$error] !! {late} [/]"
    if s.status == "awaiting_confirmation":
        return f"[$warning]{mark} {title}[/]"
    if s.status in ("ready", "in_progress"):
        due = ""
        if s.due_at is not None:
            style = URGENCY_STYLE[urgency(s.due_at, now)]
            due = " " + _styled(countdown(s.due_at - now), style or "dim")
        return f"[b]{mark} {title}[/b]{due}"
    return f"{mark} {title}"


def _last_settled(st: IncidentState, track: Any) -> str | None:
    done = [(st.steps[s.id].done_at or st.started_at, i, s.id) for i, s in enumerate(track.steps)
            if st.steps[s.id].settled and st.steps[s.id].status != "excluded"]
    return max(done)[2] if done else None


NOW = "now:"  # option ids of the "due now" copies at the top of the list


class StepList(OptionList):
    """Tracks as headers, steps under them; option ids are step ids.

    The most urgent open steps (overdue first, then next due) are repeated at the top
    under "Due now", so the step that matters is never 21 presses away; when the list
    is taller than its panel (80x24), settled steps fold into their track's count and
    finished tracks into one line.
    """

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._prompts: dict[str, str] = {}
        self._changed = False

    def _compact(self, st: IncidentState) -> bool:
        height = self.size.height
        rows = len(st.steps) + len(st.playbook.tracks) + 4
        return height == 0 or rows > height

    def show_state(self, st: IncidentState, now: datetime, lang: str,
                   keep: str | None) -> None:
        """Show a snapshot; only prompts that changed are replaced (each replacement
        makes the list re-render, so an unchanged list costs nothing)."""
        prompts: dict[str, str] = {}
        compact = self._compact(st)
        urgent = urgent_steps(st, now, 3) if st.status == "open" else []
        if urgent:
            prompts["head:now"] = f"[b $warning]▌{escape(t('inc.due_now', lang))}[/]"
            for sid in urgent:
                prompts[NOW + sid] = step_prompt(st, sid, now, lang)
        for track in st.playbook.tracks:
            done = sum(1 for s in track.steps if st.steps[s.id].settled)
            finished = done == len(track.steps)
            prompts[f"track:{track.id}"] = (f"[b $accent]▌{escape(track.title.get(lang))}[/] "
                                            f"[dim]{done}/{len(track.steps)}"
                                            f"{' ✔' if finished else ''}[/]")
            last = _last_settled(st, track) if compact and not finished else None
            for step in track.steps:
                if compact and st.steps[step.id].settled and step.id not in (keep, last):
                    continue  # folded into the track's count; the latest stays as feedback
                prompts[step.id] = step_prompt(st, step.id, now, lang)
        if list(prompts) != list(self._prompts):
            highlighted = keep
            if highlighted is None and self.highlighted is not None:
                highlighted = self.get_option_at_index(self.highlighted).id
            self.clear_options()
            self.add_options([Option(text, id=oid, disabled=oid.startswith(("track:", "head:")))
                              for oid, text in prompts.items()])
            self._prompts = prompts
            if highlighted is not None:
                self._highlight(highlighted)
            if self.highlighted is not None:
                self.scroll_to_highlight()
            return
        for oid, text in prompts.items():
            if self._prompts.get(oid) != text:
                self.get_option(oid)._set_prompt(text)
                self._prompts[oid] = text
                self._changed = True
        if getattr(self, "_changed", False):
            self._changed = False
            self._clear_caches()
            self.refresh()
        if keep is not None:
            self._highlight(keep)

    def _highlight(self, oid: str) -> None:
        """Highlight an option id; a step hidden by folding falls back to its due-now copy."""
        for candidate in (oid, NOW + oid if not oid.startswith(NOW) else oid[len(NOW):]):
            if candidate in self._prompts:
                self.highlighted = self.get_option_index(candidate)
                return

    def update_prompts(self, st: IncidentState, now: datetime, lang: str) -> None:
        """Countdowns of open steps (once a second)."""
        changed = False
        for sid, s in st.steps.items():
            if not s.open:
                continue
            for oid in (sid, NOW + sid):
                if oid not in self._prompts:
                    continue
                text = step_prompt(st, sid, now, lang)
                if self._prompts[oid] != text:
                    self.get_option(oid)._set_prompt(text)
                    self._prompts[oid] = text
                    changed = True
        if changed:
            self._clear_caches()
            self.refresh()

    def go_to(self, step_id: str) -> None:
        """Highlight a step, preferring its due-now copy (at the top, always in view)."""
        self._highlight(NOW + step_id if NOW + step_id in self._prompts else step_id)
        if self.highlighted is not None:
            self.scroll_to_highlight()

    @property
    def step_id(self) -> str | None:
        if self.highlighted is None:
            return None
        oid = self.get_option_at_index(self.highlighted).id
        if oid is None or oid.startswith(("track:", "head:")):
            return None
        return oid[len(NOW):] if oid.startswith(NOW) else oid


# ---- the current step's card -----------------------------------------------------------------

def card_text(st: IncidentState, step_id: str, now: datetime, lang: str, zone: ZoneInfo,
              name_of: Callable[[str | None], str], externals: dict[str, Any],
              waiting: list[str], delivery: StepDelivery | None = None) -> tuple[str, str]:
    """(body markup, hints markup) for one step. `delivery`: the step's own messages,
    per recipient, read from the outbox (else the log's latest progress)."""
    from incident.clock import format_duration

    pb = st.playbook
    step = pb.steps()[step_id]
    s = st.steps[step_id]
    other = "zh" if lang == "en" else "en"
    kind = t(f"step.kind.{step.kind}", lang)
    status = status_label(s.status, lang)
    due = ""
    if s.open and s.due_at is not None:
        style = URGENCY_STYLE[urgency(s.due_at, now)]
        due = f" · {t('step.due', lang)} " + _styled(countdown(s.due_at - now), style)
    lines = [f"[b]{escape(step.title.get(lang))}[/b]  [dim]{escape(step.title.get(other))}[/]",
             f"[dim]{kind}[/] · {status}{due}"
             + (f" · {t('step.assignee', lang)} {escape(step.assignee)}" if step.assignee
                else "")]
    if step.call:
        ext = externals.get(step.call)
        if ext is not None:
            name = ext.name.get(lang) if isinstance(ext.name, dict) else str(ext.name)
            lines.append(f"[b $warning]{t('step.call', lang)} {escape(ext.phone)}[/] "
                         f"{escape(name or step.call)}")
        else:
            lines.append(f"[b $warning]{t('step.call', lang)} {escape(step.call)}[/]")
    if s.status == "done":
        who = name_of(s.done_by)
        text = t("step.done_by", lang, who=escape(who), when=clock_text(s.done_at, zone))
        if s.confirmed_by:
            text += ", " + t("step.confirmed_by", lang, who=escape(name_of(s.confirmed_by)))
        if s.option:
            opt = next((o for o in step.options or [] if o.id == s.option), None)
            text += f" → [b]{escape(opt.title.get(lang) if opt else s.option)}[/b]"
        if s.value is not None:
            val = ", ".join(map(str, s.value)) if isinstance(s.value, list) else str(s.value)
            text += f" = [b]{escape(val)}[/b]"
        lines.append(f"[$success]{text}[/]")
    elif s.status == "skipped":
        lines.append("[$warning]" + t("step.skipped_by", lang, who=escape(name_of(s.done_by)),
                                      when=clock_text(s.done_at, zone),
                                      reason=escape(s.reason or "")) + "[/]")
    elif s.status == "excluded":
        why = s.excluded_why.text(lang) if s.excluded_why else ""
        lines.append(f"[dim]{t('step.excluded', lang)}: {escape(why)}[/]")
    elif s.status == "pending" and waiting:
        titles = [pb.steps()[w].title.get(lang) if w in pb.steps() else w for w in waiting]
        lines.append(f"[dim]{t('step.waiting_for', lang)}: {escape(join_list(titles, lang))}[/]")
    elif s.status == "awaiting_confirmation":
        lines.append("[$warning]" + t("step.awaiting", lang, who=escape(name_of(s.awaiting_by)))
                     + "[/]")
    elif s.status == "in_progress":
        lines.append(t("step.started_by", lang, who=escape(name_of(s.started_by)),
                       when=clock_text(s.started_at, zone)))
        if s.dispatched_to:
            lines.append(t("step.dispatched", lang, to=escape(name_of(s.dispatched_to)),
                           when=clock_text(s.arrive_by, zone)))
    if step.gate is not None:
        lines.append(f"[$warning]{t('step.gate', lang)}"
                     + (f" ({escape(step.gate.role)})" if step.gate.role else "")
                     + f": {escape(step.gate.text.get(lang))}[/]")
    if step.record is not None:
        rec = step.record
        label = rec.label.get(lang) if rec.label else rec.name
        lines.append(t("step.records", lang, name=escape(label),
                       type=rec.type + (f", {rec.unit}" if rec.unit else "")))
    if step.escalate is not None:
        lines.append(t("step.escalates", lang, to=escape(step.escalate.to)))
    if step.notify is not None:
        aud = step.notify.audience
        aud_text = ", ".join(aud) if isinstance(aud, list) else aud
        lines.append(t("step.notifies", lang, audience=escape(aud_text),
                       channels=", ".join(step.notify.channels)))
        line = delivery_line(st, step_id, delivery.tally if delivery is not None else None,
                             lang)
        if line:
            tl = delivery.tally if delivery is not None else None
            style = "$success" if tl is not None and tl.all_delivered else \
                "b $error" if tl is not None and tl.failed else "$warning"
            lines.append(f"[{style}]{t('step.messages', lang)}: {escape(line)}[/]")
            if tl is not None and tl.failed:
                lines.append(f"[dim]{t('msg.retry_hint', lang)}[/]")
    if step.wait is not None:
        lines.append(t("step.wait", lang, d=format_duration(step.wait)))
    if step.options and s.status in ("ready", "in_progress", "pending"):
        lines.append(f"[b]{t('step.options', lang)}[/b]")
        for i, o in enumerate(step.options, 1):
            lines.append(f"  [b]{i}[/b] {escape(o.title.get(lang))}  "
                         f"[dim]{escape(o.title.get(other))}[/]")
    if step.instructions is not None:
        lines.append("")
        lines.append(escape(step.instructions.get(lang)))
        lines.append(f"[dim]{escape(step.instructions.get(other))}[/]")
    return "\n".join(lines), hints_text(st, step_id, lang)


def hints_text(st: IncidentState, step_id: str, lang: str) -> str:
    step = st.playbook.steps()[step_id]
    s = st.steps[step_id]
    if st.status != "open" or s.settled:
        return ""
    hints: list[str] = []
    if s.status == "awaiting_confirmation":
        hints.append(t("hint.confirm", lang))
    elif s.status in ("ready", "in_progress"):
        primary = {
            "decision": "hint.choose", "record": "hint.record", "notify": "hint.notify",
            "escalate": "hint.escalate",
        }.get(step.kind, "hint.done")
        if step.kind == "dispatch":
            primary = "hint.dispatch" if s.status == "ready" else "hint.arrived"
        hints.append(t(primary, lang))
        if s.status == "ready" and step.kind != "dispatch":
            hints.append(t("hint.take", lang))
    hints.append(t("hint.skip", lang))
    return "[reverse] " + " │ ".join(escape(h) for h in hints) + " [/]"


# ---- timers ---------------------------------------------------------------------------------

def timers_text(rows: list[TimerRow], now: datetime, lang: str, zone: ZoneInfo,
                resolved: bool) -> str:
    if not rows:
        return t("tm.none", lang)
    out: list[str] = []
    section = None
    for r in rows:
        sec = {"target": "tm.target", "report": "tm.report"}.get(r.kind, "tm.other")
        if sec != section:
            section = sec
            out.append(f"[b]{t(sec, lang)}[/b]")
        label = escape(r.label.get(lang) or r.id)
        status = live_status(r, now)
        if status == "met":
            right = f"[$success]✔ {t('tm.met', lang, t=clock_text(r.met_at, zone))}[/]"
        elif status == "met_late":
            right = f"[$warning]✔ {t('tm.met_late', lang, t=clock_text(r.met_at, zone))}[/]"
        elif status in ("n/a", "superseded"):  # superseded: a level no longer in force
            right = f"[dim]{t('tm.na', lang)}[/]"
        elif status == "missed" or (r.due_at is not None and now > r.due_at):
            late = countdown(now - r.due_at) if r.due_at else ""
            right = f"[b $error]✖ {t('tm.missed', lang, t=late)}[/]"
        elif resolved or r.due_at is None:
            right = "—"
        else:
            style = URGENCY_STYLE[urgency(r.due_at, now, r.window)]
            right = _styled(countdown(r.due_at - now), style) + \
                f" [dim]{clock_text(r.due_at, zone)}[/]"
        out.append(f"  {label}  {right}")
    return "\n".join(out)


def _wid(*parts: str) -> str:
    """A widget id from step/channel names (which may hold ':' and the like)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_-]", "_", p) for p in parts)


# ---- notifications ---------------------------------------------------------------------------

class ChannelRow(Horizontal):
    DEFAULT_CSS = """
    ChannelRow { height: 1; }
    ChannelRow > .channel-name { width: 8; }
    ChannelRow > ProgressBar { width: 24; }
    ChannelRow > .channel-counts { width: 1fr; padding-left: 1; }
    """

    def __init__(self, channel: str, **kw: Any):
        super().__init__(**kw)
        self.channel = channel

    def compose(self) -> ComposeResult:
        yield Label(self.channel, classes="channel-name")
        yield ProgressBar(total=1, show_eta=False, show_percentage=True)
        yield Label("", classes="channel-counts")

    def show(self, total: int, done: int, text: str) -> None:
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one(".channel-counts", Label).update(text)


class DeliveryPanel(VerticalScroll):
    """Per notify step, a progress bar per channel (sent / failed / waiting)."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._boxes: dict[str, set[str]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="delivery-note")

    def show(self, st: IncidentState, delivery: list[StepDelivery], lang: str,
             dispatcher: bool) -> None:
        note = self.query_one("#delivery-note", Static)
        text = "" if delivery else t("msg.none", lang)
        if not dispatcher:
            text = (text + "\n" if text else "") + f"[$warning]{t('msg.no_dispatcher', lang)}[/]"
        if delivery:
            text = (text + "\n" if text else "") + f"[dim]{t('msg.drill_down', lang)}[/]"
        failed = sum(d.failed for d in delivery)
        if failed:
            text += "\n" + f"[b $error]{t('msg.failed', lang, n=failed)}[/] " \
                f"[dim]{t('msg.retry_hint', lang)}[/]"
        note.update(text)
        mounted = False
        for d in delivery:  # rows only ever appear (a queued message never un-queues)
            box_id = _wid("dls", d.step_id)
            if box_id not in self._boxes:
                self._boxes[box_id] = {c.channel for c in d.channels}
                self.mount(Vertical(Label("", classes="delivery-title"),
                                    *[ChannelRow(c.channel, id=_wid("dl", d.step_id, c.channel))
                                      for c in d.channels],
                                    classes="delivery-step", id=box_id))
                mounted = True
                continue
            for c in d.channels:
                if c.channel not in self._boxes[box_id]:
                    self._boxes[box_id].add(c.channel)
                    self.query_one("#" + box_id, Vertical).mount(
                        ChannelRow(c.channel, id=_wid("dl", d.step_id, c.channel)))
                    mounted = True
        if mounted:
            self.call_after_refresh(self._fill, st, delivery, lang)
        else:
            self._fill(st, delivery, lang)

    def _fill(self, st: IncidentState, delivery: list[StepDelivery], lang: str) -> None:
        steps = st.playbook.steps()
        for d in delivery:
            boxes = self.query("#" + _wid("dls", d.step_id))
            if not boxes:
                continue
            box = boxes.first()
            if d.step_id in steps:
                title = steps[d.step_id].title.get(lang)
            elif d.step_id.startswith("escalation:"):
                title = t("page.step_title", lang, page=d.step_id.split(":", 1)[1])
            elif d.step_id.startswith("knock:"):  # a roll call's door-knock list
                title = t("rc.knock_msgs", lang, n=d.step_id.rsplit(":", 1)[-1])
            else:
                title = d.step_id
            head = f"[b]{escape(title)}[/b]  {d.finished}/{d.total}"
            if d.tally is not None:
                tl = d.tally
                head += "  " + t("msg.step_tally", lang, delivered=tl.delivered,
                                 total=tl.recipients, waiting=tl.waiting, failed=tl.failed)
            for label in box.query(".delivery-title"):
                label.update(head)  # type: ignore[attr-defined]
            for c in d.channels:
                for row in box.query("#" + _wid("dl", d.step_id, c.channel)):
                    if isinstance(row, ChannelRow) and row.is_mounted and row.children:
                        text = t("msg.progress", lang, sent=c.sent, total=c.total,
                                 failed=c.failed, pending=c.pending)
                        if c.other:
                            text += " · " + t("msg.moved_on", lang, n=c.other)
                        row.show(c.total, c.finished, text)


# ---- escalation ---------------------------------------------------------------------------------

def pages_text(pages: list[PageRow], timers: list[Timer], now: datetime, lang: str,
               zone: ZoneInfo, ladder: bool) -> str:
    out: list[str] = []
    if not ladder:
        out.append(f"[$warning]{t('esc.no_ladder', lang)}[/]")
    if not pages:
        out.append(t("esc.none", lang))
    for p in pages:
        head = f"[dim]{escape(p.id)}[/] [b]{escape(p.who)}[/b]"
        if p.role:
            head += f" ({escape(p.role)})"
        if p.channel:
            head += f" [dim]{escape(p.channel)}[/]"
        head += f" {clock_text(p.sent_at, zone)}"
        if p.acked_at:
            head += " [$success]✔ " + t("esc.acked", lang, who=escape(p.acked_by or ""),
                                          when=clock_text(p.acked_at, zone)) + "[/]"
        else:
            head += f" [b $error]{t('esc.waiting', lang)}[/]"
        out.append(head)
    for tm in escalation_timers(timers):
        style = URGENCY_STYLE[urgency(tm.due_at, now)]
        out.append(t("esc.next", lang, t=_styled(countdown(tm.due_at - now), style or "b"),
                     what=escape(tm.label.get(lang, tm.id))))
    out.append(f"[dim]{t('esc.hint', lang)}[/]")
    return "\n".join(out)


# ---- timeline -------------------------------------------------------------------------------

class Timeline(Log):
    """The live event log, newest at the bottom: each event one sentence in the reader's
    language (incident.narrate), wrapped to the panel's width under a hanging indent —
    never cut off — and wrapped again when the panel is resized."""

    def __init__(self, **kw: Any):
        super().__init__(highlight=False, max_lines=5000, **kw)
        self.events: list[StoredEvent] = []
        self.start: datetime | None = None
        self.lang = "en"
        self.zone: ZoneInfo | None = None
        self.names: Names | None = None
        self._wrapped_at = 0

    def add_events(self, events: list[StoredEvent], lang: str, zone: ZoneInfo,
                   names: Names) -> None:
        if not events:
            return
        self.lang, self.zone, self.names = lang, zone, names
        if self.start is None:
            self.start = events[0].ts
        self.events.extend(events)
        self.write_lines([line for e in events for line in self._event_lines(e)])

    def rewrite(self, lang: str, zone: ZoneInfo, names: Names | None = None) -> None:
        self.lang, self.zone = lang, zone
        if names is not None:
            self.names = names
        self.clear()
        if self.events:
            self.write_lines([line for e in self.events for line in self._event_lines(e)])

    def on_resize(self) -> None:
        if self._text_width() != self._wrapped_at and self.events and self.zone is not None:
            self.rewrite(self.lang, self.zone)

    def _text_width(self) -> int:
        return max(self.scrollable_content_region.width - 1, 40)

    def _event_lines(self, e: StoredEvent) -> list[str]:
        start = self.start or e.ts
        head = f"{clock_text(e.ts, self.zone or ZoneInfo('UTC'))} {offset(e.ts, start):<10} "
        names = self.names or Names(None, None, self.lang)
        self._wrapped_at = self._text_width()
        return wrap_cells(describe(e, names, self.lang, self.zone), self._wrapped_at, head)


# Chinese breaks between characters, but an opening quote or bracket stays with the
# character after it and closing punctuation with the one before; Latin words (quotes
# included) stay whole.
_CJK = "\u2e80-\u9fff\uff00-\uffef\u3000-\u303f"
_TOKENS = re.compile(rf"\s+|[“（《]*[{_CJK}][”，。：；、）》！？]*|[^\s{_CJK}]+")


def wrap_cells(text: str, width: int, head: str) -> list[str]:
    """`head` + `text` in lines of at most `width` terminal cells, later lines indented
    under the text. Latin words stay whole; Chinese breaks between characters."""
    indent = " " * cell_len(head)
    room = max(width - len(indent), 10)
    lines: list[str] = []
    cur, used = "", 0
    for tok in _TOKENS.findall(text):
        if tok.isspace():
            if cur:
                cur, used = cur + " ", used + 1
            continue
        while cell_len(tok) > room:  # a word longer than a line: cut it
            if cur.strip():
                lines.append(cur.rstrip())
            cut = tok
            while cell_len(cut) > room:
                cut = cut[:-1]
            lines.append(cut)
            tok, cur, used = tok[len(cut):], "", 0
        size = cell_len(tok)
        if used + size > room and cur.strip():
            lines.append(cur.rstrip())
            cur, used = "", 0
        cur, used = cur + tok, used + size
    if cur.strip() or not lines:
        lines.append(cur.rstrip())
    return [(head if i == 0 else indent) + line for i, line in enumerate(lines)]
