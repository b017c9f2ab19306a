"""Who a node of the escalation graph pages at a given moment, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from incident.engine.context import local_zone

if TYPE_CHECKING:
    from incident.directory import Directory, Person
    from incident.escalation.model import EscalationGraph


@dataclass(frozen=True, slots=True)
class Target:
    person: Person
    channel: str  # first paging channel the person has
    address: str
    fallbacks: tuple[str, ...]  # further channels they have, in paging order


@dataclass(slots=True)
class Resolution:
    node: str
    targets: list[Target] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # on duty, but no paging channel
    via_fallback: bool = False
    why_empty: str = ""

    @property
    def people(self) -> list[str]:
        return [t.person.id for t in self.targets]


def paging_channels(person: Person, order: tuple[str, ...]) -> list[str]:
    have = person.channels
    return [c for c in order if have.get(c)]


def local_time(directory: Directory | None, at: datetime) -> datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(local_zone(directory))


def rostered(directory: Directory, role: str, at: datetime) -> list[Person]:
    local = local_time(directory, at)
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    return [directory.staff[p] for p in directory.rota.at(role, minute) if p in directory.staff]


def resolve(graph: EscalationGraph | None, directory: Directory | None, node: str,
            at: datetime) -> Resolution:
    """The people a node pages at `at`: named people, else the rota, else the role's
    fallback; each with their first paging channel and the rest as fallbacks."""
    res = Resolution(node)
    order = graph.channels if graph is not None else ("chat", "sms")
    if directory is None:
        res.why_empty = "no staff directory is loaded"
        return res
    spec = graph.nodes.get(node) if graph is not None else None
    people: list[Person]
    when = local_time(directory, at).strftime("%a %H:%M")
    if spec is not None and spec.people:
        people = [directory.staff[p] for p in spec.people if p in directory.staff]
    elif node in directory.roles:
        people = rostered(directory, node, at)
        if not people:
            fb = directory.fallback(node)
            if fb is None:
                res.why_empty = (f"nobody is rostered as {node} at {when} and the role has no "
                                 "fallback")
                return res
            people, res.via_fallback = [fb], True
    elif node in directory.staff:
        people = [directory.staff[node]]
    else:
        res.why_empty = f"'{node}' is not a role or person in the directory"
        return res
    _reach(res, people, order, f"on duty as {node} at {when}")
    return res


def _reach(res: Resolution, people: list[Person], order: tuple[str, ...], as_what: str) -> None:
    """Each person with their first paging channel; those without one are unreachable."""
    for person in people:
        chans = paging_channels(person, order)
        if not chans:
            res.unreachable.append(person.id)
            continue
        res.targets.append(Target(person, chans[0], person.channels[chans[0]], tuple(chans[1:])))
    if not res.targets and not res.why_empty:
        who = ", ".join(res.unreachable)
        res.why_empty = (f"{who} {'is' if len(res.unreachable) == 1 else 'are'} {as_what} "
                         f"but cannot be paged (no {'/'.join(order)})")


def resolve_players(graph: EscalationGraph | None, directory: Directory | None, node: str,
                    players: list[tuple[str, str]], scenario: str) -> Resolution:
    """Who a node pages in a scenario drill: the scenario's players of that role (or the
    node's named people who take part), never the rota. A drill paging whoever is on
    duty that night would wake people who are not in the exercise, and the drill's
    acknowledgement times would measure the wrong people."""
    res = Resolution(node)
    order = graph.channels if graph is not None else ("chat", "sms")
    if directory is None:
        res.why_empty = "no staff directory is loaded"
        return res
    in_play = list(dict.fromkeys(p for p, _ in players))
    spec = graph.nodes.get(node) if graph is not None else None
    if spec is not None and spec.people:
        ids = [p for p in spec.people if p in in_play]
    elif node in directory.roles:
        ids = [p for p, role in players if role == node]
    elif node in directory.staff:
        ids = [node] if node in in_play else []
    else:
        res.why_empty = f"'{node}' is not a role or person in the directory"
        return res
    people = [directory.staff[p] for p in dict.fromkeys(ids) if p in directory.staff]
    if not people:
        res.why_empty = (f"nobody plays {node} in drill scenario '{scenario}' "
                         "(a drill pages its players, not the rota)")
        return res
    _reach(res, people, order, f"playing {node} in drill scenario '{scenario}'")
    return res
