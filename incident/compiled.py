"""A compiled cache of the validated estate: directory, channel names, playbooks and the
escalation graph, so a command that reads them does not parse and re-validate every
YAML file and the whole owner roster on each invocation (that was ~1.2 s of
`incident status`).

Trust rules — the cache is an optimisation, never a source of truth:

- The key is a SHA-256 over the *contents* of every file in the contacts and playbook
  folders, the package version, a fingerprint of the package's own code files (so an
  edited checkout never reads objects built by older code), the Python version and the
  installed versions of the libraries whose objects are stored (pydantic, networkx…).
  Any change gives another key and a rebuild; nothing is trusted across versions.
- Only a load that validated without errors is stored; a broken file is reported by
  the normal loaders every time, exactly as without the cache.
- The format is :mod:`pickle`, which can run code when loaded. It is therefore only
  read from a file the current user owns, mode 600 (no group/other bits), inside a
  folder nobody else can write, opened without following symlinks; the key is
  compared *before* unpickling, so a file for other inputs is never unpickled. Anyone
  who can write that file can already replace the program, its database and its chain
  key, so pickle adds no new way in. ``INCIDENT_NO_CACHE=1`` turns the cache off.

Layout — parts, so a read unpickles only what it needs: the header line (format and
key), `meta` (a few small values such as the site's time zone), an index, then the
parts, each its own pickle: ``directory``, ``channel_names``, ``playbooks`` (the
validated library: pydantic models, for the engine), ``escalation`` (they share no
objects, so separate pickles lose nothing) and ``playbook:<id>``, the read form of each
playbook (incident/playbook/readform.py: no pydantic). `incident status` unpickles meta
and one playbook, `incident log` the directory and one playbook; the trust rules above
apply to the whole file before any part is unpickled.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import incident
from incident.files import PRIVATE_DIR, PRIVATE_FILE, private_dir

log = logging.getLogger(__name__)
FORMAT = b"incident-compiled-2"
# Libraries whose classes live inside the stored objects: a pip upgrade changes the key.
_LIBRARIES = ("pydantic", "pydantic_core", "networkx", "jinja2", "phonenumbers", "yaml")
_code_print: str | None = None


def enabled() -> bool:
    return os.environ.get("INCIDENT_NO_CACHE", "").strip().lower() in ("", "0", "no", "false")


def cache_dir() -> Path:
    from incident.config import data_dir

    return data_dir() / "cache"


def _code_fingerprint() -> str:
    """Names, sizes and mtimes of the package's .py files and of the stored libraries'
    entry files: cheap (stat only) and changes with any upgrade or edit of the code."""
    global _code_print
    if _code_print is None:
        h = hashlib.sha256()
        h.update(f"{incident.__version__}|{sys.version}".encode())
        root = Path(incident.__file__).resolve().parent
        for rel, st in sorted(_py_files(str(root), "")):
            h.update(f"{rel}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        for name in _LIBRARIES:
            spec = find_spec(name)
            origin = spec.origin if spec is not None else None
            if origin and os.path.exists(origin):
                st = os.stat(origin)
                h.update(f"{name}|{origin}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            else:
                h.update(f"{name}|absent\n".encode())
        _code_print = h.hexdigest()
    return _code_print


def _py_files(folder: str, rel: str) -> list[tuple[str, os.stat_result]]:
    """(relative path, stat) of every .py file below `folder` — os.scandir, not
    Path.rglob: every command computes the key, and this is ~10x cheaper."""
    out: list[tuple[str, os.stat_result]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                out += _py_files(entry.path, f"{rel}{entry.name}/")
            elif entry.name.endswith(".py"):
                out.append((rel + entry.name, entry.stat()))
    return out


def _hash_folder(h: Any, label: str, folder: Path) -> None:
    h.update(f"[{label}] {folder.resolve()}\n".encode())
    if not folder.is_dir():
        h.update(b"(missing)\n")
        return
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        data = p.read_bytes()
        h.update(f"{p.relative_to(folder)}|{len(data)}\n".encode())
        h.update(hashlib.sha256(data).digest())


def key_for(contacts_dir: Path, playbooks_dir: Path) -> str:
    """The content key of one (contacts, playbooks) pair under this code."""
    h = hashlib.sha256(FORMAT)
    h.update(_code_fingerprint().encode())
    _hash_folder(h, "contacts", Path(contacts_dir))
    _hash_folder(h, "playbooks", Path(playbooks_dir))
    return h.hexdigest()


def _path_for(contacts_dir: Path, playbooks_dir: Path) -> Path:
    where = f"{Path(contacts_dir).resolve()}\0{Path(playbooks_dir).resolve()}"
    return cache_dir() / f"compiled-{hashlib.sha256(where.encode()).hexdigest()[:20]}.pickle"


def _private_enough(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & 0o077


class Compiled:
    """A stored bundle: `meta` is read at once; each part is unpickled on first use, so
    `list` pays only for the time zone and `status` for one playbook's read form."""

    def __init__(self, meta: dict[str, Any], index: dict[str, tuple[int, int]], data: bytes):
        self.meta = meta
        self._index = index
        self._data = data
        self._parts: dict[str, Any] = {}
        self.damaged = False

    def part(self, name: str) -> Any:
        """One stored part (None when it is not there or does not unpickle)."""
        if name not in self._parts:
            where = self._index.get(name)
            value = None
            if where is not None:
                try:
                    start, length = where
                    value = pickle.loads(memoryview(self._data)[start:start + length])
                except Exception:  # a damaged file: the loaders read the files instead
                    value, self.damaged = None, True
            self._parts[name] = value
        return self._parts[name]


