"""Plain-text views of incident state, shared by the CLI and the console.

They take state and return strings or rows: no I/O, no widgets.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident import i18n
from incident.clock import format_duration
from incident.engine import aftercare
from incident.i18n import pad, status_label, t
from incident.safetext import terminal

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from incident.engine import IncidentState

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
    sev = pb.severity(st.severity) if any(s.level == st.severity for s in pb.severities) else None
    lines = [
        f"{st.id}  {pb.title.get(lang)}{t('st.drill', lang) if st.drill else ''}  "
        f"{status_label(st.phase, lang)}",
        t("st.where", lang, location=st.location, level=st.severity,
          name=" " + sev.name.get(lang) if sev else "", owner=st.owner),
        t("st.when", lang, started=clock_text(st.started_at, zone, True),
          elapsed=format_duration((st.resolved_at or now) - st.started_at)),
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
                    opt = next((o for o in step.options or [] if o.id == s.option), None)
                    extra += f" → {opt.title.get(lang) if opt else s.option}"
                if s.value is not None:
                    value = (i18n.join_list([str(v) for v in s.value], lang)
                             if isinstance(s.value, list) else s.value)
                    extra += f" = {i18n.with_unit(value, step.record.unit if step.record else None, lang)}"
            elif s.status == "skipped":
                extra = f"{clock_text(s.done_at, zone)} {s.done_by}: {s.reason}"
            elif s.open and s.due_at is not None:
                left = s.due_at - now
                extra = (t("st.overdue", lang, d=format_duration(-left))
                         if left.total_seconds() < 0
                         else t("st.due_in", lang, d=format_duration(left)))
            label = status_label(s.status, lang)
            lines.append(f"  [{mark}] {step.id:<24} {pad(steps[step.id].title.get(lang), 38, cut=True)} "
                         f"{pad(label, 16)} {extra}".rstrip())
            if step.notify is not None:
                msg = delivery_line(st, step.id, (delivery or {}).get(step.id), lang)
                if msg:
                    lines.append(f"        {t('st.messages', lang, line=msg)}")
        lines.append("")
    if st.targets:
        lines.append(t("st.targets", lang))
        for tg in st.targets.values():
            status = tg.status(now)
            delta = tg.delta(now)
            lines.append(f"  {pad(tg.title.get(lang, tg.id), 28)} "
                         f"{t('st.due', lang, at=clock_text(tg.due_at, zone))}  "
                         f"{pad(status_label(status, lang), 10)} "
                         f"{'' if status == 'n/a' else format_duration(delta)}".rstrip())
            if tg.rule == "delivered" and status != "n/a":
                how = target_rule_text(tg.rule, tg.threshold, lang)
                if tg.reached is not None and tg.met_at is not None:
                    how += t("st.reached", lang, n=tg.reached[0], of=tg.reached[1])
                lines.append(f"    {how}")
        lines.append("")
    if st.reports:
        lines.append(t("st.report_clocks", lang))
        for r in st.reports.values():
            lines.append(f"  {pad(r.title.get(lang, r.id), 28)} → {r.to:<16} "
                         f"{pad(i18n.means_name(r.by, lang), 8)} "
                         f"{t('st.due', lang, at=clock_text(r.due_at, zone))}  "
                         f"{status_label(r.status(now), lang)}")
        lines.append("")
    lines += aftercare.aftercare_lines(st, now, zone, lang)
    timers = st.timers()
    if timers:
        lines.append(t("st.timers", lang))
        for tm in timers[:8]:
            # a read fires nothing: a timer past due waits for the service (or `tick`)
            due = t("st.timer_due", lang) if tm.due_at <= now else ""
            lines.append(f"  {clock_text(tm.due_at, zone)}  {tm.label.get(lang, tm.id)}{due}")
    return [terminal(line) for line in lines]  # data stays on its line, escapes removed


def target_rule_text(rule: str, threshold: float = 100.0, lang: str = "en") -> str:
    """How a target is met, said the way a report states it."""
    if rule == "resolved":
        return t("rule.resolved", lang)
    if rule == "delivered":
        if threshold >= 100:
            return t("rule.delivered_all", lang)
        return t("rule.delivered_pct", lang, pct=f"{threshold:g}%")
    return t("rule.step", lang)


def delivery_line(st: IncidentState, step_id: str, tally: Any = None, lang: str = "en",
                  ) -> str | None:
    """A notify step's own messages, per recipient ("delivered 7/9, failed for good 2 …").

    `tally` is a notify.tally.StepTally read from the outbox; without it the latest
    delivery.progress of the step is used, then the queued count."""
    from incident.notify.tally import from_progress, summary_line

    if tally is None and step_id in st.step_delivery:
        tally = from_progress(st.step_delivery[step_id])
    if tally is not None and tally.recipients:
        return summary_line(tally, lang)
    queued = st.notifications.get(step_id)
    if queued is None:
        return None
    n = queued.get("messages", 0)
    if not n:
        return i18n.nt("delivery.no_messages", queued.get("unreachable", 0), lang)
    return i18n.nt("delivery.queued", n, lang)


pick = i18n.pick  # data-borne bilingual text: one language rule (incident.i18n)

