"""Audience selector syntax (see the package docstring for the grammar).

Parsing is syntax only: names are checked against the directory by
`Directory.check_selector`, and `@` terms are bound to an incident location by
`Directory.resolve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from incident.errors import suggest

# term name -> does it take a value? (None: optional, True: required, False: never)
TERMS: dict[str, bool | None] = {
    "site": True, "building": True, "floor": True, "floors": True, "unit": True,
    "owners": False, "staff": False, "role": True, "on_duty": True, "vendor": True,
    "vendors": False, "person": True, "tag": True, "vulnerable": None, "lang": True,
}
POPULATION = ("owners", "staff", "role", "on_duty", "vendor", "vendors", "person")
_ALIASES = {"owner": "owners", "residents": "owners", "floor_range": "floors"}
_BOUND = re.compile(r"^(@)?([+-]?\d+)?$")
_NAME = re.compile(r"^[\w.\-:]+$")


class SelectorError(ValueError):
    """A selector that cannot be parsed or bound; `hint` says how to fix it."""

    def __init__(self, message: str, hint: str = ""):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} — {hint}" if hint else message)


@dataclass(frozen=True, slots=True)
class Bound:
    """A floor number, or an offset from the incident floor when `relative`."""

    value: int
    relative: bool = False

    def __str__(self) -> str:
        if not self.relative:
            return str(self.value)
        return "@" if self.value == 0 else f"@{self.value:+d}"

    def bind(self, floor: int | None) -> int:
        if not self.relative:
            return self.value
        if floor is None:
            raise SelectorError("the incident location has no floor for '@'",
                                "locate the incident on a floor or unit, or use a floor number")
        return floor + self.value


@dataclass(frozen=True, slots=True)
class Term:
    kind: str
    value: str | None = None  # names; '@' for the incident's building/unit
    low: Bound | None = None  # floor / floors
    high: Bound | None = None

    @property
    def relative(self) -> bool:
        return self.value == "@" or any(b is not None and b.relative
                                        for b in (self.low, self.high))

    def __str__(self) -> str:
        if self.kind == "floors" and self.low is not None and self.high is not None:
            return f"floors:{self.low}..{self.high}"
        if self.kind == "floor" and self.low is not None:
            return f"floor:{self.low}"
        return self.kind if self.value is None else f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Alternatives (unioned) of terms (intersected)."""

    alternatives: tuple[tuple[Term, ...], ...]

    def __str__(self) -> str:
        return " | ".join(" ".join(str(t) for t in alt) for alt in self.alternatives)

    @property
    def relative(self) -> bool:
        return any(t.relative for alt in self.alternatives for t in alt)

    def terms(self) -> list[Term]:
        return [t for alt in self.alternatives for t in alt]


def _bound(text: str, term: str) -> Bound:
    m = _BOUND.match(text.strip())
    if not text.strip() or not m or (m.group(1) is None and m.group(2) is None):
        raise SelectorError(f"'{term}': '{text}' is not a floor",
                            "write a floor number like 12, or '@', '@-1', '@+2' for floors "
                            "relative to the incident")
    if m.group(1) is None and m.group(2).startswith("+"):
        raise SelectorError(f"'{term}': '{text}' is not a floor", "write 12, not +12")
    if m.group(1) and m.group(2) and m.group(2)[0] not in "+-":
        raise SelectorError(f"'{term}': '{text}' is not a floor",
                            f"write @+{m.group(2)} or @-{m.group(2)}")
    return Bound(int(m.group(2) or 0), relative=m.group(1) is not None)


def _term(text: str) -> Term:
    kind, sep, value = text.partition(":")
    kind = _ALIASES.get(kind.lower(), kind.lower())
    if kind not in TERMS:
        close = suggest(kind, TERMS)
        raise SelectorError(f"unknown selector term '{text}'",
                            close or "known terms: " + ", ".join(TERMS))
    takes = TERMS[kind]
    if sep and not value:
        raise SelectorError(f"'{text}' has no value after ':'", f"write {kind}:NAME")
    if not sep:
        if takes:
            example = {"floors": "floors:11..13", "floor": "floor:12",
                       "building": "building:B3"}.get(kind, f"{kind}:NAME")
            raise SelectorError(f"'{kind}' needs a value", f"write it like {example}")
        return Term(kind)
    if takes is False:
        raise SelectorError(f"'{kind}' takes no value, got '{text}'", f"write just '{kind}'")
    if kind == "floor":
        if ".." in value:
            raise SelectorError(f"'{text}' is a range", f"write floors:{value}")
        b = _bound(value, text)
        return Term(kind, low=b, high=b)
    if kind == "floors":
        if ".." not in value:
            if re.fullmatch(r"@?[+-]?\d+-@?[+-]?\d+", value):
                raise SelectorError(f"'{text}' is not a floor range",
                                    "write ranges with '..', like floors:11..13 or "
                                    "floors:@-1..@+1")
            b = _bound(value, text)
            return Term(kind, low=b, high=b)
        lo_text, _, hi_text = value.partition("..")
        lo, hi = _bound(lo_text, text), _bound(hi_text, text)
        if not lo.relative and not hi.relative and lo.value > hi.value:
            raise SelectorError(f"'{text}' runs backwards",
                                f"write the lower floor first: floors:{hi.value}..{lo.value}")
        return Term(kind, low=lo, high=hi)
    if kind == "lang" and value not in ("zh", "en"):
        raise SelectorError(f"'{text}': unknown language '{value}'", "write lang:zh or lang:en")
    if value == "@" and kind not in ("building", "unit"):
        raise SelectorError(f"'{text}': '@' only works for building, unit and floors",
                            "write building:@, unit:@, floor:@ or floors:@-1..@+1")
    if value != "@" and not _NAME.match(value):
        raise SelectorError(f"'{text}' has an invalid name '{value}'",
                            "names use letters, digits, '_', '-', '.' and ':'")
    return Term(kind, value=value)


def parse_selector(text: str | list[str] | tuple[str, ...] | Selector) -> Selector:
    """Parse a selector string (or a YAML list of them, unioned). Syntax only."""
    if isinstance(text, Selector):
        return text
    if isinstance(text, list | tuple):
        alts: list[tuple[Term, ...]] = []
        for item in text:
            alts.extend(parse_selector(item).alternatives)
        if not alts:
            raise SelectorError("the selector list is empty", "name at least one audience")
        return Selector(tuple(alts))
    if not isinstance(text, str):
        raise SelectorError(f"a selector must be text, got {type(text).__name__}",
                            "write it like 'owners building:@'")
    if not text.strip():
        raise SelectorError("the selector is empty", "write e.g. 'owners building:@'")
    alternatives = []
    for part in text.split("|"):
        words = part.split()
        if not words:
            raise SelectorError(f"empty alternative in '{text.strip()}'",
                                "put a term on both sides of '|'")
        alternatives.append(tuple(_term(w) for w in words))
    return Selector(tuple(alternatives))
