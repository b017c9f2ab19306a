"""Console words: the catalogue's `t`, plus footer labels by binding id.

Every label lives in the one message catalogue (incident/locale, see incident.i18n);
binding descriptions are translated by binding id (catalogue keys ``binding.<id>``) so
the footer follows the language.
"""

from __future__ import annotations

from incident import i18n

#: Staging table for new console words written as ``key: (en, zh)`` on a branch made
#: before the catalogue; ``tools/i18n.py import-table incident.console.i18n:LABELS``
#: moves them into the catalogue (the catalogue check fails while this holds entries).
LABELS: dict[str, tuple[str, str]] = {}


def t(key: str, lang: str = "en", **fields: object) -> str:
    """The catalogue's message (a staged pair first, until it is imported)."""
    if key in LABELS:
        return i18n.pair(LABELS[key], lang, **fields)
    return i18n.t(key, lang, **fields)


def binding_label(binding_id: str | None, lang: str) -> str | None:
    """The footer description of a binding in `lang`, None for a binding with no id."""
    if binding_id is None or not i18n.has(f"binding.{binding_id}"):
        return None
    return i18n.t(f"binding.{binding_id}", lang)


def localize_bindings(node: object, lang: str) -> None:
    """Rewrite the footer descriptions of a node's bindings in `lang` (by binding id)."""
    from dataclasses import replace

    bindings = getattr(node, "_bindings", None)
    table = getattr(bindings, "key_to_bindings", None)
    if not isinstance(table, dict):
        return
    for key, items in list(table.items()):
        new = []
        for b in items:
            label = binding_label(getattr(b, "id", None), lang)
            new.append(replace(b, description=label) if label else b)
        table[key] = new
