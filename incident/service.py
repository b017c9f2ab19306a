"""`incident service`: the product's heartbeat, for when nobody is watching.

One long-running process fires every due timer of every open incident (steps
overdue, targets, report clocks, escalation waits and repeats, drill injects of
drills on real time) and delivers the outbox through the ordinary dispatcher. It
sleeps until the soonest pending timer of the folded open incidents, and wakes
early when another process appends (PostgreSQL LISTEN/NOTIFY; SQLite polls).

Several services may share one PostgreSQL database: each incident is fired under
a per-incident claim (incident.store.liveness.Claims), and the store's sequence
check backs it, so a timer fires once; the outbox claims keep a message to one
sender. Stop it with SIGTERM: it finishes what it claimed and releases its claims;
a SIGKILLed service loses nothing (claims die with its database session; timers
are derived from the log and fire, late and saying so, on the next start).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident.clock import SystemClock, monotonic
from incident.errors import Msg, tell
from incident.i18n import nt, t
from incident.store import liveness

if TYPE_CHECKING:
    from incident.engine import Sweep
    from incident.runtime import Runtime

HEARTBEAT_EVERY = 15.0  # seconds between heartbeat rows
SEEN_WITHIN = timedelta(minutes=1)  # the console warns when no service beat for this long
MAX_SLEEP = 15.0  # a sleep is never longer, so the heartbeat keeps beating
RETRY_AFTER = 5.0  # after a failed sweep (the database unreachable)
RECONCILE_EVERY = 60.0  # seconds between catching delivery progress up with the outbox
ANCHOR_EVERY = 300.0  # seconds between signed checkpoints of the chain heads that moved


def service_seen(store: Any, now: datetime | None = None) -> bool:
    """Has any `incident service` beaten within the last minute (wall time)?"""
    last = liveness.last_seen(store)
    now = now or SystemClock().now()
    return last is not None and now - last <= SEEN_WITHIN


class Service:
    """The loop of `incident service` (see the module docstring)."""

    def __init__(self, runtime: Runtime, *, deliver: bool = True,
                 say: Callable[[str], None] | None = None, poll: float = 0.5):
        self.rt = runtime
        self.deliver = deliver
        self.say = say or (lambda _line: None)
        self.lang = runtime.settings.lang  # the operator's language, for what `say` prints
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.wall = SystemClock()  # liveness is wall time, whatever the incidents' clock
        self.started_at = self.wall.now()
        self.claims = liveness.Claims(runtime.store)
        self.waker = liveness.Waker(runtime.store, poll=poll)
        self.stopping = threading.Event()
        self.sweeps = 0
        self.fired = 0
        self._reported: dict[str, str | Msg] = {}
        self._beat_at = -HEARTBEAT_EVERY
        self._reconciled_at = self._anchored_at = -ANCHOR_EVERY
        runtime.engine.claim = self.claims.claim

    def _say(self, key: str, **fields: object) -> None:
        self.say(tell(Msg(key, fields), self.lang))

    # ---- one pass ----------------------------------------------------------------------
    def sweep(self) -> Sweep:
        sweep = self.rt.engine.sweep()
        self.sweeps += 1
        self.fired += len(sweep.fired)
        for iid, payload in sweep.fired:
            late = t("svc.late", self.lang, s=payload.get("late_by_s")) \
                if payload.get("late") else ""
            self._say("svc.fired", id=iid, timer=f"{payload['kind']} {payload['timer']}",
                      late=late)
        for iid, why in sweep.broken.items():
            if self._reported.get(iid) != why:  # say it once, not every sweep
                self._say("svc.skipped_damaged", id=iid, why=why)
        self._reported = dict(sweep.broken)
        return sweep

    def housekeep(self) -> None:
        """Now and then: bring a notify step's recorded delivery up to its outbox (a
        dispatcher killed before recording progress would leave its target waiting),
        and anchor the chain heads that moved, outside the database."""
        if monotonic() - self._reconciled_at >= RECONCILE_EVERY:
            self._reconciled_at = monotonic()
            self._reconcile()
        if monotonic() - self._anchored_at >= ANCHOR_EVERY:
            self._anchored_at = monotonic()
            from incident.anchoring import write_anchor

            try:
                run = write_anchor(self.rt)
            except Exception as exc:  # a damaged anchor file must not stop the timers
                self._say("svc.not_anchoring", reason=exc)
                return
            if run.written:
                self.say(nt("svc.anchored", len(run.written), self.lang))
            for iid, rep in run.refused.items():
                self._say("svc.not_anchored", id=iid, reason=rep.reason)
            if run.posted is False:
                self._say("svc.post_failed", reason=run.post_error)

    def _reconcile(self) -> None:
        from incident.errors import Refused
        from incident.notify.reconcile import reconcile_progress

        for row in self.rt.store.incidents(status="open"):
            if row.id in self._reported:
                continue  # damaged: named by the sweep, left alone
            with self.claims.claim(row.id) as mine:
                if mine:
                    with contextlib.suppress(Refused):
                        reconcile_progress(self.rt.engine, row.id)

    def _beat(self) -> None:
        if monotonic() - self._beat_at >= HEARTBEAT_EVERY:
            liveness.beat(self.rt.store, self.worker, socket.gethostname(), os.getpid(),
                          self.started_at, self.wall.now())
            self._beat_at = monotonic()

    def run_once(self, timeout: float | None = 60.0) -> Sweep:
        """`incident service --once` (cron): fire what is due, deliver what is queued."""
        try:
            self._beat()
            sweep = self.sweep()
            if self.deliver:
                with self._dispatcher() as dispatcher:
                    dispatcher.run_until_idle(timeout=timeout)
            self.housekeep()
            return sweep
        finally:
            self.claims.close()

    # ---- forever -----------------------------------------------------------------------
    def run(self) -> None:
        """Until stop(): sweep, deliver in the background, sleep until the next due time."""
        dispatcher = self._dispatcher() if self.deliver else None
        if dispatcher is not None:
            dispatcher.start()
        try:
            while not self.stopping.is_set():
                try:
                    self._beat()
                    self.waker.arm()  # appends during the sweep wake the next one
                    sweep = self.sweep()
                    self.housekeep()
                except Exception as exc:  # the database away: say so, keep trying
                    first = (str(exc).splitlines() or [""])[0][:200]
                    self._say("svc.sweep_failed", s=f"{RETRY_AFTER:g}",
                              error=f"{type(exc).__name__}: {first}")
                    with contextlib.suppress(Exception):  # fresh sessions next time
                        self.claims.close()
                        self.waker.close()
                    self.stopping.wait(RETRY_AFTER)
                    continue
                if self.sweeps == 1:
                    nxt = sweep.next_due.isoformat(timespec="seconds") if sweep.next_due \
                        else t("svc.next_none", self.lang)
                    self.say(nt("svc.watching", sweep.incidents, self.lang, next=nxt))
                self.waker.wait(self._sleep_for(sweep))
        finally:
            if dispatcher is not None:
                dispatcher.close()  # finishes in-flight sends; their leases are ours
            self.claims.close()
            self.waker.close()
            with contextlib.suppress(Exception):  # the database may be what stopped us
                liveness.forget(self.rt.store, self.worker)

    def _sleep_for(self, sweep: Sweep) -> float:
        if self.stopping.is_set():
            return 0.0
        if sweep.claimed_elsewhere:
            return min(1.0, MAX_SLEEP)  # another service holds some: look again soon
        if sweep.next_due is None:
            return MAX_SLEEP
        left = (sweep.next_due - self.rt.clock.now()).total_seconds()
        return max(0.05, min(MAX_SLEEP, left))  # never a busy loop

    def stop(self) -> None:
        """From a signal handler: finish this pass, then leave (see run())."""
        self.stopping.set()
        self.waker.stop()

    def _dispatcher(self) -> Any:
        from incident.notify import build_dispatcher

        return build_dispatcher(self.rt)
