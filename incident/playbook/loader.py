"""Load playbooks: strict YAML, typed model, then every cross-reference.

A playbook that loads must run: unknown steps, roles, vendors, audiences,
template variables and targets, dependency cycles and unreachable steps are all
reported at once, each with file, line and a suggestion where one exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from incident.errors import Issue, IssueList, ValidationFailed, known, suggest
from incident.playbook.library import PlaybookLibrary as PlaybookLibrary
from incident.playbook.model import KIND_FIELDS, Playbook, Step
from incident.playbook.templates import (
    INCIDENT_VARS,
    TemplateSyntaxError,
    private_problem,
    sample_contexts,
    undeclared,
)
from incident.playbook.templates import check as check_template
from incident.validation import pydantic_issues
from incident.yamlsrc import Located, PathKey, parse_file, parse_text

if TYPE_CHECKING:
    from incident.directory import Directory

DEFAULT_CHANNELS = frozenset({"sms", "email", "chat"})


class _Checker:
    def __init__(self, doc: Located, pb: Playbook, issues: IssueList,
                 directory: Directory | None, channels: Iterable[str]):
        self.doc, self.pb, self.issues, self.dir = doc, pb, issues, directory
        self.channels = set(channels)
        self.steps = pb.steps()
        self.paths: dict[str, PathKey] = {}
        for ti, track in enumerate(pb.tracks):
            for si, step in enumerate(track.steps):
                self.paths.setdefault(step.id, ("tracks", ti, "steps", si))

    def err(self, path: PathKey, msg: str, hint: str = "", severity: str = "error") -> None:
        self.doc.add(self.issues, path, msg, hint, severity)

    def step_ref(self, path: PathKey, ref: str, what: str = "step") -> None:
        if ref not in self.steps:
            self.err(path, f"unknown {what} '{ref}'", suggest(ref, self.steps) or known(self.steps))

    def role_ref(self, path: PathKey, role: str | None) -> None:
        if role is None or self.dir is None:
            return
        if role not in self.dir.roles:
            self.err(path, f"unknown role '{role}'", suggest(role, self.dir.roles)
                     or known(self.dir.roles))

    def run(self) -> None:
        pb = self.pb
        self.unique()
        levels = [s.level for s in pb.severities]
        if pb.default_severity not in levels:
            self.err(("default_severity",), f"severity level {pb.default_severity} is not defined",
                     f"defined levels: {', '.join(map(str, sorted(levels)))}")
        target_ids = {t.id for t in pb.targets}
        for i, sev in enumerate(pb.severities):
            for j, rep in enumerate(sev.report):
                self.role_ref(("severities", i, "report", j, "to"), rep.to)
            for tid in sev.targets:
                if tid not in target_ids:
                    self.err(("severities", i, "targets", tid), f"unknown target '{tid}'",
                             suggest(tid, target_ids) or known(target_ids))
        for i, t in enumerate(pb.targets):
            if t.met_by not in ("resolved", "closed"):
                self.step_ref(("targets", i, "met_by"), t.met_by)
            if t.delivered is not None and (t.met_by not in self.steps
                                            or self.steps[t.met_by].notify is None):
                self.err(("targets", i, "delivered"),
                         f"'delivered' only applies to a target met by a notify step, "
                         f"and '{t.met_by}' is not one",
                         "remove 'delivered', or set met_by to a notify step")
        if "callbacks" in pb.model_fields_set:
            self.role_ref(("callbacks", "by"), pb.callbacks.by)
            self.role_ref(("callbacks", "vulnerable_by"), pb.callbacks.vulnerable_by)
        if "complaints" in pb.model_fields_set:
            self.role_ref(("complaints", "supervisor_role"), pb.complaints.supervisor_role)
        for name, sel in pb.audiences.items():
            self.selector(("audiences", name), sel)
        for sid, step in self.steps.items():
            self.step(self.paths[sid], step)
        self.graph()

    def unique(self) -> None:
        seen: dict[str, PathKey] = {}
        for ti, track in enumerate(self.pb.tracks):
            if any(t.id == track.id for t in self.pb.tracks[:ti]):
                self.err(("tracks", ti, "id"), f"track id '{track.id}' is used twice",
                         "give each track its own id")
            for si, step in enumerate(track.steps):
                path = ("tracks", ti, "steps", si, "id")
                if step.id in seen:
                    line = self.doc.where(seen[step.id])[0]
                    self.err(path, f"step id '{step.id}' is used twice (also on line {line})",
                             "give each step its own id")
                else:
                    seen[step.id] = path
        for what, items in (("severity level", [s.level for s in self.pb.severities]),
                            ("target id", [t.id for t in self.pb.targets])):
            dup = {x for x in items if items.count(x) > 1}
            for x in dup:
                key = "severities" if what.startswith("severity") else "targets"
                self.err((key,), f"{what} '{x}' is defined twice", "keep one")

    def selector(self, path: PathKey, sel: str | list[str]) -> None:
        if self.dir is None:
            return
        from incident.directory import SelectorError, parse_selector

        for i, text in enumerate([sel] if isinstance(sel, str) else sel):
            p = path if isinstance(sel, str) else (*path, i)
            try:
                parse_selector(text)
            except SelectorError as exc:
                self.err(p, f"bad audience selector '{text}': {exc}",
                         getattr(exc, "hint", "") or "")
                continue
            for problem in self.dir.check_selector(text):
                self.err(p, f"audience '{text}': {problem}")

    def template(self, path: PathKey, source: str, allowed: set[str]) -> None:
        try:
            names = undeclared(source)
        except TemplateSyntaxError as exc:
            self.err(path, f"template syntax: {exc.message}",
                     "check the {{ }} and {% %} pairs")
            return
        for name in sorted(names - allowed):
            self.err(path, f"unknown template variable '{name}'",
                     suggest(name, allowed) or known(allowed, 20))
        if not names <= allowed:  # rendering needs every name; the '_' check does not
            problem = private_problem(source)
            if problem:
                self.err(path, problem, "remove them: a message prints the incident's fields, nothing else")
        else:
            records = {s.record.name: s.record.type for s in self.steps.values()
                       if s.record is not None}
            defaults = {k: spec.default for k, spec in self.pb.inputs.items()}
            problem = check_template(source, sample_contexts(names, records, defaults))
            if problem:
                self.err(path, problem, "write the message so it can always be rendered: "
                         "plain {{ names }}, filters like upper/default, no arithmetic "
                         "that can fail")

    def step(self, path: PathKey, step: Step) -> None:
        for field_name in ("options", "dispatch", "notify", "roll_call", "record", "escalate",
                           "wait"):
            wanted = KIND_FIELDS[step.kind] == field_name
            present = getattr(step, field_name) is not None
            if wanted and not present:
                self.err((*path, "kind"), f"a {step.kind} step needs '{field_name}'",
                         f"add '{field_name}:' to step '{step.id}'")
            elif present and not wanted:
                self.err((*path, field_name), f"'{field_name}' does not belong to a {step.kind} step",
                         f"remove it, or change kind to the one that uses '{field_name}'")
        self.role_ref((*path, "assignee"), step.assignee)
        for i, ref in enumerate(step.after):
            self.step_ref((*path, "after", i), ref)
        for i, ref in enumerate(step.join):
            self.step_ref((*path, "join", i), ref)
        if step.due is not None and not hasattr(step.due, "total_seconds"):
            self.step_ref((*path, "due", "after"), step.due.after)
        if step.gate is not None:
            self.role_ref((*path, "gate", "role"), step.gate.role)
        if step.call is not None and self.dir is not None and step.call not in self.dir.externals:
            self.err((*path, "call"), f"unknown external number '{step.call}'",
                     suggest(step.call, self.dir.externals) or known(self.dir.externals))
        if step.options is not None:
            if len(step.options) < 2:
                self.err((*path, "options"), "a decision needs at least two options")
            ids = [o.id for o in step.options]
            for i, opt in enumerate(step.options):
                if ids.count(opt.id) > 1 and ids.index(opt.id) != i:
                    self.err((*path, "options", i, "id"), f"option id '{opt.id}' is used twice")
                for j, ref in enumerate(opt.next):
                    self.step_ref((*path, "options", i, "next", j), ref)
                levels = [sv.level for sv in self.pb.severities]
                if opt.severity is not None and opt.severity not in levels:
                    self.err((*path, "options", i, "severity"),
                             f"severity {opt.severity} is not a level of this playbook",
                             f"use one of {', '.join(map(str, levels))}")
        if step.dispatch is not None:
            d = step.dispatch
            if (d.role is None) == (d.vendor is None):
                self.err((*path, "dispatch"), "dispatch needs exactly one of 'role' or 'vendor'")
            self.role_ref((*path, "dispatch", "role"), d.role)
            if d.vendor is not None and self.dir is not None and d.vendor not in self.dir.vendors:
                self.err((*path, "dispatch", "vendor"), f"unknown vendor '{d.vendor}'",
                         suggest(d.vendor, self.dir.vendors) or known(self.dir.vendors))
        if step.escalate is not None:
            self.role_ref((*path, "escalate", "to"), step.escalate.to)
        if step.notify is not None:
            n = step.notify
            self.audience((*path, "notify"), n.audience, n.channels)
            allowed = set(INCIDENT_VARS) | set(self.pb.inputs) | self.recorded()
            for part in ("subject", "body"):
                for lang in ("en", "zh"):
                    text = getattr(getattr(n.message, part), lang)
                    self.template((*path, "notify", "message", part, lang), text, allowed)
        if step.roll_call is not None:
            rc = step.roll_call
            self.audience((*path, "roll_call"), rc.audience, rc.channels)
            self.role_ref((*path, "roll_call", "team"), rc.team)
            allowed = set(INCIDENT_VARS) | set(self.pb.inputs) | self.recorded()
            for lang in ("en", "zh"):
                self.template((*path, "roll_call", "question", lang),
                              getattr(rc.question, lang), allowed)
        if step.record is not None and step.record.from_roll_call is not None:
            calls = [s.id for s in self.steps.values() if s.kind == "roll_call"]
            want = "int" if step.record.from_roll_call == "safe_count" else "list"
            if not calls:
                self.err((*path, "record", "from_roll_call"),
                         "'from_roll_call' needs a roll_call step in this playbook",
                         "add a step of kind roll_call, or remove 'from_roll_call'")
            elif step.record.type not in (want, "text"):
                self.err((*path, "record", "type"),
                         f"a value from the roll call ({step.record.from_roll_call}) is "
                         f"recorded as type {want}, not {step.record.type}",
                         f"set type: {want}")

    def audience(self, path: PathKey, audience: str | list[str], channels: list[str]) -> None:
        """The audience and channels of a notify or roll_call step (`path` ends at it)."""
        sels = [audience] if isinstance(audience, str) else audience
        for i, sel in enumerate(sels):
            p = (*path, "audience") if isinstance(audience, str) else (*path, "audience", i)
            if sel in self.pb.audiences:
                continue
            if ":" not in sel and " " not in sel and sel not in ("owners", "staff", "vulnerable"):
                self.err(p, f"unknown audience '{sel}'",
                         suggest(sel, self.pb.audiences) or known(self.pb.audiences))
                continue
            self.selector(p, sel)
        for i, ch in enumerate(channels):
            if ch not in self.channels:
                self.err((*path, "channels", i), f"unknown channel '{ch}'",
                         suggest(ch, self.channels) or known(self.channels))

    def recorded(self) -> set[str]:
        return {s.record.name for s in self.steps.values() if s.record is not None}

    def graph(self) -> None:
        import networkx as nx  # ~0.15 s to import: only when a playbook is checked

        g = nx.DiGraph()
        g.add_nodes_from(self.steps)
        cond = self.pb.conditional()
        for sid, step in self.steps.items():
            for dep in [*step.after, *step.join]:
                if dep in self.steps:
                    g.add_edge(dep, sid)
            if step.due is not None and not hasattr(step.due, "total_seconds") \
                    and step.due.after in self.steps:
                g.add_edge(step.due.after, sid, due=True)
            for dec, _opt in cond.get(sid, []):
                g.add_edge(dec, sid)
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            cycle = []
        if cycle:
            chain = " → ".join([a for a, _b in cycle] + [cycle[0][0]])
            self.err((*self.paths[cycle[0][1]], "after"), f"dependency cycle: {chain}",
                     "a step cannot wait, directly or indirectly, for itself")
            return
        # Which decision options must have been chosen for a step to run.
        need: dict[str, dict[str, set[str]]] = {}
        for sid in nx.topological_sort(g):
            step = self.steps[sid]
            req: dict[str, set[str]] = {}
            sources = [*step.after, *[d for d, _ in cond.get(sid, [])]]
            for dep in sources:
                for dec, opts in need.get(dep, {}).items():
                    req[dec] = req[dec] & opts if dec in req else set(opts)
            if sid in cond:
                by_dec: dict[str, set[str]] = {}
                for dec, opt in cond[sid]:
                    by_dec.setdefault(dec, set()).add(opt)
                for dec, opts in by_dec.items():
                    req[dec] = req[dec] & opts if dec in req else set(opts)
            need[sid] = req
            empty = [d for d, opts in req.items() if not opts]
            if empty:
                self.err((*self.paths[sid], "after"),
                         f"step '{sid}' can never run: it needs two different answers to "
                         f"decision '{empty[0]}'",
                         "use 'join:' to wait for whichever branch ran")


def _check(doc: Located, directory: Directory | None, channels: Iterable[str]) -> Playbook:
    issues = doc.issues()
    if not isinstance(doc.data, dict):
        issues.add("a playbook must be a mapping of fields (id:, title:, tracks: …)", line=1)
        issues.raise_if_errors()
    try:
        pb = Playbook.model_validate(doc.data)
    except ValidationError as exc:
        pydantic_issues(doc, exc, issues, Playbook)
        issues.raise_if_errors()
        raise  # pragma: no cover
    _Checker(doc, pb, issues, directory, channels).run()
    issues.raise_if_errors()
    return pb


def load_playbook_text(text: str, name: str, directory: Directory | None = None,
                       channels: Iterable[str] = DEFAULT_CHANNELS) -> Playbook:
    return _check(parse_text(text, name), directory, channels)


def load_playbook(path: str | Path, directory: Directory | None = None,
                  channels: Iterable[str] = DEFAULT_CHANNELS) -> Playbook:
    return _check(parse_file(path), directory, channels)


def playbook_files(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_library(folder: str | Path, directory: Directory | None = None,
                 channels: Iterable[str] = DEFAULT_CHANNELS) -> PlaybookLibrary:
    """All playbooks of a folder; every error of every file is raised together."""
    lib = PlaybookLibrary()
    issues: list[Issue] = []
    files = playbook_files(folder)
    if not files:
        raise ValidationFailed([Issue(str(folder), "no playbooks (*.yaml) found here",
                                      hint="point playbooks_dir at the folder with the playbooks")])
    for path in files:
        try:
            pb = load_playbook(path, directory, channels)
        except ValidationFailed as exc:
            issues.extend(exc.issues)
            continue
        if pb.id in lib.playbooks:
            issues.append(Issue(str(path), f"playbook id '{pb.id}' is also used by "
                                f"{lib.sources[pb.id].name}", line=1, path="id",
                                hint="give each playbook its own id"))
            continue
        lib.playbooks[pb.id] = pb
        lib.sources[pb.id] = path
    if any(i.severity == "error" for i in issues):
        raise ValidationFailed(issues)
    return lib
