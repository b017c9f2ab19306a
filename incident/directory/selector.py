"""Audience selector syntax (see the package docstring for the grammar).

Parsing is syntax only: names are checked against the directory by
`Directory.check_selector`, and `@` terms are bound to an incident location by
`Directory.resolve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from incident.errors import Msg, suggest
from incident.i18n import t

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
    """A selector that cannot be parsed or bound; `hint` says how to fix it.

    Raised with catalogue keys (a key given as `message` or `hint` is filled with
    `fields`) or Msg. `said` and `advice` are those messages, for a face to tell
    (``exc.text(lang)``) or to hand to an Issue; `message` and `hint` (and ``str()``)
    are their English text."""

    def __init__(self, message: str | Msg, hint: str | Msg = "", **fields: object):
        self.said: Msg = message if isinstance(message, Msg) else Msg(message, fields)
        self.advice: Msg | None = (hint if isinstance(hint, Msg) else Msg(hint, fields)) \
            if hint else None
        self.message = self.said.text("en")
        self.hint = self.advice.text("en") if self.advice else ""
        super().__init__(self.text("en"))

    def msg(self) -> Msg:
        """The whole finding, message and hint, as one message to tell later."""
        if self.advice is None:
            return self.said
        return Msg("val.dir.sel.problem", {"message": self.said, "hint": self.advice})

    def text(self, lang: str | None = "en") -> str:
        """'message — hint' in the reader's language."""
        said = self.said.text(lang)
        if self.advice is not None:
            said += t("issue.hint_sep", lang) + self.advice.text(lang)
        return said


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
            raise SelectorError("val.dir.sel.no_floor", "hint.dir.sel.no_floor")
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
        raise SelectorError("val.dir.sel.not_floor", "hint.dir.sel.floor", term=term,
                            text=text)
    if m.group(1) is None and m.group(2).startswith("+"):
        raise SelectorError("val.dir.sel.not_floor", "hint.dir.sel.no_plus", term=term,
                            text=text)
    if m.group(1) and m.group(2) and m.group(2)[0] not in "+-":
        raise SelectorError("val.dir.sel.not_floor", "hint.dir.sel.sign", term=term, text=text,
                            n=m.group(2))
    return Bound(int(m.group(2) or 0), relative=m.group(1) is not None)


def _term(text: str) -> Term:
    kind, sep, value = text.partition(":")
    kind = _ALIASES.get(kind.lower(), kind.lower())
    if kind not in TERMS:
        close = suggest(kind, TERMS)
        raise SelectorError(Msg("val.dir.sel.unknown_term", {"text": text}),
                            close or Msg("hint.dir.sel.terms", {"names": ", ".join(TERMS)}))
    takes = TERMS[kind]
    if sep and not value:
        raise SelectorError("val.dir.sel.no_value", "hint.dir.sel.name", text=text, kind=kind)
    if not sep:
        if takes:
            example = {"floors": "floors:11..13", "floor": "floor:12",
                       "building": "building:B3"}.get(kind, f"{kind}:NAME")
            raise SelectorError("val.dir.sel.needs_value", "hint.dir.sel.example", kind=kind,
                                example=example)
        return Term(kind)
    if takes is False:
        raise SelectorError("val.dir.sel.takes_no_value", "hint.dir.sel.just", kind=kind,
                            text=text)
    if kind == "floor":
        if ".." in value:
            raise SelectorError("val.dir.sel.is_range", "hint.dir.sel.floors", text=text,
                                value=value)
        b = _bound(value, text)
        return Term(kind, low=b, high=b)
    if kind == "floors":
        if ".." not in value:
            if re.fullmatch(r"@?[+-]?\d+-@?[+-]?\d+", value):
                raise SelectorError("val.dir.sel.not_range", "hint.dir.sel.range", text=text)
            b = _bound(value, text)
            return Term(kind, low=b, high=b)
        lo_text, _, hi_text = value.partition("..")
        lo, hi = _bound(lo_text, text), _bound(hi_text, text)
        if not lo.relative and not hi.relative and lo.value > hi.value:
            raise SelectorError("val.dir.sel.backwards", "hint.dir.sel.lower_first", text=text,
                                low=hi.value, high=lo.value)
        return Term(kind, low=lo, high=hi)
    if kind == "lang" and value not in ("zh", "en"):
        raise SelectorError("val.dir.sel.unknown_lang", "hint.dir.sel.lang", text=text,
                            value=value)
    if value == "@" and kind not in ("building", "unit"):
        raise SelectorError("val.dir.sel.at", "hint.dir.sel.at", text=text)
    if value != "@" and not _NAME.match(value):
        raise SelectorError("val.dir.sel.bad_name", "hint.dir.sel.bad_name", text=text,
                            value=value)
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
            raise SelectorError("val.dir.sel.empty_list", "hint.dir.sel.empty_list")
        return Selector(tuple(alts))
    if not isinstance(text, str):
        from incident.validation import kind_of

        raise SelectorError("val.dir.sel.not_text", "hint.dir.sel.write_like",
                            kind=kind_of(text))
    if not text.strip():
        raise SelectorError("val.dir.sel.empty", "hint.dir.sel.example_owners")
    alternatives = []
    for part in text.split("|"):
        words = part.split()
        if not words:
            raise SelectorError("val.dir.sel.empty_alternative", "hint.dir.sel.bar",
                                text=text.strip())
        alternatives.append(tuple(_term(w) for w in words))
    return Selector(tuple(alternatives))
