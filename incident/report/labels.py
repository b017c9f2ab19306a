"""Report words: the catalogue's `t` under the name report renderers import.

Every label lives in the one message catalogue (incident/locale, see incident.i18n).
"""

from __future__ import annotations

from incident import i18n

#: Staging table for new report words written as ``key: (en, zh)`` on a branch made
#: before the catalogue; ``tools/i18n.py import-table incident.report.labels:LABELS``
#: moves them into the catalogue (the catalogue check fails while this holds entries).
LABELS: dict[str, tuple[str, str]] = {}


def t(key: str, lang: str = "en", **fmt: object) -> str:
    """The catalogue's message (a staged pair first, until it is imported)."""
    if key in LABELS:
        return i18n.pair(LABELS[key], lang, **fmt)
    return i18n.t(key, lang, **fmt)
