"""Configuration in one place.

Precedence: CLI flags, then INCIDENT_* environment variables, then incident.toml
(working directory first, then the user config directory), then defaults: the
shipped demo estate and SQLite in the user's data directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from incident.errors import Issue, Msg, ValidationFailed

APP = "incident"
REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = ""
    playbooks_dir: Path = REPO_ROOT / "playbooks"
    contacts_dir: Path = REPO_ROOT / "contacts"
    user: str = ""
    lang: str = "en"
    timezone: str = "Asia/Shanghai"
    secrets_file: Path | None = None
    credentials_file: Path | None = None  # staff PINs and passwords, hashed (mode 600)
    clock: str = "system"  # or "fixed:2026-01-05T03:00:00+00:00" (replays, rehearsals, tests)
    # Integrity (README, "Chain key and anchors"): the HMAC secret(s) for the event chain
    # from a secret store (INCIDENT_CHAIN_KEY, comma-separated, the last signs), else
    # the key file; where signed checkpoints go; an Apprise URL to post them to.
    chain_key: str = field(default="", repr=False)
    chain_key_file: Path | None = None
    anchor_file: Path | None = None
    anchor_url: str = field(default="", repr=False)
    roster_max_shrink: float = 0.10  # share of owners a roster import may remove
    # Logging (incident/logs.py): WARNING unless set (`[logging] level = "INFO"` in
    # incident.toml, INCIDENT_LOG_LEVEL, or --log-level); the rotating file defaults to
    # logs/incident.log in the data folder.
    log_level: str = ""
    log_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{data_dir() / 'incident.db'}"

    @property
    def chain_key_path(self) -> Path:
        return self.chain_key_file or data_dir() / "chain.key"

    @property
    def anchor_path(self) -> Path:
        return self.anchor_file or data_dir() / "anchors.jsonl"

    @property
    def acting_user(self) -> str:
        """The declared staff id ('' when none): only a claim — incident.identity decides
        who is really at the keyboard."""
        return self.user.strip()

    @property
    def credentials_path(self) -> Path:
        return self.credentials_file or data_dir() / "credentials.json"


_FIELDS = {f.name for f in fields(Settings)} - {"sources"}
_PATHS = {"playbooks_dir", "contacts_dir", "secrets_file", "chain_key_file", "anchor_file",
          "credentials_file", "log_file"}
# incident.toml tables that name settings by a shorter key: [logging] level = "INFO"
_TABLES = {"logging": {"level": "log_level", "file": "log_file"}}
_SHARES = {"roster_max_shrink"}


def _share(name: str, value: Any) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise ValidationFailed([Issue(name, Msg("val.config.share", {"name": name,
                                                                   "value": repr(value)}),
                                      hint="val.config.share.hint")])
    return share


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_level(value: str) -> str:
    """A log level name (any case; WARN is WARNING), or ValidationFailed naming it."""
    level = value.strip().upper()
    level = "WARNING" if level == "WARN" else level
    if level not in LOG_LEVELS:
        raise ValidationFailed([Issue("log_level", Msg("val.config.log_level",
                                                       {"value": repr(value)}),
                                      hint=Msg("val.config.log_level.hint",
                                               {"levels": ", ".join(LOG_LEVELS)}))])
    return level


def _coerce(name: str, value: Any, base: Path | None = None) -> Any:
    if name in _SHARES:
        return _share(name, value)
    if name == "log_level" and value not in (None, ""):
        return parse_level(str(value))
    if name in _PATHS and value not in (None, ""):
        p = Path(str(value)).expanduser()
        return (base / p) if base is not None and not p.is_absolute() else p
    return value


def config_files() -> list[Path]:
    return [Path.cwd() / "incident.toml", config_dir() / "incident.toml"]


def load_settings(**flags: Any) -> Settings:
    """Build settings; flags whose value is None are treated as not given."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in reversed(config_files()):  # later (cwd) wins over user config
        if not path.is_file():
            continue
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValidationFailed([Issue(str(path), Msg("val.config.unreadable",
                                                         {"error": str(exc)}),
                                          hint="val.config.unreadable.hint")]) from None
        table = dict(doc.get("incident", doc))
        for section, keys in _TABLES.items():
            sub = doc.get(section)
            table.pop(section, None)
            for key, value in (sub.items() if isinstance(sub, dict) else ()):
                if key not in keys:
                    raise ValidationFailed([Issue(
                        str(path), Msg("val.config.unknown_in", {"name": key,
                                                                 "section": section}),
                        hint=Msg("hint.known", {"names": ", ".join(sorted(keys))}))])
                table[keys[key]] = value
        for key, value in table.items():
            if key not in _FIELDS:
                raise ValidationFailed([Issue(
                    str(path), Msg("val.config.unknown", {"name": key}),
                    hint=Msg("hint.known", {"names": ", ".join(sorted(_FIELDS))}))])
            values[key] = _coerce(key, value, path.parent)
            sources[key] = str(path)
    for name in _FIELDS:
        env = os.environ.get(f"INCIDENT_{name.upper()}")
        if env:
            values[name] = _coerce(name, env)
            sources[name] = f"INCIDENT_{name.upper()}"
    for name, value in flags.items():
        if value is not None and name in _FIELDS:
            values[name] = _coerce(name, value)
            sources[name] = "command line"
    return replace(Settings(), **values, sources=sources)
