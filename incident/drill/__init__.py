"""Drills: rehearse the playbooks safely, score them, learn from them.

A drill is an incident of the same engine, started with ``drill=True`` from a
scenario (``playbooks/drills/*.yaml``): scripted injects fire as engine timers,
faults are injected into the sandboxed channels, objectives are scored from the
timeline (HSEEP P/S/M/U), and the evaluation is stored as events.

- ``load_scenario(path, library, directory, channels)`` — validated scenario.
- ``install(engine)`` — adds the inject timers and hook (Runtime should call it).
- ``start_drill(engine, loaded, speed=…)`` / ``run_auto(engine, loaded, clock, …)``.
- ``sandbox_fault(store, incident_id, channel, now)`` — the hook a drill sandbox
  consults: the reason a message must fail (an injected fault) or None.
- ``scored(store, playbooks, id)``, ``rate``, ``add_note``, ``add_plan``,
  ``apply_file`` — scoring and evaluation; ``build_aar``/``render_aar`` — the report.

Never imports Textual. The runtime dispatcher consults ``sandbox_fault`` through ``Runtime.sandbox_fault``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time names load on first use
    from incident.drill.aar import FORMATS, AfterAction, build_aar, render_aar
    from incident.drill.auto import AutoRun, run_auto
    from incident.drill.evaluate import apply_file
    from incident.drill.live import (
        DrillRun,
        DrillSupport,
        active_faults,
        drill_run,
        install,
        sandbox_fault,
        start_drill,
    )
    from incident.drill.loader import (
        LoadedScenario,
        drills_dir,
        find_scenario,
        load_scenario,
        load_scenario_text,
        scenario_files,
    )
    from incident.drill.model import RATINGS, Scenario
    from incident.drill.score import (
        ObjectiveScore,
        ScoredDrill,
        add_counts,
        add_note,
        add_plan,
        history,
        rate,
        score,
        scored,
        set_plan_status,
        suggest_rating,
    )

# Each name is imported from its module on first use (PEP 562), so a command pays
# only for what it touches (README, "Start-up").
_LAZY = {
    'FORMATS': 'aar',
    'AfterAction': 'aar',
    'build_aar': 'aar',
    'render_aar': 'aar',
    'AutoRun': 'auto',
    'run_auto': 'auto',
    'apply_file': 'evaluate',
    'DrillRun': 'live',
    'DrillSupport': 'live',
    'active_faults': 'live',
    'drill_run': 'live',
    'install': 'live',
    'sandbox_fault': 'live',
    'start_drill': 'live',
    'LoadedScenario': 'loader',
    'drills_dir': 'loader',
    'find_scenario': 'loader',
    'load_scenario': 'loader',
    'load_scenario_text': 'loader',
    'scenario_files': 'loader',
    'RATINGS': 'model',
    'Scenario': 'model',
    'ObjectiveScore': 'score',
    'ScoredDrill': 'score',
    'add_counts': 'score',
    'add_note': 'score',
    'add_plan': 'score',
    'history': 'score',
    'rate': 'score',
    'score': 'score',
    'scored': 'score',
    'set_plan_status': 'score',
    'suggest_rating': 'score',
}


def __getattr__(name: str) -> Any:
    from incident.lazy import load_lazy

    return load_lazy(globals(), _LAZY, name)

__all__ = [
    "FORMATS",
    "RATINGS",
    "AfterAction",
    "AutoRun",
    "DrillRun",
    "DrillSupport",
    "LoadedScenario",
    "ObjectiveScore",
    "Scenario",
    "ScoredDrill",
    "active_faults",
    "add_counts",
    "add_note",
    "add_plan",
    "apply_file",
    "build_aar",
    "drill_run",
    "drills_dir",
    "find_scenario",
    "history",
    "install",
    "load_scenario",
    "load_scenario_text",
    "rate",
    "render_aar",
    "run_auto",
    "sandbox_fault",
    "scenario_files",
    "score",
    "scored",
    "set_plan_status",
    "start_drill",
    "suggest_rating",
]
