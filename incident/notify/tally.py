"""What a notify step's own messages achieved, counted per recipient.

The officer's question is "were the owners warned?", not "how many outbox rows
changed state". So a step's messages are counted per recipient: an owner whose
SMS failed and whose fall-back e-mail was sent is *delivered*; one whose message
is queued or waiting for a retry is *waiting*; one with nothing left to try is
*failed for good* (until ``incident notify retry``). Per channel, each recipient
counts once, by the latest row on that channel (a retried message supersedes
the one that failed).

Only rows with the step's own id count: escalation pages (``escalation:<page>``)
are never mixed into a step's figures.

Live figures are read from the outbox (:func:`step_tallies`: the console, status,
deliveries, reports). The log holds only facts: the tally travels in the
``delivery.progress`` event the dispatcher appends when a step finished or a delivered
target is met (:func:`progress_fields`, notify/reconcile.py), so the fold can say
whether a target measured on the step is met without reading the outbox.

Never imports Apprise or Textual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from incident.i18n import channel_name, t

WAITING_STATES = frozenset({"queued", "sending", "failed_temporary"})
FAILED_STATES = frozenset({"failed_permanent"})


class RowLike(Protocol):
    id: int
    step_id: str
    person_id: str
    channel: str
    state: str
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChannelTally:
    """One channel of a step: recipients by the outcome of their latest row on it."""

    channel: str
    delivered: int = 0
    waiting: int = 0
    failed: int = 0          # failed for good on this channel, nothing after it
    fell_back: int = 0       # gave up here; the next channel took over
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.waiting + self.failed + self.fell_back + self.cancelled

    @property
    def finished(self) -> int:
        return self.total - self.waiting


@dataclass(frozen=True, slots=True)
class StepTally:
    """A notify step's messages, per recipient (see the module docstring)."""

    step: str
    recipients: int = 0      # recipients with at least one message (reachable ones)
    delivered: int = 0
    waiting: int = 0
    failed: int = 0          # failed for good: every channel tried, nothing sent
    cancelled: int = 0
    messages: int = 0        # outbox rows, fall-backs and retries included
    channels: tuple[ChannelTally, ...] = ()
    delivered_at: datetime | None = None   # when the last delivered recipient was reached
    failed_people: tuple[str, ...] = field(default=(), compare=False)

    @property
    def settled(self) -> bool:
        """Nothing left to send (every recipient delivered, failed or cancelled)."""
        return self.waiting == 0

    @property
    def all_delivered(self) -> bool:
        return self.recipients > 0 and self.delivered == self.recipients

    def channel(self, name: str) -> ChannelTally:
        return next((c for c in self.channels if c.channel == name), ChannelTally(name))


def tally(step: str, rows: Iterable[RowLike]) -> StepTally:
    """Count one step's rows, given in id order (rows of other steps are ignored)."""
    people: dict[str, list[RowLike]] = {}
    messages = 0
    for r in rows:
        if r.step_id == step:
            messages += 1
            prs = people.get(r.person_id)
            if prs is None:
                people[r.person_id] = [r]
            else:
                prs.append(r)
    delivered = waiting = failed = cancelled = 0
    reached: datetime | None = None
    failed_people: list[str] = []
    per_channel: dict[str, list[int]] = {}  # delivered, waiting, failed, fell_back, cancelled
    slot = {"sent": 0, "queued": 1, "sending": 1, "failed_temporary": 1, "fell_back": 3,
            "cancelled": 4}
    for pid, prs in people.items():
        if len(prs) == 1:  # the common case: one message, nothing fell back or was retried
            r = prs[0]
            state = r.state
            i = slot.get(state, 2)
            c = per_channel.get(r.channel)
            if c is None:
                c = per_channel[r.channel] = [0, 0, 0, 0, 0]
            c[i] += 1
            if i == 0:
                delivered += 1
                if r.sent_at is not None and (reached is None or r.sent_at > reached):
                    reached = r.sent_at
            elif i == 1:
                waiting += 1
            elif i == 4:
                cancelled += 1
            else:
                failed += 1
                failed_people.append(pid)
            continue
        first_sent: datetime | None = None
        any_sent = any_waiting = False
        all_cancelled = True
        latest: dict[str, str] = {}
        for r in prs:
            latest[r.channel] = r.state  # id order: the last row on a channel wins
            if r.state == "sent":
                any_sent = True
                if r.sent_at is not None and (first_sent is None or r.sent_at < first_sent):
                    first_sent = r.sent_at
            elif r.state in WAITING_STATES:
                any_waiting = True
            if r.state != "cancelled":
                all_cancelled = False
        if any_sent:
            delivered += 1
            if first_sent is not None and (reached is None or first_sent > reached):
                reached = first_sent
        elif any_waiting:
            waiting += 1
        elif all_cancelled:
            cancelled += 1
        else:
            failed += 1
            failed_people.append(pid)
        for ch, state in latest.items():
            c = per_channel.get(ch)
            if c is None:
                c = per_channel[ch] = [0, 0, 0, 0, 0]
            c[slot.get(state, 2)] += 1
    return StepTally(
        step=step, recipients=len(people), delivered=delivered, waiting=waiting, failed=failed,
        cancelled=cancelled, messages=messages,
        channels=tuple(ChannelTally(ch, *c) for ch, c in sorted(per_channel.items())),
        delivered_at=reached, failed_people=tuple(failed_people))


