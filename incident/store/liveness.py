"""What `incident service` keeps in the database besides events: its heartbeat, its
per-incident claims, and the wake-up when another process appends.

- Heartbeat: one row per running service (table ``service_heartbeat``); the console
  reads the newest to warn when no service has been seen for a minute.
- Claims: on PostgreSQL a session advisory lock per incident, taken around "fold,
  compute the due timers, append". A second service skips an incident held by the
  first instead of racing it; a killed service's session ends and its locks go with
  it, so nothing is left claimed. SQLite has one writer at a time (BEGIN IMMEDIATE)
  and the optimistic sequence check, so every claim there is granted.
- Wake-up: PostgreSQL LISTENs on ``incident_events`` (a trigger NOTIFYs on every
  append, migration 0003); SQLite polls a cheap fingerprint of the incidents table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from incident.store.schema import incidents, service_heartbeat

if TYPE_CHECKING:
    from incident.store.store import Store

CHANNEL = "incident_events"
_NAMESPACE = "incident-timers"


# ---- heartbeat --------------------------------------------------------------------------

def beat(store: Store, worker: str, host: str, pid: int, started_at: datetime,
         now: datetime) -> None:
    """Record that the service `worker` is alive at `now` (wall time)."""
    ins = store._insert(service_heartbeat).values(worker=worker, host=host, pid=pid,
                                                  started_at=started_at, seen_at=now)
    ins = ins.on_conflict_do_update(index_elements=["worker"], set_={"seen_at": now})
    with store._tx() as conn:
        conn.execute(ins)


def forget(store: Store, worker: str) -> None:
    """A service stopping cleanly removes its row (a killed one simply goes stale)."""
    with store._tx() as conn:
        conn.execute(service_heartbeat.delete().where(service_heartbeat.c.worker == worker))


def last_seen(store: Store) -> datetime | None:
    """When any service last beat, or None if none ever did (or the table is missing)."""
    try:
        with store._ro() as conn:
            return conn.execute(sa.select(sa.func.max(service_heartbeat.c.seen_at))).scalar()
    except sa.exc.DBAPIError:  # an older schema without the table: no service
        return None


def services(store: Store) -> list[dict[str, Any]]:
    with store._ro() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(service_heartbeat).order_by(service_heartbeat.c.seen_at.desc()))]


# ---- claims -------------------------------------------------------------------------------

class Claims:
    """Per-incident claims across processes (see the module docstring)."""

    def __init__(self, store: Store):
        self.store = store
        self._conn: Any = None  # the DBAPI connection whose session holds the locks
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        return self.store.dialect == "postgresql"

    def _session(self) -> Any:
        if self._conn is None:
            raw = self.store.engine.raw_connection()
            raw.driver_connection.autocommit = True
            self._conn = raw
        return self._conn

    @contextmanager
    def claim(self, incident_id: str) -> Iterator[bool]:
        """Yield True while this process holds the incident, False if another does."""
        if not self.shared:
            yield True
            return
        with self._lock:
            cur = self._session().driver_connection.cursor()
            try:
                got = cur.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s), "
                    "hashtext(current_schema() || '/' || %s))",
                    (_NAMESPACE, incident_id)).fetchone()[0]
            finally:
                cur.close()
        try:
            yield bool(got)
        finally:
            if got:
                with self._lock:
                    cur = self._session().driver_connection.cursor()
                    try:
                        cur.execute("SELECT pg_advisory_unlock(hashtext(%s), "
                                    "hashtext(current_schema() || '/' || %s))",
                                    (_NAMESPACE, incident_id))
                    finally:
                        cur.close()

    def close(self) -> None:
        """Release every claim: the session ends (a killed process's ends by itself)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.invalidate()  # never hand a locking session back to the pool
                finally:
                    self._conn = None


# ---- wake-up ------------------------------------------------------------------------------

class Waker:
    """Sleeps until a timeout or until another process appends events."""

    def __init__(self, store: Store, poll: float = 0.5):
        self.store = store
        self.poll = poll
        self._conn: Any = None
        self._mark: tuple[int, int] | None = None
        self._stop = threading.Event()

    def _listen(self) -> Any:
        if self._conn is None:
            raw = self.store.engine.raw_connection()
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute(f"LISTEN {CHANNEL}")
            self._conn = raw
        return self._conn.driver_connection

    def fingerprint(self) -> tuple[int, int]:
        """Number of incidents and the sum of their sequence numbers: any append moves it."""
        q = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(incidents.c.last_seq), 0))
        with self.store._ro() as conn:
            n, total = conn.execute(q).one()
        return int(n), int(total)

    def arm(self) -> None:
        """Note the state now; a later wait returns early once it moves."""
        if self.store.dialect == "postgresql":
            conn = self._listen()
            for _ in conn.notifies(timeout=0):  # drop what this process itself caused
                pass
        else:
            self._mark = self.fingerprint()

    def wait(self, timeout: float) -> bool:
        """True when woken by an append (or stop()), False on timeout."""
        if timeout <= 0:
            return False
        if self.store.dialect == "postgresql":
            conn = self._listen()
            step = 0.5  # check stop() twice a second
            left = timeout
            while left > 0 and not self._stop.is_set():
                for _ in conn.notifies(timeout=min(step, left), stop_after=1):
                    return True
                left -= step
            return self._stop.is_set()
        mark = self._mark or self.fingerprint()
        left = timeout
        while left > 0:
            if self._stop.wait(min(self.poll, left)):
                return True
            left -= self.poll
            if self.fingerprint() != mark:
                return True
        return False

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
            finally:
                self._conn = None
