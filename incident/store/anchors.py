"""Anchors: signed checkpoints of each incident's chain head, kept outside the database.

Keying the chain stops a re-hash by someone without the key, but two edits need
no key at all: deleting the last events (and lowering ``last_seq``), and — for
whoever holds the key — re-hashing an edited log. An anchor records, outside the
database, "incident X had N events ending in hash H at time T", signed with the
chain key. ``verify`` then checks each chain against its last anchor: fewer
events than anchored is a truncation, a different hash at event N a re-hash.

The anchor file is JSON lines, appended only (O_APPEND, mode 600, under a lock),
each line signed and chained to the previous line's signature, so a line edited
or removed from the middle is detected too. For a copy out of reach of anyone
with shell access, anchors can also be posted to the branch (see
incident/anchoring.py); where the file system allows it, `chattr +a` the file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from incident.store.keys import ChainKeyProblem, Keyring
from incident.store.records import canonical_json

try:
    import fcntl
except ImportError:  # pragma: no cover - not posix
    fcntl = None  # type: ignore[assignment]

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Anchor:
    incident_id: str
    seq: int
    head: str
    at: datetime
    key_id: str
    mac: str
    line: int = 0

    def body(self, prev: str) -> dict:
        return {"v": 1, "incident": self.incident_id, "seq": self.seq, "head": self.head,
                "at": self.at.astimezone(UTC).isoformat(timespec="seconds"),
                "key": self.key_id, "prev": prev}

    def line_text(self, prev: str) -> str:
        return json.dumps({**self.body(prev), "mac": self.mac}, ensure_ascii=False,
                          separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class AnchorScan:
    latest: dict[str, Anchor]
    problem: str  # "" when every line is intact
    last_mac: str
    lines: int


class AnchorLog:
    """The anchor file of one installation (read once per change, cached)."""

    def __init__(self, path: Path, keyring: Keyring):
        self.path = path
        self.keyring = keyring
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int], AnchorScan] | None = None

    def __repr__(self) -> str:
        return f"<AnchorLog {self.path}>"

    # ---- reading -------------------------------------------------------------------
    def scan(self) -> AnchorScan:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return AnchorScan({}, "", GENESIS, 0)
        except OSError as exc:
            return AnchorScan({}, f"cannot read the anchor file {self.path}: {exc}", GENESIS, 0)
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                scan = AnchorScan({}, f"cannot read the anchor file {self.path}: {exc}",
                                  GENESIS, 0)
            else:
                scan = self._parse(text)
            self._cache = (stamp, scan)
            return scan

    def _parse(self, text: str) -> AnchorScan:
        latest: dict[str, Anchor] = {}
        prev = GENESIS
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for n, raw in enumerate(lines, 1):
            where = f"anchor file {self.path} line {n}"
            tampered = (" — the anchor record itself was tampered with; compare it with the "
                        "copies posted to the branch")
            try:
                d = json.loads(raw)
                a = Anchor(str(d["incident"]), int(d["seq"]), str(d["head"]),
                           datetime.fromisoformat(d["at"]), str(d["key"]), str(d["mac"]), n)
                given_prev = str(d["prev"])
            except (ValueError, KeyError, TypeError):
                return AnchorScan(latest, f"{where}: not a signed anchor line{tampered}",
                                  prev, n)
            key = self.keyring.get(a.key_id)
            if key is None:
                return AnchorScan(latest, f"{where} is signed with chain key {a.key_id}, which "
                                          "is not loaded here — copy the key file from the "
                                          "host that wrote it", prev, n)
            if given_prev != prev:
                return AnchorScan(latest, f"{where}: it does not follow the line before it (a "
                                          f"line was removed, inserted or reordered){tampered}",
                                  prev, n)
            if key.mac(canonical_json(a.body(given_prev))) != a.mac:
                return AnchorScan(latest, f"{where}: its signature does not match its content "
                                          f"(edited){tampered}", prev, n)
            latest[a.incident_id] = a
            prev = a.mac
        return AnchorScan(latest, "", prev, len(lines))

    def latest_for(self, incident_id: str) -> tuple[Anchor | None, str]:
        """The incident's last anchor, and the anchor file's problem (if any)."""
        scan = self.scan()
        return scan.latest.get(incident_id), scan.problem

    # ---- writing -------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[int]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ChainKeyProblem(f"cannot open the anchor file {self.path}: "
                                  f"{exc.strerror or exc}") from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def append(self, heads: Sequence[tuple[str, int, str]], at: datetime) -> list[Anchor]:
        """Sign and append one checkpoint per (incident_id, seq, head hash)."""
        if not heads:
            return []
        key = self.keyring.current
        with self._locked() as fd:
            self._cache = None
            scan = self.scan()
            if scan.problem:
                raise ChainKeyProblem(f"not anchoring: {scan.problem}")
            prev = scan.last_mac
            out: list[Anchor] = []
            chunks: list[str] = []
            for i, (iid, seq, head) in enumerate(heads, scan.lines + 1):
                draft = Anchor(iid, seq, head, at.astimezone(UTC).replace(microsecond=0),
                               key.id, "", i)
                mac = key.mac(canonical_json(draft.body(prev)))
                a = Anchor(draft.incident_id, seq, head, draft.at, key.id, mac, i)
                chunks.append(a.line_text(prev) + "\n")
                out.append(a)
                prev = mac
            data = "".join(chunks).encode("utf-8")
            while data:
                data = data[os.write(fd, data):]
            self._cache = None
        return out
