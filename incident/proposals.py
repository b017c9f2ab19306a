"""Severity follows the facts: a decision option may propose a severity level.

`real_fire` → 2, `hurt_or_trapped` → 1 in the shipped fire playbook. The proposal only
counts when it is more severe (a lower level) than the incident's level now; nobody is
raised silently — the console asks once, the CLI prints the command to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from incident.engine import IncidentState


@dataclass(frozen=True, slots=True)
class SeverityProposal:
    step: str
    option: str
    level: int
    name: dict[str, str]
    current: int


def severity_proposal(st: IncidentState, step_id: str) -> SeverityProposal | None:
    """What the option chosen at `step_id` proposes, if it is worse than the level now."""
    if st.status != "open" or step_id not in st.steps:
        return None
    chosen = st.steps[step_id].option
    step = st.playbook.steps().get(step_id)
    if chosen is None or step is None or not step.options:
        return None
    opt = next((o for o in step.options if o.id == chosen), None)
    if opt is None or opt.severity is None or opt.severity >= st.severity:
        return None
    try:
        name = st.playbook.severity(opt.severity).name
    except KeyError:
        return None
    return SeverityProposal(step_id, chosen, opt.severity, {"en": name.en, "zh": name.zh},
                            st.severity)
