"""Builders shared by engine-level tests."""

from __future__ import annotations

from pathlib import Path

from incident.clock import ManualClock
from incident.engine import Engine
from incident.playbook import PlaybookLibrary, load_playbook
from incident.store import open_store

DATA = Path(__file__).parent / "data"


def mini_library() -> PlaybookLibrary:
    pb = load_playbook(DATA / "playbooks" / "mini.yaml")
    return PlaybookLibrary({pb.id: pb}, {pb.id: DATA / "playbooks" / "mini.yaml"})


def mini_engine(db_url: str, clock: ManualClock | None = None) -> Engine:
    return Engine(open_store(db_url), mini_library(), None, clock or ManualClock())
