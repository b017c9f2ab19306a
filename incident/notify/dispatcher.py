"""The outbox dispatcher: claims rows, sends each through Apprise, records every attempt.

Delivery guarantees
-------------------
A row is claimed with a lease (state ``sending``, ``claimed_until``). A claimed
row is sent once by its claimer and the outcome is written as soon as the send
returns (results are recorded in small batches, one transaction per pass of the
loop — a few milliseconds). A dispatcher that dies leaves its rows in
``sending``; once the lease runs out any dispatcher re-claims and sends them.

So no message whose send was *recorded* goes twice (the claim is checked when
the outcome is written, and rows already ``sent`` are never claimable), and every
unsent message goes. The claim fences everything a dispatcher records: the
attempt, the new state and a fall-back row are written in one transaction only
while ``claimed_by`` is still this dispatcher and the row still ``sending``
(Store.record_attempts) — one that was paused past its lease records nothing.
A row this dispatcher still holds is never queued twice when it re-claims it.
Every send has a hard deadline (the channel's timeout and a second; with the
request under way at most two socket timeouts more) that ends before the lease;
a service's long retry-after becomes the retry time.

The one window left is at-least-once: a message the gateway accepted in the
instant before the process was killed, before its outcome was committed, is sent
again after the lease expires. That window is at most the messages in flight at
the kill — bounded by the channels' concurrency (bench/bench_notify.py --crash:
about 150-210 per kill at 2 x 128 in flight, gateways answering in 200 ms).
A send is never started when the lease would run out before it could finish.

Sending a large burst is CPU-bound on our side (a few ms of Python per Apprise
call, under one GIL), so a dispatcher may hand live network sends to a few send
processes (``processes``; see ``procs.py``): by default it does so on its own
once at least ``PROCESS_BACKLOG`` live messages are waiting and the machine has
more than one core. Only the sending moves: claims, leases, recording, retries,
fall-back and progress stay here, and drill / ``sink://`` messages are always
sent from this process. The children are stopped by ``stop()``/``close()``.

Channels are throttled independently (concurrency and rate from channels.yaml);
retries back off exponentially on the injected clock; when a recipient's channel
fails for good the next channel of the row's ``fallback_channels`` gets a new row
(the recipient's address for it comes from the directory) and the old row is
marked ``fell_back``.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from incident.clock import Clock, SystemClock, monotonic
from incident.notify.channels import ChannelError, ChannelSet
from incident.notify.planner import drill_mark, fallback_key
from incident.notify.procs import SendProcesses, usable_cores
from incident.notify.send import PERMANENT, SENT, TEMPORARY, Outcome, send_one
from incident.notify.tally import StepTally, progress_fields, step_tallies
from incident.store import NewOutbox, OutboxRow

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.engine import Engine
    from incident.store import Store

log = logging.getLogger(__name__)

SANDBOX_URL = "sink://{channel}/{address}?drill=yes"
PENDING_STATES = ("queued", "sending", "failed_temporary")
# processes=None: start send processes once this many live messages wait in memory
PROCESS_BACKLOG = 200
COALESCE = 0.02  # seconds a finished send may wait to be recorded with others
_LOCAL_SCHEMES = ("sink://",)  # sent in this process: nothing to gain, state to keep here


@dataclass(slots=True)
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    fell_back: int = 0
    lease_lost: int = 0
    attempts: int = 0
    per_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, channel: str, what: str) -> None:
        d = self.per_channel.setdefault(channel, {})
        d[what] = d.get(what, 0) + 1


class _Job(NamedTuple):
    """What one send needs: the Apprise URL (with secrets), the text, and the seconds it
    may take at most (ends well before the row's lease)."""

    url: str
    title: str
    body: str
    deadline: float = 30.0


class _Bucket:
    """Token bucket: `rate` per second with a burst of up to one second's worth."""

    def __init__(self, rate: float, burst: int):
        self.rate = float(rate)
        self.capacity = max(1.0, min(float(burst), self.rate)) if self.rate > 0 else 0.0
        self.tokens = self.capacity
        self.stamp = monotonic()

    def take(self) -> float:
        """0 when a token was taken, else seconds until one is due."""
        if self.rate <= 0:
            return 0.0
        now = monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def progress_payload(store: Store, incident_id: str, step: str) -> dict[str, Any]:
    """The step's own messages, per recipient and per channel (see notify/tally.py)."""
    tallied = step_tallies(store, incident_id, step)
    return progress_fields(tallied.get(step) or StepTally(step))


class Dispatcher:
    def __init__(self, store: Store, channels: ChannelSet, clock: Clock | None = None, *,
                 drill_sandbox: str = SANDBOX_URL,
                 sandbox_fault: Callable[[str, str, datetime], str | None] | None = None,
                 directory: Directory | None = None,
                 engine: Engine | None = None,
                 on_progress: Callable[[str, dict[str, Any]], None] | None = None,
                 incident_id: str | None = None, lease: timedelta = timedelta(minutes=2),
                 progress_every: float = 1.5, max_workers: int | None = None,
                 worker: str | None = None, poll: float = 0.5,
                 processes: int | None = None):
        self.store = store
        self.channels = channels
        self.clock = clock or SystemClock()
        self.drill_sandbox = drill_sandbox
        # (incident, channel, now) -> reason a drill's scripted fault has the channel
        # down, or None. The sandbox then refuses the message, so retries and fall-back
        # run exactly as they would live (see incident.drill).
        self.sandbox_fault = sandbox_fault
        self.faults_hit = 0
        self.directory = directory
        self.engine = engine
        self.on_progress = on_progress
        self.incident_id = incident_id
        self.lease = lease
        self.progress_every = progress_every
        self.poll = poll
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.masker = channels.masker
        total = sum(c.concurrency for c in channels) or 4
        self._pool = ThreadPoolExecutor(max_workers=max_workers or min(total, 256),
                                        thread_name_prefix="notify")
        self._queues: dict[str, deque[OutboxRow]] = {c.name: deque() for c in channels}
        self._inflight: dict[str, int] = {c.name: 0 for c in channels}
        self._buckets = {c.name: _Bucket(c.rate, c.concurrency) for c in channels}
        self._results: queue.Queue[tuple[OutboxRow, Outcome | None, datetime]] = queue.Queue()
        self._dirty: set[tuple[str, str]] = set()
        self._held: set[int] = set()  # ids queued or in flight in this dispatcher
        self._renewed: dict[int, datetime | None] = {}  # held ids claimed again: new lease
        self._last_emit: dict[str, float] = {}
        self._drill_cache: dict[str, bool] = {}
        # channel -> monotonic time until which it is not claimed again while busy:
        # its last claim came back short, so asking every turn would only cost an
        # empty transaction (a thousand of them in a 4,000-message burst)
        self._dry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = DispatchStats()
        # Send processes: None = automatic (a big backlog on a multi-core machine),
        # 0 = never, n = n processes from the first live network send.
        cores = usable_cores()
        self.processes = (cores if cores > 1 else 0) if processes is None else processes
        self._auto_processes = processes is None
        self._procs: SendProcesses | None = None
        self._procs_idle_since: float | None = None

    # ---- public API --------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim what is due now, send it, record it; returns the rows handled."""
        before = self.stats.attempts + self.stats.lease_lost
        self._fill()
        while self._busy():
            self._turn()
        self._progress(force=True)
        return self.stats.attempts + self.stats.lease_lost - before

    def run_until_idle(self, timeout: float | None = None,
                       wait_retries: bool = False) -> DispatchStats:
        """Send until nothing is due (with wait_retries, until nothing is pending at all:
        back-offs are waited out). Returns the totals of this dispatcher."""
        end = None if timeout is None else monotonic() + timeout
        while not self._stop.is_set():
            claimed = self._fill()
            if self._busy():
                self._turn()
            elif not claimed:
                if not wait_retries:
                    break
                wait = self._next_retry_in()
                if wait is None:
                    break
                self._progress(force=True)
                self._stop.wait(min(max(wait, 0.01), self.poll * 4))
            if end is not None and monotonic() >= end:
                break
        while self._busy():  # finish what was claimed: its lease is ours
            self._turn()
        self._progress(force=True)
        return self.stats

    def start(self) -> Dispatcher:
        """Run in a background thread until stop()."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, name="dispatcher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the background thread (it finishes what it claimed) and the send
        processes, if any (started again when needed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_processes()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the loop ----------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self._fill()
                if self._busy():
                    self._turn()
                elif not claimed:
                    self._progress(force=True)
                    self._idle_processes()
                    self._stop.wait(self.poll)
            except Exception:  # keep serving; the next pass retries
                log.exception("dispatcher pass failed")
                self._stop.wait(self.poll)
        while self._busy():
            self._turn()
        self._progress(force=True)

    def _busy(self) -> bool:
        return any(self._queues.values()) or any(self._inflight.values())

    def _room(self, name: str) -> int:
        ch = self.channels.channels[name]
        cap = 2 * ch.concurrency
        if ch.rate > 0:  # never hold more than a quarter lease of rate-limited work
            cap = min(cap, max(1, int(ch.rate * self.lease.total_seconds() / 4)))
        return cap - len(self._queues[name]) - self._inflight[name]

    def _fill(self) -> int:
        now = self.clock.now()
        got = 0
        busy = self._busy()
        t = monotonic()
        for name in self.channels.channels:
            room = self._room(name)
            idle = not self._queues[name] and not self._inflight[name]
            if room <= 0 or (room < max(1, self.channels.channels[name].concurrency // 2)
                             and not idle):
                continue
            if busy and self._dry.get(name, 0.0) > t:
                continue  # when idle every channel is asked: nothing due is ever left behind
            rows = self.store.claim_outbox(self.worker, now, room, self.lease, channel=name,
                                           incident_id=self.incident_id)
            if len(rows) < room:
                self._dry[name] = t + self.poll
            else:
                self._dry.pop(name, None)
            rows = self._new(rows)
            self._queues[name].extend(rows)
            got += len(rows)
        if not got and not self._busy():
            # rows for channels this configuration does not know: claim them to fail them
            for row in self._new(self.store.claim_outbox(self.worker, now, 20, self.lease,
                                                         incident_id=self.incident_id)):
                self._queues.setdefault(row.channel, deque()).append(row)
                self._inflight.setdefault(row.channel, 0)
                got += 1
        self.stats.claimed += got
        return got

    def _new(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """Claimed rows this dispatcher does not hold yet. A row whose lease ran out
        while it was still queued or in flight here is claimed again by us (the claim
        is renewed), but it must not be sent a second time: the send in flight
        records it under the same claim."""
        fresh = []
        for r in rows:
            if r.id in self._held:
                self._renewed[r.id] = r.claimed_until  # its new lease, for _job
            else:
                fresh.append(r)
        self._held.update(r.id for r in fresh)
        return fresh

    def _turn(self) -> None:
        wake = self._submit()
        timeout = 0.05 if any(self._inflight.values()) else (wake or 0.01)
        try:
            item = self._results.get(timeout=min(timeout, wake) if wake else timeout)
        except queue.Empty:
            item = None
        batch = [item] if item is not None else []
        while True:
            try:
                batch.append(self._results.get_nowait())
            except queue.Empty:
                break
        # Many sends in flight: gather for a moment so that one transaction records
        # dozens of attempts rather than each a few (a result waits at most COALESCE).
        end = monotonic() + COALESCE
        while batch and len(batch) < sum(self._inflight.values()) and len(batch) < 256:
            left = end - monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._results.get(timeout=left))
            except queue.Empty:
                break
        if batch:
            self._record(batch)
        self._progress()

    def _submit(self) -> float | None:
        wake: float | None = None
        for name, q in self._queues.items():
            ch = self.channels.channels.get(name)
            limit = ch.concurrency if ch else 4
            bucket = self._buckets.get(name)
            while q and self._inflight[name] < limit:
                row = q[0]
                drill = self._is_drill(row)
                if bucket is not None and not drill:
                    wait = bucket.take()
                    if wait > 0:
                        wake = wait if wake is None else min(wake, wait)
                        break
                q.popleft()
                self._inflight[name] += 1
                if drill or not self._offload(row):
                    self._pool.submit(self._deliver, row, drill)
        return wake

    # ---- send processes ------------------------------------------------------------------
    def _network(self, name: str) -> bool:
        ch = self.channels.channels.get(name)
        return ch is not None and not ch.url.startswith(_LOCAL_SCHEMES)

    def _send_processes(self) -> SendProcesses | None:
        """The running send processes, started when wanted; None: send in-process."""
        if self.processes <= 0:
            return None
        if self._procs is not None and not self._procs.broken:
            return self._procs
        if self._procs is not None:  # a child died: send from this process from now on
            log.warning("send processes failed; sending from the dispatcher process")
            self._close_processes()
            self.processes = 0
            return None
        if self._auto_processes:
            backlog = sum(len(q) + self._inflight[n] for n, q in self._queues.items()
                          if self._network(n))
            if backlog < PROCESS_BACKLOG:
                return None
        network = [c.concurrency for c in self.channels if self._network(c.name)]
        threads = max(1, min(256, -(-sum(network) // self.processes)))
        log.info("starting %d send process(es) x %d threads", self.processes, threads)
        self._procs = SendProcesses(self.processes, threads)
        return self._procs

    def _offload(self, row: OutboxRow) -> bool:
        """Hand a live network send to the send processes; False: send it here."""
        procs = self._send_processes()
        if procs is None:
            return False
        started = self.clock.now()
        job = self._job(row, False, started)
        if not isinstance(job, _Job) or job.url.startswith(_LOCAL_SCHEMES):
            return False  # settled without sending, or a local sink: the thread path

        def done(out: Outcome | None) -> None:  # collector thread
            if out is not None and out.error:
                out = Outcome(out.status, out.elapsed_ms, self.masker(out.error))
            self._results.put((row, out, started))

        procs.submit(job.url, job.title, job.body, done, job.deadline)
        self._procs_idle_since = None
        return True

    def _idle_processes(self, after: float = 60.0) -> None:
        """A serving dispatcher lets its send processes go after a quiet minute."""
        if self._procs is None:
            return
        t = monotonic()
        if self._procs_idle_since is None:
            self._procs_idle_since = t
        elif t - self._procs_idle_since >= after:
            self._close_processes()

    def _close_processes(self) -> None:
        procs, self._procs = self._procs, None
        if procs is not None:
            procs.close()

    # ---- one send (pool thread) ----------------------------------------------------------
    def _deliver(self, row: OutboxRow, drill: bool) -> None:
        started = self.clock.now()
        try:
            outcome = self._send(row, drill, started)
        except Exception as exc:  # never lose the row's accounting
            outcome = Outcome(TEMPORARY, 0.0, self.masker(f"{type(exc).__name__}: {exc}"))
        self._results.put((row, outcome, started))

    def _send(self, row: OutboxRow, drill: bool, now: datetime) -> Outcome | None:
        """Send one row from this process."""
        job = self._job(row, drill, now)
        if not isinstance(job, _Job):
            return job
        return send_one(job.url, job.title, job.body, self.masker, deadline=job.deadline)

    def _job(self, row: OutboxRow, drill: bool, now: datetime) -> _Job | Outcome | None:
        """The send to make for a row — or its outcome when there is nothing to send
        (None: the lease would lapse mid-send, leave it to be re-claimed)."""
        ch = self.channels.channels.get(row.channel)
        # The send's hard deadline: no new request (HTTP) or message (SMTP) starts
        # after it, and no retry-after is slept past it. The one already started is
        # bounded by its connect and read timeouts, so a send takes at most
        # deadline + 2 x timeout — the margin the lease must still have before a send
        # may start: a send always ends (sent, failed or cut off) while its claim holds.
        timeout = ch.timeout if ch else 10.0
        deadline = timeout + 1
        claimed_until = self._renewed.get(row.id, row.claimed_until)
        if claimed_until is not None:
            margin = timedelta(seconds=deadline + 2 * timeout)
            if now + margin >= claimed_until:
                return None  # the lease would lapse mid-send: let it be re-claimed
        if drill:
            mark = drill_mark(row.lang)
            subject = row.subject if row.subject.startswith(mark) else mark + row.subject
            body = row.body if row.body.startswith(mark) else mark + row.body
            url = self.drill_sandbox.format(channel=quote(row.channel, safe=""),
                                            address=quote(row.address, safe=""))
            if self.sandbox_fault is not None \
                    and self.sandbox_fault(row.incident_id, row.channel, now):
                self.faults_hit += 1
                url += ("&" if "?" in url else "?") + "fail=yes"
            return _Job(url, subject, body, deadline)
        if ch is None:
            return Outcome(PERMANENT, 0.0, f"channel '{row.channel}' is not configured in "
                                           f"{self.channels.source}")
        try:
            url = ch.render(row.address, self.channels.secrets)
        except ChannelError as exc:
            return Outcome(PERMANENT, 0.0, self.masker(str(exc)))
        return _Job(url, row.subject if ch.subject else "", row.body, deadline)

    def _is_drill(self, row: OutboxRow) -> bool:
        if row.drill:
            return True
        with self._lock:
            known = self._drill_cache.get(row.incident_id)
        if known is None:
            try:
                known = bool(self.store.incident(row.incident_id).drill)
            except KeyError:
                known = False
            with self._lock:
                self._drill_cache[row.incident_id] = known
        return known

    # ---- recording -----------------------------------------------------------------------
    def _record(self, batch: list[tuple[OutboxRow, Outcome | None, datetime]]) -> None:
        """Write a batch of outcomes in one transaction, each fenced by its claim: an
        outcome whose lease was lost (re-claimed by another dispatcher) changes nothing
        and triggers no fall-back (see Store.record_attempts)."""
        now = self.clock.now()
        items: list[dict[str, Any]] = []
        counted: list[tuple[OutboxRow, str, bool]] = []
        for row, outcome, started in batch:
            self._inflight[row.channel] -= 1
            self._held.discard(row.id)
            self._renewed.pop(row.id, None)
            if outcome is None:
                self.stats.lease_lost += 1
                continue
            status, error, next_at = outcome.status, outcome.error, None
            ch = self.channels.channels.get(row.channel)
            attempt = row.attempts + 1
            if status == TEMPORARY:
                retries = ch.retries if ch is not None else 0
                if attempt > retries:
                    status = PERMANENT
                    error = f"gave up after {attempt} attempt(s): {error}"
                else:
                    backoff = (ch.backoff if ch is not None else 30.0) * (2 ** (attempt - 1))
                    if outcome.retry_after is not None:  # the service said when
                        backoff = max(backoff, outcome.retry_after)
                    next_at = now + timedelta(seconds=backoff)
            item = {"outbox_id": row.id, "worker": self.worker, "status": status,
                    "started_at": started, "elapsed_ms": outcome.elapsed_ms,
                    "error": error, "now": now, "next_attempt_at": next_at}
            fell = False
            if status == PERMANENT and row.fallback_channels:
                nxt = self._fall_back(row, error or "")
                if nxt is not None:
                    item["fall_back"] = (row.incident_id, row.event_seq, *nxt)
                    fell = True
            items.append(item)
            key = {SENT: "sent", TEMPORARY: "retrying", PERMANENT: "failed"}[status]
            counted.append((row, key, fell))
        applied = self.store.record_attempts(items) if items else set()
        lost = [row.id for row, _, _ in counted if row.id not in applied]
        if lost:
            self.stats.lease_lost += len(lost)  # another dispatcher holds them now
            log.warning("%d outcome(s) not recorded: their lease was lost to another "
                        "dispatcher, which owns them now (rows %s)", len(lost),
                        ", ".join(map(str, lost[:10])) + (" …" if len(lost) > 10 else ""))
        for row, key, fell in counted:
            if row.id not in applied:
                continue
            self.stats.attempts += 1
            if fell:
                key = "fell_back"
                self._dry.clear()  # a fall-back row was just queued on another channel
            setattr(self.stats, key, getattr(self.stats, key) + 1)
            self.stats.count(row.channel, key)
            self._dirty.add((row.incident_id, row.step_id))

    def _address(self, person_id: str, channel: str) -> str | None:
        ch = self.channels.channels.get(channel)
        if ch is None or self.directory is None:
            return None
        d = self.directory
        if person_id.startswith("vendor:"):
            who = d.vendors.get(person_id.split(":", 1)[1])
        else:
            who = d.people.get(person_id)
        if who is None:
            return None
        return who.channels.get(ch.address_key) or None

    def _fall_back(self, row: OutboxRow, error: str) -> tuple[NewOutbox, str] | None:
        """The next usable channel's row and the reason to store, or None. It is
        written only together with this row's attempt, while the claim holds."""
        rest = list(row.fallback_channels)
        while rest:
            nxt = rest.pop(0)
            address = self._address(row.person_id, nxt)
            if address is None:
                continue
            new = NewOutbox(
                idempotency_key=fallback_key(row.idempotency_key, row.incident_id, row.step_id,
                                             row.person_id, row.channel, nxt),
                step_id=row.step_id, person_id=row.person_id, channel=nxt, address=address,
                lang=row.lang, subject=row.subject, body=row.body, drill=row.drill,
                fallback_channels=rest)
            return new, f"fell back to {nxt}: {error}"[:600]
        return None

    # ---- progress ------------------------------------------------------------------------
    def _progress(self, force: bool = False) -> None:
        if not self._dirty:
            return
        t = monotonic()
        due = {iid for iid, _ in self._dirty
               if force or t - self._last_emit.get(iid, 0.0) >= self.progress_every}
        for iid in sorted(due):
            steps = sorted(s for i, s in self._dirty if i == iid)
            self._dirty -= {(iid, s) for s in steps}
            self._last_emit[iid] = t
            try:
                self._emit(iid, [progress_payload(self.store, iid, step) for step in steps])
            except Exception:  # progress is a courtesy; delivery goes on
                log.exception("delivery progress for %s failed", iid)

    def _emit(self, incident_id: str, payloads: list[dict[str, Any]]) -> None:
        """Live figures go to `on_progress`; the log gets only the facts among them (a
        step finished, a delivered target met: notify/reconcile.py) — the counts in
        between stay derived data in the outbox."""
        if self.engine is not None:
            from incident.notify.reconcile import record_facts

            record_facts(self.engine, incident_id, payloads)
        if self.on_progress is not None:
            for payload in payloads:
                self.on_progress(incident_id, payload)

    def _next_retry_in(self) -> float | None:
        """Seconds until the next back-off ends (None: nothing is waiting to retry)."""
        ids = [self.incident_id] if self.incident_id else \
            [r.id for r in self.store.incidents(status=None)]
        now = self.clock.now()
        soonest: datetime | None = None
        for iid in ids:
            counts = self.store.outbox_counts(iid)
            if not any(s.get("failed_temporary") or s.get("queued") or s.get("sending")
                       for s in counts.values()):
                continue
            for r in self.store.outbox_rows(iid):
                if r.state in PENDING_STATES:
                    at = r.next_attempt_at if r.state != "sending" else r.claimed_until
                    at = at or now
                    soonest = at if soonest is None or at < soonest else soonest
        if soonest is None:
            return None
        return max(0.0, (soonest - now).total_seconds())
