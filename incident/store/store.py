"""The event store: incidents, their hash-chained event logs, and the notification outbox.

Every public method runs in its own short transaction on its own pooled
connection, so a Store may be shared by threads (console workers, the
notification dispatcher's pool). The hot paths use SQLAlchemy Core statements
(compiled once, cached), not the ORM.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from incident.store import db
from incident.store.keys import ChainKey, Keyring
from incident.store.records import (
    ATTEMPT_STATUSES,
    FINAL_OUTBOX_STATES,
    GENESIS_HASH,
    INCIDENT_STATUSES,
    AttemptRow,
    IncidentRow,
    NewEvent,
    NewOutbox,
    OutboxRow,
    SequenceConflict,
    StoredEvent,
    StoreUnavailable,
    VerifyReport,
    event_hash,
    keyed_event_hash,
    normalize_payload,
)
from incident.store.schema import delivery_attempts, events, incident_counters, incidents, outbox

_INCIDENT_COLS = [incidents.c[f.name] for f in fields(IncidentRow)]
_EVENT_COLS = [events.c[f.name] for f in fields(StoredEvent)]
_OUTBOX_COLS = [outbox.c[f.name] for f in fields(OutboxRow)]
_ATTEMPT_COLS = [delivery_attempts.c[f.name] for f in fields(AttemptRow)]

# Incident columns an append may change alongside its events.
UPDATABLE = frozenset({"status", "owner", "severity", "resolved_at", "updated_at", "title",
                       "location", "site", "type", "playbook_id", "playbook_version", "drill"})
CLAIMABLE = ("queued", "failed_temporary")


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _bp(name: str, col: sa.Column) -> sa.BindParameter:
    return sa.bindparam(name, type_=col.type)


class Store:
    def __init__(self, engine: Engine, url: URL):
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name
        self._writer = db.writer(engine)
        self._serial = threading.RLock() if db.sqlite_needs_serializing(url) else nullcontext()
        # only the dialect in use is imported (the other costs start-up time for nothing)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._insert = insert
        self._tips: dict[str, tuple[int, str]] = {}
        self._fast = _FastSQL(engine.dialect)
        # Set by use_integrity(): the chain key (outside the database) and the anchor
        # log. Without a keyring new events are unkeyed (plain SHA-256), as before.
        self.keyring: Keyring | None = None
        self.anchors: Any = None
        self._build_statements()

    def use_integrity(self, keyring: Keyring | None, anchors: Any = None) -> None:
        """Key new events with ``keyring.current`` and check chains against its keys and
        against the last checkpoint in ``anchors`` (an anchors.AnchorLog)."""
        self.keyring = keyring
        self.anchors = anchors

    def _key(self) -> ChainKey | None:
        return self.keyring.current if self.keyring is not None else None

    def __repr__(self) -> str:
        return f"<Store {self.url.render_as_string(hide_password=True)}>"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # ---- plumbing ------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, so writers queue, never deadlock)."""
        with self._serial, self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _ro(self) -> Iterator[sa.Connection]:
        with self._serial, self.engine.connect() as conn:
            yield conn

    def _build_statements(self) -> None:
        c = incidents.c
        self._q_incident = sa.select(*_INCIDENT_COLS).where(c.id == sa.bindparam("id"))
        self._q_last_seq = sa.select(c.last_seq).where(c.id == sa.bindparam("id"))
        self._q_prev_hash = sa.select(events.c.hash).where(
            events.c.incident_id == sa.bindparam("id"), events.c.seq == sa.bindparam("seq"))
        self._ins_events = events.insert()
        self._ins_counter = (
            self._insert(incident_counters).values(day=sa.bindparam("day"), last=1)
            .on_conflict_do_update(index_elements=["day"],
                                   set_={"last": incident_counters.c.last + 1})
            .returning(incident_counters.c.last))
        self._ins_outbox = (self._insert(outbox)
                            .on_conflict_do_nothing(index_elements=["idempotency_key"])
                            .returning(outbox.c.id))
        self._ins_attempt = delivery_attempts.insert()
        c = outbox.c
        # One prepared statement for a whole batch of finished sends (executemany):
        # building an update() per row cost about a millisecond of CPU each.
        self._finish_many = (
            outbox.update()
            .where(c.id == sa.bindparam("b_id"), c.claimed_by == sa.bindparam("b_worker"),
                   c.state == "sending")
            .values(state=sa.bindparam("b_state"), attempts=sa.bindparam("b_attempts"),
                    claimed_by=None, claimed_until=None,
                    updated_at=sa.bindparam("b_now", type_=c.updated_at.type),
                    last_error=sa.func.coalesce(sa.bindparam("b_error", type_=c.last_error.type),
                                                c.last_error),
                    sent_at=sa.func.coalesce(sa.bindparam("b_sent_at", type_=c.sent_at.type),
                                             c.sent_at),
                    next_attempt_at=sa.bindparam("b_next", type_=c.next_attempt_at.type)))

    # ---- incidents and events -----------------------------------------------------
    def create_incident(self, *, playbook_id: str, playbook_version: str, type: str,
                        title: dict, location: str, site: str, severity: int, drill: bool,
                        owner: str, created_at: datetime, events: Sequence[NewEvent],
                        id_date: date | None = None) -> tuple[IncidentRow, list[StoredEvent]]:
        """A new open incident and its first events, in one transaction.

        The id is INC-YYMMDD-NNNN: the date of `created_at` in UTC (or `id_date`,
        e.g. the local date, when given) and a per-day counter.
        """
        if not events:
            raise ValueError("an incident starts with at least one event (incident.started)")
        created_at = _aware("created_at", created_at)
        day = (id_date or created_at.date()).strftime("%y%m%d")
        first = list(events)
        updated_at = max([created_at, *(_aware("event ts", e.ts) for e in first)])
        with self._tx() as conn:
            n = conn.execute(self._ins_counter, {"day": day}).scalar_one()
            iid = f"INC-{day}-{n:04d}"
            values = {
                "id": iid, "playbook_id": playbook_id, "playbook_version": str(playbook_version),
                "type": type, "title": dict(title), "location": location, "site": site or "",
                "severity": int(severity), "drill": bool(drill), "status": "open",
                "owner": owner, "created_at": created_at, "resolved_at": None,
                "last_seq": len(first), "updated_at": updated_at,
            }
            conn.execute(incidents.insert(), values)
            rows, stored = _chain(iid, 1, GENESIS_HASH, first, self._key())
            conn.execute(self._ins_events, rows)
        self._remember(stored[-1])
        return IncidentRow(**values), stored

    def append(self, incident_id: str, expected_seq: int, events: Sequence[NewEvent], *,
               outbox: Iterable[NewOutbox] = (), update: dict[str, Any] | None = None,
               ) -> list[StoredEvent]:
        """Append events (plus their outbox rows and incident updates) in one transaction.

        Raises SequenceConflict(current_seq) when the log is no longer at
        `expected_seq`; nothing is written then.
        """
        batch = list(events)
        if not batch:
            raise ValueError("append needs at least one event")
        values = _update_values(update)
        values.setdefault("updated_at", max(_aware("event ts", e.ts) for e in batch))
        values["last_seq"] = expected_seq + len(batch)
        queued = list(outbox)
        try:
            return self._append(incident_id, expected_seq, batch, values, queued)
        except self._fast.integrity_error:
            raise self._append_clash(incident_id, expected_seq) from None

    def _append(self, incident_id: str, expected_seq: int, batch: list[NewEvent],
                values: dict[str, Any], queued: list[NewOutbox]) -> list[StoredEvent]:
        fast = self._fast
        with self._tx() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                if fast.update(cur, values, incident_id, expected_seq) != 1:
                    current = conn.execute(self._q_last_seq, {"id": incident_id}).scalar()
                    if current is None:
                        raise KeyError(_unknown(incident_id))
                    raise SequenceConflict(current, expected_seq, incident_id)
                tip = self._tips.get(incident_id)
                if expected_seq == 0:
                    prev_hash = GENESIS_HASH
                elif tip is not None and tip[0] == expected_seq:
                    prev_hash = tip[1]
                else:
                    # A missing predecessor (tampering) must not stop a live incident;
                    # verify() reports the gap.
                    prev_hash = conn.execute(self._q_prev_hash,
                                             {"id": incident_id, "seq": expected_seq}
                                             ).scalar() or GENESIS_HASH
                rows, stored = _chain(incident_id, expected_seq + 1, prev_hash, batch,
                                      self._key())
                # The (incident_id, seq) key is the backstop behind the guarded update:
                # its IntegrityError becomes a SequenceConflict in append().
                fast.insert_events(cur, rows)
            finally:
                cur.close()
            if queued:
                self._add_outbox(conn, incident_id, stored, queued)
        self._remember(stored[-1])
        return stored

    def _append_clash(self, incident_id: str, expected_seq: int) -> SequenceConflict:
        return SequenceConflict(self._last_seq(incident_id), expected_seq, incident_id)

    def _remember(self, tip: StoredEvent) -> None:
        """Events never change, so the hash of (incident, seq) can be kept to chain on."""
        tips = self._tips
        if len(tips) > 4096 and tip.incident_id not in tips:
            tips.clear()
        tips[tip.incident_id] = (tip.seq, tip.hash)

    def _last_seq(self, incident_id: str) -> int:
        with self._ro() as conn:
            current = conn.execute(self._q_last_seq, {"id": incident_id}).scalar()
        if current is None:
            raise KeyError(_unknown(incident_id))
        return current

    def events(self, incident_id: str, after_seq: int = 0,
               kinds: Sequence[str] | None = None) -> list[StoredEvent]:
        """The incident's events after `after_seq`, in order (optionally only some kinds)."""
        q = (sa.select(*_EVENT_COLS)
             .where(events.c.incident_id == incident_id, events.c.seq > after_seq)
             .order_by(events.c.seq))
        if kinds is not None:
            q = q.where(events.c.kind.in_(list(kinds)))
        with self._ro() as conn:
            return [StoredEvent(*r) for r in conn.execute(q)]

    def events_many(self, incident_ids: Sequence[str], chunk: int = 400,
                    ) -> dict[str, list[StoredEvent]]:
        """The events of many incidents in a few queries (monthly analyses)."""
        out: dict[str, list[StoredEvent]] = {i: [] for i in incident_ids}
        ids = list(out)
        with self._ro() as conn:
            for k in range(0, len(ids), chunk):
                q = (sa.select(*_EVENT_COLS).where(events.c.incident_id.in_(ids[k:k + chunk]))
                     .order_by(events.c.incident_id, events.c.seq))
                for r in conn.execute(q):
                    e = StoredEvent(*r)
                    out[e.incident_id].append(e)
        return out

    def incident(self, incident_id: str) -> IncidentRow:
        with self._ro() as conn:
            r = conn.execute(self._q_incident, {"id": incident_id}).first()
        if r is None:
            raise KeyError(_unknown(incident_id))
        return IncidentRow(*r)

    def incidents(self, *, status: str | None = None, drill: bool | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  site: str | None = None, limit: int | None = None) -> list[IncidentRow]:
        """Incidents newest first; `since`/`until` bound created_at (until is exclusive)."""
        c = incidents.c
        q = sa.select(*_INCIDENT_COLS).order_by(c.created_at.desc(), c.id.desc())
        if status is not None:
            q = q.where(c.status == status)
        if drill is not None:
            q = q.where(c.drill == bool(drill))
        if since is not None:
            q = q.where(c.created_at >= _aware("since", since))
        if until is not None:
            q = q.where(c.created_at < _aware("until", until))
        if site is not None:
            q = q.where(c.site == site)
        if limit is not None:
            q = q.limit(int(limit))
        with self._ro() as conn:
            return [IncidentRow(*r) for r in conn.execute(q)]

    def last_change(self) -> tuple:
        """A cheap fingerprint of everything a console shows; compare to poll for changes."""
        inc = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(incidents.c.last_seq), 0),
                        sa.func.max(incidents.c.updated_at))
        box = sa.select(sa.func.max(outbox.c.id), sa.func.max(outbox.c.updated_at))
        # Index-backed counts catch state moves made at an identical "now".
        states = (sa.select(outbox.c.state, sa.func.count())
                  .where(outbox.c.state.in_(("queued", "sending", "failed_temporary")))
                  .group_by(outbox.c.state))
        att = sa.select(sa.func.max(delivery_attempts.c.id))
        with self._ro() as conn:
            a = tuple(conn.execute(inc).one())
            b = tuple(conn.execute(box).one())
            c = tuple(sorted((st, int(n)) for st, n in conn.execute(states)))
            d = conn.execute(att).scalar()
        return (int(a[0]), int(a[1]), a[2], b[0], b[1], c, d)

    def verify(self, incident_id: str) -> VerifyReport:
        """Recompute the hash chain with the chain keys and compare it with the last
        anchor; name the first broken link or what no longer matches."""
        q = sa.select(*_EVENT_COLS).where(events.c.incident_id == incident_id) \
            .order_by(events.c.seq)
        # Events first, then the recorded length: an append committed in between (a
        # live incident, PostgreSQL's read committed) then shows as more to read, not
        # as a log longer than its incident row.
        with self._ro() as conn:
            rows = [StoredEvent(*r) for r in conn.execute(q)]
            last_seq = conn.execute(self._q_last_seq, {"id": incident_id}).scalar()
            if last_seq is None:
                raise KeyError(_unknown(incident_id))
        return self.check_chain(incident_id, rows, last_seq)

    def signing_keys(self, limit: int = 10) -> list[str]:
        """Ids of chain keys that signed events here (a few; for "key missing" checks)."""
        q = (sa.select(events.c.key_id).where(events.c.key_id.is_not(None)).distinct()
             .limit(limit))
        with self._ro() as conn:
            return sorted(conn.execute(q).scalars())

    def check_chain(self, incident_id: str, rows: Sequence[StoredEvent],
                    last_seq: int | None = None) -> VerifyReport:
        """check_chain with this store's keyring and the incident's last anchor."""
        anchor, problem = None, ""
        if self.anchors is not None:
            anchor, problem = self.anchors.latest_for(incident_id)
        rows = list(rows)
        for _ in range(3):
            # Catch up with appends made while we read (an anchor or the row may already
            # know of them): a live log must not look truncated or over-long.
            have = rows[-1].seq if rows else 0
            ahead = max(anchor.seq if anchor is not None else 0, last_seq or 0)
            if ahead <= have:
                break
            more = self.events(incident_id, after_seq=have)
            if not more:
                break
            rows += more
            if last_seq is not None:
                last_seq = self._last_seq(incident_id)
        return check_chain(incident_id, rows, last_seq, keyring=self.keyring, anchor=anchor,
                           anchor_problem=problem)

    # ---- outbox --------------------------------------------------------------------
    def add_outbox(self, incident_id: str, event_seq: int, rows: Iterable[NewOutbox],
                   *, now: datetime | None = None) -> int:
        """Queue rows for an existing event; returns how many were new (duplicates skip)."""
        batch = list(rows)
        if not batch:
            return 0
        with self._tx() as conn:
            ts = conn.execute(sa.select(events.c.ts).where(
                events.c.incident_id == incident_id, events.c.seq == event_seq)).scalar()
            if ts is None:
                if conn.execute(self._q_last_seq, {"id": incident_id}).scalar() is None:
                    raise KeyError(_unknown(incident_id))
                raise ValueError(f"incident {incident_id} has no event {event_seq}")
            return self._insert_outbox(conn, incident_id, [(event_seq, r) for r in batch],
                                       _aware("now", now) if now else ts)

    def _add_outbox(self, conn: sa.Connection, incident_id: str, stored: list[StoredEvent],
                    rows: list[NewOutbox]) -> int:
        pairs = []
        for r in rows:
            i = r.event_index if r.event_index is not None else 0
            if not -len(stored) <= i < len(stored):
                raise ValueError(f"outbox row {r.idempotency_key}: event_index {i} is outside "
                                 f"the {len(stored)} events of this append")
            pairs.append((stored[i].seq, r))
        return self._insert_outbox(conn, incident_id, pairs, stored[0].ts)

    def _insert_outbox(self, conn: sa.Connection, incident_id: str,
                       pairs: list[tuple[int, NewOutbox]], now: datetime) -> int:
        seen: set[str] = set()
        values = []
        for seq, r in pairs:
            if not r.idempotency_key:
                raise ValueError(f"outbox row for {r.person_id} on {r.channel} has no "
                                 "idempotency key")
            if r.idempotency_key in seen:
                continue
            seen.add(r.idempotency_key)
            values.append({
                "incident_id": incident_id, "event_seq": seq,
                "idempotency_key": r.idempotency_key, "step_id": r.step_id,
                "person_id": r.person_id, "channel": r.channel, "address": r.address,
                "lang": r.lang, "subject": r.subject, "body": r.body, "drill": bool(r.drill),
                "state": "queued", "attempts": 0,
                "next_attempt_at": (_aware("next_attempt_at", r.next_attempt_at)
                                    if r.next_attempt_at else None),
                "claimed_by": None, "claimed_until": None, "last_error": None, "sent_at": None,
                "fallback_channels": list(r.fallback_channels), "created_at": now,
                "updated_at": now,
            })
        if not values:
            return 0
        return len(conn.execute(self._ins_outbox, values).all())

    def claim_outbox(self, worker: str, now: datetime, limit: int, lease: timedelta,
                     channel: str | None = None, incident_id: str | None = None,
                     ) -> list[OutboxRow]:
        """Take up to `limit` due rows for `worker` until now + lease.

        Due: queued or failed_temporary with next_attempt_at <= now (or none), or
        sending with an expired lease (a worker died mid-send). PostgreSQL locks with
        FOR UPDATE SKIP LOCKED; SQLite's BEGIN IMMEDIATE serialises claimers.
        """
        if limit <= 0:
            return []
        now = _aware("now", now)
        c = outbox.c
        q = (sa.select(c.id).where(_due(now)).order_by(c.id).limit(int(limit))
             .with_for_update(skip_locked=True))
        if channel is not None:
            q = q.where(c.channel == channel)
        if incident_id is not None:
            q = q.where(c.incident_id == incident_id)
        with self._tx() as conn:
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            conn.execute(outbox.update().where(c.id.in_(ids)).values(
                state="sending", claimed_by=worker, claimed_until=now + lease, updated_at=now))
            rows = conn.execute(sa.select(*_OUTBOX_COLS).where(c.id.in_(ids)).order_by(c.id))
            return [OutboxRow(*r) for r in rows]

    def finish_attempt(self, outbox_id: int, *, worker: str, status: str,
                       started_at: datetime, elapsed_ms: float, error: str | None,
                       now: datetime, next_attempt_at: datetime | None = None) -> bool:
        """Record one delivery attempt and move the row on; False (nothing written) when
        `worker` no longer holds the claim (its lease expired and someone else took it)."""
        with self._tx() as conn:
            return self._finish(conn, outbox_id, worker=worker, status=status,
                                started_at=started_at, elapsed_ms=elapsed_ms, error=error,
                                now=now, next_attempt_at=next_attempt_at) is not None

    def finish_attempts(self, batch: Iterable[dict[str, Any]]) -> int:
        """finish_attempt for many rows in one transaction; returns how many applied.

        Each dict holds outbox_id, worker, status, started_at, elapsed_ms, error, now
        and optionally next_attempt_at and fall_back (see record_attempts).
        """
        return len(self.record_attempts(batch))

    def record_attempts(self, batch: Iterable[dict[str, Any]]) -> set[int]:
        """Record finished sends, fenced by their claim; returns the ids applied.

        An item applies only while its worker still holds the claim (``claimed_by``
        = worker and state ``sending``, checked under a row lock in this one
        transaction): a worker whose lease ran out and was re-claimed writes
        nothing at all — no attempt, no state change, no fall-back.

        ``fall_back`` (optional, with a failed_permanent status): ``(incident_id,
        event_seq, NewOutbox, reason)`` — the next channel's row is queued and this
        row marked ``fell_back`` in the same transaction, only if the claim held.
        """
        items = list(batch)
        if not items:
            return set()
        for item in items:
            if item["status"] not in ATTEMPT_STATUSES:
                raise ValueError(f"attempt status '{item['status']}' is not one of "
                                 f"{', '.join(ATTEMPT_STATUSES)}")
        c = outbox.c
        with self._tx() as conn:
            held = {r.id: (r.claimed_by, r.attempts) for r in conn.execute(
                sa.select(c.id, c.claimed_by, c.attempts)
                .where(c.id.in_([i["outbox_id"] for i in items]), c.state == "sending")
                .with_for_update())}
            updates, attempts, falls = [], [], []
            for item in items:
                oid = item["outbox_id"]
                worker, done = held.get(oid, (None, 0))
                if worker is None or worker != item["worker"]:
                    continue  # the lease was lost (or the row listed twice): write nothing
                held[oid] = (None, done + 1)
                now = _aware("now", item["now"])
                status = item["status"]
                updates.append({
                    "b_id": oid, "b_worker": worker, "b_state": status, "b_attempts": done + 1,
                    "b_now": now, "b_error": item.get("error"),
                    "b_sent_at": now if status == "sent" else None,
                    "b_next": item.get("next_attempt_at") if status == "failed_temporary"
                    else None})
                attempts.append({"outbox_id": oid, "attempt": done + 1, "worker": worker,
                                 "started_at": _aware("started_at", item["started_at"]),
                                 "elapsed_ms": float(item["elapsed_ms"]), "status": status,
                                 "error": item.get("error")})
                if item.get("fall_back") and status == "failed_permanent":
                    falls.append((oid, now, item["fall_back"]))
            if updates:
                conn.execute(self._finish_many, updates)
                conn.execute(self._ins_attempt, attempts)
            for oid, now, (incident_id, event_seq, new, reason) in falls:
                self._insert_outbox(conn, incident_id, [(event_seq, new)], now)
                conn.execute(outbox.update()
                             .where(c.id == oid, c.state == "failed_permanent")
                             .values(state="fell_back", last_error=reason, updated_at=now))
            return {a["outbox_id"] for a in attempts}

    def _finish(self, conn: sa.Connection, outbox_id: int, *, worker: str, status: str,
                started_at: datetime, elapsed_ms: float, error: str | None, now: datetime,
                next_attempt_at: datetime | None = None, record: bool = True,
                ) -> dict[str, Any] | None:
        if status not in ATTEMPT_STATUSES:
            raise ValueError(f"attempt status '{status}' is not one of "
                             f"{', '.join(ATTEMPT_STATUSES)}")
        c = outbox.c
        values: dict[str, Any] = {"state": status, "attempts": c.attempts + 1,
                                  "claimed_by": None, "claimed_until": None,
                                  "updated_at": _aware("now", now)}
        if error is not None:
            values["last_error"] = error
        if status == "sent":
            values["sent_at"] = now
        elif status == "failed_temporary":
            values["next_attempt_at"] = next_attempt_at
        n = conn.execute(outbox.update()
                         .where(c.id == outbox_id, c.claimed_by == worker, c.state == "sending")
                         .values(**values).returning(c.attempts)).scalar()
        if n is None:
            return None
        attempt = {"outbox_id": outbox_id, "attempt": n, "worker": worker,
                   "started_at": _aware("started_at", started_at),
                   "elapsed_ms": float(elapsed_ms), "status": status, "error": error}
        if record:
            conn.execute(self._ins_attempt, attempt)
        return attempt

    def mark_fell_back(self, outbox_id: int, now: datetime, reason: str, *,
                       worker: str | None = None) -> bool:
        """This row gave up on its channel (the next channel got its own row).

        With `worker`, only while that worker holds the row's claim (state
        ``sending``, ``claimed_by`` = worker): a worker whose lease is gone changes
        nothing. The dispatcher records its fall-backs through record_attempts,
        fenced in the same transaction as the attempt."""
        c = outbox.c
        q = outbox.update().where(c.id == outbox_id, c.state.not_in(("sent", "cancelled")))
        if worker is not None:
            q = q.where(c.claimed_by == worker, c.state == "sending")
        with self._tx() as conn:
            res = conn.execute(q.values(state="fell_back", last_error=reason, claimed_by=None,
                                       claimed_until=None, updated_at=_aware("now", now)))
            return res.rowcount == 1

    def cancel_outbox(self, incident_id: str, now: datetime, *, step_id: str | None = None,
                      reason: str = "cancelled") -> int:
        """Cancel rows not yet in flight (queued or waiting to retry); returns how many."""
        c = outbox.c
        q = outbox.update().where(c.incident_id == incident_id, c.state.in_(CLAIMABLE))
        if step_id is not None:
            q = q.where(c.step_id == step_id)
        with self._tx() as conn:
            return conn.execute(q.values(state="cancelled", last_error=reason,
                                         updated_at=_aware("now", now))).rowcount

    def outbox_row(self, outbox_id: int) -> OutboxRow:
        with self._ro() as conn:
            r = conn.execute(sa.select(*_OUTBOX_COLS).where(outbox.c.id == outbox_id)).first()
        if r is None:
            raise KeyError(f"no outbox row {outbox_id}")
        return OutboxRow(*r)

    def outbox_rows(self, incident_id: str, step_id: str | None = None) -> list[OutboxRow]:
        q = sa.select(*_OUTBOX_COLS).where(outbox.c.incident_id == incident_id) \
            .order_by(outbox.c.id)
        if step_id is not None:
            q = q.where(outbox.c.step_id == step_id)
        with self._ro() as conn:
            return [OutboxRow(*r) for r in conn.execute(q)]

    def delivery_summary(self, incident_id: str, step_id: str | None = None,
                         ) -> dict[str, dict[str, Any]]:
        """Per step, its messages counted per recipient, in two or three aggregate queries.

        {step: {"people": {delivered|waiting|failed|cancelled: n}, "delivered_at": the
        latest of each delivered recipient's first sent_at, "messages": rows,
        "channels": {channel: {state: n}} over each recipient's latest row per channel}}.
        A recipient is delivered when any row was sent, waiting when one is still
        queued / sending / waiting to retry, cancelled when all were, else failed.
        (notify/tally.py turns this into a StepTally.)"""
        c = outbox.c
        where = [c.incident_id == incident_id]
        if step_id is not None:
            where.append(c.step_id == step_id)
        sent = sa.func.sum(sa.case((c.state == "sent", 1), else_=0))
        waiting = sa.func.sum(sa.case((c.state.in_((*CLAIMABLE, "sending")), 1), else_=0))
        live = sa.func.sum(sa.case((c.state != "cancelled", 1), else_=0))
        cat = sa.case((sent > 0, "delivered"), (waiting > 0, "waiting"), (live == 0, "cancelled"),
                      else_="failed").label("cat")
        first = sa.func.min(sa.case((c.state == "sent", c.sent_at))).label("first_sent")
        per_person = (sa.select(c.step_id, cat, first, sa.func.count().label("n"),
                                sa.func.count(sa.distinct(c.channel)).label("pairs"))
                      .where(*where).group_by(c.step_id, c.person_id).subquery())
        q_people = sa.select(per_person.c.step_id, per_person.c.cat, sa.func.count(),
                             sa.type_coerce(sa.func.max(per_person.c.first_sent),
                                            c.sent_at.type),
                             sa.func.sum(per_person.c.n), sa.func.sum(per_person.c.pairs)) \
            .group_by(per_person.c.step_id, per_person.c.cat)
        q_counts = (sa.select(c.step_id, c.channel, c.state, sa.func.count()).where(*where)
                    .group_by(c.step_id, c.channel, c.state))
        out: dict[str, dict[str, Any]] = {}
        pairs: dict[str, int] = {}

        def entry(sid: str) -> dict[str, Any]:
            return out.setdefault(sid, {"people": {}, "delivered_at": None, "messages": 0,
                                        "channels": {}})

        with self._ro() as conn:
            for sid, category, n, at, rows, npairs in conn.execute(q_people):
                e = entry(sid)
                e["people"][category] = int(n)
                e["messages"] += int(rows or 0)
                pairs[sid] = pairs.get(sid, 0) + int(npairs or 0)
                if category == "delivered":
                    e["delivered_at"] = at
            # One row per recipient and channel (no retry yet): plain counts are exact.
            # Where a retry added rows, only each recipient's latest row per channel counts.
            again = sorted(sid for sid, e in out.items() if pairs.get(sid) != e["messages"])
            for sid, channel, state, n in conn.execute(q_counts):
                if sid not in again:
                    entry(sid)["channels"].setdefault(channel, {})[state] = int(n)
            if again:
                latest = (sa.select(sa.func.max(c.id))
                          .where(c.incident_id == incident_id, c.step_id.in_(again))
                          .group_by(c.step_id, c.person_id, c.channel).scalar_subquery())
                q_chan = (sa.select(c.step_id, c.channel, c.state, sa.func.count())
                          .where(c.id.in_(latest)).group_by(c.step_id, c.channel, c.state))
                for sid, channel, state, n in conn.execute(q_chan):
                    entry(sid)["channels"].setdefault(channel, {})[state] = int(n)
        return out

    def outbox_counts(self, incident_id: str) -> dict[tuple[str, str], dict[str, int]]:
        """{(step_id, channel): {state: count}} for an incident's messages."""
        c = outbox.c
        q = (sa.select(c.step_id, c.channel, c.state, sa.func.count())
             .where(c.incident_id == incident_id).group_by(c.step_id, c.channel, c.state))
        out: dict[tuple[str, str], dict[str, int]] = {}
        with self._ro() as conn:
            for step_id, channel, state, n in conn.execute(q):
                out.setdefault((step_id, channel), {})[state] = int(n)
        return out

    def channel_counts(self, incident_ids: Sequence[str], chunk: int = 400,
                       ) -> dict[str, dict[str, dict[str, int]]]:
        """{incident: {channel: {state: count}}} over all steps, for many incidents."""
        c = outbox.c
        out: dict[str, dict[str, dict[str, int]]] = {i: {} for i in incident_ids}
        ids = list(out)
        with self._ro() as conn:
            for k in range(0, len(ids), chunk):
                q = (sa.select(c.incident_id, c.channel, c.state, sa.func.count())
                     .where(c.incident_id.in_(ids[k:k + chunk]))
                     .group_by(c.incident_id, c.channel, c.state))
                for iid, channel, state, n in conn.execute(q):
                    out[iid].setdefault(channel, {})[state] = int(n)
        return out

    def attempts(self, outbox_id: int) -> list[AttemptRow]:
        q = sa.select(*_ATTEMPT_COLS).where(delivery_attempts.c.outbox_id == outbox_id) \
            .order_by(delivery_attempts.c.attempt, delivery_attempts.c.id)
        with self._ro() as conn:
            return [AttemptRow(*r) for r in conn.execute(q)]

    def pending_outbox_count(self, now: datetime | None = None) -> int:
        """Rows a claim at `now` would take; with now=None, every row not yet final."""
        if now is None:
            cond = outbox.c.state.not_in(FINAL_OUTBOX_STATES)
        else:
            cond = _due(_aware("now", now))
        with self._ro() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                    .where(cond)).scalar_one())


