"""What an officer says, read as a start: "fire B3-1201", "火警 3号楼12层", "lift B5 stuck".

One line proposes the playbook, the location and the severity together, so the
console needs one field (typing never races a focus change) and the CLI can
print the same proposal. The duplicate guard lives here too: an open incident of
the same playbook at the same building is offered for joining before a second
one pages everyone again. Pure functions over the library, directory and store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.directory.models import Location
    from incident.playbook import Playbook, PlaybookLibrary
    from incident.store.records import IncidentRow
    from incident.store.store import Store

# "L2", "lv2", "sev2", "S2", "2级", "二级" — never a bare number (that is a floor or a unit)
_LEVEL = re.compile(r"^(?:l|lv|lvl|level|sev|s)([1-9])$|^([1-9一二三四五])级$", re.IGNORECASE)
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


@dataclass(slots=True)
class Proposal:
    """The start a line proposes; `missing` says what is still needed, in order."""

    text: str
    playbook: Playbook | None = None
    candidates: list[Playbook] = field(default_factory=list)
    location: Location | None = None
    location_text: str = ""
    location_error: str = ""
    severity: int | None = None
    severity_given: bool = False

    @property
    def complete(self) -> bool:
        return self.playbook is not None and self.location is not None

    @property
    def missing(self) -> list[str]:
        out = []
        if self.playbook is None:
            out.append("playbook")
        if self.location is None:
            out.append("location")
        return out


def _keywords(library: PlaybookLibrary) -> list[str]:
    words: set[str] = set()
    for pb in library:
        words.update(w.lower() for w in (pb.id, pb.type, pb.title.en, pb.title.zh, *pb.keywords)
                     if w and " " not in w)
    return sorted(words, key=len, reverse=True)


def _split_glued(tokens: list[str], keywords: list[str]) -> list[str]:
    """'火警3号楼12层' → '火警', '3号楼12层'; 'fireB3-1201' → 'fire', 'B3-1201'."""
    out: list[str] = []
    for tok in tokens:
        low = tok.lower()
        for kw in keywords:
            if low.startswith(kw) and len(low) > len(kw):
                out.extend([tok[:len(kw)], tok[len(kw):]])
                break
            if low.endswith(kw) and len(low) > len(kw) and not low[:-len(kw)].isascii():
                out.extend([tok[:-len(kw)], tok[-len(kw):]])  # '3号楼电梯'
                break
        else:
            out.append(tok)
    return out


def _level(token: str) -> int | None:
    m = _LEVEL.match(token)
    if not m:
        return None
    raw = m.group(1) or m.group(2)
    return _ZH_DIGITS.get(raw) or int(raw)


def _rank(library: PlaybookLibrary, words: list[str]) -> list[Playbook]:
    """Playbooks matching every word first, then by how many words match."""
    if not words:
        return []
    scored = []
    for i, pb in enumerate(library):
        hits = sum(1 for w in words if pb.matches(w))
        if hits:
            scored.append((-(hits == len(words)), -hits, i, pb))
    scored.sort(key=lambda x: x[:3])
    return [pb for *_, pb in scored]


def propose(text: str, library: PlaybookLibrary, directory: Directory | None) -> Proposal:
    """Read one line into a proposal; never raises on what a person types."""
    prop = Proposal(text)
    tokens = _split_glued(text.split(), _keywords(library))
    words: list[str] = []
    rest: list[str] = []
    for tok in tokens:
        lvl = _level(tok)
        if lvl is not None:
            prop.severity, prop.severity_given = lvl, True
        else:
            rest.append(tok)
    # the longest run of tokens that is a place in the estate is the location
    best: tuple[int, int] | None = None
    if directory is not None:
        n = len(rest)
        # a place never contains "fire" or "lift": skip those runs (a failed locate is
        # costly, it looks for suggestions)
        kind = [_is_playbook_word(library, tok) for tok in rest]
        for length in range(n, 0, -1):
            for start in range(0, n - length + 1):
                if any(kind[start:start + length]):
                    continue
                chunk = " ".join(rest[start:start + length])
                try:
                    prop.location = directory.locate(chunk)
                except Exception:  # SelectorError and friends: not a place, try shorter
                    continue
                best = (start, start + length)
                break
            if best:
                break
    if best is not None:
        prop.location_text = " ".join(rest[best[0]:best[1]])
        words = rest[:best[0]] + rest[best[1]:]
    else:
        words = rest
        leftover = [t for t in rest if not _is_playbook_word(library, t)]
        if directory is not None and leftover:
            try:
                directory.locate(" ".join(leftover))
            except Exception as exc:
                hint = getattr(exc, "hint", "")
                msg = str(exc)
                prop.location_error = f"{msg} — {hint}" if hint and hint not in msg else msg
    prop.candidates = _rank(library, words)
    if prop.candidates:
        prop.playbook = prop.candidates[0]
    pb = prop.playbook
    if pb is not None:
        levels = {s.level for s in pb.severities}
        if prop.severity not in levels:
            prop.severity, prop.severity_given = pb.default_severity, False
    return prop


def _is_playbook_word(library: PlaybookLibrary, chunk: str) -> bool:
    return " " not in chunk and not any(c.isdigit() for c in chunk) and \
        any(pb.matches(chunk) for pb in library)


def building_of(directory: Directory | None, location: str) -> str | None:
    if directory is None:
        return None
    try:
        return directory.locate(location).building
    except Exception:
        return None


def open_duplicates(store: Store, directory: Directory | None, playbook_id: str,
                    location: str, *, drill: bool = False) -> list[IncidentRow]:
    """Open incidents of the same playbook in the same building (or at the same place when
    the location has no building), newest first — what a second start should join."""
    target = building_of(directory, location)
    out = []
    for row in store.incidents(status="open", drill=drill):
        if row.playbook_id != playbook_id:
            continue
        if target is not None:
            if building_of(directory, row.location) == target:
                out.append(row)
        elif row.location == location:
            out.append(row)
    return out
