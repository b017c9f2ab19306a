"""The loaded escalation graph (what the engine uses while incidents run).

Its own module, without the YAML schema, pydantic or networkx, so that reading it from
the compiled cache (incident/compiled.py) costs no more than the dataclasses; the
networkx view (`EscalationGraph.graph`) is built on first use by the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

    from incident.yamlsrc import Located

FILE = "escalation.yaml"
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEK_HOURS = 7 * 24
ALL_HOURS = (1 << WEEK_HOURS) - 1


@dataclass(frozen=True, slots=True)
class Edge:
    id: str  # "cs_supervisor>project_manager" (+ "#n" when a pair repeats)
    src: str
    dst: str
    wait: timedelta
    repeat: int | None = None
    severity: frozenset[int] | None = None
    types: frozenset[str] | None = None
    hours: tuple[int, int] | None = None  # site-local minutes after midnight
    days: frozenset[int] | None = None
    index: int = 0  # position under 'edges:'

    @property
    def wait_min(self) -> float:
        return self.wait.total_seconds() / 60

    def matches(self, severity: int | None, type_: str | None, local: datetime | None) -> bool:
        if self.severity is not None and severity is not None and severity not in self.severity:
            return False
        if self.types is not None and type_ is not None and type_ not in self.types:
            return False
        if local is not None and (self.hours is not None or self.days is not None):
            return self.active_at(local.weekday(), local.hour * 60 + local.minute)
        return True

    def active_at(self, weekday: int, minute: int) -> bool:
        """The time conditions at a site-local weekday and minute of the day."""
        day = weekday
        if self.hours is not None:
            start, end = self.hours
            if start < end:
                if not start <= minute < end:
                    return False
            elif start > end:  # runs past midnight: the early part belongs to yesterday
                if minute >= start:
                    pass
                elif minute < end:
                    day = (weekday - 1) % 7
                else:
                    return False
        return self.days is None or day in self.days

    @property
    def hour_mask(self) -> int:
        """Bit h set when the edge applies at the start of hour-of-week h."""
        if self.hours is None and self.days is None:
            return ALL_HOURS
        mask = 0
        for h in range(WEEK_HOURS):
            if self.active_at(h // 24, (h % 24) * 60):
                mask |= 1 << h
        return mask

    def conditions(self) -> str:
        bits = []
        if self.severity is not None:
            bits.append("severity " + ",".join(str(s) for s in sorted(self.severity)))
        if self.types is not None:
            bits.append("type " + ",".join(sorted(self.types)))
        if self.days is not None:
            bits.append(days_text(self.days))
        if self.hours is not None:
            bits.append(f"{_hm(self.hours[0])}-{_hm(self.hours[1])}")
        if self.repeat is not None:
            bits.append(f"at most {self.repeat}×")
        return ", ".join(bits)


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def days_text(days: frozenset[int] | list[int]) -> str:
    return ",".join(DAY_NAMES[d].lower() for d in sorted(days))


@dataclass(slots=True)
class Node:
    id: str
    kind: str  # "role" | "person"
    title: dict[str, str]
    people: tuple[str, ...] = ()  # named people (a person node: itself)
    role: str | None = None


@dataclass(slots=True)
class EscalationGraph:
    """The validated escalation graph. `graph` is a networkx MultiDiGraph whose edges
    carry their `Edge` under the attribute 'edge' (key = edge id)."""

    entry: str
    top: str
    decision_makers: frozenset[str]
    severities: tuple[int, ...]
    channels: tuple[str, ...]
    nodes: dict[str, Node]
    edges: list[Edge]
    nx_graph: nx.MultiDiGraph | None = field(default=None, repr=False, compare=False)
    located: Located | None = None
    file: str = FILE
    max_fallback_hours: int = 40  # the check warns past this much fallback cover a week
    # overdue steps page a person at most once per this interval; the page lists them all
    reminder_interval: timedelta = timedelta(minutes=5)
    _out: dict[str, list[Edge]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._out = {n: [] for n in self.nodes}
        for e in self.edges:
            self._out[e.src].append(e)

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The graph as a networkx MultiDiGraph (nodes carry their Node under 'node',
        edges their Edge under 'edge', key = edge id); built on first use."""
        if self.nx_graph is None:
            import networkx as nx

            g = nx.MultiDiGraph()
            for nid, node in self.nodes.items():
                g.add_node(nid, node=node)
            for e in self.edges:
                g.add_edge(e.src, e.dst, key=e.id, edge=e, weight=e.wait_min)
            self.nx_graph = g
        return self.nx_graph

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (compiled cache) without the networkx view (rebuilt when needed) and
        without YAML positions: the running engine never prints file lines, and
        `incident escalation check` always validates the file afresh."""
        state = {name: getattr(self, name) for name in self.__dataclass_fields__}
        state["nx_graph"] = None
        state["located"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def out_edges(self, node: str) -> list[Edge]:
        return self._out.get(node, [])

    def where(self, path: tuple[Any, ...]) -> tuple[int | None, int | None]:
        return self.located.where(path) if self.located is not None else (None, None)

    def edge_line(self, edge: Edge) -> int | None:
        return self.where(("edges", edge.index))[0]

    def node_line(self, node: str) -> int | None:
        if ("nodes", node) in (self.located.locations if self.located else {}):
            return self.where(("nodes", node))[0]
        for e in self.edges:
            if node in (e.src, e.dst):
                return self.edge_line(e)
        return None

    def title(self, node: str, lang: str = "en") -> str:
        n = self.nodes.get(node)
        return n.title.get(lang, node) if n else node
