"""From a notify step to outbox rows, and the preview an officer checks first.

The planner decides nothing about *who*: the step's audience is resolved by the
directory. It decides *how*: per recipient, the step's channels in order, keeping
those the recipient has an address for — the first is used, the rest are the
fall-backs. Each recipient gets the message in their own language. One row per
recipient per channel, keyed ``{incident}:{step}:{person}:{channel}``, so planning
the same step twice never queues a message twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident.engine.context import message_context, signed
from incident.errors import Msg, Refused
from incident.i18n import bilingual
from incident.notify.channels import ChannelSet
from incident.notify.sms import sms_segments
from incident.store import NewOutbox
from incident.store.records import drill_mark, idempotency_key

if TYPE_CHECKING:
    from incident.directory import Directory, Recipient
    from incident.engine.state import IncidentState
    from incident.playbook import Step

DRILL_MARK = bilingual("msg.drill_mark")
PER_RECIPIENT = frozenset({"name", "recipient_unit"})


def fallback_key(key: str, incident_id: str, step_id: str, person_id: str, channel: str,
                 next_channel: str) -> str:
    """The key of the fall-back row for the row keyed `key` on `channel`.

    A retried chain's keys carry a suffix (``:retry<seq>``, see notify/retry.py);
    its fall-backs keep it, so they never collide with the first chain's rows."""
    base = idempotency_key(incident_id, step_id, person_id, channel)
    suffix = key[len(base):] if key.startswith(base) else ""
    return idempotency_key(incident_id, step_id, person_id, next_channel) + suffix


@dataclass(frozen=True, slots=True)
class Rendered:
    lang: str
    subject: str
    body: str
    encoding: str          # of the SMS text
    segments: int          # SMS segments of the body as sent on sms channels
    recipients: int = 0


@dataclass(slots=True)
class Preview:
    step: str
    drill: bool
    rendered: dict[str, Rendered]
    recipients: int
    per_channel: dict[str, int]                    # first-choice channel → recipients
    fallbacks: dict[str, int]                      # recipients with at least one fall-back
    unreachable: list[Recipient] = field(default_factory=list)
    warnings: list[Msg] = field(default_factory=list)  # told in the reader's language

    @property
    def messages(self) -> int:
        return sum(self.per_channel.values())


@dataclass(slots=True)
class Choice:
    recipient: Recipient
    channels: list[str]    # usable channels in the step's order