def from_summary(step: str, summary: dict[str, Any]) -> StepTally:
    """A StepTally from ``Store.delivery_summary`` (aggregated in the database: a
    progress report on 10,000 owners must not read 10,000 rows). No failed_people."""
    people = summary.get("people") or {}
    chans = []
    for ch, states in sorted((summary.get("channels") or {}).items()):
        chans.append(ChannelTally(
            ch, delivered=states.get("sent", 0),
            waiting=sum(states.get(s, 0) for s in WAITING_STATES),
            failed=sum(n for s, n in states.items()
                       if s not in WAITING_STATES and s not in ("sent", "fell_back",
                                                                 "cancelled")),
            fell_back=states.get("fell_back", 0), cancelled=states.get("cancelled", 0)))
    return StepTally(
        step=step, recipients=sum(people.values()), delivered=people.get("delivered", 0),
        waiting=people.get("waiting", 0), failed=people.get("failed", 0),
        cancelled=people.get("cancelled", 0), messages=int(summary.get("messages") or 0),
        channels=tuple(chans), delivered_at=summary.get("delivered_at"))


def step_tallies(store: Any, incident_id: str, step: str | None = None,
                 ) -> dict[str, StepTally]:
    """Every step's tally (or one step's), aggregated by the store; steps by name."""
    return {sid: from_summary(sid, s)
            for sid, s in sorted(store.delivery_summary(incident_id, step).items())}


def tallies(rows: Iterable[RowLike]) -> dict[str, StepTally]:
    """Every step's tally, in the order the steps first queued a message."""
    rows = sorted(rows, key=lambda r: r.id)
    steps = list(dict.fromkeys(r.step_id for r in rows))
    return {s: tally(s, rows) for s in steps}


def progress_fields(tally: StepTally) -> dict[str, Any]:
    """The per-recipient figures carried by a ``delivery.progress`` event.

    ``channels`` keeps its historical keys (sent / failed / pending / fell_back),
    now counted per recipient by their latest row on the channel."""
    return {
        "step": tally.step,
        "channels": {c.channel: {"sent": c.delivered, "failed": c.failed + c.cancelled,
                                 "pending": c.waiting, "fell_back": c.fell_back}
                     for c in tally.channels},
        "recipients": tally.recipients, "delivered": tally.delivered, "waiting": tally.waiting,
        "failed": tally.failed, "cancelled": tally.cancelled, "messages": tally.messages,
        "delivered_at": tally.delivered_at.isoformat() if tally.delivered_at else None,
    }


def from_progress(p: dict[str, Any]) -> StepTally | None:
    """The tally a ``delivery.progress`` payload carries (None for an older payload
    without per-recipient figures)."""
    if "recipients" not in p or not isinstance(p.get("step"), str):
        return None
    chans = []
    for ch, c in sorted((p.get("channels") or {}).items()):
        if isinstance(c, dict):
            chans.append(ChannelTally(ch, delivered=int(c.get("sent") or 0),
                                      waiting=int(c.get("pending") or 0),
                                      failed=int(c.get("failed") or 0),
                                      fell_back=int(c.get("fell_back") or 0)))
    at = p.get("delivered_at")
    return StepTally(
        step=p["step"], recipients=int(p.get("recipients") or 0),
        delivered=int(p.get("delivered") or 0), waiting=int(p.get("waiting") or 0),
        failed=int(p.get("failed") or 0), cancelled=int(p.get("cancelled") or 0),
        messages=int(p.get("messages") or 0), channels=tuple(chans),
        delivered_at=datetime.fromisoformat(at) if isinstance(at, str) else None)


def summary_line(tally: StepTally, lang: str = "en") -> str:
    """One line for the CLI and the console: "delivered 7/9, failed for good 2 (…)"."""
    if tally.recipients == 0:
        return t("tally.none", lang)
    parts = [t("tally.delivered", lang, n=tally.delivered, of=tally.recipients)]
    parts += [t(key, lang, n=n) for key, n in (("tally.waiting", tally.waiting),
                                               ("tally.failed", tally.failed),
                                               ("tally.cancelled", tally.cancelled)) if n]
    line = t("tally.sep", lang).join(parts)
    chans = t("tally.channel_sep", lang).join(channel_text(c, lang) for c in tally.channels)
    return t("tally.channels", lang, parts=line, channels=chans) if chans else line


def channel_text(c: ChannelTally, lang: str = "en") -> str:
    counts = [t("tally.ch.delivered", lang, n=c.delivered)]
    counts += [t(key, lang, n=n) for key, n in (("tally.ch.waiting", c.waiting),
                                                ("tally.ch.fell_back", c.fell_back),
                                                ("tally.ch.failed", c.failed),
                                                ("tally.ch.cancelled", c.cancelled)) if n]
    return t("tally.ch", lang, channel=channel_name(c.channel, lang),
             counts=t("tally.ch.sep", lang).join(counts))
