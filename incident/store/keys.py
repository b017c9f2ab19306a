"""The chain key: an HMAC secret kept outside the database.

A plain SHA-256 chain proves nothing against someone who can write to the
database: they edit an event and recompute every later hash with the project's
own function. Keying the chain (HMAC-SHA256) means a re-hash needs the secret,
which lives in a key file (mode 600, in the user data folder, made on first use)
or in the INCIDENT_CHAIN_KEY environment secret, never in the database.

Every event records the id of the key that signed it, so keys can be rotated:
new events use the newest key, older events keep verifying with the key that
wrote them. A key id is a fingerprint of its secret, so a wrong secret under
the right name is reported as "key not loaded", not as tampering.

Key file format, one key per line, the last line signs new events::

    # incident chain keys — keep secret (mode 600)
    2026-12-01T02:40:00+00:00 4f1c…64 hex digits…
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from incident.errors import Refused

HEADER = ("# incident chain keys — keep this file secret (mode 600) and backed up.\n"
          "# One key per line: <created> <secret hex>. The last line signs new events;\n"
          "# older lines stay so older events still verify. See README, 'Chain key'.\n")
MIN_SECRET_BYTES = 16


class ChainKeyProblem(Refused):
    """The chain key cannot be loaded or used (missing, unreadable, too open, malformed)."""


@dataclass(frozen=True, slots=True)
class ChainKey:
    id: str
    secret: bytes = field(repr=False)
    created: datetime | None = None

    def mac(self, data: str) -> str:
        return hmac.new(self.secret, data.encode("utf-8"), hashlib.sha256).hexdigest()


def key_id(secret: bytes) -> str:
    """A short public fingerprint of a secret (domain-separated, reveals nothing usable)."""
    return "k" + hashlib.sha256(b"incident-chain-key-id\0" + secret).hexdigest()[:12]


def make_key(secret: bytes, created: datetime | None = None) -> ChainKey:
    return ChainKey(key_id(secret), secret, created)


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys that may verify events; ``current`` signs new ones."""

    keys: tuple[ChainKey, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if not self.keys:
            raise ChainKeyProblem(f"{self.source or 'chain key'}: no key")

    @property
    def current(self) -> ChainKey:
        return self.keys[-1]

    def get(self, kid: str) -> ChainKey | None:
        for k in self.keys:
            if k.id == kid:
                return k
        return None

    @property
    def keyed_since(self) -> datetime | None:
        """When the first key was made: events written after it must be keyed."""
        times = [k.created for k in self.keys if k.created is not None]
        return min(times) if times else None

    def ids(self) -> list[str]:
        return [k.id for k in self.keys]


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ChainKeyProblem(
            f"chain key file {path} can be read by other users (mode {mode:o}) — "
            f"run `chmod 600 {path}`")


def read_key_file(path: Path) -> Keyring:
    try:
        _check_private(path)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChainKeyProblem(f"cannot read the chain key file {path}: {exc.strerror or exc}"
                              ) from None
    keys: list[ChainKey] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ChainKeyProblem(f"{path}:{n}: expected '<created> <secret hex>', got "
                                  f"{len(parts)} field(s) — restore the file from its backup")
        try:
            created = datetime.fromisoformat(parts[0])
            secret = bytes.fromhex(parts[1])
        except ValueError as exc:
            raise ChainKeyProblem(f"{path}:{n}: not a key line ({exc}) — restore the file "
                                  "from its backup") from None
        if created.tzinfo is None or len(secret) < MIN_SECRET_BYTES:
            raise ChainKeyProblem(f"{path}:{n}: the time needs a zone and the secret at least "
                                  f"{MIN_SECRET_BYTES} bytes — restore the file from its backup")
        keys.append(make_key(secret, created))
    if not keys:
        raise ChainKeyProblem(f"chain key file {path} holds no key — restore it from its "
                              "backup, or remove it to start a new key")
    return Keyring(tuple(keys), str(path))


def _new_line(now: datetime) -> str:
    return f"{now.isoformat(timespec='seconds')} {secrets.token_hex(32)}\n"


def create_key_file(path: Path, now: datetime) -> Keyring:
    """A new key file (mode 600, created exclusively); an existing one is read instead."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    except OSError as exc:
        raise ChainKeyProblem(f"cannot create the chain key file {path}: "
                              f"{exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(HEADER + _new_line(now))
    return read_key_file(path)


def rotate_key_file(path: Path, now: datetime) -> Keyring:
    """Append a new key: it signs from now on; the old ones keep verifying."""
    read_key_file(path)  # refuse to extend a broken or too-open file
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(_new_line(now))
    return read_key_file(path)


def keyring_from_secret(text: str, source: str = "INCIDENT_CHAIN_KEY") -> Keyring:
    """Comma-separated secrets (the last signs new events), e.g. from a secret store."""
    keys = []
    for n, part in enumerate(text.split(","), 1):
        secret = part.strip().encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise ChainKeyProblem(f"{source}: secret {n} is shorter than {MIN_SECRET_BYTES} "
                                  "characters — use e.g. `python -c 'import secrets; "
                                  "print(secrets.token_hex(32))'`")
        keys.append(make_key(secret))
    return Keyring(tuple(keys), source)


def load_keyring(*, secret: str = "", path: Path, now: datetime, create: bool = True) -> Keyring:
    """The environment secret if set, else the key file (made on first use)."""
    if secret:
        return keyring_from_secret(secret)
    if path.exists():
        return read_key_file(path)
    if not create:
        raise ChainKeyProblem(f"no chain key at {path} — copy the key file from the host that "
                              "made it, or set INCIDENT_CHAIN_KEY")
    return create_key_file(path, now)