class Planner:
    """Implements the engine's MessagePlanner protocol."""

    def __init__(self, directory: Directory | Callable[[], Directory] | None,
                 channels: ChannelSet | Callable[[], ChannelSet]):
        self._directory = directory
        self._channels = channels

    @property
    def directory(self) -> Directory | None:
        d = self._directory
        return d() if callable(d) else d

    @property
    def channels(self) -> ChannelSet:
        c = self._channels
        if callable(c):
            self._channels = c = c()
        return c

    # ---- audience ----------------------------------------------------------------------
    def selectors(self, state: IncidentState, step: Step) -> list[str]:
        n = step.notify
        if n is None:
            raise Refused("refused.notify.not_notify_step_title", step=step.title)
        named = state.playbook.audiences
        out: list[str] = []
        for sel in [n.audience] if isinstance(n.audience, str) else list(n.audience):
            target = named.get(sel, sel)
            out.extend([target] if isinstance(target, str) else list(target))
        return out

    def audience(self, state: IncidentState, step: Step, now: datetime) -> list[Recipient]:
        directory = self.directory
        if directory is None:
            raise Refused("refused.notify.no_directory")
        from incident.directory import SelectorError

        try:
            location = directory.locate(state.location)
        except SelectorError:
            location = None
        try:
            found = directory.resolve(self.selectors(state, step), location, at=now)
        except SelectorError as exc:
            if exc.advice is not None:
                raise Refused("refused.notify.audience_hint", step=step.title, reason=exc.said,
                              hint=exc.advice) from None
            raise Refused("refused.notify.audience", step=step.title, reason=exc.said) from None
        seen: set[str] = set()
        out = []
        for r in found:  # one message per person, however many audiences name them
            if r.person_id not in seen:
                seen.add(r.person_id)
                out.append(r)
        return out

    def choices(self, step: Step, recipients: list[Recipient]) -> list[Choice]:
        assert step.notify is not None
        chans = self.channels
        order = [c for c in step.notify.channels if c in chans]
        out = []
        for r in recipients:
            usable = [c for c in order if r.addresses.get(chans[c].address_key)]
            out.append(Choice(r, usable))
        return out

    # ---- rendering ---------------------------------------------------------------------
    def render(self, state: IncidentState, step: Step, lang: str,
               recipient: Recipient | None = None) -> tuple[str, str]:
        assert step.notify is not None
        msg = step.notify.message
        ctx = message_context(state, self.directory, lang, recipient)
        from incident.playbook.templates import render  # Jinja only when rendering

        subject = render(msg.subject.get(lang), ctx)
        body = render(msg.body.get(lang), ctx)
        if state.drill:
            subject, body = drill_mark(lang) + subject, drill_mark(lang) + body
        return subject, signed(body, self.directory, lang)

    @staticmethod
    def personal(step: Step) -> bool:
        assert step.notify is not None
        m = step.notify.message
        from incident.playbook.templates import undeclared

        used: set[str] = set()
        for text in (m.subject.en, m.subject.zh, m.body.en, m.body.zh):
            used |= undeclared(text)
        return bool(used & PER_RECIPIENT)

    # ---- MessagePlanner ----------------------------------------------------------------
    def plan(self, state: IncidentState, step: Step, *, actor: str,
             now: datetime) -> tuple[dict[str, Any], list[NewOutbox]]:
        recipients = self.audience(state, step, now)
        choices = self.choices(step, recipients)
        personal = self.personal(step)
        cache: dict[str, tuple[str, str]] = {}
        rows: list[NewOutbox] = []
        per_channel: Counter[str] = Counter()
        unreachable: list[str] = []
        for c in choices:
            r = c.recipient
            if not c.channels:
                unreachable.append(r.person_id)
                continue
            lang = r.lang if r.lang in ("en", "zh") else "zh"
            if personal:
                subject, body = self.render(state, step, lang, r)
            else:
                if lang not in cache:
                    cache[lang] = self.render(state, step, lang, None)
                subject, body = cache[lang]
            first, rest = c.channels[0], c.channels[1:]
            ch = self.channels[first]
            rows.append(NewOutbox(
                idempotency_key=idempotency_key(state.id, step.id, r.person_id, first),
                step_id=step.id, person_id=r.person_id, channel=first,
                address=r.addresses[ch.address_key], lang=lang, subject=subject, body=body,
                drill=bool(state.drill), fallback_channels=list(rest)))
            per_channel[first] += 1
        summary = {
            "recipients": len(recipients), "messages": len(rows),
            "channels": dict(sorted(per_channel.items())),
            "unreachable": len(unreachable), "unreachable_ids": unreachable[:50],
            "drill": bool(state.drill), "audience": self.selectors(state, step),
        }
        if step.roll_call is not None:  # who was asked: the roll-call board's rows
            from incident.engine.rollcall import asked_summary

            summary.update(asked_summary(recipients, self.directory))
        return summary, rows

    def preview(self, state: IncidentState, step: Step, now: datetime) -> Preview:
        recipients = self.audience(state, step, now)
        choices = self.choices(step, recipients)
        langs = Counter((c.recipient.lang if c.recipient.lang in ("en", "zh") else "zh")
                        for c in choices if c.channels)
        sample: dict[str, Recipient] = {}
        for c in choices:
            lang = c.recipient.lang if c.recipient.lang in ("en", "zh") else "zh"
            sample.setdefault(lang, c.recipient)
        rendered: dict[str, Rendered] = {}
        sms = [ch for ch in self.channels if ch.kind == "sms"]
        for lang in sorted(langs) or ["en", "zh"]:
            subject, body = self.render(state, step, lang, sample.get(lang))
            text = f"{subject}\n{body}" if sms and sms[0].subject else body
            enc, segs = sms_segments(text)
            rendered[lang] = Rendered(lang, subject, body, enc, segs, langs.get(lang, 0))
        per_channel: Counter[str] = Counter()
        fallbacks: Counter[str] = Counter()
        unreachable = []
        for c in choices:
            if not c.channels:
                unreachable.append(c.recipient)
                continue
            per_channel[c.channels[0]] += 1
            if len(c.channels) > 1:
                fallbacks[c.channels[0]] += 1
        warnings = []
        assert step.notify is not None
        missing = [c for c in step.notify.channels if c not in self.channels]
        if missing:
            warnings.append(Msg("cli.notify.warn_missing", {"channels": ", ".join(missing)}))
        limit = min((ch.max_segments for ch in sms if ch.max_segments), default=None)
        for r in rendered.values():
            if limit and r.segments > limit and per_channel.get(sms[0].name):
                warnings.append(Msg("cli.notify.warn_segments",
                                    {"code": r.lang, "n": r.segments, "limit": limit}))
        return Preview(step.id, bool(state.drill), rendered, len(recipients),
                       dict(per_channel), dict(fallbacks), unreachable, warnings)
