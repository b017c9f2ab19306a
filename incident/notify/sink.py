"""The local sink: an Apprise scheme (``sink://CHANNEL/ADDRESS``) that delivers nowhere.

Out of the box every channel points here, so a new user sees exactly what would
have gone out; drills always end here, whatever the channel says. Each message is
appended as one JSON line to ``sink.jsonl`` in the data directory (or the path
given to ``configure``) and kept in memory for the console (``recent()``).

``?drill=yes`` marks a drill message; ``?fail=yes`` makes the sink refuse the
message (to rehearse fall-back without a real gateway).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apprise.decorators import notify as _apprise_notify

from incident.files import open_private_append

SCHEME = "sink"

_lock = threading.Lock()
_path: Path | None = None
_recent: deque[dict[str, Any]] = deque(maxlen=2000)


def default_path() -> Path:
    from incident.config import data_dir

    return data_dir() / "sink.jsonl"


def configure(path: str | Path | None) -> Path:
    """Where sink messages are written from now on (None: the data directory)."""
    global _path
    with _lock:
        _path = Path(path) if path else None
    return sink_path()


def sink_path() -> Path:
    return _path or default_path()


def recent(limit: int = 50) -> list[dict[str, Any]]:
    with _lock:
        return list(_recent)[-limit:]


def read(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Every message recorded in a sink file."""
    p = Path(path) if path else sink_path()
    if not p.exists():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line cut short by a crash
                continue
    return out


def _yes(value: Any) -> bool:
    return str(value or "").lower() in ("1", "y", "yes", "true", "on")


def _sink(body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any,
          **kwargs: Any) -> bool:
    qsd = meta.get("qsd") or {}
    if _yes(qsd.get("fail")):
        return False
    rec = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
           "channel": meta.get("host") or "", "to": (meta.get("fullpath") or "").lstrip("/"),
           "drill": _yes(qsd.get("drill")), "subject": title, "body": body}
    line = json.dumps(rec, ensure_ascii=False) + "\n"
    with _lock:
        _recent.append(rec)
        p = _path or default_path()
        with open_private_append(p) as fh:  # mode 600: real addresses and texts
            fh.write(line)
    return True


def register() -> None:
    """Make ``sink://`` known to Apprise (idempotent)."""
    from apprise.apprise import N_MGR

    if SCHEME not in N_MGR:
        _apprise_notify(on=SCHEME, name="Incident local sink")(_sink)


def known_scheme(scheme: str) -> bool:
    from apprise.apprise import N_MGR

    register()
    return scheme.lower() in N_MGR


register()

__all__ = ["SCHEME", "configure", "default_path", "known_scheme", "read", "recent",
           "register", "sink_path"]
