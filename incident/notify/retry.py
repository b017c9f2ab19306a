"""Send again what failed for good: ``incident notify retry`` and the console's "Retry failed".

After a gateway outage longer than the retry budget, recipients end with every
channel failed. Once the gateway is back, the officer requeues them. The failed
rows are left as they are (their attempts stay in the history); each recipient
gets a *new attempt chain*: a new outbox row whose idempotency key carries the
retry's event sequence (``…:retry<seq>``), so it can never collide with — or be
swallowed by — the chain that failed, and its own fall-backs keep that suffix
(:func:`incident.notify.planner.fallback_key`).

The requeue is one ``notify.retried`` event per step, written in the same
transaction as its rows, so the log says who retried what, when, and why it had
failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from incident.engine import events as ev
from incident.errors import Msg, Refused, known, suggest
from incident.notify.planner import idempotency_key
from incident.notify.tally import tally
from incident.store import NewEvent, NewOutbox, OutboxRow

if TYPE_CHECKING:
    from datetime import datetime

    from incident.directory import Directory
    from incident.engine import Engine, IncidentState
    from incident.notify.channels import ChannelSet

MAX_LISTED = 200  # people / row ids named in one event (the rows themselves are all queued)


@dataclass(slots=True)
class RetryResult:
    """What a retry queued: per step, how many recipients got a new attempt chain."""

    per_step: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # no address left on the channel

    @property
    def messages(self) -> int:
        return sum(self.per_step.values())


def retry_key(incident_id: str, step_id: str, person_id: str, channel: str, seq: int) -> str:
    return idempotency_key(incident_id, step_id, person_id, channel) + f":retry{seq}"


def retry_failed(engine: Engine, incident_id: str, *, actor: str, step: str | None = None,
                 channel: str | None = None, channels: ChannelSet | None = None,
                 directory: Directory | None = None) -> RetryResult:
    """Requeue the messages of `incident_id` that failed for good (optionally one step,
    one channel). Raises Refused when the incident, step or channel is unknown, or the
    incident is resolved."""
    result = RetryResult()

    def make(st: IncidentState, now: datetime) -> tuple[list[NewEvent], list[NewOutbox]]:
        result.per_step.clear()
        result.skipped.clear()
        if st.status != "open":
            raise Refused("refused.notify.resolved", incident=st.id)
        steps = _steps(st, step)
        rows = engine.store.outbox_rows(incident_id)
        if channel is not None and channel not in {r.channel for r in rows} \
                and (channels is None or channel not in channels.channels):
            raise Refused("refused.notify.no_channel", channel=channel,
                          used=", ".join(sorted({r.channel for r in rows}))
                          or Msg("refused.notify.no_channel_used"))
        events: list[NewEvent] = []
        outbox: list[NewOutbox] = []
        for sid in steps:
            mine = [r for r in rows if r.step_id == sid]
            failed = set(tally(sid, mine).failed_people)
            if not failed:
                continue
            seq = st.last_seq + len(events) + 1
            new, replaced, reasons, skipped = _chains(incident_id, sid, mine, failed, channel,
                                                      seq, channels, directory)
            if skipped:
                result.skipped[sid] = skipped
            if not new:
                continue
            index = len(events)
            events.append(NewEvent(ev.NOTIFY_RETRIED, actor, {
                "step": sid, "channel": channel, "recipients": len(new),
                "messages": len(new), "person_ids": [n.person_id for n in new][:MAX_LISTED],
                "replaces": replaced[:MAX_LISTED],
                "reasons": dict(reasons.most_common(5)), "attempt_chain": f"retry{seq}",
            }, now))
            outbox += [replace(n, event_index=index) for n in new]
            result.per_step[sid] = len(new)
        return events, outbox

    engine.append_events(incident_id, make)
    return result


def _steps(st: IncidentState, step: str | None) -> list[str]:
    notify_steps = [sid for sid, s in st.playbook.steps().items() if s.notify is not None]
    if step is None:
        return notify_steps
    if step in st.steps and step not in notify_steps:
        raise Refused("refused.notify.not_notify_step", step=step)
    if step not in notify_steps:
        raise Refused("refused.notify.no_step", step=step, incident=st.id,
                      hint=suggest(step, notify_steps) or known(notify_steps))
    return [step]


def _chains(incident_id: str, step: str, rows: list[OutboxRow], failed: set[str],
            channel: str | None, seq: int, channels: ChannelSet | None,
            directory: Directory | None,
            ) -> tuple[list[NewOutbox], list[int], Counter[str], int]:
    """A new first row per failed recipient: on their original first channel (with the
    original fall-backs), or on `channel` (with the fall-backs that followed it)."""
    by_person: dict[str, list[OutboxRow]] = {}
    for r in sorted(rows, key=lambda r: r.id):
        if r.person_id in failed:
            by_person.setdefault(r.person_id, []).append(r)
    new: list[NewOutbox] = []
    replaced: list[int] = []
    reasons: Counter[str] = Counter()
    skipped = 0
    for pid, prs in by_person.items():
        first = prs[0]
        order = [first.channel, *first.fallback_channels]
        if channel is None:
            start, rest = first.channel, list(first.fallback_channels)
        else:
            if not any(r.channel == channel for r in prs) and channel not in order:
                continue  # this recipient never had a message on that channel
            start = channel
            rest = order[order.index(channel) + 1:] if channel in order else []
        last_on = [r for r in prs if r.channel == start]
        address = _address(directory, channels, pid, start) or \
            (last_on[-1].address if last_on else None)
        if not address:
            skipped += 1
            continue
        src = last_on[-1] if last_on else prs[-1]
        new.append(NewOutbox(
            idempotency_key=retry_key(incident_id, step, pid, start, seq), step_id=step,
            person_id=pid, channel=start, address=address, lang=src.lang,
            subject=src.subject, body=src.body, drill=src.drill, fallback_channels=rest))
        replaced += [r.id for r in prs if r.state in ("failed_permanent", "fell_back")]
        reasons[_reason(prs[-1].last_error)] += 1
    return new, replaced, reasons, skipped


def _reason(error: str | None) -> str:
    text = (error or "failed").strip()
    if text.startswith("fell back to "):
        text = text.split(": ", 1)[-1]
    return text[:120]


def _address(directory: Directory | None, channels: ChannelSet | None, person_id: str,
             channel: str) -> str | None:
    """The recipient's current address for `channel` (a corrected roster is used)."""
    if directory is None or channels is None or channel not in channels.channels:
        return None
    key = channels.channels[channel].address_key
    if person_id.startswith("vendor:"):
        who: Any = directory.vendors.get(person_id.split(":", 1)[1])
    else:
        who = directory.people.get(person_id)
    if who is None:
        return None
    return who.channels.get(key) or None
