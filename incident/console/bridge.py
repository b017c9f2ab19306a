"""The console's calls into the core (incident.notify, incident.escalation).

Both packages ship with incident, so nothing here hides an import failure: a broken
install fails loudly. Business rules (who an "ack" answers for, which levels the ladder
covers) live in the core; this module only adapts their results to what the screens
show. Everything here runs in worker threads (it may touch the store through the core)
and returns plain data from incident.console.model or here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incident import escalation

if TYPE_CHECKING:
    from incident.engine import IncidentState
    from incident.runtime import Runtime


def has_ladder(runtime: Runtime) -> bool:
    """Whether an escalation ladder (contacts/escalation.yaml) runs on this engine."""
    return escalation.installed(runtime.engine).graph is not None


# ---- the notification dispatcher -------------------------------------------------------

def make_dispatcher(runtime: Runtime) -> Any:
    """incident.notify's background dispatcher for this runtime (not started)."""
    from incident.notify import build_dispatcher

    return build_dispatcher(runtime)


def retry_failed(runtime: Runtime, incident_id: str, user: str, step: str | None,
                 lang: str = "en") -> Any:
    """Queue again the messages that failed for good (the running dispatcher sends them)."""
    from incident.errors import Refused
    from incident.notify import runtime_channels
    from incident.notify.retry import retry_failed as retry

    res = retry(runtime.engine, incident_id, actor=user, step=step,
                channels=runtime_channels(runtime), directory=runtime.directory)
    if not res.messages:
        raise Refused("msg.nothing_failed")
    return runtime.engine.state(incident_id)


# ---- notify preview -------------------------------------------------------------------

@dataclass(slots=True)
class Preview:
    step_id: str
    title: dict[str, str]
    messages: dict[str, tuple[str, str]]  # lang -> (subject, body)
    sms_segments: dict[str, int]  # lang -> SMS parts
    audience: dict[str, int]  # channel -> recipients (first choice)
    recipients: int
    no_channel: int = 0
    by_lang: dict[str, int] = field(default_factory=dict)
    can_send: bool = True
    note: str = ""
    encodings: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def preview(runtime: Runtime, st: IncidentState, step_id: str, lang: str) -> Preview:
    """What sending this notify step would do: rendered text, SMS parts, audience counts."""
    from incident import notify

    step = st.playbook.steps()[step_id]
    title = {"en": step.title.en, "zh": step.title.zh}
    raw = notify.preview(runtime, st, step_id, runtime.clock.now())
    return Preview(
        step_id, title,
        messages={k: (r.subject, r.body) for k, r in raw.rendered.items()},
        sms_segments={k: r.segments for k, r in raw.rendered.items()},
        audience=dict(raw.per_channel), recipients=raw.recipients,
        no_channel=len(raw.unreachable),
        by_lang={k: r.recipients for k, r in raw.rendered.items()},
        can_send=runtime.engine.planner is not None,
        encodings={k: r.encoding for k, r in raw.rendered.items()},
        fallbacks=dict(raw.fallbacks), warnings=[w.text(lang) for w in raw.warnings])


# ---- escalation ---------------------------------------------------------------------

def acknowledge(runtime: Runtime, incident_id: str, actor: str) -> Any:
    return escalation.acknowledge_waiting(runtime.engine, incident_id, actor)


def raise_escalation(runtime: Runtime, incident_id: str, role: str, actor: str,
                     reason: str) -> Any:
    return escalation.raise_escalation(runtime.engine, incident_id, role, actor, reason)


def escalation_levels(runtime: Runtime) -> list[int]:
    return escalation.ladder_levels(
        runtime.engine, (s.level for pb in runtime.playbooks for s in pb.severities))


def escalation_text(runtime: Runtime, severity: int | None, incident_type: str | None,
                    lang: str) -> str:
    """The escalation chain for a severity, as `incident escalation show` prints it."""
    esc = escalation.installed(runtime.engine)
    if esc.graph is not None:
        levels = [severity] if severity is not None else sorted(esc.graph.severities)
        lines: list[str] = []
        for level in levels:
            lines.extend(escalation.render_text(esc, level, incident_type,
                                                runtime.clock.now(), lang))
            lines.append("")
        return "\n".join(lines).rstrip()
    return _roles_by_level(runtime, lang)


def _roles_by_level(runtime: Runtime, lang: str) -> str:
    """Without escalation.yaml there is no ladder to show: the roles by level, on duty now."""
    from incident.console.i18n import t

    d = runtime.directory
    now = runtime.clock.now()
    lines = [t("esc.no_ladder_chain", lang)]
    for level in sorted({r.level for r in d.roles.values()}):
        lines.append(f"L{level}")
        for rid, role in d.roles.items():
            if role.level != level:
                continue
            try:
                people = d.on_duty(rid, now)
            except KeyError:
                people = []
            who = ", ".join(p.display_name(lang) for p in people) or "—"
            lines.append(f"  {role.title.get(lang) or rid:<28} {who}")
    return "\n".join(lines)