# ---- helpers -----------------------------------------------------------------------

class _FastSQL:
    """The append hot path, run straight on the driver's cursor.

    Going through SQLAlchemy's execution machinery costs more than SQLite itself
    for a one-event transaction. The statements are rendered once here and the
    values are converted by the very bind processors of the table's column types
    (UTCDateTime, JSON, Boolean), so the stored bytes are the same as Core's.
    """

    EVENT_COLS = ("incident_id", "seq", "ts", "actor", "kind", "payload", "prev_hash", "hash",
                  "key_id")

    def __init__(self, dialect: sa.Dialect):
        self.ph = "?" if dialect.paramstyle == "qmark" else "%s"
        self.quote = dialect.identifier_preparer.quote
        self.integrity_error = dialect.loaded_dbapi.IntegrityError
        self.dialect = dialect
        cols = ", ".join(self.quote(n) for n in self.EVENT_COLS)
        marks = ", ".join([self.ph] * len(self.EVENT_COLS))
        self.insert_sql = f"INSERT INTO events ({cols}) VALUES ({marks})"
        self.event_procs = [self._proc(events.c[n]) for n in self.EVENT_COLS]
        self.incident_procs = {c.name: self._proc(c) for c in incidents.c}
        self.update_sql: dict[tuple[str, ...], str] = {}

    def _proc(self, col: sa.Column):
        return col.type.bind_processor(self.dialect) or (lambda v: v)

    def update(self, cur: Any, values: dict[str, Any], incident_id: str, expected: int) -> int:
        keys = tuple(sorted(values))
        sql = self.update_sql.get(keys)
        if sql is None:
            sets = ", ".join(f"{self.quote(k)} = {self.ph}" for k in keys)
            sql = f"UPDATE incidents SET {sets} WHERE id = {self.ph} AND last_seq = {self.ph}"
            self.update_sql[keys] = sql
        procs = self.incident_procs
        params = [procs[k](values[k]) for k in keys]
        params += [incident_id, expected]
        cur.execute(sql, params)
        return cur.rowcount

    def insert_events(self, cur: Any, rows: list[dict[str, Any]]) -> None:
        procs = list(zip(self.EVENT_COLS, self.event_procs, strict=True))
        params = [[p(r[n]) for n, p in procs] for r in rows]
        if len(params) == 1:
            cur.execute(self.insert_sql, params[0])
        else:
            cur.executemany(self.insert_sql, params)


