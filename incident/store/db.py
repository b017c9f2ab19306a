"""Engines, connection settings and migrations.

SQLite (the default, embedded) is tuned for a single machine with several
threads and possibly several processes: WAL journal, a busy timeout, foreign
keys on, and write transactions that start with ``BEGIN IMMEDIATE`` so that a
reader never has to upgrade its lock (the classic SQLITE_BUSY deadlock).
PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool

from incident.files import create_private_file
from incident.store.records import StoreUnavailable

if TYPE_CHECKING:  # Alembic costs ~0.2 s to import: only `upgrade` paths load it
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
# Advisory lock key so two processes upgrading one PostgreSQL database take turns.
PG_MIGRATION_LOCK = 0x1C1DE17


def _json_dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; plain postgresql:// (or postgres://) means psycopg 3."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url or "")
    if not text.strip():
        raise ValueError("no database URL — set database_url (e.g. sqlite:///incident.db)")
    text = text.strip()
    for plain in ("postgres://", "postgresql://"):
        if text.startswith(plain):
            text = "postgresql+psycopg://" + text[len(plain):]
    try:
        u = make_url(text)
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"database URL '{text}' is not valid: {exc}") from None
    if u.get_backend_name() == "sqlite" and not is_memory(u):
        path = Path(u.database).expanduser()
        u = u.set(database=str(path))
    return u


def safe_url(u: URL) -> str:
    return u.render_as_string(hide_password=True)


@contextmanager
def friendly_errors(u: URL) -> Iterator[None]:
    """Connection and file problems become one clear sentence, not a traceback."""
    try:
        yield
    except (sa.exc.OperationalError, sqlite3.OperationalError) as exc:
        locked = database_error_text(exc)
        if locked and "busy" in locked:
            raise StoreUnavailable(locked) from None
        raise StoreUnavailable(f"cannot open the database at {safe_url(u)}: "
                               f"{str(getattr(exc, 'orig', exc)).strip()}") from None
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the database at {safe_url(u)}: {exc}") from None


def database_error_text(exc: BaseException) -> str | None:
    """One sentence, with what to do, for a database error that reached a face; None for
    errors that are not the database's."""
    if not isinstance(exc, sa.exc.DBAPIError | sqlite3.Error):
        return None
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
    if "database is locked" in text or "database table is locked" in text:
        return (f"the database is busy: another incident process (a console, `incident "
                f"service`, a long import) held its write lock for more than "
                f"{BUSY_TIMEOUT_MS // 1000} s, so this command saved nothing — run it again "
                "in a moment; if it keeps happening, find the holder (e.g. `fuser` on the "
                "database file) and close it")
    if "readonly database" in text or "read-only" in text:
        return ("the database is read-only for this account — check the permissions of the "
                "database file and its folder (mode 600, owned by the account that runs "
                "incident); nothing was saved")
    if isinstance(exc, sa.exc.OperationalError | sqlite3.OperationalError):
        return f"the database could not be used: {text} — nothing was saved; try again"
    return None


def is_memory(u: URL) -> bool:
    return u.get_backend_name() == "sqlite" and (
        not u.database or u.database == ":memory:" or "mode=memory" in str(u))


def sqlite_needs_serializing(u: URL) -> bool:
    """One shared connection (in-memory DB) or a single-threaded SQLite build."""
    return u.get_backend_name() == "sqlite" and (is_memory(u) or sqlite3.threadsafety == 0)


def make_engine(url: str | URL) -> Engine:
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        with friendly_errors(u):
            return _sqlite_engine(u)
    if u.get_backend_name() == "postgresql":
        return sa.create_engine(u, pool_size=8, max_overflow=24, pool_pre_ping=True,
                                json_serializer=_json_dumps)
    return sa.create_engine(u, json_serializer=_json_dumps)


def _sqlite_engine(u: URL) -> Engine:
    if is_memory(u):
        pool: dict[str, Any] = {"poolclass": StaticPool}
    else:
        create_private_file(Path(u.database))  # mode 600: it holds every owner's phone
        # Each thread checks out its own connection; the sqlite3 library is built
        # thread-safe (checked via sqlite3.threadsafety, else calls are serialized).
        pool = {"poolclass": QueuePool, "pool_size": 8, "max_overflow": 32, "pool_timeout": 30}
    engine = sa.create_engine(u, connect_args={"check_same_thread": False,
                                               "timeout": BUSY_TIMEOUT_MS / 1000},
                              json_serializer=_json_dumps, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own
        # transaction handling would defer it and break BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not is_memory(u):
            cur.execute("PRAGMA journal_mode=WAL")
            # Under WAL, synchronous=NORMAL is durable against application crashes and
            # keeps the database consistent on power loss (only the last commits may
            # roll back); it removes an fsync per commit, which is what makes
            # thousands of single-event appends per second possible.
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        # Straight to the driver: this runs once per transaction on the hot path.
        conn.connection.driver_connection.execute(_BEGIN[mode])

    return engine


_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take the write lock up front."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


# ---- migrations --------------------------------------------------------------------

def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration pointing inside the package; no ini file, no logging setup."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        u = normalize_url(url)
        cfg.set_main_option("sqlalchemy.url",
                            u.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


_heads: dict[str, str] = {}
_heads_lock = threading.Lock()


_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(None|[\"']([^\"']*)[\"'])", re.M)


def _scan_head() -> str | None:
    """The head read from the version files' `revision` / `down_revision` lines, so that
    checking a database that is already current needs no Alembic import. None when the
    files are not a single plain chain (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict((m.group(1), m.group(3)) for m in
                     _REVISION_LINE.finditer(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        if not found["revision"]:
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def head_revision() -> str:
    with _heads_lock:
        if "head" not in _heads:
            head = _scan_head()
            if head is None:
                from alembic.script import ScriptDirectory

                head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            _heads["head"] = head
        return _heads["head"]


def revision_of(conn: sa.Connection) -> str | None:
    """The schema revision, read with a plain query (Alembic's table, one row per head);
    None when the database has no schema yet."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    rows = [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    if len(rows) == 1:
        return rows[0]
    if not rows:
        return None
    from alembic.runtime.migration import MigrationContext  # several heads: Alembic's rules

    return MigrationContext.configure(conn).get_current_revision()


def upgrade_engine(engine: Engine, target: str = "head") -> str | None:
    """Bring the schema up to `target` in one transaction; a no-op when already there.

    The common case (already at head) is read without taking SQLite's write lock, so a
    read-only command is not stopped by a writer holding the lock."""
    if target == "head" and engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            if revision_of(conn) == head_revision():
                return head_revision()
    with writer(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
        if target == "head" and revision_of(conn) == head_revision():
            return head_revision()
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
        return revision_of(conn)


def upgrade_database(url: str) -> str | None:
    """Create or upgrade the schema (``incident db upgrade``); returns the revision."""
    u = normalize_url(url)
    engine = make_engine(u)
    try:
        with friendly_errors(u):
            return upgrade_engine(engine)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at `url` (None when it has no schema yet)."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite" and not is_memory(u) and not Path(u.database).exists():
        return None
    engine = make_engine(u)
    try:
        with friendly_errors(u), engine.connect() as conn:
            return revision_of(conn)
    finally:
        engine.dispose()
