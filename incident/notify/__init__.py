"""Notifications: channels as Apprise URL templates, the outbox planner and dispatcher.

- ``load_channels(path)`` / ``channel_names(contacts_dir)`` — ``contacts/channels.yaml``.
- ``Planner`` — the engine's MessagePlanner: a notify step becomes outbox rows (one
  per recipient, first usable channel, the rest as fall-backs), written by the engine
  in the same transaction as its ``notify.queued`` event.
- ``preview(runtime_or_parts, state, step)`` — rendered text per language with SMS
  segments, the audience and its channels, before anything is queued.
- ``Dispatcher`` — claims outbox rows and sends each with its own Apprise call.
- ``sms_segments(text)`` — ("GSM-7" | "UCS-2", segments).
- ``send_test(channels, channel, address)`` — one message, no incident.
- ``tally`` (notify/tally.py) — a notify step's own messages per recipient: delivered /
  waiting / failed for good, per channel; ``retry.retry_failed`` — send again what
  failed for good; ``reconcile.reconcile_progress`` — catch the log up with the outbox.

Never imports Textual.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident.i18n import t

if TYPE_CHECKING:
    from incident.engine.state import IncidentState
    from incident.notify.channels import ChannelSet
    from incident.notify.dispatcher import Dispatcher
    from incident.notify.planner import Planner, Preview
    from incident.notify.send import Outcome
    from incident.playbook import Step
    from incident.runtime import Runtime

# Sending needs Apprise, whose import loads every plugin (about 0.6 s). Channel names,
# planning and previews do not, so the console can show its lists before that cost:
# the sending half is imported on first use. Channels (pydantic) and the planner load
# on first use too, so a read (`incident status` counts a step's messages with
# incident.notify.tally) imports neither.
_LAZY = {"SANDBOX_URL": "dispatcher", "Dispatcher": "dispatcher", "DispatchStats": "dispatcher",
         "progress_payload": "dispatcher", "Outcome": "send", "send_one": "send",
         "Channel": "channels", "ChannelError": "channels", "ChannelSet": "channels",
         "Masker": "channels", "channels_path": "channels", "default_channels": "channels",
         "load_channels": "channels", "read_secrets_file": "channels",
         "channel_names": "channels", "Planner": "planner", "Preview": "planner",
         "Rendered": "planner", "idempotency_key": "planner", "sms_segments": "sms"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'incident.notify' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(f"incident.notify.{module}"), name)
    globals()[name] = value
    return value


def runtime_channels(runtime: Runtime) -> ChannelSet:
    """The runtime's channels, loaded once (cached on the runtime object)."""
    cs = getattr(runtime, "_notify_channels", None)
    if cs is None:
        from incident.notify.channels import channels_path, load_channels

        s = runtime.settings
        cs = load_channels(channels_path(s.contacts_dir), secrets_file=s.secrets_file)
        runtime._notify_channels = cs  # type: ignore[attr-defined]
    return cs


def build_planner(runtime: Runtime) -> Planner:
    """The planner the runtime's engine uses; channels and directory load lazily."""
    from incident.notify.planner import Planner

    return Planner(lambda: runtime.directory, lambda: runtime_channels(runtime))


def build_dispatcher(runtime: Runtime, *, incident_id: str | None = None,
                     progress: bool = True, **kwargs: Any) -> Dispatcher:
    """The runtime's dispatcher; drills' scripted channel faults (the runtime's
    `sandbox_fault` hook, wired there so notify never imports drill) apply to its sandbox."""
    from incident.notify.dispatcher import Dispatcher

    kwargs.setdefault("sandbox_fault", runtime.sandbox_fault)
    return Dispatcher(runtime.store, runtime_channels(runtime), runtime.clock,
                      directory=runtime.directory,
                      engine=runtime.engine if progress else None,
                      incident_id=incident_id, **kwargs)


def preview(runtime_or_parts: Any, state: IncidentState, step: Step | str,
            now: datetime | None = None) -> Preview:
    """What a notify step would send, to whom and how — nothing is written.

    `runtime_or_parts`: a Runtime, a Planner, or a (directory, channels) pair.
    """
    from incident.notify.planner import Planner

    if isinstance(runtime_or_parts, Planner):
        planner, clock = runtime_or_parts, None
    elif isinstance(runtime_or_parts, tuple):
        planner, clock = Planner(runtime_or_parts[0], runtime_or_parts[1]), None
    else:
        planner, clock = build_planner(runtime_or_parts), runtime_or_parts.clock
    if isinstance(step, str):
        from incident.errors import Refused

        steps = state.playbook.steps()
        if step not in steps:
            raise Refused("refused.notify.no_step_in_playbook", step=step,
                          playbook=state.playbook.id)
        step = steps[step]
    if step.roll_call is not None:  # a roll call's question previews like a notice
        from incident.engine.rollcall import as_notify

        step = as_notify(step)
    if now is None:
        from incident.clock import SystemClock

        now = (clock or SystemClock()).now()
    return planner.preview(state, step, now)


def normalise_address(kind: str, address: str) -> str:
    """An address as the roster would store it for this kind of channel (sms: E.164
    mobile, email: checked against what the mail sender will read, chat: one id)."""
    from incident.directory import contact
    from incident.errors import Refused

    check = {"sms": contact.mobile, "email": contact.email, "chat": contact.chat}.get(kind)
    if check is None:
        return address
    try:
        return check(address)
    except ValueError as exc:
        raise Refused(str(exc)) from None


def send_test(channels: ChannelSet, channel: str, address: str, *, drill: bool = False,
              lang: str = "en") -> tuple[str, Outcome]:
    """Send one test message; returns (masked URL, outcome).

    The address is checked and normalised the way the roster does it for the
    channel's kind ('138 0000 0001' is one number, +8613800000001): Refused if invalid.
    """
    from incident.notify.channels import ChannelError
    from incident.notify.dispatcher import SANDBOX_URL
    from incident.notify.planner import drill_mark
    from incident.notify.send import Outcome, send_one

    subject, body = t("msg.test_subject", lang), t("msg.test_body", lang, channel=channel)
    address = normalise_address(channels[channel].kind if channel in channels else channel,
                                address)
    if drill:
        from urllib.parse import quote

        url = SANDBOX_URL.format(channel=channel, address=quote(address, safe=""))
        subject, body = drill_mark(lang) + subject, drill_mark(lang) + body
        return url, send_one(url, subject, body, channels.masker)
    ch = channels[channel]
    try:
        url = ch.render(address, channels.secrets)
    except ChannelError as exc:
        return channels.masked_template(channel), Outcome("failed_permanent", 0.0, str(exc))
    outcome = send_one(url, subject if ch.subject else "", body, channels.masker)
    return channels.masker(url) or "", outcome


__all__ = [
    "SANDBOX_URL", "Channel", "ChannelError", "ChannelSet", "DispatchStats", "Dispatcher",
    "Masker", "Outcome", "Planner", "Preview", "Rendered", "build_dispatcher", "build_planner",
    "channel_names", "channels_path", "default_channels", "idempotency_key", "load_channels",
    "normalise_address",
    "preview", "progress_payload", "read_secrets_file", "runtime_channels", "send_one",
    "send_test", "sms_segments",
]
