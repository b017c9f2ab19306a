"""Load drill scenarios the way playbooks are loaded: strict YAML, typed model, then
every cross-reference (playbook, steps, targets, options, people, roles, channels),
all errors at once with file, line and "did you mean"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from incident.clock import format_duration
from incident.drill import model as m
from incident.errors import Issue, IssueList, ValidationFailed, known, suggest
from incident.playbook.loader import playbook_files
from incident.validation import pydantic_issues
from incident.yamlsrc import Located, PathKey, parse_file, parse_text

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.playbook import Playbook, PlaybookLibrary, playbook_files

DRILLS_DIR = "drills"


@dataclass(slots=True)
class LoadedScenario:
    scenario: m.Scenario
    source: str
    raw: dict[str, Any]
    warnings: list[Issue] = field(default_factory=list)


# ---- pydantic errors -> issues ---------------------------------------------------------

_BY_PARENT: dict[str, type[BaseModel]] = {
    "": m.Scenario, "participants": m.Participant, "injects": m.Inject, "fault": m.Fault,
    "objectives": m.Objective, "rating": m.Rating, "responses": m.Responses,
    "steps": m.Response, "replies": m.ScriptedReply,
}


# ---- cross-references ------------------------------------------------------------------

class _Checker:
    def __init__(self, doc: Located, sc: m.Scenario, issues: IssueList,
                 library: PlaybookLibrary | None, directory: Directory | None,
                 channels: Iterable[str] | None):
        self.doc, self.sc, self.issues = doc, sc, issues
        self.lib, self.dir = library, directory
        self.channels = set(channels) if channels is not None else None
        self.pb: Playbook | None = None

    def err(self, path: PathKey, msg: str, hint: str = "", severity: str = "error") -> None:
        self.doc.add(self.issues, path, msg, hint, severity)

    def run(self) -> None:
        sc = self.sc
        if self.lib is not None:
            if sc.playbook in self.lib.playbooks:
                self.pb = self.lib.playbooks[sc.playbook]
            else:
                self.err(("playbook",), f"unknown playbook '{sc.playbook}'",
                         suggest(sc.playbook, self.lib.playbooks) or known(self.lib.playbooks))
        self.unique()
        self.people()
        self.location()
        if self.pb is not None:
            self.playbook_refs(self.pb)
            if not any(i.severity == "error" for i in self.issues.items):
                self.causal(self.pb)
        for i, inj in enumerate(sc.injects):
            if inj.at > sc.duration:
                self.err(("injects", i, "at"), f"inject '{inj.id}' at {inj.at} comes after the "
                         f"end of the drill ({sc.duration})", "move it earlier or lengthen "
                         "'duration'", severity="warning")
            if inj.fault is not None and self.channels is not None \
                    and inj.fault.channel not in self.channels:
                self.err(("injects", i, "fault", "channel"),
                         f"unknown channel '{inj.fault.channel}'",
                         suggest(inj.fault.channel, self.channels) or known(self.channels))

    def unique(self) -> None:
        for key, items in (("injects", self.sc.injects), ("objectives", self.sc.objectives)):
            seen: dict[str, int] = {}
            for i, item in enumerate(items):
                if item.id in seen:
                    line = self.doc.where((key, seen[item.id], "id"))[0]
                    self.err((key, i, "id"), f"id '{item.id}' is used twice (also on line {line})",
                             "give each its own id")
                else:
                    seen[item.id] = i

    def person(self, path: PathKey, pid: str) -> bool:
        if self.dir is None:
            return True
        if pid not in self.dir.staff:
            self.err(path, f"unknown person '{pid}'", suggest(pid, self.dir.staff)
                     or "use a staff id from staff.yaml")
            return False
        return True

    def role(self, path: PathKey, role: str) -> bool:
        if self.dir is None:
            return True
        if role not in self.dir.roles:
            self.err(path, f"unknown role '{role}'", suggest(role, self.dir.roles)
                     or known(self.dir.roles))
            return False
        return True

    def people(self) -> None:
        sc = self.sc
        self.person(("lead",), sc.lead)
        if sc.point_of_contact:
            self.person(("point_of_contact",), sc.point_of_contact)
        for i, p in enumerate(sc.participants):
            ok_p = self.person(("participants", i, "person"), p.person)
            ok_r = self.role(("participants", i, "role"), p.role)
            if ok_p and ok_r and self.dir is not None \
                    and p.role not in self.dir.staff[p.person].roles:
                self.err(("participants", i, "role"),
                         f"{p.person} plays '{p.role}' but does not hold that role in staff.yaml",
                         "fine for a drill, but a gated step needs a real holder of the role",
                         severity="warning")
        for i, e in enumerate(sc.evaluators):
            self.person(("evaluators", i), e)
        for sid, r in sc.responses.steps.items():
            if r.by is not None:
                self.person(("responses", "steps", sid, "by"), r.by)

    def replies(self, pb: Playbook) -> None:
        """Scripted roll-call replies: a roll_call step to answer, a known unit, and an
        owner of that unit when a person is named."""
        steps = pb.steps()
        calls = [s.id for s in steps.values() if s.kind == "roll_call"]
        for i, r in enumerate(self.sc.replies):
            path = ("replies", i)
            if r.step is not None and (r.step not in steps or steps[r.step].kind != "roll_call"):
                self.err((*path, "step"), f"'{r.step}' is not a roll_call step of playbook "
                         f"'{pb.id}'", suggest(r.step, calls) or
                         (f"roll calls: {', '.join(calls)}" if calls else "it has none"))
            elif r.step is None and not calls:
                self.err(path, f"playbook '{pb.id}' has no roll_call step to answer",
                         "remove 'replies', or add a roll_call step to the playbook")
            if r.at > self.sc.duration:
                self.err((*path, "at"), f"a reply at {r.at} after the question comes after "
                         f"the end of the drill ({self.sc.duration})", "move it earlier",
                         severity="warning")
            if self.dir is None:
                continue
            if r.unit not in self.dir.units:
                self.err((*path, "unit"), f"unknown unit '{r.unit}'",
                         suggest(r.unit, self.dir.units) or "e.g. B3-1301")
                continue
            owners = [p.id for p in self.dir.owners_of(r.unit)]
            if r.person is not None and r.person not in owners:
                self.err((*path, "person"), f"'{r.person}' is not an owner of {r.unit}",
                         f"owners of {r.unit}: {', '.join(owners) or 'none'}")
            elif not owners:
                self.err((*path, "unit"), f"{r.unit} has no owner in the roster to answer",
                         "pick a unit with an owner")

    def location(self) -> None:
        if self.dir is None:
            return
        from incident.directory import SelectorError

        try:
            self.dir.locate(self.sc.location)
        except SelectorError as exc:
            self.err(("location",), f"location '{self.sc.location}': {exc}",
                     getattr(exc, "hint", "") or "e.g. B3-1302 or 'B3 13F'")

    def playbook_refs(self, pb: Playbook) -> None:
        sc = self.sc
        steps = pb.steps()
        targets = {t.id: t for t in pb.targets}
        if sc.severity is not None:
            levels = [s.level for s in pb.severities]
            if sc.severity not in levels:
                self.err(("severity",), f"playbook '{pb.id}' has no severity {sc.severity}",
                         f"use one of {', '.join(map(str, levels))}")
        for key in sc.inputs:
            if key not in pb.inputs:
                self.err(("inputs", key), f"unknown input '{key}' for playbook '{pb.id}'",
                         suggest(key, pb.inputs) or known(pb.inputs))

        def step_ref(path: PathKey, ref: str) -> bool:
            if ref not in steps:
                self.err(path, f"no step '{ref}' in playbook '{pb.id}'",
                         suggest(ref, steps) or known(steps))
                return False
            return True

        for i, o in enumerate(sc.objectives):
            if o.step is not None:
                step_ref(("objectives", i, "step"), o.step)
            if o.target is not None and o.target not in targets:
                self.err(("objectives", i, "target"), f"no target '{o.target}' in playbook "
                         f"'{pb.id}'", suggest(o.target, targets) or known(targets))
            if o.after is not None:
                step_ref(("objectives", i, "after"), o.after)
            # a step an objective measures needs a scripted time: left to the default
            # delay, --auto would score the default, not the rehearsal being replayed
            measured = o.step or (targets[o.target].met_by if o.target in targets else None)
            if measured in steps and measured not in sc.responses.steps:
                self.err(("objectives", i), f"objective '{o.id}' measures step '{measured}', "
                         "which the script does not time: --auto would do it "
                         f"{format_duration(sc.responses.default)} after it is ready",
                         f"add responses.steps.{measured} (e.g. '{measured}: 2m')",
                         severity="warning")
        self.replies(pb)
        for sid, r in sc.responses.steps.items():
            path = ("responses", "steps", sid)
            if not step_ref(path, sid):
                continue
            step = steps[sid]
            if r.option is not None:
                ids = [opt.id for opt in step.options or []]
                if step.kind != "decision":
                    self.err((*path, "option"), f"step '{sid}' is not a decision")
                elif r.option not in ids:
                    self.err((*path, "option"), f"step '{sid}' has no option '{r.option}'",
                             suggest(r.option, ids) or "choose one of: " + ", ".join(ids))
            if r.value is not None and step.kind != "record":
                self.err((*path, "value"), f"step '{sid}' records nothing; remove 'value'")
            elif r.value is not None and step.record is not None \
                    and step.record.type in ("int", "number"):
                try:
                    (int if step.record.type == "int" else float)(str(r.value))
                except ValueError:
                    self.err((*path, "value"), f"step '{sid}' records a number; "
                             f"'{r.value}' is not one")
            if r.start is not None and step.kind != "dispatch":
                self.err((*path, "start"), f"'start' is for dispatch steps; '{sid}' is a "
                         f"{step.kind} step")
            if r.confirm is not None and step.gate is None:
                self.err((*path, "confirm"), f"step '{sid}' has no second-person gate")
            if r.skip is not None and not r.skip.strip():
                self.err((*path, "skip"), "give the reason for skipping")


    def causal(self, pb: Playbook) -> None:
        """The script plays in an order that can happen: no step scripted before what it
        waits for, no inject before the step it follows from, no answer before its
        inject, no objective measured from a step that comes after the one it measures."""
        from incident.drill.script import follows, scripted_times

        sc = self.sc
        steps = pb.steps()
        times = scripted_times(sc, pb)
        injects = {i.id: i for i in sc.injects}

        def tplus(d: timedelta | None) -> str:
            return "never" if d is None else f"T+{format_duration(d)}"

        for i, inj in enumerate(sc.injects):
            if inj.after is None:
                continue
            if inj.after not in steps:
                self.err(("injects", i, "after"), f"no step '{inj.after}' in playbook "
                         f"'{pb.id}'", suggest(inj.after, steps) or known(steps))
                continue
            t = times[inj.after]
            if t.done is None or t.done > inj.at:
                when = ("is never done in the script" if t.done is None
                        else f"is scripted done at {tplus(t.done)}")
                self.err(("injects", i, "at"),
                         f"inject '{inj.id}' at {tplus(inj.at)} follows from step "
                         f"'{inj.after}', which {when}",
                         (f"move the inject to {tplus(t.done)} or later, or script "
                          f"'{inj.after}' earlier (responses.steps.{inj.after})")
                         if t.done is not None else
                         f"script '{inj.after}' in responses.steps, or drop 'after'",
                         severity="error" if t.done is not None else "warning")
        for sid, r in sc.responses.steps.items():
            if sid not in steps:
                continue
            path = ("responses", "steps", sid)
            t = times[sid]
            if r.at is not None and t.ready is not None and r.at < t.ready:
                self.err((*path, "at"),
                         f"step '{sid}' is scripted at {tplus(r.at)}, before what it waits "
                         f"for: '{t.waits_for}' is scripted to settle at {tplus(t.ready)}",
                         f"move it to {tplus(t.ready)} or later, or script "
                         f"'{t.waits_for}' earlier")
            if r.on is None:
                continue
            if r.on not in injects:
                self.err((*path, "on"), f"no inject '{r.on}' in this scenario",
                         suggest(r.on, injects) or known(injects))
                continue
            inj = injects[r.on]
            if t.ready is not None and r.at is None and t.ready + (
                    r.after if r.after is not None else sc.responses.default) < inj.at:
                need = inj.at - t.ready
                self.err(path,
                         f"step '{sid}' answers inject '{inj.id}' ({tplus(inj.at)}) but is "
                         f"scripted done at {tplus(t.ready + (r.after or sc.responses.default))}"
                         f" ({format_duration(r.after or sc.responses.default)} after it is "
                         f"ready at {tplus(t.ready)})",
                         f"script it at least {format_duration(need)} after it is ready "
                         f"(after: {format_duration(need)}), or at: {format_duration(inj.at)}")
            elif r.at is not None and r.at < inj.at:
                self.err((*path, "at"), f"step '{sid}' answers inject '{inj.id}' "
                         f"({tplus(inj.at)}) but is scripted at {tplus(r.at)}",
                         f"move it to {tplus(inj.at)} or later")
        for i, o in enumerate(sc.objectives):
            if o.after is None or o.after not in steps:
                continue
            measured = o.step or next((tg.met_by for tg in pb.targets if tg.id == o.target),
                                      None)
            if measured in steps and (measured == o.after or follows(pb, measured, o.after)):
                self.err(("objectives", i, "after"),
                         f"objective '{o.id}' measures '{measured}' from '{o.after}', which "
                         f"can only happen after it ('{o.after}' waits for '{measured}')",
                         "measure from a step that comes before it, or drop 'after'")


def _check(doc: Located, library: PlaybookLibrary | None, directory: Directory | None,
           channels: Iterable[str] | None) -> LoadedScenario:
    issues = doc.issues()
    if not isinstance(doc.data, dict):
        issues.add("a drill scenario must be a mapping of fields (id:, playbook:, injects: …)",
                   line=1)
        issues.raise_if_errors()
    try:
        sc = m.Scenario.model_validate(doc.data)
    except ValidationError as exc:
        pydantic_issues(doc, exc, issues, m.Scenario)
        issues.raise_if_errors()
        raise  # pragma: no cover
    _Checker(doc, sc, issues, library, directory, channels).run()
    issues.raise_if_errors()
    warnings = [i for i in issues.items if i.severity != "error"]
    return LoadedScenario(sc, doc.file, plain(doc.data), warnings)


def plain(data: Any) -> Any:
    """JSON-safe copy of the raw YAML data (kept in the drill's log)."""
    import json

    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def load_scenario_text(text: str, name: str, library: PlaybookLibrary | None = None,
                       directory: Directory | None = None,
                       channels: Iterable[str] | None = None) -> LoadedScenario:
    return _check(parse_text(text, name), library, directory, channels)


def load_scenario(path: str | Path, library: PlaybookLibrary | None = None,
                  directory: Directory | None = None,
                  channels: Iterable[str] | None = None) -> LoadedScenario:
    return _check(parse_file(path), library, directory, channels)


def drills_dir(playbooks_dir: str | Path) -> Path:
    return Path(playbooks_dir) / DRILLS_DIR


def scenario_files(folder: str | Path) -> list[Path]:
    return playbook_files(folder)  # the same *.yaml / *.yml rule as the playbooks


def find_scenario(name: str, playbooks_dir: str | Path) -> Path:
    """A scenario by file path, or by id / file stem in playbooks/drills/."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    folder = drills_dir(playbooks_dir)
    files = scenario_files(folder) if folder.is_dir() else []
    for f in files:
        if f.stem == name:
            return f
    ids: dict[str, Path] = {}
    for f in files:
        try:
            doc = parse_file(f)
        except ValidationFailed:
            continue
        if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
            ids[doc.data["id"]] = f
    if name in ids:
        return ids[name]
    names = sorted({*ids, *(f.stem for f in files)})
    hint = suggest(name, names) or known(names)
    raise ValidationFailed([Issue(name, f"no drill scenario '{name}' in {folder}",
                                  hint=hint)])
