"""Shared fixtures: real databases (SQLite file; PostgreSQL when configured)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

# loopback SMTP / SMS gateway / chat webhook fixtures (tests/fixtures_notify.py)
pytest_plugins = ["fixtures_notify"]

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("INCIDENT_TEST_DATABASE_URL", "")


def pytest_addoption(parser) -> None:
    """`--snapshot-update` rewrites the console snapshots (tests/snapshot_compare.py)."""
    # another plugin (syrupy) may already offer it: then the same flag is read
    with contextlib.suppress(ValueError):
        parser.addoption("--snapshot-update", action="store_true", default=False,
                         help="rewrite the console's SVG snapshots in tests/snapshots/")
    _chart_option(parser)


def _db_params() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if PG_URL:
        params.append(pytest.param("postgresql", id="postgresql"))
    return params


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch) -> Iterator[None]:
    """Keep tests away from the real user's data, config and settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    for key in list(os.environ):
        if key.startswith("INCIDENT_") and key not in ("INCIDENT_TEST_DATABASE_URL",
                                                       "INCIDENT_SNAPSHOT_UPDATE"):
            monkeypatch.delenv(key, raising=False)
    yield
    _drop_log_handlers()


def _drop_log_handlers() -> None:
    """Handlers incident.logs.setup installed (a CLI run, a console) end with the test:
    their stderr and files belonged to it."""
    import logging

    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_incident_setup", False)]:
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.WARNING)


@pytest.fixture(params=_db_params())
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'incident.db'}"
        return
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) \
        if PG_URL.startswith("postgresql://") else PG_URL
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'incident.db'}"


def _chart_option(parser) -> None:
    parser.addoption("--update-charts", action="store_true", default=False,
                     help="re-render the report charts' reference PNGs in tests/data/charts "
                          "(test_report_chart_pixels.py) instead of comparing against them")


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the demo estate's contacts and playbooks (drills left out)."""
    from incident.config import REPO_ROOT

    contacts, playbooks = tmp_path / "contacts", tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "contacts", contacts)
    shutil.copytree(REPO_ROOT / "playbooks", playbooks, ignore=shutil.ignore_patterns("drills"))
    return contacts, playbooks