def _unknown(incident_id: str) -> str:
    return f"no incident '{incident_id}' — `incident list --all` shows the known ones"


def _due(now: datetime) -> sa.ColumnElement[bool]:
    c = outbox.c
    return sa.or_(
        sa.and_(c.state.in_(CLAIMABLE),
                sa.or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)),
        sa.and_(c.state == "sending", c.claimed_until < now),
    )


def _update_values(update: dict[str, Any] | None) -> dict[str, Any]:
    values = dict(update or {})
    unknown = sorted(set(values) - UPDATABLE)
    if unknown:
        raise ValueError(f"cannot update incident column(s) {', '.join(unknown)} — "
                         f"updatable: {', '.join(sorted(UPDATABLE))}")
    if "status" in values and values["status"] not in INCIDENT_STATUSES:
        raise ValueError(f"incident status '{values['status']}' is not one of "
                         f"{', '.join(INCIDENT_STATUSES)}")
    for key in ("updated_at", "resolved_at"):
        if values.get(key) is not None:
            values[key] = _aware(key, values[key])
    if "updated_at" in values and values["updated_at"] is None:
        del values["updated_at"]
    return values


def _chain(incident_id: str, first_seq: int, prev: str, batch: list[NewEvent],
           key: ChainKey | None = None,
           ) -> tuple[list[dict[str, Any]], list[StoredEvent]]:
    rows: list[dict[str, Any]] = []
    stored: list[StoredEvent] = []
    kid = key.id if key is not None else None
    for i, e in enumerate(batch):
        if not e.kind or not isinstance(e.kind, str):
            raise ValueError(f"event {i + 1} of the batch has no kind")
        seq = first_seq + i
        ts = _aware(f"event '{e.kind}' ts", e.ts)
        payload = normalize_payload(e.kind, e.payload)
        if key is not None:
            h = keyed_event_hash(key, prev, incident_id, seq, ts, e.actor, e.kind, payload)
        else:
            h = event_hash(prev, incident_id, seq, ts, e.actor, e.kind, payload)
        rows.append({"incident_id": incident_id, "seq": seq, "ts": ts, "actor": e.actor,
                     "kind": e.kind, "payload": payload, "prev_hash": prev, "hash": h,
                     "key_id": kid})
        stored.append(StoredEvent(incident_id, seq, ts, e.actor, e.kind, payload, prev, h, kid))
        prev = h
    return rows, stored


