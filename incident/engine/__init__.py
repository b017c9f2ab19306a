"""The incident state machine: operations append events; state is their fold."""

from incident.engine.service import Engine, MessagePlanner, Sweep
from incident.engine.state import IncidentState, StepState, TargetState, Timer, fold

__all__ = ["Engine", "IncidentState", "MessagePlanner", "StepState", "Sweep", "TargetState", "Timer",
           "fold"]
