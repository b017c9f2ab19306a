"""Seeing the chain: a dry run of the live rules, and text / Mermaid / DOT renderings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING

from incident import i18n
from incident.engine import events as ev
from incident.escalation.live import Escalation, Facts, Start, page_timers
from incident.escalation.model import DAY_NAMES, Edge, EscalationGraph
from incident.escalation.resolve import local_time

if TYPE_CHECKING:
    from incident.directory import Directory


@dataclass(slots=True)
class Planned:
    """One line of a dry run: a page or a skip at an offset from the start."""

    offset: timedelta
    kind: str  # "page" | "skip"
    node: str
    people: list[str] = field(default_factory=list)
    fallback_person: bool = False
    reason: str = ""
    edge: str | None = None
    page: str | None = None
    waits: list[tuple[str, int]] = field(default_factory=list)  # (to, seconds)


def simulate(esc: Escalation, severity: int, type_: str | None, start: datetime,
             horizon: timedelta = timedelta(hours=3), max_steps: int = 60) -> list[Planned]:
    """What the live rules do if nobody acknowledges, from `start` (the real rota)."""
    if esc.graph is None:
        return []
    pages: list[dict] = []
    facts = Facts("DRY-RUN", severity, type_ or "", True, i18n.bilingual("esc.dry_run_title"), "-",
                  pages)
    out: list[Planned] = []
    seq = 0

    def run(now: datetime, starts: list[Start]) -> None:
        made = esc.cascade(facts, now, starts)
        for kind, p in made.events:
            if kind == ev.PAGE_SENT:
                pages.append({**p, "id": p["page"], "ts": now, "acked_at": None})
                out.append(Planned(now - start, "page", p["node"], list(p["to"]),
                                   p["fallback_person"], p["reason"], p.get("edge"), p["page"],
                                   [(n["to"], n["wait_s"]) for n in p["next"]]))
            elif kind == ev.ESCALATION_SKIPPED:
                out.append(Planned(now - start, "skip", p.get("to") or "", reason=p["reason"],
                                   edge=p.get("edge")))

    seq += 1
    run(start, [Start(esc.graph.entry, "start", "incident started", cause=seq)])
    fired: set[str] = set()
    while len(out) < max_steps:
        timers = [t for t in page_timers(pages, esc.graph) if t.id not in fired]
        if not timers:
            break
        due = min(t.due_at for t in timers)
        if due - start > horizon:
            break
        stored = []
        for t in timers:
            if t.due_at == due:
                fired.add(t.id)
                seq += 1
                stored.append(SimpleNamespace(kind=ev.TIMER_FIRED, seq=seq,
                                              payload={"timer": t.id, "kind": t.kind, **t.data}))
        run(due, esc.starts_for(facts, stored, None, due))
    return out


def _dur(seconds: float) -> str:
    m = int(seconds // 60)
    s = int(seconds % 60)
    if s:
        return f"{m}m{s:02d}s"
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


def _people(directory: Directory | None, ids: list[str], lang: str) -> str:
    if directory is None:
        return ", ".join(ids)
    out = []
    for pid in ids:
        p = directory.staff.get(pid)
        out.append(f"{p.display_name(lang)} ({pid})" if p else pid)
    return ", ".join(out)


def render_text(esc: Escalation, severity: int, type_: str | None, at: datetime,
                lang: str = "en") -> list[str]:
    graph = esc.graph
    if graph is None:
        return ["no escalation graph is loaded"]
    local = local_time(esc.directory, at)
    zone = local.tzinfo
    head = (f"Escalation for severity {severity}" + (f", type {type_}" if type_ else "")
            + f", starting {DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} ({zone}) — "
            "if nobody acknowledges:")
    lines = [head]
    for p in simulate(esc, severity, type_, at):
        t = f"T+{_dur(p.offset.total_seconds())}"
        title = graph.title(p.node, lang)
        if p.kind == "skip":
            lines.append(f"  {t:<8} SKIP  {p.node:<18} {title[:30]:<30} {p.reason}")
            continue
        who = _people(esc.directory, p.people, lang) + (" [fallback]" if p.fallback_person
                                                        else "")
        lines.append(f"  {t:<8} page  {p.node:<18} {title[:30]:<30} {who}")
        for to, secs in p.waits:
            lines.append(f"  {'':<8}       └ unacknowledged after {_dur(secs)} → {to}")
    lines.append("")
    lines.append("Edges that apply:")
    for e in graph.edges:
        if e.matches(severity, type_, None):
            lines.append(f"  {e.src:<18} → {e.dst:<18} wait {_dur(e.wait.total_seconds()):<6}"
                         f"{'  ' + e.conditions() if e.conditions() else ''}")
    return lines


def _safe(node: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", node)


def _on_duty(esc: Escalation, node: str, at: datetime | None, lang: str) -> str:
    if at is None:
        return ""
    res = esc.resolve(node, at)
    if not res.targets:
        return "nobody"
    names = ", ".join(t.person.display_name(lang) for t in res.targets)
    return names + (" (fallback)" if res.via_fallback else "")


def _edges(graph: EscalationGraph, severity: int | None, type_: str | None) -> list[Edge]:
    return [e for e in graph.edges if (severity is None and type_ is None)
            or e.matches(severity, type_, None)]


def _label(e: Edge, filtered: bool) -> str:
    label = _dur(e.wait.total_seconds())
    cond = e.conditions()
    if cond and not filtered:
        label += " · " + cond
    elif e.repeat is not None:
        label += f" · at most {e.repeat}×"
    return label


def render_mermaid(esc: Escalation, severity: int | None = None, type_: str | None = None,
                   at: datetime | None = None, lang: str = "en") -> str:
    graph = esc.graph
    assert graph is not None
    lines = ["flowchart TD"]
    for n in graph.nodes:
        duty = _on_duty(esc, n, at, lang)
        text = graph.title(n, lang) + (f"<br/>{duty}" if duty else "")
        text = text.replace('"', "'")
        lines.append(f'  {_safe(n)}["{text}"]')
    for e in _edges(graph, severity, type_):
        lines.append(f'  {_safe(e.src)} -->|"{_label(e, severity is not None)}"| {_safe(e.dst)}')
    makers = [_safe(n) for n in graph.nodes if n in graph.decision_makers]
    lines.append("  classDef decision stroke-width:3px;")
    lines.append("  classDef entry fill:#fde68a;")
    if makers:
        lines.append(f"  class {','.join(makers)} decision;")
    lines.append(f"  class {_safe(graph.entry)} entry;")
    return "\n".join(lines) + "\n"


def render_dot(esc: Escalation, severity: int | None = None, type_: str | None = None,
               at: datetime | None = None, lang: str = "en") -> str:
    graph = esc.graph
    assert graph is not None

    def q(text: str) -> str:
        return '"' + text.replace('"', '\\"') + '"'

    lines = ["digraph escalation {", "  rankdir=TB;", "  node [shape=box];"]
    for n in graph.nodes:
        duty = _on_duty(esc, n, at, lang)
        label = graph.title(n, lang) + (f"\\n{duty}" if duty else "")
        attrs = [f"label={q(label)}"]
        if n in graph.decision_makers:
            attrs.append("penwidth=3")
        if n == graph.entry:
            attrs.append("style=filled, fillcolor=lightyellow")
        lines.append(f"  {q(n)} [{', '.join(attrs)}];")
    for e in _edges(graph, severity, type_):
        lines.append(f"  {q(e.src)} -> {q(e.dst)} [label={q(_label(e, severity is not None))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_AT = re.compile(r"^\s*(?:(mon|tue|wed|thu|fri|sat|sun)\w*\s+)?(\d{1,2}):(\d{2})\s*$", re.I)


def parse_at(text: str, now: datetime, directory: Directory | None) -> datetime:
    """'2026-01-10T03:00', '03:00' (today, site time) or 'sat 03:00' (this week)."""
    local_now = local_time(directory, now)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        m = _AT.match(text)
        if not m:
            raise ValueError(f"'{text}' is not a time — write e.g. 03:00, 'sat 03:00' or "
                             "2026-01-10T03:00 (site-local)") from None
        day, hh, mm = m.groups()
        if int(hh) > 23 or int(mm) > 59:
            raise ValueError(f"'{text}' is not a time of day") from None
        base = local_now.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0)
        if day:
            target = [d.lower() for d in DAY_NAMES].index(day[:3].lower())
            base += timedelta(days=target - base.weekday())
        return base
    if when.tzinfo is None:
        when = when.replace(tzinfo=local_now.tzinfo)
    return when
