"""Staff credentials: a PIN (to confirm a gated step as the second person) and a
password (to sign in to the served console), each kept only as a salted scrypt hash
in a private file (mode 600) in the user data folder — never in the database, so a
database copy or a report reveals none of them.

File format (JSON): {"people": {"song.hui": {"pin": "scrypt$16384$8$1$SALT$HASH"}}}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from incident.errors import Issue, Msg, Refused, ValidationFailed

KINDS = {"pin": "PIN", "password": "password"}
#: what each kind is called in a refusal, in either language
LABELS = {"pin": {"en": "PIN", "zh": "PIN"}, "password": {"en": "password", "zh": "密码"}}
_N, _R, _P = 2 ** 14, 8, 1  # scrypt cost: ~20 ms and 16 MiB per check


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_secret(secret: str, *, salt: bytes | None = None, n: int = _N, r: int = _R,
                p: int = _P) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                            maxmem=64 * 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        again = hash_secret(secret, salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again.rsplit("$", 1)[1], digest)


def check_strength(kind: str, secret: str) -> None:
    """A PIN is 4-12 digits (typed beside a colleague); a password at least 10 characters
    (it guards a web page)."""
    if kind == "pin":
        if not (secret.isdigit() and 4 <= len(secret) <= 12):
            raise Refused("refused.cred.pin_digits")
    elif len(secret) < 10:
        raise Refused("refused.cred.password_length")


class CredentialStore:
    """The private credentials file; every write replaces it atomically, mode 600."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ValidationFailed([Issue(str(self.path), Msg("val.cred.unreadable",
                                                              {"reason": str(exc)}),
                                          hint="val.cred.hint_mode")]) from None
        try:
            doc = json.loads(text)
            people = doc["people"]
            assert isinstance(people, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise ValidationFailed([Issue(str(self.path), "val.cred.damaged",
                                          hint="val.cred.hint_restore")]) from None
        return people

    def _write(self, people: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"people": people}, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def has(self, person: str, kind: str = "pin") -> bool:
        return kind in self._read().get(person, {})

    def who_has(self, kind: str = "pin") -> list[str]:
        return sorted(p for p, creds in self._read().items() if kind in creds)

    def set(self, person: str, secret: str, kind: str = "pin") -> None:
        check_strength(kind, secret)
        people = self._read()
        people.setdefault(person, {})[kind] = hash_secret(secret)
        self._write(people)

    def clear(self, person: str, kind: str = "pin") -> bool:
        people = self._read()
        if kind not in people.get(person, {}):
            return False
        del people[person][kind]
        self._write(people)
        return True

    def verify(self, person: str, secret: str, kind: str = "pin") -> bool:
        stored = self._read().get(person, {}).get(kind)
        if stored is None:
            check_secret(secret, hash_secret("x"))  # same cost whether or not one is set
            return False
        return check_secret(secret, stored)

    def require(self, person: str, secret: str | None, kind: str = "pin") -> None:
        """Refused unless `secret` is `person`'s PIN/password."""
        label = LABELS[kind]
        if not self.has(person, kind):
            raise Refused("refused.cred.none_set", person=person, label=label,
                          command=f"incident staff set-{kind} {person}")
        if not secret or not self.verify(person, secret, kind):
            raise Refused("refused.cred.wrong", person=person, label=label)
