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
from incident.errors import Issue, IssueList, Msg, ValidationFailed, known, suggest
from incident.playbook.loader import kind_name, playbook_files
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

    def err(self, path: PathKey, msg: Msg, hint: str | Msg = "",
            severity: str = "error") -> None:
        self.doc.add(self.issues, path, msg, hint, severity)  # type: ignore[arg-type]

    def run(self) -> None:
        sc = self.sc
        if self.lib is not None:
            if sc.playbook in self.lib.playbooks:
                self.pb = self.lib.playbooks[sc.playbook]
            else:
                self.err(("playbook",), Msg("val.drill.unknown_playbook",
                                            {"playbook": sc.playbook}),
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
                self.err(("injects", i, "at"), Msg("val.drill.inject_late", {
                    "inject": inj.id, "at": str(inj.at), "duration": str(sc.duration)}),
                    Msg("val.drill.hint_lengthen"), severity="warning")
            if inj.fault is not None and self.channels is not None \
                    and inj.fault.channel not in self.channels:
                self.err(("injects", i, "fault", "channel"),
                         Msg("val.drill.unknown_channel", {"channel": inj.fault.channel}),
                         suggest(inj.fault.channel, self.channels) or known(self.channels))

    def unique(self) -> None:
        for key, items in (("injects", self.sc.injects), ("objectives", self.sc.objectives)):
            seen: dict[str, int] = {}
            for i, item in enumerate(items):
                if item.id in seen:
                    line = self.doc.where((key, seen[item.id], "id"))[0]
                    self.err((key, i, "id"), Msg("val.drill.id_twice",
                                                 {"id": item.id, "line": line}),
                             Msg("val.drill.hint_own_id"))
                else:
                    seen[item.id] = i

    def person(self, path: PathKey, pid: str) -> bool:
        if self.dir is None:
            return True
        if pid not in self.dir.staff:
            self.err(path, Msg("val.drill.unknown_person", {"person": pid}),
                     suggest(pid, self.dir.staff) or Msg("val.drill.hint_staff_id"))
            return False
        return True

    def role(self, path: PathKey, role: str) -> bool:
        if self.dir is None:
            return True
        if role not in self.dir.roles:
            self.err(path, Msg("val.drill.unknown_role", {"role": role}),
                     suggest(role, self.dir.roles) or known(self.dir.roles))
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
                         Msg("val.drill.role_not_held", {"person": p.person, "role": p.role}),
                         Msg("val.drill.hint_role_not_held"),
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
                self.err((*path, "step"), Msg("val.drill.not_roll_call",
                                              {"step": r.step, "playbook": pb.id}),
                         suggest(r.step, calls) or
                         (Msg("val.drill.hint_roll_calls", {"steps": ", ".join(calls)})
                          if calls else Msg("val.drill.hint_no_roll_calls")))
            elif r.step is None and not calls:
                self.err(path, Msg("val.drill.no_roll_call", {"playbook": pb.id}),
                         Msg("val.drill.hint_replies"))
            if r.at > self.sc.duration:
                self.err((*path, "at"), Msg("val.drill.reply_late", {
                    "at": str(r.at), "duration": str(self.sc.duration)}),
                    Msg("val.drill.hint_earlier"), severity="warning")
            if self.dir is None:
                continue
            if r.unit not in self.dir.units:
                self.err((*path, "unit"), Msg("val.drill.unknown_unit", {"unit": r.unit}),
                         suggest(r.unit, self.dir.units) or Msg("val.drill.hint_unit"))
                continue
            owners = [p.id for p in self.dir.owners_of(r.unit)]
            if r.person is not None and r.person not in owners:
                self.err((*path, "person"), Msg("val.drill.not_owner",
                                                {"person": r.person, "unit": r.unit}),
                         Msg("val.drill.hint_owners", {
                             "unit": r.unit,
                             "owners": ", ".join(owners) or Msg("val.drill.none")}))
            elif not owners:
                self.err((*path, "unit"), Msg("val.drill.unit_no_owner", {"unit": r.unit}),
                         Msg("val.drill.hint_pick_unit"))

    def location(self) -> None:
        if self.dir is None:
            return
        from incident.directory import SelectorError

        try:
            self.dir.locate(self.sc.location)
        except SelectorError as exc:
            self.err(("location",), Msg("val.drill.bad_location", {
                "location": self.sc.location, "problem": exc.said}),
                exc.advice or Msg("val.drill.hint_location"))

    def playbook_refs(self, pb: Playbook) -> None:
        sc = self.sc
        steps = pb.steps()
        targets = {t.id: t for t in pb.targets}
        if sc.severity is not None:
            levels = [s.level for s in pb.severities]
            if sc.severity not in levels:
                self.err(("severity",), Msg("val.drill.no_severity",
                                            {"playbook": pb.id, "level": sc.severity}),
                         Msg("val.drill.hint_use_one", {"levels": ", ".join(map(str, levels))}))
        for key in sc.inputs:
            if key not in pb.inputs:
                self.err(("inputs", key), Msg("val.drill.unknown_input",
                                              {"input": key, "playbook": pb.id}),
                         suggest(key, pb.inputs) or known(pb.inputs))

        def step_ref(path: PathKey, ref: str) -> bool:
            if ref not in steps:
                self.err(path, Msg("val.drill.no_step", {"step": ref, "playbook": pb.id}),
                         suggest(ref, steps) or known(steps))
                return False
            return True

        for i, o in enumerate(sc.objectives):
            if o.step is not None:
                step_ref(("objectives", i, "step"), o.step)
            if o.target is not None and o.target not in targets:
                self.err(("objectives", i, "target"), Msg("val.drill.no_target", {
                    "target": o.target, "playbook": pb.id}),
                    suggest(o.target, targets) or known(targets))
            if o.after is not None:
                step_ref(("objectives", i, "after"), o.after)
            # a step an objective measures needs a scripted time: left to the default
            # delay, --auto would score the default, not the rehearsal being replayed
            measured = o.step or (targets[o.target].met_by if o.target in targets else None)
            if measured in steps and measured not in sc.responses.steps:
                self.err(("objectives", i), Msg("val.drill.untimed", {
                    "objective": o.id, "step": measured,
                    "delay": format_duration(sc.responses.default)}),
                    Msg("val.drill.hint_untimed", {"step": measured}),
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
                    self.err((*path, "option"), Msg("val.drill.not_decision", {"step": sid}))
                elif r.option not in ids:
                    self.err((*path, "option"), Msg("val.drill.no_option",
                                                    {"step": sid, "option": r.option}),
                             suggest(r.option, ids) or Msg("val.drill.hint_choose",
                                                           {"options": ", ".join(ids)}))
            if r.value is not None and step.kind != "record":
                self.err((*path, "value"), Msg("val.drill.records_nothing", {"step": sid}))
            elif r.value is not None and step.record is not None \
                    and step.record.type in ("int", "number"):
                try:
                    (int if step.record.type == "int" else float)(str(r.value))
                except ValueError:
                    self.err((*path, "value"), Msg("val.drill.not_number",
                                                   {"step": sid, "value": str(r.value)}))
            if r.start is not None and step.kind != "dispatch":
                self.err((*path, "start"), Msg("val.drill.start_not_dispatch", {
                    "step": sid, "kind": kind_name(step.kind)}))
            if r.confirm is not None and step.gate is None:
                self.err((*path, "confirm"), Msg("val.drill.no_gate", {"step": sid}))
            if r.skip is not None and not r.skip.strip():
                self.err((*path, "skip"), Msg("val.drill.skip_reason"))


    def causal(self, pb: Playbook) -> None:
        """The script plays in an order that can happen: no step scripted before what it
        waits for, no inject before the step it follows from, no answer before its
        inject, no objective measured from a step that comes after the one it measures."""
        from incident.drill.script import follows, scripted_times

        sc = self.sc
        steps = pb.steps()
        times = scripted_times(sc, pb)
        injects = {i.id: i for i in sc.injects}

        def tplus(d: timedelta | None) -> str | Msg:
            return Msg("val.drill.never") if d is None else f"T+{format_duration(d)}"

        for i, inj in enumerate(sc.injects):
            if inj.after is None:
                continue
            if inj.after not in steps:
                self.err(("injects", i, "after"), Msg("val.drill.no_step", {
                    "step": inj.after, "playbook": pb.id}),
                    suggest(inj.after, steps) or known(steps))
                continue
            t = times[inj.after]
            if t.done is None or t.done > inj.at:
                when = (Msg("val.drill.never_done") if t.done is None
                        else Msg("val.drill.done_at", {"time": tplus(t.done)}))
                self.err(("injects", i, "at"),
                         Msg("val.drill.inject_before_step", {
                             "inject": inj.id, "at": tplus(inj.at), "step": inj.after,
                             "when": when}),
                         Msg("val.drill.hint_move_inject", {"time": tplus(t.done),
                                                            "step": inj.after})
                         if t.done is not None else
                         Msg("val.drill.hint_script_step", {"step": inj.after}),
                         severity="error" if t.done is not None else "warning")
        for sid, r in sc.responses.steps.items():
            if sid not in steps:
                continue
            path = ("responses", "steps", sid)
            t = times[sid]
            if r.at is not None and t.ready is not None and r.at < t.ready:
                self.err((*path, "at"),
                         Msg("val.drill.before_ready", {
                             "step": sid, "at": tplus(r.at), "waits": t.waits_for,
                             "ready": tplus(t.ready)}),
                         Msg("val.drill.hint_before_ready", {"ready": tplus(t.ready),
                                                             "waits": t.waits_for}))
            if r.on is None:
                continue
            if r.on not in injects:
                self.err((*path, "on"), Msg("val.drill.no_inject", {"inject": r.on}),
                         suggest(r.on, injects) or known(injects))
                continue
            inj = injects[r.on]
            if t.ready is not None and r.at is None and t.ready + (
                    r.after if r.after is not None else sc.responses.default) < inj.at:
                need = inj.at - t.ready
                self.err(path,
                         Msg("val.drill.answers_early", {
                             "step": sid, "inject": inj.id, "at": tplus(inj.at),
                             "done": tplus(t.ready + (r.after or sc.responses.default)),
                             "delay": format_duration(r.after or sc.responses.default),
                             "ready": tplus(t.ready)}),
                         Msg("val.drill.hint_answers_early", {
                             "need": format_duration(need), "time": format_duration(inj.at)}))
            elif r.at is not None and r.at < inj.at:
                self.err((*path, "at"), Msg("val.drill.answers_before", {
                    "step": sid, "inject": inj.id, "at": tplus(inj.at),
                    "scripted": tplus(r.at)}),
                    Msg("val.drill.hint_move_to", {"time": tplus(inj.at)}))
        for i, o in enumerate(sc.objectives):
            if o.after is None or o.after not in steps:
                continue
            measured = o.step or next((tg.met_by for tg in pb.targets if tg.id == o.target),
                                      None)
            if measured in steps and (measured == o.after or follows(pb, measured, o.after)):
                self.err(("objectives", i, "after"),
                         Msg("val.drill.measured_after", {
                             "objective": o.id, "step": measured, "after": o.after}),
                         Msg("val.drill.hint_measure_from"))


def _check(doc: Located, library: PlaybookLibrary | None, directory: Directory | None,
           channels: Iterable[str] | None) -> LoadedScenario:
    issues = doc.issues()
    if not isinstance(doc.data, dict):
        issues.add("val.drill.not_mapping", line=1)
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
    raise ValidationFailed([Issue(name, Msg("val.drill.no_scenario",
                                            {"name": name, "folder": str(folder)}),
                                  hint=hint)])
