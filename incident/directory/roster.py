"""The owner roster: `contacts/owners.csv`, as a property company exports it.

One row per owner (a unit may have several owners: one row each). The first row
is the header; column order does not matter, names are case-insensitive, and the
common Chinese headers (房号, 姓名, 手机, 邮箱, 微信, 语言, 特殊关怀, 标签, 备注) are
understood too. The file may be UTF-8 (with or without BOM, as Excel saves it)
or GBK/GB18030.

| column | required | meaning |
|---|---|---|
| `unit` | yes | unit id as in estate.yaml: building, '-', door number — `B3-1201` is building B3, floor 12, unit 01 |
| `name` | yes | the owner's name as they want to be addressed (张伟, or Emily Carter) |
| `name_en` | no | optional name in Latin letters (Zhang Wei) |
| `phone` | no | mobile for SMS: 11 digits `13812345678`, or `+8613812345678`; spaces and dashes are ignored; foreign mobiles with their country code (`+447700900123`) |
| `email` | no | e-mail address |
| `chat` | no | WeChat/WeCom id (no spaces) |
| `lang` | no | `zh` (default when empty) or `en`: the language of messages to this owner |
| `vulnerable` | no | empty, or one or more of `elderly_alone`, `disability`, `infant`, `patient` separated by `;` — these owners get a personal call |
| `tags` | no | free labels separated by `;`, e.g. `car_owner;pet` — used by selectors (`tag:car_owner`) |
| `notes` | no | free text for the duty officer (e.g. "daughter has a key, 13912345678") |

Checks: every row must name a known unit and a name; phone, e-mail, chat, lang
and vulnerable values must be valid (the row is kept, the bad value dropped, and
an error is reported with its line number and column). A row with no phone,
e-mail or chat is a warning (door-to-door only); an exact duplicate row is a
warning and is skipped. Owner ids are `owner:<unit>:<n>`, n counting the unit's
rows from 1 in file order.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from incident.directory import contact
from incident.directory.models import VULNERABLE_KINDS, Person, Unit
from incident.errors import Issue, IssueList, Msg, ValidationFailed, display_path, known, suggest
from incident.validation import finding

COLUMNS = ("unit", "name", "name_en", "phone", "email", "chat", "lang", "vulnerable", "tags",
           "notes")
REQUIRED = ("unit", "name")
_HEADER_ALIASES = {
    "房号": "unit", "房屋": "unit", "单元": "unit", "户号": "unit",
    "姓名": "name", "业主": "name", "业主姓名": "name", "英文名": "name_en",
    "手机": "phone", "电话": "phone", "手机号": "phone", "联系电话": "phone", "mobile": "phone",
    "邮箱": "email", "电子邮件": "email", "e-mail": "email",
    "微信": "chat", "企业微信": "chat", "wechat": "chat",
    "语言": "lang", "language": "lang",
    "特殊关怀": "vulnerable", "关怀": "vulnerable",
    "标签": "tags", "tag": "tags",
    "备注": "notes", "note": "notes",
}
_SPLIT = re.compile(r"[;；,，]")
_TAG = re.compile(r"^[\w\-]{1,40}$")
MAX_ISSUES = 200


@dataclass(slots=True)
class RosterResult:
    owners: list[Person] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


def decode(raw: bytes) -> tuple[str, str] | None:
    """(text, encoding) trying UTF-8 (with or without BOM), then GB18030."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return None


def _column_name(text: str) -> str:
    name = text.strip().lstrip("\ufeff").strip().lower()
    return _HEADER_ALIASES.get(name, name)