def load(contacts_dir: Path, playbooks_dir: Path, key: str) -> Compiled | None:
    """The stored bundle for `key`, or None (missing, other key, not private, unreadable)."""
    path = _path_for(contacts_dir, playbooks_dir)
    try:
        folder = os.stat(path.parent)
        if folder.st_uid != os.geteuid() or folder.st_mode & 0o022:
            log.warning("not using the compiled cache: %s is not private (owner or mode "
                        "%o); fix it with chmod 700, or remove it", path.parent,
                        stat.S_IMODE(folder.st_mode))
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or not _private_enough(st):
                # someone else could have written it: never unpickled, and said so
                log.warning("not using the compiled cache: %s is not a private file "
                            "(mode %o); it is rebuilt from the YAML files", path,
                            stat.S_IMODE(st.st_mode))
                return None
            header = f.readline().rstrip(b"\n")
            if header != FORMAT + b" " + key.encode():
                return None  # other inputs or other code: never unpickled
            meta = pickle.load(f)
            index = pickle.load(f)
            data = f.read()
    except Exception:  # a truncated or foreign file is a miss, never an error
        return None
    if not isinstance(meta, dict) or not isinstance(index, dict):
        return None
    return Compiled(meta, index, data)


def save(contacts_dir: Path, playbooks_dir: Path, key: str, meta: dict[str, Any],
         objects: dict[str, Any], parts: dict[str, Any] | None = None) -> None:
    """Store atomically (write a private temp file, rename); failures are ignored — the
    next command simply loads from the files again. Each of `objects` (directory,
    playbooks…) and of `parts` (e.g. ``playbook:fire``) is pickled on its own."""
    path = _path_for(contacts_dir, playbooks_dir)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        private_dir(path.parent)
        os.chmod(path.parent, PRIVATE_DIR)
        blobs = {name: pickle.dumps(value, protocol=5)
                 for name, value in {**objects, **(parts or {})}.items()}
        index: dict[str, tuple[int, int]] = {}
        at = 0
        for name, blob in blobs.items():
            index[name] = (at, len(blob))
            at += len(blob)
        data = b"".join([FORMAT + b" " + key.encode() + b"\n", pickle.dumps(meta, protocol=5),
                         pickle.dumps(index, protocol=5), *blobs.values()])
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     PRIVATE_FILE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except Exception:
        tmp.unlink(missing_ok=True)
