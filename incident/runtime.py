"""Wires settings to the core: directory, playbooks, store, engine.

Every face (CLI, console, drills) builds one Runtime; parts load lazily so a
command that only validates files never opens the database.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from incident.clock import Clock, clock_from_setting
from incident.config import Settings, load_settings
from incident.errors import Issue, ValidationFailed

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from incident.compiled import Compiled
    from incident.directory import Directory
    from incident.engine import Engine, IncidentState
    from incident.playbook import PlaybookLibrary
    from incident.store import Store
    from incident.store.anchors import AnchorLog
    from incident.store.keys import Keyring


class Runtime:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None):
        self.settings = settings or load_settings()
        from incident.masking import remember

        remember(self.settings.chain_key.split(","))  # never in a log line
        if clock is None:
            try:
                clock = clock_from_setting(self.settings.clock)
            except ValueError as exc:
                source = self.settings.sources.get("clock", "settings")
                from incident.validation import finding

                message, hint = finding(exc)
                raise ValidationFailed([Issue(source, message, path="clock", hint=hint)]) from None
        self.clock: Clock = clock
        self._lock = threading.Lock()

    # ---- the compiled cache (incident/compiled.py): validated objects keyed by content --
    @cached_property
    def _compiled(self) -> Compiled | None:
        from incident import compiled

        if not compiled.enabled():
            return None
        s = self.settings
        self._compiled_key = compiled.key_for(s.contacts_dir, s.playbooks_dir)
        return compiled.load(s.contacts_dir, s.playbooks_dir, self._compiled_key)

    def _from_compiled(self, name: str) -> Any:
        bundle = self._compiled
        return bundle.part(name) if bundle is not None else None

    def site_zone(self) -> ZoneInfo:
        """The site's time zone — from the compiled cache's small part when it is there,
        so a command that only prints times (`incident list`) loads no directory."""
        bundle = self._compiled
        if bundle is not None and "directory" not in self.__dict__:
            from zoneinfo import ZoneInfo

            try:
                return ZoneInfo(bundle.meta["timezone"])
            except (KeyError, ValueError):
                pass
        from incident.engine.context import local_zone

        return local_zone(self.directory)

    def _save_compiled(self, escalation: Any) -> None:
        """After a full load that validated, store it for the next command — unless the
        files changed while we were reading them (then the key no longer matches)."""
        from incident import compiled

        key = getattr(self, "_compiled_key", None)
        if (self._compiled is not None and not self._compiled.damaged) or key is None:
            return
        s = self.settings
        if compiled.key_for(s.contacts_dir, s.playbooks_dir) != key:
            return
        from incident.engine.context import local_zone
        from incident.playbook.readform import read_form

        compiled.save(s.contacts_dir, s.playbooks_dir, key,
                      {"timezone": local_zone(self.directory).key},
                      {"directory": self.directory, "channel_names": self.channel_names,
                       "playbooks": self.playbooks, "escalation": escalation},
                      {f"playbook:{pb.id}": read_form(pb) for pb in self.playbooks})
        self._compiled_key = None  # stored once per command

    def _compile(self) -> None:
        """A miss: load and validate everything as a writer would, and store it (unless
        the cache is off), so the next read is lean. A broken file raises
        ValidationFailed as for any command."""
        self.directory  # noqa: B018
        self.playbooks  # noqa: B018
        esc_file = self.settings.contacts_dir / "escalation.yaml"
        graph = self.escalation_graph(self.directory) if esc_file.exists() else None
        self._save_compiled(graph)

    def read_playbook(self, incident_id: str, playbook_id: str, *,
                      compile_on_miss: bool = True) -> Any:
        """A playbook to read an incident with: its read form from the compiled cache (no
        pydantic, nothing else unpickled), else the validated library's. On a miss
        every file is validated and stored (`compile_on_miss`, as `status` always did:
        it refuses a broken escalation.yaml); without it, only directory and playbooks."""
        bundle = self._compiled
        if bundle is not None and "playbooks" not in self.__dict__:
            form = bundle.part(f"playbook:{playbook_id}")
            if form is not None:
                return form
        if bundle is None and compile_on_miss and "playbooks" not in self.__dict__:
            # every file validated as for any command (a broken escalation.yaml is refused
            # here too) and stored, so the next read is lean
            self._compile()
        try:
            return self.playbooks.get(playbook_id)
        except KeyError:
            from incident.errors import Refused

            raise Refused("refused.playbook_not_loaded", incident=incident_id,
                          playbook=playbook_id) from None

    def read_state(self, incident_id: str) -> IncidentState:
        """An incident's state for reading (`incident status`): the
        same fold as the engine's (incident.engine.state.read_incident) without building
        the engine — no escalation, drills or notification planner are loaded, and
        nothing is fired or appended (a read never writes)."""
        from incident.engine.state import read_incident

        return read_incident(self.store, incident_id, self.read_playbook)

    def escalation_graph(self, directory: Directory) -> Any:
        """escalation.yaml validated against `directory` (the compiled one when it is
        ours); raises ValidationFailed like load_escalation."""
        bundle = self._compiled
        if bundle is not None and directory is bundle.part("directory"):
            return bundle.part("escalation")
        from incident.escalation.model import load_escalation

        graph = load_escalation(self.settings.contacts_dir / "escalation.yaml", directory)
        if directory is self.__dict__.get("directory"):
            self.__dict__["_escalation_loaded"] = graph
        return graph

    @cached_property
    def directory(self) -> Directory:
        cached = self._from_compiled("directory")
        if cached is not None:
            return cached
        from incident.directory import load_directory

        return load_directory(self.settings.contacts_dir)

    @cached_property
    def channel_names(self) -> set[str]:
        cached = self._from_compiled("channel_names")
        if cached is not None:
            return cached
        from incident.notify import channel_names

        return channel_names(self.settings.contacts_dir)

    @cached_property
    def playbooks(self) -> PlaybookLibrary:
        cached = self._from_compiled("playbooks")
        if cached is not None:
            return cached
        from incident.playbook import load_library

        return load_library(self.settings.playbooks_dir, self.directory, self.channel_names)

    @cached_property
    def store(self) -> Store:
        from incident.store import open_store

        store = open_store(self.settings.db_url)
        try:
            self._refuse_new_key_for_keyed_log(store)
            store.use_integrity(self.keyring, self.anchor_log)
        except BaseException:
            store.close()
            raise
        return store

    def _refuse_new_key_for_keyed_log(self, store: Store) -> None:
        """A lost key file must not be silently replaced: the log's older events would
        no longer verify and new ones would be signed by a key nobody backed up."""
        s = self.settings
        if "keyring" in self.__dict__ or s.chain_key or s.chain_key_path.exists():
            return
        used = store.signing_keys()
        if used:
            from incident.store.keys import ChainKeyProblem

            raise ChainKeyProblem(
                f"no chain key at {s.chain_key_path}, but this database holds events signed "
                f"with chain key(s) {', '.join(used)} — restore the key file from its backup "
                "(or set INCIDENT_CHAIN_KEY / chain_key_file); no new key was made")

    @cached_property
    def keyring(self) -> Keyring:
        """The chain key (outside the database): INCIDENT_CHAIN_KEY, else the key file,
        made (mode 600) on first use."""
        from incident.store.keys import load_keyring

        s = self.settings
        return load_keyring(secret=s.chain_key, path=s.chain_key_path, now=self.clock.now())

    @cached_property
    def anchor_log(self) -> AnchorLog:
        from incident.store.anchors import AnchorLog

        return AnchorLog(self.settings.anchor_path, self.keyring)

    @cached_property
    def engine(self) -> Engine:
        from incident.drill import install as install_drill
        from incident.engine import Engine
        from incident.escalation import install as install_escalation
        from incident.notify import build_planner

        engine = Engine(self.store, self.playbooks, self.directory, self.clock,
                        planner=build_planner(self))
        # a broken escalation.yaml raises ValidationFailed here (file:line:field), so
        # every face refuses to run on it, as for a broken playbook
        install_escalation(engine, self)  # adds its reactor and timer sources
        install_drill(engine, self)  # scripted injects fire as engine timers
        from incident.engine.followups import install as install_aftercare

        install_aftercare(engine)  # callbacks at resolution, promises to the reporter
        esc_file = self.settings.contacts_dir / "escalation.yaml"
        if "_escalation_loaded" in self.__dict__ or not esc_file.exists():
            self._save_compiled(self.__dict__.get("_escalation_loaded"))
        return engine

    def sandbox_fault(self, incident_id: str, channel: str, now: datetime) -> str | None:
        """Why a drill message on `channel` must fail now (a scripted fault), or None: the
        hook the notification sandbox consults. Wired here, at the composition root, so
        incident.notify does not import incident.drill."""
        from incident.drill import sandbox_fault

        return sandbox_fault(self.store, incident_id, channel, now)

    def reply_channels(self) -> set[str]:
        """The channels on which a reply reaches us (contacts/inbound.yaml; none if absent):
        pages on them say how to acknowledge by replying."""
        from incident.inbound.config import reply_channels

        return reply_channels(self.settings.contacts_dir)

    def open_for_reading(self) -> bool:
        """Make this runtime a pure reader (the console's forked reader,
        incident/console/preload.py): the store opened without upgrading its schema and
        without a chain key. False, with nothing opened, where reading could write: no
        compiled cache yet (a miss validates and stores one), no database file yet, or
        a store already open."""
        if self.loaded("store") or self._compiled is None:
            return False
        from pathlib import Path

        from incident.store import open_store
        from incident.store.db import is_memory, normalize_url

        url = normalize_url(self.settings.db_url)
        if url.get_backend_name() == "sqlite" and (
                is_memory(url) or not Path(url.database or "").is_file()):
            return False
        self.__dict__["store"] = open_store(url, upgrade=False)  # at head, else refused
        return True

    def loaded(self, part: str) -> bool:
        """Whether a lazy part (directory, playbooks, store, engine…) is built already:
        a face may use it then without paying for it."""
        return part in self.__dict__

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