class _UnitIndex:
    """Case-insensitive unit lookup with helpful messages for unknown units."""

    def __init__(self, units: Mapping[str, Unit]):
        self.units = units
        self.folded = {k.upper(): k for k in units}
        self.buildings: dict[str, dict[int, list[str]]] = {}
        for u in units.values():
            self.buildings.setdefault(u.building, {}).setdefault(u.floor, []).append(u.id)
        self.folded_buildings = {b.upper(): b for b in self.buildings}

    def find(self, text: str) -> tuple[str | None, Msg | str, Msg | str]:
        """(unit id, message, hint); unit id None when unknown."""
        key = re.sub(r"\s+", "", text).upper()
        if key in self.folded:
            return self.folded[key], "", ""
        building, sep, door = key.partition("-")
        if not sep or not door.isdigit() or len(door) < 3:
            return None, Msg("val.roster.not_unit", {"text": text}), Msg("hint.dir.unit_id")
        if building not in self.folded_buildings:
            return None, Msg("val.roster.unknown_building", {"building": building,
                                                              "text": text}), \
                suggest(building, self.buildings) or known(self.buildings)
        b = self.folded_buildings[building]
        floors = self.buildings[b]
        floor = int(door[:-2])
        if floor not in floors:
            span = Msg("hint.dir.unit_floors", {"building": b, "first": min(floors),
                                                "last": max(floors)})
            close = suggest(f"{b}-{door}", [u for us in floors.values() for u in us])
            return None, Msg("val.roster.no_floor_unit", {"text": text, "building": b,
                                                          "floor": floor}), \
                Msg("hint.dir.both", {"first": close, "second": span}) if close else span
        on_floor = floors[floor]
        hint = suggest(f"{b}-{door}", on_floor)
        span = Msg("hint.dir.floor_units_span", {
            "building": b, "floor": floor, "first": on_floor[0].split('-')[1],
            "last": on_floor[-1].split('-')[1]})
        return None, Msg("val.roster.unknown_unit", {"text": text}), \
            Msg("hint.dir.both", {"first": hint, "second": span}) if hint else span


