"""Escalation as a graph: who gets pulled in, when, and proof that nobody falls through.

``contacts/escalation.yaml`` describes a networkx graph whose nodes are roles of the
directory (or named staff) and whose edges say "escalates to", with a wait, optional
conditions (severity levels, incident types, days and hours) and an optional repeat
limit. See that file for the format.

- :func:`load_escalation` validates it against the directory (file:line errors with
  "did you mean").
- :func:`install` hooks it into an :class:`~incident.engine.Engine`: pages go out as
  outbox rows with PAGE_SENT, waits run as engine timers (kind ``escalation_due``),
  unacknowledged pages escalate, empty steps are skipped at once.
- :func:`acknowledge` and :func:`raise_escalation` are the operations faces call.
- :func:`check` is the static pre-flight check; :func:`simulate` and the renderers
  show the chain with who is on duty.

The package keeps no time of its own: everything runs on the engine's clock.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time names load on first use
    from incident.escalation.check import CheckReport, check
    from incident.escalation.live import (
        Escalation,
        acknowledge,
        acknowledge_waiting,
        install,
        installed,
        ladder_levels,
        page_timers,
        raise_escalation,
    )
    from incident.escalation.model import Edge, EscalationGraph, Node, build_graph, load_escalation
    from incident.escalation.render import render_dot, render_mermaid, render_text, simulate
    from incident.escalation.resolve import Resolution, resolve

# Each name is imported from its module on first use (PEP 562), so a command pays
# only for what it touches (README, "Start-up").
_LAZY = {
    'CheckReport': 'check',
    'check': 'check',
    'Escalation': 'live',
    'acknowledge': 'live',
    'acknowledge_waiting': 'live',
    'ladder_levels': 'live',
    'install': 'live',
    'installed': 'live',
    'page_timers': 'live',
    'raise_escalation': 'live',
    'Edge': 'graph',
    'EscalationGraph': 'graph',
    'Node': 'graph',
    'build_graph': 'model',
    'load_escalation': 'model',
    'render_dot': 'render',
    'render_mermaid': 'render',
    'render_text': 'render',
    'simulate': 'render',
    'Resolution': 'resolve',
    'resolve': 'resolve',
}


def __getattr__(name: str) -> Any:
    from incident.lazy import load_lazy

    return load_lazy(globals(), _LAZY, name)

__all__ = [
    "CheckReport",
    "Edge",
    "Escalation",
    "EscalationGraph",
    "Node",
    "Resolution",
    "acknowledge",
    "acknowledge_waiting",
    "build_graph",
    "check",
    "install",
    "installed",
    "ladder_levels",
    "load_escalation",
    "page_timers",
    "raise_escalation",
    "render_dot",
    "render_mermaid",
    "render_text",
    "resolve",
    "simulate",
]
