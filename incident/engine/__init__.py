"""The incident state machine: operations append events; state is their fold."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time names load on first use
    from incident.engine.service import Engine, MessagePlanner, Sweep
    from incident.engine.state import IncidentState, StepState, TargetState, Timer, fold

# Each name is imported from its module on first use (PEP 562): a command that needs
# only a small engine module (`incident --help` registers the aftercare verbs, which
# import incident.engine.aftercare) does not pay for the store and SQLAlchemy.
_LAZY = {
    'Engine': 'service',
    'MessagePlanner': 'service',
    'Sweep': 'service',
    'IncidentState': 'state',
    'StepState': 'state',
    'TargetState': 'state',
    'Timer': 'state',
    'fold': 'state',
}


def __getattr__(name: str) -> Any:
    from incident.lazy import load_lazy

    return load_lazy(globals(), _LAZY, name)


__all__ = ["Engine", "IncidentState", "MessagePlanner", "StepState", "Sweep", "TargetState", "Timer",
           "fold"]
