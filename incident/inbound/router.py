"""From an authenticated message to the one page or question it answers.

The order, and what each refusal means to the gateway:
1. the sender's address (phones normalised as the roster does) names a person in the
   directory — else 403 "unknown sender" (never attached to anything);
2. at most `rate` replies per address and channel per window — else 429;
3. a provider id seen before changes nothing — 200 "duplicate" (gateways retry);
4. the newest open page or roll-call question that went out *on this channel to this
   address* (the newest not yet answered, if any is) — else 409 "nothing to answer";
5. recorded with Engine.record_reply: a page answered "1"/"ok"/"收到"/"确认" is
   acknowledged for that page only, which stops the escalation waiting on it.

A reply can therefore only ever act on a message sent to the address it came from.
Every refusal is logged (address masked) and counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incident.engine.service import Busy
from incident.errors import Msg, Refused, tell
from incident.inbound.adapters import InboundError, Message, Request, read
from incident.inbound.answers import is_ack, parse_answer
from incident.inbound.config import InboundConfig
from incident.store import replies

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.runtime import Runtime

log = logging.getLogger(__name__)

PAGE_PREFIX = "escalation:"
#: what a reply answered, as the listener's log line names it
PURPOSES = {"page": {"en": "page", "zh": "呼叫"}, "roll_call": {"en": "roll_call", "zh": "点名"}}
CLOCK_SKEW = 5.0  # seconds a provider's clock may be behind ours
_FORMAT_KIND = {"smseagle": "sms", "kannel": "sms", "mattermost": "chat", "matrix": "chat"}


def mask(address: str) -> str:
    """An address for a log line: enough to recognise, not enough to dial."""
    a = str(address)
    if len(a) <= 4:
        return "***"
    if a.lstrip("+").isdigit():
        return a[:-8] + "****" + a[-4:] if len(a) > 8 else a[:2] + "***" + a[-2:]
    return a[:3] + "***"


@dataclass(slots=True)
class Outcome:
    status: int
    outcome: str          # recorded, duplicate, unmatched, unroutable, rate_limited, ...
    reason: str = ""
    incident_id: str | None = None
    purpose: str | None = None
    answer: str | None = None
    acknowledged: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.status == 200, "outcome": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        for k in ("incident_id", "purpose", "answer", "acknowledged"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out


class RateLimit:
    """At most `rate` events per `per` seconds per key (a sliding window)."""

    def __init__(self, rate: int, per: float, now: Callable[[], float] = time.monotonic):
        self.rate, self.per, self.now = rate, per, now
        self._seen: dict[Any, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: Any) -> float:
        """0 if allowed (and counted), else the seconds until it would be."""
        t = self.now()
        with self._lock:
            q = self._seen.setdefault(key, deque())
            while q and t - q[0] >= self.per:
                q.popleft()
            if len(q) >= self.rate:
                return max(0.1, self.per - (t - q[0]))
            q.append(t)
            if len(self._seen) > 100_000:  # forget quiet addresses
                for k in [k for k, v in self._seen.items() if not v or t - v[-1] >= self.per]:
                    del self._seen[k]
            return 0.0


@dataclass(slots=True)
class _Person:
    id: str
    unit: str | None
    address: str  # as the directory (and so the outbox) holds it


@dataclass
class Inbox:
    """Takes inbound messages for one runtime (see the module docstring)."""

    runtime: Runtime
    config: InboundConfig
    say: Callable[[str], None] = field(default=lambda _line: None)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.limit = RateLimit(self.config.rate, self.config.per)
        self._index: dict[tuple[str, str], list[_Person]] | None = None
        self._kinds = self._channel_kinds()
        self._lock = threading.Lock()
        from incident.notify.channels import Masker

        self.masker = Masker(self.config.secrets)

    # ---- who is this ------------------------------------------------------------------
    def _channel_kinds(self) -> dict[str, str]:
        try:
            from incident.notify.channels import channels_path, load_channels

            chans = load_channels(channels_path(self.runtime.settings.contacts_dir), env={},
                                  schemes=False)
            known = {c.name: c.kind for c in chans}
        except Exception:  # channels.yaml broken: `incident validate` names it
            known = {}
        return {name: known.get(name) or _FORMAT_KIND.get(ch.format)
                or (name if name in ("sms", "email", "chat") else "sms")
                for name, ch in self.config.channels.items()}

    def _people(self) -> dict[tuple[str, str], list[_Person]]:
        if self._index is None:
            directory: Directory = self.runtime.directory
            index: dict[tuple[str, str], list[_Person]] = {}
            for p in directory.people.values():
                for kind, addr in p.channels.items():
                    key = (kind, self.normalise(kind, addr))
                    index.setdefault(key, []).append(_Person(p.id, p.unit, addr))
            self._index = index
        return self._index

    @staticmethod
    def normalise(kind: str, address: str) -> str:
        a = str(address).strip()
        if kind == "sms":
            from incident.directory.contact import any_phone, mobile

            for read_as in (mobile, any_phone):
                try:
                    return read_as(a)
                except ValueError:
                    continue
            return a
        if kind == "email":
            return a.lower()
        # chat ids: Mattermost user names and Matrix ids are case-insensitive in practice,
        # and written with or without the leading @
        return a.lstrip("@").casefold() if kind == "chat" else a

    def knows(self, channel: str, sender: str) -> bool:
        """Is `sender` the address of someone in the directory (on this channel's kind)?"""
        kind = self._kinds.get(channel, "sms")
        return bool(self._people().get((kind, self.normalise(kind, sender))))

    # ---- one request --------------------------------------------------------------------
    def handle(self, channel: str, req: Request) -> Outcome:
        ch = self.config.channels.get(channel)
        if ch is None:
            return self._refuse(channel, "", InboundError(
                404, Msg("refused.inbound.no_channel", {"channel": channel}),  # type: ignore[arg-type]
                "unknown_channel"))
        try:
            msg = read(ch, req)
        except InboundError as exc:
            return self._refuse(channel, "", exc)
        return self.take(channel, msg)

    def take(self, channel: str, msg: Message) -> Outcome:
        """An authenticated message from `channel` (the HTTP adapters and the Matrix bot)."""
        kind = self._kinds.get(channel, "sms")
        address = self.normalise(kind, msg.sender)
        people = self._people().get((kind, address))
        try:
            if not people:
                raise InboundError(403, Msg("refused.inbound.unknown_sender"),  # type: ignore[arg-type]
                                   "unmatched")
            wait = self.limit.allow((channel, address))
            if wait:
                raise InboundError(429, Msg("refused.inbound.rate_limited",  # type: ignore[arg-type]
                                            {"seconds": f"{wait:.0f}"}), "rate_limited")
            return self._route(channel, address, msg, people)
        except InboundError as exc:
            return self._refuse(channel, address, exc)

    def _route(self, channel: str, address: str, msg: Message,
               people: list[_Person]) -> Outcome:
        store = self.runtime.store
        engine = self.runtime.engine
        pid = str(msg.provider_id)[:200]
        done = replies.taken(store, channel, pid)
        if done is not None and done["outcome"] != "pending":
            return self._count(Outcome(200, "duplicate", "already recorded",
                                       incident_id=done.get("incident_id")), channel, address)
        by_id = {p.id: p for p in people}
        target = self._target(channel, sorted({p.address for p in people}), list(by_id),
                              msg.sent_at)
        if target is None:
            raise InboundError(409, Msg("refused.inbound.nothing_to_answer"),  # type: ignore[arg-type]
                               "unroutable")
        row, purpose = target
        if purpose == "page":
            answer = "ack" if is_ack(msg.text) else None
        else:
            answer = parse_answer(msg.text)
        if not replies.claim(store, channel, pid, address, self.runtime.clock.now()):
            return self._count(Outcome(200, "duplicate", "already recorded"), channel, address)
        person = by_id.get(row["person_id"])
        try:
            st = engine.record_reply(
                row["incident_id"], channel=channel, address=row["address"], text=msg.text,
                person_id=row["person_id"], unit=person.unit if person else None,
                provider_id=pid, outbox_id=row["id"], step_id=row["step_id"],
                purpose=purpose, answer=answer)
        except Busy:  # the incident changing too fast: the gateway retries later
            replies.release(store, channel, pid)
            raise InboundError(503, Msg("refused.inbound.busy"), "busy") from None  # type: ignore[arg-type]
        except Refused as exc:
            replies.release(store, channel, pid)
            raise InboundError(409, Msg("refused.inbound.not_recorded",  # type: ignore[arg-type]
                                        {"reason": exc.message}), "unroutable") from None
        except Exception:
            replies.release(store, channel, pid)
            raise
        mine = next((r for r in reversed(st.replies) if r.get("provider_id") == pid
                     and r.get("channel") == channel), None)
        replies.finish(store, channel, pid, person_id=row["person_id"],
                       incident_id=row["incident_id"], event_seq=mine.get("seq") if mine else None)
        acked = mine.get("acknowledged") if mine else None
        out = Outcome(200, "recorded", incident_id=row["incident_id"], purpose=purpose,
                      answer=answer, acknowledged=acked)
        self.say(tell(Msg("refused.inbound.log_recorded_ack" if acked
                          else "refused.inbound.log_recorded", {
                              "channel": channel, "address": mask(address),
                              "person": row["person_id"], "incident": row["incident_id"],
                              "purpose": PURPOSES.get(purpose, purpose), "step": row["step_id"],
                              "answer": answer or "-", "acked": acked}), self.lang))
        return self._count(out, channel, address, quiet=True)

    def _target(self, channel: str, addresses: list[str], people: list[str],
                sent_at: float | None = None) -> tuple[dict[str, Any], str] | None:
        """The newest unanswered page/question to this address, else the newest. A
        message whose provider dates it (Matrix) never answers one sent after it: an
        old "1" read again after a restart cannot acknowledge today's page."""
        rows = replies.candidates(self.runtime.store, channel, addresses, people)
        first: tuple[dict[str, Any], str] | None = None
        for row in rows:
            if sent_at is not None and row["created_at"].timestamp() > sent_at + CLOCK_SKEW:
                continue
            purpose = self._purpose(row)
            if purpose is None:
                continue
            if first is None:
                first = (row, purpose)
            if not self._answered(row, purpose):
                return row, purpose
        return first

    def _purpose(self, row: dict[str, Any]) -> str | None:
        step = str(row["step_id"])
        if step.startswith(PAGE_PREFIX):
            return "page"
        try:
            pb = self.runtime.playbooks.get(row["playbook_id"])
            kind = str(getattr(pb.steps().get(step), "kind", "") or "")
        except KeyError:
            return None
        return "roll_call" if kind == "roll_call" else None

    def _answered(self, row: dict[str, Any], purpose: str) -> bool:
        def read_state(st: Any) -> bool:
            if purpose == "page":
                page_id = str(row["step_id"])[len(PAGE_PREFIX):]
                page = next((p for p in st.pages if p.get("id") == page_id), None)
                return page is None or page.get("acked_at") is not None
            return any(r.get("outbox_id") == row["id"] and r.get("answer")
                       for r in st.replies)

        try:
            return bool(self.runtime.engine.peek(row["incident_id"], read_state))
        except Refused:
            return True

    # ---- refusals and counts ------------------------------------------------------------
    @property
    def lang(self) -> str:
        """The language of the lines said to the staff running the listener."""
        return str(getattr(getattr(self.runtime, "settings", None), "lang", None) or "en")

    def _refuse(self, channel: str, address: str, exc: InboundError) -> Outcome:
        said: str | Msg = exc.reason
        reason = self.masker(str(said)) or ""  # the gateway reads the reason in English
        key = "refused.inbound.log_refused_from" if address else "refused.inbound.log_refused"
        self.say(self.masker(tell(Msg(key, {
            "channel": channel, "address": mask(address), "status": exc.status,
            "outcome": exc.outcome, "reason": said}), self.lang)) or "")
        return self._count(Outcome(exc.status, exc.outcome, reason), channel, address,
                           quiet=True)

    def _count(self, out: Outcome, channel: str, address: str, quiet: bool = False) -> Outcome:
        with self._lock:
            self.counts[out.outcome] += 1
        if not quiet:
            self.say(tell(Msg("refused.inbound.log_outcome", {
                "channel": channel, "address": mask(address), "outcome": out.outcome}),
                self.lang))
        return out
