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

from incident.errors import Issue, IssueList, Msg, ValidationFailed, known, suggest
from incident.i18n import has
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

    def err(self, path: PathKey, msg: Msg, hint: str | Msg = "",
            severity: str = "error") -> None:
        self.doc.add(self.issues, path, msg, hint, severity)  # type: ignore[arg-type]

    def step_ref(self, path: PathKey, ref: str) -> None:
        if ref not in self.steps:
            self.err(path, Msg("val.pb.unknown_step", {"step": ref}),
                     suggest(ref, self.steps) or known(self.steps))

    def role_ref(self, path: PathKey, role: str | None) -> None:
        if role is None or self.dir is None:
            return
        if role not in self.dir.roles:
            self.err(path, Msg("val.pb.unknown_role", {"role": role}),
                     suggest(role, self.dir.roles) or known(self.dir.roles))

    def run(self) -> None:
        pb = self.pb
        self.unique()
        levels = [s.level for s in pb.severities]
        if pb.default_severity not in levels:
            self.err(("default_severity",),
                     Msg("val.pb.severity_undefined", {"level": pb.default_severity}),
                     Msg("hint.pb.defined_levels",
                         {"levels": ", ".join(map(str, sorted(levels)))}))
        target_ids = {t.id for t in pb.targets}
        for i, sev in enumerate(pb.severities):
            for j, rep in enumerate(sev.report):
                self.role_ref(("severities", i, "report", j, "to"), rep.to)
            for tid in sev.targets:
                if tid not in target_ids:
                    self.err(("severities", i, "targets", tid),
                             Msg("val.pb.unknown_target", {"target": tid}),
                             suggest(tid, target_ids) or known(target_ids))
        for i, t in enumerate(pb.targets):
            if t.met_by not in ("resolved", "closed"):
                self.step_ref(("targets", i, "met_by"), t.met_by)
            if t.delivered is not None and (t.met_by not in self.steps
                                            or self.steps[t.met_by].notify is None):
                self.err(("targets", i, "delivered"),
                         Msg("val.pb.delivered_not_notify", {"step": t.met_by}),
                         Msg("hint.pb.delivered"))
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
                self.err(("tracks", ti, "id"), Msg("val.pb.track_twice", {"track": track.id}),
                         Msg("hint.pb.own_track_id"))
            for si, step in enumerate(track.steps):
                path = ("tracks", ti, "steps", si, "id")
                if step.id in seen:
                    line = self.doc.where(seen[step.id])[0]
                    self.err(path, Msg("val.pb.step_twice", {"step": step.id, "line": line}),
                             Msg("hint.pb.own_step_id"))
                else:
                    seen[step.id] = path
        for key, said, field_name, items in (
                ("severities", "val.pb.level_twice", "level",
                 [s.level for s in self.pb.severities]),
                ("targets", "val.pb.target_twice", "target", [t.id for t in self.pb.targets])):
            dup = {x for x in items if items.count(x) > 1}
            for x in dup:
                self.err((key,), Msg(said, {field_name: x}), Msg("hint.pb.keep_one"))

    def selector(self, path: PathKey, sel: str | list[str]) -> None:
        if self.dir is None:
            return
        from incident.directory import SelectorError, parse_selector

        for i, text in enumerate([sel] if isinstance(sel, str) else sel):
            p = path if isinstance(sel, str) else (*path, i)
            try:
                parse_selector(text)
            except SelectorError as exc:
                self.err(p, Msg("val.pb.bad_selector", {"selector": text,
                                                        "problem": exc.said}),
                         exc.advice or "")
                continue
            for problem in self.dir.check_selector(text):
                self.err(p, Msg("val.pb.audience_problem", {"audience": text,
                                                            "problem": problem}))

    def template(self, path: PathKey, source: str, allowed: set[str]) -> None:
        try:
            names = undeclared(source)
        except TemplateSyntaxError as exc:
            self.err(path, Msg("val.pb.template_syntax", {"problem": exc.message}),
                     Msg("hint.pb.template_pairs"))
            return
        for name in sorted(names - allowed):
            self.err(path, Msg("val.pb.unknown_variable", {"name": name}),
                     suggest(name, allowed) or known(allowed, 20))
        if not names <= allowed:  # rendering needs every name; the '_' check does not
            problem = private_problem(source)
            if problem:
                self.err(path, problem, Msg("hint.pb.template_private"))
        else:
            records = {s.record.name: s.record.type for s in self.steps.values()
                       if s.record is not None}
            defaults = {k: spec.default for k, spec in self.pb.inputs.items()}
            problem = check_template(source, sample_contexts(names, records, defaults))
            if problem:
                self.err(path, problem, Msg("hint.pb.template_render"))

    def step(self, path: PathKey, step: Step) -> None:
        for field_name in ("options", "dispatch", "notify", "roll_call", "record", "escalate",
                           "wait"):
            wanted = KIND_FIELDS[step.kind] == field_name
            present = getattr(step, field_name) is not None
            if wanted and not present:
                self.err((*path, "kind"), Msg("val.pb.kind_needs", {
                    "kind": kind_name(step.kind), "field": field_name}),
                    Msg("hint.pb.add_field", {"field": field_name, "step": step.id}))
            elif present and not wanted:
                self.err((*path, field_name), Msg("val.pb.field_not_kind", {
                    "field": field_name, "kind": kind_name(step.kind)}),
                    Msg("hint.pb.field_not_kind", {"field": field_name}))
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
            self.err((*path, "call"), Msg("val.pb.unknown_external", {"name": step.call}),
                     suggest(step.call, self.dir.externals) or known(self.dir.externals))
        if step.options is not None:
            if len(step.options) < 2:
                self.err((*path, "options"), Msg("val.pb.two_options"))
            ids = [o.id for o in step.options]
            for i, opt in enumerate(step.options):
                if ids.count(opt.id) > 1 and ids.index(opt.id) != i:
                    self.err((*path, "options", i, "id"),
                             Msg("val.pb.option_twice", {"option": opt.id}))
                for j, ref in enumerate(opt.next):
                    self.step_ref((*path, "options", i, "next", j), ref)
                levels = [sv.level for sv in self.pb.severities]
                if opt.severity is not None and opt.severity not in levels:
                    self.err((*path, "options", i, "severity"),
                             Msg("val.pb.option_severity", {"level": opt.severity}),
                             Msg("hint.pb.use_levels", {"levels": ", ".join(map(str, levels))}))
        if step.dispatch is not None:
            d = step.dispatch
            if (d.role is None) == (d.vendor is None):
                self.err((*path, "dispatch"), Msg("val.pb.dispatch_one"))
            self.role_ref((*path, "dispatch", "role"), d.role)
            if d.vendor is not None and self.dir is not None and d.vendor not in self.dir.vendors:
                self.err((*path, "dispatch", "vendor"),
                         Msg("val.pb.unknown_vendor", {"vendor": d.vendor}),
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
                         Msg("val.pb.from_roll_call_none"), Msg("hint.pb.from_roll_call"))
            elif step.record.type not in (want, "text"):
                self.err((*path, "record", "type"),
                         Msg("val.pb.record_type", {"source": step.record.from_roll_call,
                                                    "want": want, "got": step.record.type}),
                         Msg("hint.pb.set_type", {"want": want}))

    def audience(self, path: PathKey, audience: str | list[str], channels: list[str]) -> None:
        """The audience and channels of a notify or roll_call step (`path` ends at it)."""
        sels = [audience] if isinstance(audience, str) else audience
        for i, sel in enumerate(sels):
            p = (*path, "audience") if isinstance(audience, str) else (*path, "audience", i)
            if sel in self.pb.audiences:
                continue
            if ":" not in sel and " " not in sel and sel not in ("owners", "staff", "vulnerable"):
                self.err(p, Msg("val.pb.unknown_audience", {"audience": sel}),
                         suggest(sel, self.pb.audiences) or known(self.pb.audiences))
                continue
            self.selector(p, sel)
        for i, ch in enumerate(channels):
            if ch not in self.channels:
                self.err((*path, "channels", i), Msg("val.pb.unknown_channel", {"channel": ch}),
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
            self.err((*self.paths[cycle[0][1]], "after"), Msg("val.pb.cycle", {"chain": chain}),
                     Msg("hint.pb.cycle"))
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
                         Msg("val.pb.never_runs", {"step": sid, "decision": empty[0]}),
                         Msg("hint.pb.join"))


def kind_name(kind: str) -> Msg | str:
    """A step kind as its reader calls it (the catalogue's step.kind.*), else as written."""
    key = "step.kind." + kind
    return Msg(key) if has(key) else kind


def _check(doc: Located, directory: Directory | None, channels: Iterable[str]) -> Playbook:
    issues = doc.issues()
    if not isinstance(doc.data, dict):
        issues.add("val.pb.not_mapping", line=1)
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
        raise ValidationFailed([Issue(str(folder), "val.pb.no_playbooks",
                                      hint="hint.pb.playbooks_dir")])
    for path in files:
        try:
            pb = load_playbook(path, directory, channels)
        except ValidationFailed as exc:
            issues.extend(exc.issues)
            continue
        if pb.id in lib.playbooks:
            issues.append(Issue(str(path), Msg("val.pb.id_twice", {
                "playbook": pb.id, "file": lib.sources[pb.id].name}), line=1, path="id",
                hint="hint.pb.own_playbook_id"))
            continue
        lib.playbooks[pb.id] = pb
        lib.sources[pb.id] = path
    if any(i.severity == "error" for i in issues):
        raise ValidationFailed(issues)
    return lib