def read_roster(path: str | Path, *, units: Mapping[str, Unit] | None = None) -> RosterResult:
    """Read an owner roster. Bad content becomes issues; unreadable files raise."""
    name = display_path(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationFailed([Issue(name, Msg("val.yaml.unreadable", {
            "reason": exc.strerror or str(exc)}))]) from None
    decoded = decode(raw)
    if decoded is None:
        raise ValidationFailed([Issue(name, "val.roster.encoding",
                                      hint="val.roster.encoding.hint")])
    text, encoding = decoded
    result = RosterResult(encoding=encoding)
    issues = IssueList(name)
    try:
        _parse(text, issues, result, units)
    except csv.Error as exc:
        issues.add("val.roster.not_csv", error=str(exc), hint="val.roster.not_csv.hint")
    if len(issues.items) > MAX_ISSUES:
        extra = len(issues.items) - MAX_ISSUES
        errors = sum(1 for i in issues.items[MAX_ISSUES:] if i.severity == "error")
        kept = issues.items[:MAX_ISSUES]
        kept.append(Issue(name, Msg("val.roster.more", {"extra": extra}),
                          hint="val.roster.more.hint",
                          severity="error" if errors else "warning"))
        issues.items = kept
    result.issues = issues.items
    return result


def _parse(text: str, issues: IssueList, result: RosterResult,
           units: Mapping[str, Unit] | None) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = _records(reader, issues)
    header: list[str] | None = None
    header_line = 0
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue
        header = [_column_name(c) for c in record]
        header_line = line
        break
    if header is None:
        issues.add("val.roster.empty", hint=Msg("val.roster.empty.hint", {
            "columns": ",".join(c for c in COLUMNS if c != "name_en")}))
        return
    if not _check_header(header, header_line, issues):
        return
    index = _UnitIndex(units) if units is not None else None
    col = {h: i for i, h in enumerate(header) if h in COLUMNS}
    width = len(header)
    counts: dict[str, int] = {}
    seen_rows: dict[tuple[str, ...], int] = {}
    owners = result.owners
    notes = col.get("notes")
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > width and any(c.strip() for c in record[width:]):
            issues.add("val.roster.too_many_values", values=len(record), width=width,
                       line=line, hint="val.roster.too_many_values.hint")
            continue
        if reader.line_num > line and any("\n" in c or "\r" in c for i, c in enumerate(record)
                                          if i != notes):
            issues.add("val.roster.runaway_quote", start=line, end=reader.line_num,
                       line=line, hint="hint.dir.close_quote_row")
            continue
        values = {h: (record[i].strip() if i < len(record) else "") for h, i in col.items()}
        key = tuple(values.values())  # same column order for every row of the file
        if key in seen_rows:
            issues.add("val.roster.duplicate", first=seen_rows[key], line=line,
                       severity="warning", hint="val.roster.duplicate.hint")
            continue
        seen_rows[key] = line
        person = _row(values, line, issues, index, counts)
        if person is not None:
            owners.append(person)


class _Unreadable(Exception):
    pass


def _records(reader, issues: IssueList):
    """(first line, record) pairs; a quoting error names the row it starts on and ends
    the reading (what follows cannot be trusted)."""
    last = 0
    while True:
        line = last + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            unterminated = "end of data" in str(exc) or "EOF" in str(exc)
            issues.add(Msg("val.roster.unclosed_quote") if unterminated
                       else Msg("val.roster.quotes_unpaired", {"error": str(exc)}),
                       line=line, hint="hint.dir.close_quote")
            return
        last = reader.line_num
        yield line, record


def _check_header(header: list[str], line: int, issues: IssueList) -> bool:
    ok = True
    seen: set[str] = set()
    for h in header:
        if h in seen and h:
            issues.add("val.roster.duplicate_column", name=h, line=line, path=h,
                       hint="val.roster.duplicate_column.hint")
            ok = False
        seen.add(h)
    for need in REQUIRED:
        if need not in seen:
            hint = Msg("hint.dir.header_has", {"columns": ", ".join(h for h in header if h)})
            close = suggest(need, [h for h in header if h not in COLUMNS])
            issues.add("val.roster.missing_column", name=need, line=line, path=need,
                       hint=Msg("hint.dir.both", {"first": close, "second": hint}) if close
                       else hint)
            ok = False
    for h in header:
        if h and h not in COLUMNS:
            issues.add("val.roster.unknown_column", name=h, line=line, path=h,
                       severity="warning", hint=suggest(h, COLUMNS) or known(COLUMNS))
    return ok


def _err(issues: IssueList, line: int, column: str, exc: ValueError) -> None:
    message, hint = finding(exc)
    issues.add(message, line=line, path=column, hint=hint)



_CHECKS = (("phone", contact.mobile), ("email", contact.email), ("chat", contact.chat),
           ("lang", contact.lang))

def _row(values: dict[str, str], line: int, issues: IssueList, index: _UnitIndex | None,
         counts: dict[str, int]) -> Person | None:
    unit = values.get("unit", "")
    name = values.get("name", "")
    ok = True
    if not unit:
        issues.add("val.roster.no_unit", line=line, path="unit", hint="val.roster.no_unit.hint")
        ok = False
    elif index is not None:
        found, message, hint = index.find(unit)
        if found is None:
            issues.add(message, line=line, path="unit", hint=hint)
            ok = False
        else:
            unit = found
    if not name:
        issues.add("val.roster.no_name", line=line, path="name", hint="val.roster.no_name.hint")
        ok = False
    if not ok:
        return None
    checked: dict[str, str] = {}
    for column, check in _CHECKS:  # a bad value is reported and dropped; the row stays
        if values.get(column):
            try:
                checked[column] = check(values[column])
            except ValueError as exc:
                _err(issues, line, column, exc)
    phone, email, chat = checked.get("phone"), checked.get("email"), checked.get("chat")
    lang = checked.get("lang", "zh")
    vulnerable: list[str] = []
    for raw in _SPLIT.split(values.get("vulnerable", "")):
        kind = raw.strip().lower()
        if not kind:
            continue
        if kind not in VULNERABLE_KINDS:
            close = suggest(kind, VULNERABLE_KINDS)
            issues.add("val.roster.bad_vulnerable", value=raw.strip(), line=line,
                       path="vulnerable", hint=close or known(VULNERABLE_KINDS))
        elif kind not in vulnerable:
            vulnerable.append(kind)
    tags: list[str] = []
    for raw in _SPLIT.split(values.get("tags", "")):
        tag = raw.strip().lower()
        if not tag:
            continue
        if not _TAG.match(tag):
            issues.add("val.roster.bad_tag", value=raw.strip(), line=line, path="tags",
                       hint="val.roster.bad_tag.hint")
        elif tag not in tags:
            tags.append(tag)
    if not any(values.get(c) for c in ("phone", "email", "chat")):
        issues.add("val.roster.unreachable", name=name, unit=unit, line=line,
                   severity="warning", hint="val.roster.unreachable.hint")
    n = counts.get(unit, 0) + 1
    counts[unit] = n
    return Person(id=f"owner:{unit}:{n}", name=name, kind="owner",
                  name_en=values.get("name_en") or None, unit=unit, phone=phone, email=email,
                  chat=chat, lang=lang, vulnerable=tuple(vulnerable), tags=tuple(tags),
                  notes=values.get("notes", ""))