def _when(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts is not None else "?"


def check_chain(incident_id: str, rows: Sequence[StoredEvent], last_seq: int | None = None,
                *, keyring: Keyring | None = None, anchor: Any = None,
                anchor_problem: str = "") -> VerifyReport:
    """Recompute an incident's chain from its stored events (ordered by seq).

    Keyed events are checked with the key that signed them (HMAC); unkeyed legacy
    events with plain SHA-256 — but an unkeyed event after a keyed one, or dated
    after the chain key was made, is a downgrade: someone recomputed the chain
    without the key. Then the chain is compared with the last anchor (a signed
    checkpoint kept outside the database): fewer events than anchored means the
    log was truncated, another hash at the anchored event means it was re-hashed.
    """
    n = len(rows)
    head_seq = rows[-1].seq if rows else 0
    head_hash = rows[-1].hash if rows else ""
    kids = tuple(dict.fromkeys(e.key_id for e in rows if e.key_id))
    unkeyed = sum(1 for e in rows if not e.key_id)
    a_seq = anchor.seq if anchor is not None else None
    a_at = anchor.at if anchor is not None else None

    def bad(seq: int | None, reason: str, problem: str) -> VerifyReport:
        return VerifyReport(False, n, seq, reason, head_seq, head_hash, kids, unkeyed,
                            a_seq, a_at, problem)

    if anchor_problem:
        return bad(None, anchor_problem, "anchors")
    since = keyring.keyed_since if keyring is not None else None
    prev = GENESIS_HASH
    expected = 1
    keyed_seen = False
    for e in rows:
        if e.seq != expected:
            return bad(expected, f"event {expected} is missing (the next stored event is "
                                 f"{e.seq})", "missing")
        if e.prev_hash != prev:
            return bad(e.seq, f"event {e.seq} does not link to event {e.seq - 1}: its "
                              "prev_hash differs from that event's hash", "altered")
        try:
            if e.key_id:
                key = keyring.get(e.key_id) if keyring is not None else None
                if key is None:
                    loaded = ", ".join(keyring.ids()) if keyring is not None else "none"
                    return bad(e.seq, f"event {e.seq} was signed with chain key {e.key_id}, "
                                      f"which is not loaded here (loaded: {loaded}) — copy the "
                                      "key file from the host that wrote it, or add the old "
                                      "secret to INCIDENT_CHAIN_KEY", "key_missing")
                keyed_seen = True
                h = keyed_event_hash(key, e.prev_hash, incident_id, e.seq, e.ts, e.actor,
                                     e.kind, e.payload)
            else:
                if keyed_seen:
                    return bad(e.seq, f"event {e.seq} is not keyed although earlier events "
                                      "are: the chain was recomputed without the key",
                               "unkeyed")
                if since is not None and e.ts >= since:
                    return bad(e.seq, f"event {e.seq} is not keyed although it is dated "
                                      f"{_when(e.ts)}, after the chain key was made "
                                      f"({_when(since)}): the chain was recomputed without "
                                      "the key", "unkeyed")
                h = event_hash(e.prev_hash, incident_id, e.seq, e.ts, e.actor, e.kind,
                               e.payload)
        except (TypeError, ValueError) as exc:
            return bad(e.seq, f"event {e.seq} cannot be hashed: {exc}", "altered")
        if h != e.hash:
            return bad(e.seq, f"event {e.seq} was altered: its content does not match its "
                              + ("keyed hash" if e.key_id else "hash"), "altered")
        prev = e.hash
        expected += 1
    stored = expected - 1
    if last_seq is not None and last_seq != stored:
        if last_seq > stored:
            return bad(stored + 1, f"events {stored + 1}..{last_seq} are missing (the incident "
                                   f"records {last_seq} events, {stored} are stored)", "missing")
        return bad(last_seq + 1, f"the log holds {stored} events but the incident records only "
                                 f"{last_seq}", "missing")
    if anchor is not None:
        where = f"the anchor of {_when(anchor.at)}"
        if anchor.seq > stored:
            return bad(stored + 1, f"the log was truncated: {where} recorded {anchor.seq} "
                                   f"events ending in {anchor.head[:16]}…, the log now holds "
                                   f"{stored}", "truncated")
        if anchor.seq >= 1 and rows[anchor.seq - 1].hash != anchor.head:
            return bad(anchor.seq, f"event {anchor.seq} no longer matches {where}: anchored "
                                   f"hash {anchor.head[:16]}…, now {rows[anchor.seq - 1].hash[:16]}"
                                   "… — the log was edited and re-hashed", "rehashed")
    return VerifyReport(True, n, None, f"chain intact ({n} events)", head_seq, head_hash, kids,
                        unkeyed, a_seq, a_at, "")


def open_store(url: str | URL, upgrade: bool = True) -> Store:
    """Open the store at `url`, creating or upgrading its schema unless upgrade=False.

    SQLite: the file (and its folder) are created on first use. A plain
    postgresql:// URL is served by psycopg 3.
    """
    u = db.normalize_url(url)
    engine = db.make_engine(u)
    try:
        with db.friendly_errors(u):
            if upgrade:
                db.upgrade_engine(engine)
            else:
                with engine.connect() as conn:
                    rev = db.revision_of(conn)
                if rev != db.head_revision():
                    raise StoreUnavailable(
                        f"the database at {db.safe_url(u)} is at schema revision "
                        f"{rev or 'none'}, this version needs {db.head_revision()} — "
                        "run `incident db upgrade`")
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, u)
