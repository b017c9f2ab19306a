"""contacts/escalation.yaml → a validated networkx graph of who escalates to whom.

Nodes are roles of the directory (the rota says who is on duty) or named staff;
edges say "escalates to" with a wait, conditions and an optional repeat limit.
Every name is checked against the directory; every finding names file and line
and, for a misspelt name, suggests the one meant.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from incident.directory.schema import Bilingual, Duration, Id, IdList, Text, parse_days
from incident.directory.validate import validate
from incident.errors import Msg, ValidationFailed, known, suggest
from incident.escalation.graph import (  # noqa: F401 — the loaded graph, re-exported here
    ALL_HOURS,
    DAY_NAMES,
    FILE,
    WEEK_HOURS,
    Edge,
    EscalationGraph,
    Node,
    days_text,
)
from incident.i18n import N_, data_lang, t
from incident.yamlsrc import Located, parse_file

if TYPE_CHECKING:
    from incident.directory import Directory

#: the days of the week as a reader says them (DAY_NAMES in English, 周一… in Chinese)
DAY_KEYS = (N_("val.esc.day_mon"), N_("val.esc.day_tue"), N_("val.esc.day_wed"),
            N_("val.esc.day_thu"), N_("val.esc.day_fri"), N_("val.esc.day_sat"),
            N_("val.esc.day_sun"))


CHANNELS = ("chat", "sms", "email")


# ---- the YAML schema -----------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _levels(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        raise ValueError(f"'{value}' is not a list of severity levels — write them like "
                         "[1, 2] (level 1 is the most severe)")
    return value


Levels = Annotated[list[Annotated[int, Field(ge=1, le=9)]], BeforeValidator(_levels)]
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _hours(value: Any) -> tuple[int, int]:
    m = _HOURS.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not a time window — write it like '22:00-08:00' "
                         "(site-local time; it may run past midnight)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"'{value}' has an impossible time — hours run 00-23 (24:00 only as "
                         "an end), minutes 00-59")
    return h1 * 60 + m1, h2 * 60 + m2


def _days(value: Any) -> list[int]:
    return parse_days(str(value))


class WhenIn(_Strict):
    severity: Levels | None = Field(
        default=None, description="only at these severity levels, e.g. [1, 2] (1 = most severe)")
    types: IdList | None = Field(default=None, description="only for these incident types")
    hours: Annotated[tuple[int, int], BeforeValidator(_hours)] | None = Field(
        default=None, description="only in this site-local time window, e.g. '22:00-08:00'")
    days: Annotated[list[int], BeforeValidator(_days)] | None = Field(
        default=None, description="only on these days, e.g. mon-fri or 'sat,sun'")


class EdgeIn(_Strict):
    from_: Id = Field(alias="from")
    to: IdList = Field(min_length=1)
    wait: Duration = Field(description="minutes (5) or a duration ('90s', '1h') without an "
                           "acknowledgement before this edge is followed")
    repeat: Annotated[int, Field(ge=1, le=20)] | None = Field(
        default=None, description="follow this edge at most N times per incident (loops)")
    when: WhenIn | None = None
    note: Text = ""


class NodeIn(_Strict):
    title: Bilingual | None = None
    people: IdList = Field(default=[], description="named staff paged whatever the rota says")
    note: Text = ""


class EscalationFile(_Strict):
    entry: Id = Field(description="the node paged when an incident starts")
    top: Id = Field(description="the node the check times (the branch general manager)")
    decision_makers: IdList | None = Field(
        default=None, description="nodes with authority (default: roles of level 2 and up)")
    severities: Levels = Field(description="the severity levels in use, e.g. [1, 2, 3]")
    channels: list[Literal["chat", "sms", "email"]] = Field(
        default=["chat", "sms"], min_length=1,
        description="paging order: the first a person has is used, the rest are fallbacks")
    nodes: dict[Id, NodeIn] = {}
    edges: list[EdgeIn] = Field(min_length=1)
    max_fallback_hours: Annotated[int, Field(ge=1, le=168)] = Field(
        default=40, description="the check warns when one person is the fallback for more "
        "hours a week than this (a fallback is someone at home, on call)")
    reminder_interval: Duration = Field(
        default=timedelta(minutes=5),
        description="overdue steps page a person at most once per this interval (minutes "
        "or '90s'); the page lists every step overdue by then")


def load_escalation(path: str | Path, directory: Directory) -> EscalationGraph:
    """Read and validate escalation.yaml against the directory; raise ValidationFailed
    with every error (file, line, suggestion)."""
    return build_graph(parse_file(path), directory)


def build_graph(located: Located, directory: Directory) -> EscalationGraph:
    issues = located.issues()
    model = validate(EscalationFile, located, issues)
    if model is None:
        issues.raise_if_errors()
        raise ValidationFailed(issues.items)  # pragma: no cover
    names = [*directory.roles, *directory.staff]

    def check_name(path: tuple[Any, ...], name: str) -> bool:
        if name in directory.roles or name in directory.staff:
            return True
        hint = suggest(name, names) or Msg("val.esc.hint_roles", {"known": known(directory.roles)})
        located.add(issues, path, "val.esc.unknown_name", hint, name=name)
        return False

    def node_for(name: str) -> Node:
        if name in directory.roles:
            role = directory.roles[name]
            return Node(name, "role", dict(role.title), role=name)
        p = directory.staff[name]
        return Node(name, "person", {"en": p.name_en or p.name, "zh": p.name}, (name,))

    nodes: dict[str, Node] = {}
    for nid, spec in model.nodes.items():
        if not check_name(("nodes", nid), nid):
            continue
        node = node_for(nid)
        if spec.title is not None:
            node.title = spec.title.model_dump()
        for i, pid in enumerate(spec.people):
            if pid not in directory.staff:
                located.add(issues, ("nodes", nid, "people", i), "val.esc.unknown_person",
                            suggest(pid, directory.staff) or "val.esc.hint_staff_id", person=pid)
        people = tuple(p for p in spec.people if p in directory.staff)
        if people:
            node.people = people
        nodes[nid] = node

    edges: list[Edge] = []
    seen_pairs: dict[tuple[str, str], int] = {}
    for i, e in enumerate(model.edges):
        ok = check_name(("edges", i, "from"), e.from_)
        dsts = []
        for j, dst in enumerate(e.to):
            if check_name(("edges", i, "to", j), dst):
                dsts.append(dst)
        if e.when is not None and e.when.severity is not None:
            for k, level in enumerate(e.when.severity):
                if level not in model.severities:
                    located.add(issues, ("edges", i, "when", "severity", k),
                                "val.esc.unknown_severity", "val.esc.hint_severity", level=level,
                                levels=", ".join(map(str, model.severities)))
        if not ok:
            continue
        for dst in dsts:
            for name in (e.from_, dst):
                if name not in nodes:
                    nodes[name] = node_for(name)
            n = seen_pairs.get((e.from_, dst), 0) + 1
            seen_pairs[(e.from_, dst)] = n
            eid = f"{e.from_}>{dst}" + (f"#{n}" if n > 1 else "")
            w = e.when
            edges.append(Edge(
                eid, e.from_, dst, e.wait, e.repeat,
                frozenset(w.severity) if w and w.severity is not None else None,
                frozenset(w.types) if w and w.types is not None else None,
                w.hours if w else None,
                frozenset(w.days) if w and w.days is not None else None, i))
        if e.wait < timedelta(0):
            located.add(issues, ("edges", i, "wait"), "val.esc.negative_wait",
                        "val.esc.hint_wait_zero")

    if model.reminder_interval <= timedelta(0):
        located.add(issues, ("reminder_interval",), "val.esc.reminder_positive",
                    "val.esc.hint_reminder")
    for key in ("entry", "top"):
        name = getattr(model, key)
        if check_name((key,), name) and name not in nodes:
            located.add(issues, (key,), "val.esc.not_on_edge",
                        suggest(name, nodes) or "val.esc.hint_add_edge", name=name)
    if model.decision_makers is not None:
        makers = []
        for i, name in enumerate(model.decision_makers):
            if check_name(("decision_makers", i), name):
                makers.append(name)
    else:
        makers = [n for n, node in nodes.items() if node.role is not None
                  and directory.roles[node.role].level >= 2]
    issues.raise_if_errors()

    graph = EscalationGraph(model.entry, model.top, frozenset(makers),
                            tuple(model.severities), tuple(model.channels), nodes, edges, None,
                            located, located.file, model.max_fallback_hours,
                            model.reminder_interval)
    graph.graph  # noqa: B018 — built now, so a broken graph fails while loading
    return graph


def hours_text(hours: list[int] | set[int], lang: str = "en") -> str:
    """Hours of the week (0 = Mon 00:00) as compact ranges: 'Mon 18:00-Tue 09:00, …'."""
    hs = sorted(set(hours))
    if not hs:
        return ""
    if len(hs) == WEEK_HOURS:
        return t("esc.all_week", lang)
    runs: list[list[int]] = []
    for h in hs:
        if runs and h == runs[-1][1]:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == WEEK_HOURS:  # wraps Sunday night
        runs[0][0] = runs[-1][0] - WEEK_HOURS
        runs.pop()

    def at(h: int) -> str:
        h %= WEEK_HOURS
        return f"{t(DAY_KEYS[h // 24], lang)} {h % 24:02d}:00"

    # the same window on several days reads better as "18:00-09:00 mon,tue,…"
    windows: dict[tuple[int, int], list[int]] = {}
    for a, b in runs:
        windows.setdefault((a % 24, b - a), []).append((a % WEEK_HOURS) // 24)
    out = []
    for (start, length), days in windows.items():
        if length >= 24 or len(days) == 1:
            for d in days:
                a = d * 24 + start
                b = a + length
                same_day = length < 24 and (b - 1) // 24 == a // 24
                out.append(f"{at(a)}-{b % 24:02d}:00" if same_day else f"{at(a)}-{at(b)}")
            continue
        zh = data_lang(lang) == "zh"
        when = t("val.esc.daily", lang) if len(days) == 7 else (
            "、".join(t(DAY_KEYS[d], lang) for d in sorted(days)) if zh
            else ",".join(DAY_NAMES[d].lower() for d in sorted(days)))
        out.append(f"{start:02d}:00-{(start + length) % 24:02d}:00 {when}")
    return ("；" if data_lang(lang) == "zh" else ", ").join(out)
