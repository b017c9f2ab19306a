"""The pre-flight check: prove, before anyone needs it, that nobody falls through.

Findings (errors make `incident escalation check` exit 1; warnings say where to fix):

- loops that never reach a decision-maker, and loops without a repeat limit (error);
- the top (branch GM) unreachable from the entry point (error); nodes unreachable
  from the entry, and dead ends that lead to no decision-maker (warning);
- hours of the week in which a step resolves to nobody: rota gaps, with the fallback
  that covers them, or a warning when none does;
- people on an escalation path with no paging channel (error);
- single points of failure: a step that rests on one person (warning);
- for each severity, the best- and worst-case time for the top to be paged when
  nobody acknowledges (shortest wait-weighted path, evaluated for every hour of the
  week and every incident type the graph distinguishes).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from incident.errors import Issue, IssueList, Msg, tell
from incident.escalation.model import (
    ALL_HOURS,
    DAY_KEYS,
    WEEK_HOURS,
    Edge,
    EscalationGraph,
    hours_text,
)
from incident.escalation.resolve import paging_channels
from incident.i18n import channel_name, data_lang, t

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.yamlsrc import Located

INF = float("inf")


@dataclass(slots=True)
class Gap:
    node: str
    hours: list[int]  # hours of the week (0 = Mon 00:00) with some minute uncovered
    fallback: str | None
    covered: bool
    no_rota: bool = False


@dataclass(slots=True)
class Reach:
    severity: int
    best: float | None = None  # minutes; None: never
    best_at: tuple[int, str | None] | None = None  # (hour of week, incident type)
    worst: float | None = None
    worst_at: tuple[int, str | None] | None = None
    never: list[tuple[int, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class CheckReport:
    graph: EscalationGraph
    issues: list[Issue] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    reach: list[Reach] = field(default_factory=list)
    reachable: set[str] = field(default_factory=set)
    spofs: dict[str, str] = field(default_factory=dict)  # node -> the one person
    types: list[str | None] = field(default_factory=list)
    fallback_hours: dict[str, int] = field(default_factory=dict)  # person -> hours/week

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def find(self, text: str) -> list[Issue]:
        return [i for i in self.issues if text in i.message]

    def lines(self, directory: Directory | None = None, lang: str | None = "en") -> list[str]:
        g = self.graph

        def say(key: str, **fields: object) -> str:
            return tell(Msg(key, fields), lang)

        typed = len(self.types) > 1
        out = [say("val.esc.check.head", file=g.file, steps=len(g.nodes), edges=len(g.edges),
                   entry=g.entry, top=g.top, makers=", ".join(sorted(g.decision_makers))
                   or Msg("val.esc.check.none")), ""]
        types = say("val.esc.check.types", types=", ".join(
            ty or say("val.esc.check.other_type") for ty in self.types)) if typed else ""
        out.append(say("val.esc.check.time_head", top=g.top, types=types))
        for r in self.reach:
            if r.best is None:
                out.append("  " + say("val.esc.check.never_sev", level=r.severity))
                continue
            varies = r.best != r.worst
            line = "  " + say("val.esc.check.reach", level=r.severity, best=_mins(r.best),
                              best_at=_at(r.best_at, varies, typed, lang), worst=_mins(r.worst),
                              worst_at=_at(r.worst_at, varies, typed, lang),
                              every="" if varies else say("val.esc.check.every_hour"))
            if r.never:
                line += say("val.esc.check.never_in", n=len(r.never))
            out.append(line)
        out.append("")
        out.append(say("val.esc.check.gaps_head"))
        if not self.gaps:
            out.append("  " + say("val.esc.check.none"))
        for gap in self.gaps:
            fb = _person(directory, gap.fallback, lang)
            if gap.no_rota:
                what = say("val.esc.check.no_rota")
                cover = say("val.esc.check.always_fallback" if gap.covered
                            else "val.esc.check.nobody_no_fallback", fallback=fb)
            else:
                what = say("val.esc.check.gap_hours", n=len(gap.hours),
                           hours=_short(hours_text(gap.hours, lang or "en")))
                cover = say("val.esc.check.covered_by" if gap.covered
                            else "val.esc.check.nobody_covers", fallback=fb)
            out.append(f"  {gap.node:<18} {what} → {cover}")
        out.append("")
        if self.spofs:
            out.append(say("val.esc.check.spof_head"))
            for node, pid in self.spofs.items():
                out.append(f"  {node:<18} "
                           + say("val.esc.check.only", person=_person(directory, pid, lang)))
            out.append("")
        if self.issues:
            out.append(say("val.esc.check.findings"))
            out.extend("  " + i.format(lang) for i in self.issues)
            out.append("")
        e, w = len(self.errors), len(self.warnings)
        out.append(say("val.esc.check.summary_errors", e=e, w=w) if e
                   else say("val.esc.check.summary_ok", w=w))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "entry": self.graph.entry, "top": self.graph.top,
            "issues": [i.as_dict() for i in self.issues],
            "gaps": [{"node": g.node, "hours": hours_text(g.hours), "hours_per_week":
                      len(g.hours), "fallback": g.fallback, "covered": g.covered,
                      "no_rota": g.no_rota} for g in self.gaps],
            "reach": [{"severity": r.severity, "best_min": r.best, "worst_min": r.worst,
                       "never": len(r.never)} for r in self.reach],
            "single_points_of_failure": self.spofs,
        }


def _mins(m: float | None) -> str:
    if m is None:
        return "never"
    m = round(m)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


def _at(at: tuple[int, str | None] | None, varies: bool, typed: bool,
        lang: str | None = "en") -> str:
    if at is None or not varies:
        return ""
    h, typ = at
    bits = [t("val.esc.check.starting", lang, when=f"{t(DAY_KEYS[h // 24], lang)} "
                                                 f"{h % 24:02d}:00")]
    if typed:
        bits.append(t("val.esc.check.type", lang,
                      type=typ or t("val.esc.check.other_type", lang)))
    return t("val.esc.check.at", lang, bits=("，" if data_lang(lang) == "zh" else ", ").join(bits))


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _person(directory: Directory | None, pid: str | None, lang: str | None = "en") -> str:
    """'chen.jie (陈杰)' in English, '陈杰（chen.jie）' in Chinese."""
    if pid is None:
        return t("val.esc.check.nobody", lang)
    p = directory.staff.get(pid) if directory is not None else None
    if p is None:
        return pid
    return f"{p.name}（{pid}）" if data_lang(lang) == "zh" else f"{pid} ({p.name})"


def _people(directory: Directory | None, pid: str) -> dict[str, str]:
    """A person named in a finding, in either language."""
    return {code: _person(directory, pid, code) for code in ("en", "zh")}


class _Where:
    """Issues for escalation.yaml and staff.yaml, with lines when known."""

    def __init__(self, graph: EscalationGraph, staff: Located | None):
        self.graph = graph
        self.staff = staff
        self.esc = IssueList(graph.file)
        self.stf = IssueList(staff.file if staff is not None else "staff.yaml")

    def edge(self, edge: Edge, message: Msg, hint: str = "", severity: str = "error",
             field_: str | None = None) -> None:
        path: tuple[Any, ...] = ("edges", edge.index) + ((field_,) if field_ else ())
        self._esc(path, message, hint, severity)

    def node(self, node: str, message: Msg, hint: str = "", severity: str = "warning") -> None:
        line = self.graph.node_line(node)
        self.esc.add(message, line=line, path=f"nodes.{node}" if ("nodes", node) in (
            self.graph.located.locations if self.graph.located else {}) else "",
            hint=hint, severity=severity)

    def top(self, key: str, message: Msg, hint: str = "", severity: str = "error") -> None:
        self._esc((key,), message, hint, severity)

    def _esc(self, path: tuple[Any, ...], message: Msg, hint: str, severity: str) -> None:
        if self.graph.located is not None:
            self.graph.located.add(self.esc, path, message, hint, severity)
        else:
            self.esc.add(message, hint=hint, severity=severity)

    def staff_at(self, path: tuple[Any, ...], message: Msg, hint: str = "",
                 severity: str = "warning") -> None:
        if self.staff is not None:
            self.staff.add(self.stf, path, message, hint, severity)
        else:
            from incident.yamlsrc import dotted

            self.stf.add(message, path=dotted(path), hint=hint, severity=severity)

    def all(self) -> list[Issue]:
        return [*self.esc.items, *self.stf.items]


def check(graph: EscalationGraph, directory: Directory,
          staff: Located | None = None) -> CheckReport:
    """Run every pre-flight check. `staff` (staff.yaml as parsed) adds line numbers to
    findings that are fixed in the staff file."""
    report = CheckReport(graph)
    where = _Where(graph, staff)
    G = graph.graph
    entry, top = graph.entry, graph.top

    reachable = {entry} | nx.descendants(G, entry)
    report.reachable = reachable
    if top not in reachable:
        where.top("top", Msg("val.esc.top_unreachable", {"top": top, "entry": entry}),
                  "val.esc.hint_lead_up")
    for n in graph.nodes:
        if n not in reachable:
            where.node(n, Msg("val.esc.unreachable", {"node": n, "entry": entry}),
                       "val.esc.hint_edge_or_remove")

    makers = graph.decision_makers
    if not makers:
        where.top("decision_makers", Msg("val.esc.no_makers"), "val.esc.hint_makers")
    leads_up = set(makers)
    for m in makers:
        if m in G:
            leads_up |= nx.ancestors(G, m)

    # ---- loops --------------------------------------------------------------------
    depth = _depths(graph)
    for e in graph.edges:
        if e.src == e.dst and e.wait.total_seconds() <= 0:
            where.edge(e, Msg("val.esc.self_no_wait", {"node": e.src}), "val.esc.hint_repeat_wait",
                       field_="wait")
    for scc in nx.strongly_connected_components(G):
        if len(scc) == 1:
            (only,) = scc
            if not G.has_edge(only, only):
                continue
        sub = G.subgraph(scc)
        cycle = nx.find_cycle(sub)
        first = _back_edge([G.edges[c]["edge"] for c in cycle], depth)
        loop = " → ".join([str(u) for u, *_ in cycle] + [str(cycle[0][0])])
        if not scc & leads_up:
            where.edge(first, Msg("val.esc.loop_no_maker", {
                "loop": loop, "makers": ", ".join(sorted(makers)) or Msg("val.esc.none_named")}),
                "val.esc.hint_loop_up")
        unbounded = nx.DiGraph()
        unbounded.add_edges_from((e.src, e.dst, {"edge": e}) for e in _edges_within(graph, scc)
                                 if e.repeat is None)
        try:
            bad = nx.find_cycle(unbounded)
        except nx.NetworkXNoCycle:
            continue
        e0 = _back_edge([unbounded.edges[u, v]["edge"] for u, v in bad], depth)
        loop = " → ".join([str(u) for u, _ in bad] + [str(bad[0][0])])
        where.edge(e0, Msg("val.esc.loop_unbounded", {"loop": loop}), "val.esc.hint_repeat")

    for n in sorted(reachable - leads_up):
        where.node(n, Msg("val.esc.dead_end", {"node": n}), "val.esc.hint_up_ladder",
                   severity="warning")

    # ---- people, channels, rota ---------------------------------------------------------
    order = graph.channels
    on_path: dict[str, list[str]] = {}
    empty_mask: dict[str, int] = {}
    for n in _ordered(graph, reachable):
        node = graph.nodes[n]
        if node.people:
            people = list(node.people)
            reach_people = [p for p in people if paging_channels(directory.staff[p], order)]
            empty_mask[n] = 0 if reach_people else ALL_HOURS
            if len(people) == 1:
                report.spofs[n] = people[0]
                where.node(n, Msg("val.esc.one_person", {
                    "node": n, "person": _people(directory, people[0])}), "val.esc.hint_deputy",
                    severity="warning")
        else:
            role = directory.roles[n]
            slots = directory.rota.slots.get(n, [])
            people = sorted({p for s in slots for p in s.people})
            if role.fallback:
                people.append(role.fallback)
            fb = role.fallback
            fb_ok = fb is not None and bool(paging_channels(directory.staff[fb], order))
            if not any(s.people for s in slots):
                report.gaps.append(Gap(n, list(range(WEEK_HOURS)), fb, fb_ok, no_rota=True))
                empty_mask[n] = 0 if fb_ok else ALL_HOURS
                if not fb_ok:
                    where.staff_at(("roles", n), Msg("val.esc.no_rota", {"node": n}),
                                   "val.esc.hint_fallback_rota")
            else:
                gaps = [d * 24 + h for d, h in directory.rota_gaps(n)]
                mask = 0
                if gaps:
                    report.gaps.append(Gap(n, gaps, fb, fb_ok))
                    if not fb_ok:
                        for h in gaps:
                            mask |= 1 << h
                        where.staff_at(("rota", n), Msg("val.esc.rota_gap", {
                            "node": n, "n": len(gaps), "hours": {
                                code: _short(hours_text(gaps, code), 120)
                                for code in ("en", "zh")}}), "val.esc.hint_fill_rota")
                empty_mask[n] = mask
            holders = {p.id for p in directory.holders(n)} | ({fb} if fb else set())
            if len(holders) == 1:
                (one,) = holders
                report.spofs[n] = one
                where.staff_at(("roles", n), Msg("val.esc.role_one_person", {
                    "node": n, "person": _people(directory, one)}), "val.esc.hint_second")
        for p in people:
            on_path.setdefault(p, [])
            if n not in on_path[p]:
                on_path[p].append(n)
    # ---- one person on call as the fallback for too many hours ----------------------------
    fallback_hours: dict[str, set[int]] = {}
    for gap in report.gaps:
        if gap.fallback and gap.covered and not gap.no_rota:  # no rota: spofs say it
            fallback_hours.setdefault(gap.fallback, set()).update(gap.hours)
    limit = graph.max_fallback_hours
    for pid, hours in sorted(fallback_hours.items()):
        if len(hours) > limit:
            roles = sorted(g.node for g in report.gaps if g.fallback == pid)
            where.staff_at(("people", pid), Msg("val.esc.fallback_hours", {
                "person": _people(directory, pid), "n": len(hours), "roles": ", ".join(roles),
                "limit": limit}), "val.esc.hint_share_fallback")
    report.fallback_hours = {pid: len(h) for pid, h in fallback_hours.items()}
    for pid, nodes in on_path.items():
        person = directory.staff.get(pid)
        if person is not None and not paging_channels(person, order):
            where.staff_at(("people", pid), Msg("val.esc.no_paging_channel", {
                "person": pid, "name": person.name, "nodes": ", ".join(nodes),
                "channels": {"en": " or ".join(order),
                             "zh": "或".join(channel_name(c, "zh") for c in order)}}),
                "val.esc.hint_paging_channel", severity="error")

    # ---- time to the top ----------------------------------------------------------------
    report.types = _types(graph)
    report.reach = _reach(graph, reachable, empty_mask, report.types)
    for r in report.reach:
        if r.best is None and top in reachable:
            where.top("top", Msg("val.esc.never_pages_top", {"level": r.severity, "top": top}),
                      "val.esc.hint_severity_edge", severity="warning")
    report.issues = where.all()
    return report


def _depths(graph: EscalationGraph) -> dict[str, int]:
    """Steps from the entry along the plain ladder (edges without conditions first)."""
    plain = nx.DiGraph()
    plain.add_node(graph.entry)
    plain.add_edges_from((e.src, e.dst) for e in graph.edges
                         if e.severity is None and e.types is None and e.hours is None
                         and e.days is None)
    depth = dict(nx.single_source_shortest_path_length(plain, graph.entry))
    for n, d in nx.single_source_shortest_path_length(graph.graph, graph.entry).items():
        depth.setdefault(n, d + len(graph.nodes))
    return depth


def _back_edge(edges: list[Edge], depth: dict[str, int]) -> Edge:
    """The edge that closes a loop back towards the entry (where a repeat belongs)."""
    far = len(depth) + 1

    def key(e: Edge) -> tuple[int, int]:
        src, dst = depth.get(e.src, far), depth.get(e.dst, far)
        return (0 if dst <= src else 1, -src)

    return min(edges, key=key)


def _edges_within(graph: EscalationGraph, nodes: set[str]) -> list[Edge]:
    return [e for e in graph.edges if e.src in nodes and e.dst in nodes]


def _ordered(graph: EscalationGraph, reachable: set[str]) -> list[str]:
    """Reachable nodes, nearest to the entry first (stable for reports)."""
    order = [graph.entry, *[v for _, v in nx.bfs_edges(graph.graph, graph.entry)]]
    return [n for n in dict.fromkeys(order) if n in reachable]


def _types(graph: EscalationGraph) -> list[str | None]:
    named = sorted({t for e in graph.edges if e.types for t in e.types})
    return [*named, None]  # None: any type no edge names


def _reach(graph: EscalationGraph, reachable: set[str], empty_mask: dict[str, int],
           types: list[str | None]) -> list[Reach]:
    """Shortest wait-weighted time from entry to top, per severity, for every hour of the
    week and type: an empty step passes on at once; a self-loop adds its repeats."""
    entry, top = graph.entry, graph.top
    edges = [e for e in graph.edges if e.src in reachable]
    masks = {e.id: e.hour_mask for e in edges}
    # hours with the same pattern of active edges and empty steps give the same answer
    distinct = sorted(set(masks.values()) | set(empty_mask.values()))
    groups: dict[tuple[int, ...], list[int]] = {}
    for h in range(WEEK_HOURS):
        sig = tuple((m >> h) & 1 for m in distinct)
        groups.setdefault(sig, []).append(h)
    out = []
    for sev in graph.severities:
        r = Reach(sev)
        for typ in types:
            cand = [e for e in edges
                    if (e.severity is None or sev in e.severity)
                    and (e.types is None or (typ is not None and typ in e.types))]
            adj: dict[str, list[Edge]] = {}
            loops: dict[str, list[Edge]] = {}
            for e in cand:
                (loops if e.src == e.dst else adj).setdefault(e.src, []).append(e)
            for hours in groups.values():
                h = hours[0]
                d = _dijkstra(entry, top, adj, loops, masks, empty_mask, h)
                for hh in hours:
                    at = (hh, typ)
                    if d is None:
                        r.never.append(at)
                        continue
                    if r.best is None or d < r.best:
                        r.best, r.best_at = d, at
                    if r.worst is None or d > r.worst:
                        r.worst, r.worst_at = d, at
        out.append(r)
    return out


def _dijkstra(entry: str, top: str, adj: dict[str, list[Edge]], loops: dict[str, list[Edge]],
              masks: dict[str, int], empty: dict[str, int], h: int) -> float | None:
    if (empty.get(top, 0) >> h) & 1:
        return None  # reaching the top's step pages nobody there
    dist = {entry: 0.0}
    heap = [(0.0, entry)]
    done: set[str] = set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        if u == top:
            return d
        done.add(u)
        is_empty = (empty.get(u, 0) >> h) & 1
        extra = 0.0
        if not is_empty:
            for e in loops.get(u, ()):
                if (masks[e.id] >> h) & 1:
                    extra += e.wait_min * (e.repeat or 0)
        for e in adj.get(u, ()):
            if not (masks[e.id] >> h) & 1:
                continue
            nd = d if is_empty else d + e.wait_min + extra
            if nd < dist.get(e.dst, INF):
                dist[e.dst] = nd
                heapq.heappush(heap, (nd, e.dst))
    return None
