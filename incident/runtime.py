"""Wires settings to the core: directory, playbooks, store, engine.

Every face (CLI, console, drills) builds one Runtime; parts load lazily so a
command that only validates files never opens the database.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from incident.clock import Clock, clock_from_setting
from incident.config import Settings, load_settings
from incident.errors import Issue, ValidationFailed

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.engine import Engine
    from incident.playbook import PlaybookLibrary
    from incident.store import Store


class Runtime:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None):
        self.settings = settings or load_settings()
        if clock is None:
            try:
                clock = clock_from_setting(self.settings.clock)
            except ValueError as exc:
                source = self.settings.sources.get("clock", "settings")
                raise ValidationFailed([Issue(source, str(exc), path="clock")]) from None
        self.clock: Clock = clock
        self._lock = threading.Lock()

    @cached_property
    def directory(self) -> Directory:
        from incident.directory import load_directory

        return load_directory(self.settings.contacts_dir)

    @cached_property
    def channel_names(self) -> set[str]:
        try:
            from incident.notify import channel_names
        except ImportError:
            from incident.playbook import DEFAULT_CHANNELS

            return set(DEFAULT_CHANNELS)
        return channel_names(self.settings.contacts_dir)

    @cached_property
    def playbooks(self) -> PlaybookLibrary:
        from incident.playbook import load_library

        return load_library(self.settings.playbooks_dir, self.directory, self.channel_names)

    @cached_property
    def store(self) -> Store:
        from incident.store import open_store

        return open_store(self.settings.db_url)

    @cached_property
    def engine(self) -> Engine:
        from incident.engine import Engine

        planner = None
        try:
            from incident.notify import build_planner

            planner = build_planner(self)
        except ImportError:
            pass
        engine = Engine(self.store, self.playbooks, self.directory, self.clock, planner=planner)
        try:
            from incident.escalation import install
        except ImportError:
            pass
        else:
            install(engine, self)  # adds its reactor and timer sources
        try:
            from incident.drill import install as install_drill
        except ImportError:
            pass
        else:
            install_drill(engine, self)  # scripted injects fire as engine timers
        return engine

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
