"""The console's view of optional sibling packages (incident.notify, incident.escalation).

The console works without them: each function here says whether the feature
exists and degrades to a clearly labelled fallback. Everything in this module
runs in worker threads (it may touch the store through the core) and returns
plain data from incident.console.model or here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from incident.engine import IncidentState
    from incident.runtime import Runtime


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == name or name.startswith(exc.name + ".")
                         or exc.name.startswith(name)):
            return None
        raise


def notify_module() -> Any | None:
    return _module("incident.notify")


def escalation_module() -> Any | None:
    return _module("incident.escalation")


def has_notify() -> bool:
    mod = notify_module()
    return mod is not None and hasattr(mod, "preview")


def has_escalation() -> bool:
    mod = escalation_module()
    return mod is not None and hasattr(mod, "acknowledge")


# ---- the notification dispatcher -------------------------------------------------------

def make_dispatcher(runtime: Runtime) -> Any | None:
    """incident.notify's background dispatcher for this runtime (not started), or None."""
    mod = notify_module()
    if mod is None or not hasattr(mod, "build_dispatcher"):
        return None
    return mod.build_dispatcher(runtime)


def retry_failed(runtime: Runtime, incident_id: str, user: str, step: str | None,
                 lang: str = "en") -> Any:
    """Queue again the messages that failed for good (the running dispatcher sends them)."""
    from incident.errors import Refused

    mod = notify_module()
    if mod is None:
        raise Refused("notifications are not installed (incident.notify)")
    from incident.notify.retry import retry_failed as retry

    res = retry(runtime.engine, incident_id, actor=user, step=step,
                channels=mod.runtime_channels(runtime), directory=runtime.directory)
    if not res.messages:
        from incident.console.i18n import t

        raise Refused(t("msg.nothing_failed", lang))
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


