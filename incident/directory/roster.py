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
from incident.errors import Issue, IssueList, ValidationFailed, display_path, known, suggest

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

    def find(self, text: str) -> tuple[str | None, str, str]:
        """(unit id, message, hint); unit id None when unknown."""
        key = re.sub(r"\s+", "", text).upper()
        if key in self.folded:
            return self.folded[key], "", ""
        building, sep, door = key.partition("-")
        if not sep or not door.isdigit() or len(door) < 3:
            return None, f"'{text}' is not a unit id", \
                "write building, '-', door number, like B3-1201"
        if building not in self.folded_buildings:
            return None, f"unknown building '{building}' in unit '{text}'", \
                suggest(building, self.buildings) or known(self.buildings)
        b = self.folded_buildings[building]
        floors = self.buildings[b]
        floor = int(door[:-2])
        if floor not in floors:
            span = f"{b} has units on floors {min(floors)}-{max(floors)}"
            close = suggest(f"{b}-{door}", [u for us in floors.values() for u in us])
            return None, f"unknown unit '{text}': no unit of {b} is on floor {floor}", \
                f"{close} {span}" if close else span
        on_floor = floors[floor]
        hint = suggest(f"{b}-{door}", on_floor)
        span = f"floor {floor} of {b} has units {on_floor[0].split('-')[1]}-" \
               f"{on_floor[-1].split('-')[1]}"
        return None, f"unknown unit '{text}'", f"{hint} {span}" if hint else span


def read_roster(path: str | Path, *, units: Mapping[str, Unit] | None = None) -> RosterResult:
    """Read an owner roster. Bad content becomes issues; unreadable files raise."""
    name = display_path(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationFailed([Issue(name, f"cannot read the file: {exc.strerror or exc}")]) \
            from None
    decoded = decode(raw)
    if decoded is None:
        raise ValidationFailed([Issue(name, "the file is neither UTF-8 nor GBK/GB18030 text",
                                      hint="export the roster as 'CSV UTF-8' from Excel")])
    text, encoding = decoded
    result = RosterResult(encoding=encoding)
    issues = IssueList(name)
    try:
        _parse(text, issues, result, units)
    except csv.Error as exc:
        issues.add(f"the file is not readable as CSV: {exc}",
                   hint="save it as comma-separated values with a header row")
    if len(issues.items) > MAX_ISSUES:
        extra = len(issues.items) - MAX_ISSUES
        errors = sum(1 for i in issues.items[MAX_ISSUES:] if i.severity == "error")
        kept = issues.items[:MAX_ISSUES]
        kept.append(Issue(name, f"{extra} more problems not listed",
                          hint="fix the ones above and load again",
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
        issues.add("the roster is empty", hint="the first row must name the columns: "
                   + ",".join(c for c in COLUMNS if c != "name_en"))
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
            issues.add(f"this row has {len(record)} values but the header has {width} columns",
                       line=line, hint="put double quotes around values that contain commas")
            continue
        if reader.line_num > line and any("\n" in c or "\r" in c for i, c in enumerate(record)
                                          if i != notes):
            issues.add(f"a quoted value that starts on line {line} runs on to line "
                       f"{reader.line_num}: a closing double quote is probably missing, and "
                       "the rows in between were read as one value", line=line,
                       hint='close the quote (") in this row; inside a value write "" for a quote')
            continue
        values = {h: (record[i].strip() if i < len(record) else "") for h, i in col.items()}
        key = tuple(values.values())  # same column order for every row of the file
        if key in seen_rows:
            issues.add(f"exact duplicate of line {seen_rows[key]}: skipped", line=line,
                       severity="warning", hint="delete one of the two rows")
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
            issues.add("a double quote opened in this row is never closed, so every row after "
                       "it was swallowed" if unterminated
                       else f"the double quotes in this row do not pair up ({exc})",
                       line=line, hint='close the quote ("), or write "" for a quote inside a '
                       "value")
            return
        last = reader.line_num
        yield line, record


def _check_header(header: list[str], line: int, issues: IssueList) -> bool:
    ok = True
    seen: set[str] = set()
    for h in header:
        if h in seen and h:
            issues.add(f"column '{h}' appears twice in the header row", line=line, path=h,
                       hint="remove or rename one of them")
            ok = False
        seen.add(h)
    for need in REQUIRED:
        if need not in seen:
            hint = "the header row has: " + ", ".join(h for h in header if h)
            close = suggest(need, [h for h in header if h not in COLUMNS])
            issues.add(f"missing required column '{need}' in the header row", line=line,
                       path=need, hint=f"{close} {hint}" if close else hint)
            ok = False
    for h in header:
        if h and h not in COLUMNS:
            issues.add(f"unknown column '{h}' is ignored", line=line, path=h,
                       severity="warning", hint=suggest(h, COLUMNS) or known(COLUMNS))
    return ok


def _err(issues: IssueList, line: int, column: str, exc: ValueError) -> None:
    message, _, hint = str(exc).partition(" — ")
    issues.add(message, line=line, path=column, hint=hint)



_CHECKS = (("phone", contact.mobile), ("email", contact.email), ("chat", contact.chat),
           ("lang", contact.lang))

def _row(values: dict[str, str], line: int, issues: IssueList, index: _UnitIndex | None,
         counts: dict[str, int]) -> Person | None:
    unit = values.get("unit", "")
    name = values.get("name", "")
    ok = True
    if not unit:
        issues.add("the unit is empty", line=line, path="unit",
                   hint="write the unit id, like B3-1201")
        ok = False
    elif index is not None:
        found, message, hint = index.find(unit)
        if found is None:
            issues.add(message, line=line, path="unit", hint=hint)
            ok = False
        else:
            unit = found
    if not name:
        issues.add("the name is empty", line=line, path="name",
                   hint="write the owner's name as they want to be addressed")
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
            issues.add(f"'{raw.strip()}' is not a kind of vulnerability", line=line,
                       path="vulnerable", hint=close or known(VULNERABLE_KINDS))
        elif kind not in vulnerable:
            vulnerable.append(kind)
    tags: list[str] = []
    for raw in _SPLIT.split(values.get("tags", "")):
        tag = raw.strip().lower()
        if not tag:
            continue
        if not _TAG.match(tag):
            issues.add(f"'{raw.strip()}' is not a valid tag", line=line, path="tags",
                       hint="use letters, digits, '_' or '-', separate tags with ';'")
        elif tag not in tags:
            tags.append(tag)
    if not any(values.get(c) for c in ("phone", "email", "chat")):
        issues.add(f"{name} ({unit}) has no usable phone, e-mail or chat", line=line,
                   severity="warning", hint="they can only be reached door to door")
    n = counts.get(unit, 0) + 1
    counts[unit] = n
    return Person(id=f"owner:{unit}:{n}", name=name, kind="owner",
                  name_en=values.get("name_en") or None, unit=unit, phone=phone, email=email,
                  chat=chat, lang=lang, vulnerable=tuple(vulnerable), tags=tuple(tags),
                  notes=values.get("notes", ""))
