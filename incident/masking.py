"""Secrets out of text: one masker for delivery errors, events, reports and logs.

A :class:`Masker` replaces configured secret values (and their URL-encoded form) and
the credentials any URL carries (``scheme://user:pass@`` and ``?token=…``). Secrets
that the process loads (channel secrets, the chain key) are also :func:`remember`-ed,
so the log setup (incident/logs.py) masks them in every record without knowing where
they came from.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote


class Masker:
    """Removes secrets from text: configured secret values and URL credentials."""

    _CRED = re.compile(r"(\b[a-z][a-z0-9+.-]*://)([^/\s@]+)@", re.I)
    _QUERY = re.compile(r"([?&](?:token|access_token|key|secret|password|pass|apikey|api_key|"
                        r"sign|signature)=)[^&\s]+", re.I)

    def __init__(self, values: Iterable[str] = ()):
        self.values = sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        out = str(text)
        for v in self.values:
            if v in out:
                out = out.replace(v, "***")
            q = quote(v, safe="")
            if q != v and q in out:
                out = out.replace(q, "***")
        out = self._CRED.sub(lambda m: m.group(1) + "***@", out)
        return self._QUERY.sub(lambda m: m.group(1) + "***", out)


_KNOWN: set[str] = set()
_LOCK = threading.Lock()
_CURRENT = Masker()


def remember(values: Iterable[str]) -> None:
    """Add secret values the process has loaded to the process-wide masker."""
    global _CURRENT
    new = {v for v in values if v and len(v) >= 3} - _KNOWN
    if not new:
        return
    with _LOCK:
        _KNOWN.update(new)
        _CURRENT = Masker(_KNOWN)


def mask(text: str) -> str:
    """`text` with every remembered secret and URL credential replaced by ***."""
    return _CURRENT(text) or ""