def sms_segments(text: str) -> int:
    """SMS parts: GSM-7 160/153 per part, UCS-2 (any Chinese) 70/67."""
    if not text:
        return 0
    ucs2 = any(ord(c) > 127 for c in text)
    single, multi = (70, 67) if ucs2 else (160, 153)
    n = len(text)
    return 1 if n <= single else -(-n // multi)


def preview(runtime: Runtime, st: IncidentState, step_id: str, lang: str) -> Preview:
    """What sending this notify step would do: rendered text, SMS parts, audience counts."""
    step = st.playbook.steps()[step_id]
    title = {"en": step.title.en, "zh": step.title.zh}
    mod = notify_module()
    if mod is not None and hasattr(mod, "preview"):
        raw = mod.preview(runtime, st, step_id, runtime.clock.now())
        return Preview(
            step_id, title,
            messages={k: (r.subject, r.body) for k, r in raw.rendered.items()},
            sms_segments={k: r.segments for k, r in raw.rendered.items()},
            audience=dict(raw.per_channel), recipients=raw.recipients,
            no_channel=len(raw.unreachable),
            by_lang={k: r.recipients for k, r in raw.rendered.items()},
            can_send=runtime.engine.planner is not None,
            encodings={k: r.encoding for k, r in raw.rendered.items()},
            fallbacks=dict(raw.fallbacks), warnings=list(raw.warnings))
    return _basic_preview(runtime, st, step_id, title)


def _basic_preview(runtime: Runtime, st: IncidentState, step_id: str,
                   title: dict[str, str]) -> Preview:
    """Without incident.notify: render the templates and count the audience ourselves."""
    from incident.engine.context import message_context
    from incident.playbook.templates import render

    step = st.playbook.steps()[step_id]
    if step.roll_call is not None:  # the question previews like a notice
        from incident.engine.rollcall import as_notify

        step = as_notify(step)
    assert step.notify is not None
    directory = runtime.directory
    messages: dict[str, tuple[str, str]] = {}
    for lang in ("zh", "en"):
        ctx = message_context(st, directory, lang)
        try:
            messages[lang] = (render(step.notify.message.subject.get(lang), ctx),
                              render(step.notify.message.body.get(lang), ctx))
        except Exception as exc:  # a template the incident cannot fill: say so
            messages[lang] = ("", f"(cannot render: {exc})")
    audience_sel = step.notify.audience
    selectors = audience_sel if isinstance(audience_sel, list) else [audience_sel]
    resolved: list[str] = []
    for sel in selectors:
        named = st.playbook.audiences.get(sel)
        if named is None:
            resolved.append(sel)
        elif isinstance(named, list):
            resolved.extend(named)
        else:
            resolved.append(named)
    counts: dict[str, int] = {}
    none = 0
    by_lang: dict[str, int] = {}
    recipients = []
    try:
        loc = directory.locate(st.location)
        recipients = directory.resolve(resolved, loc, at=runtime.clock.now())
    except Exception as exc:
        return Preview(step_id, title, messages, {}, {}, 0, 0, {}, False,
                       f"audience: {exc}")
    for r in recipients:
        reach = [c for c in step.notify.channels if c in r.addresses]
        for c in reach:
            counts[c] = counts.get(c, 0) + 1
        if not reach:
            none += 1
        by_lang[r.lang] = by_lang.get(r.lang, 0) + 1
    segs = {lang: sms_segments(body) for lang, (_s, body) in messages.items()}
    return Preview(step_id, title, messages, segs, counts, len(recipients), none, by_lang,
                   runtime.engine.planner is not None,
                   "" if runtime.engine.planner is not None else "no_notify")


# ---- escalation ---------------------------------------------------------------------

def acknowledge(runtime: Runtime, incident_id: str, actor: str) -> Any:
    mod = escalation_module()
    if mod is None or not hasattr(mod, "acknowledge"):
        from incident.errors import Refused

        raise Refused("paging is not installed (incident.escalation) — nothing to acknowledge")
    st = runtime.engine.state(incident_id)
    mine = [p for p in st.unacked_pages() if actor in (p.get("to") or [])]
    # your own pages first; the commander (the owner) with none of their own answers for all
    return mod.acknowledge(runtime.engine, incident_id, actor,
                           all_pages=not mine and actor == st.owner)


def raise_escalation(runtime: Runtime, incident_id: str, role: str, actor: str,
                     reason: str) -> Any:
    mod = escalation_module()
    if mod is None or not hasattr(mod, "raise_escalation"):
        from incident.engine import events as ev
        from incident.store import NewEvent

        # Without paging the escalation is still recorded in the log.
        def make(st, now):
            from incident.errors import Refused

            if st.status != "open":
                raise Refused(f"{st.id} is resolved — reopen it first")
            if not reason.strip():
                raise Refused("say why you escalate (a reason is required)")
            return [NewEvent(ev.ESCALATION_RAISED, actor,
                             {"to": role, "reason": reason, "manual": True}, now)]

        return runtime.engine.append_events(incident_id, make)
    return mod.raise_escalation(runtime.engine, incident_id, role, actor, reason)


def escalation_levels(runtime: Runtime) -> list[int]:
    mod = escalation_module()
    if mod is not None and hasattr(mod, "installed"):
        graph = mod.installed(runtime.engine).graph
        if graph is not None:
            return sorted(graph.severities)
    return sorted({s.level for pb in runtime.playbooks for s in pb.severities})


def escalation_text(runtime: Runtime, severity: int | None, incident_type: str | None,
                    lang: str) -> str:
    """The escalation chain for a severity, as `incident escalation show` prints it."""
    mod = escalation_module()
    if mod is not None and hasattr(mod, "render_text") and hasattr(mod, "installed"):
        esc = mod.installed(runtime.engine)
        if esc.graph is not None:
            levels = [severity] if severity is not None else sorted(esc.graph.severities)
            lines: list[str] = []
            for level in levels:
                lines.extend(mod.render_text(esc, level, incident_type, runtime.clock.now(),
                                             lang))
                lines.append("")
            return "\n".join(lines).rstrip()
    return _basic_chain(runtime, lang)


def _basic_chain(runtime: Runtime, lang: str) -> str:
    d = runtime.directory
    now = runtime.clock.now()
    lines = ["(incident.escalation not installed — roles by escalation level, on duty now)"
             if lang != "zh" else "（未安装升级模块——按升级级别列出角色及当前值班人）"]
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
