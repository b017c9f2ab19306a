"""pydantic models of the hand-written YAML files (estate, staff, vendors).

Every model forbids unknown keys so a typo is reported, not silently ignored.
Compact notations (floor and unit ranges, shift hours, day ranges) are parsed
here into plain values; cross-references between sections are checked by the
loader, which knows all ids.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from incident.clock import TOO_LONG, parse_duration
from incident.directory import contact
from incident.errors import Msg
from incident.validation import invalid

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_BUILDING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise invalid("val.dir.bad_id", "hint.dir.id", value=value)
    return value


def _check_building_id(value: str) -> str:
    if not _BUILDING_ID.match(value):
        raise invalid("val.dir.bad_building_id", "hint.dir.building_id", value=value)
    return value


def _number_to_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _bilingual(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        return {"en": value, "zh": value}
    if isinstance(value, dict):
        if "en" in value and "zh" not in value:
            return {**value, "zh": value["en"]}
        if "zh" in value and "en" not in value:
            return {**value, "en": value["zh"]}
    return value


Id = Annotated[str, AfterValidator(_check_id)]
BuildingId = Annotated[str, AfterValidator(_check_building_id)]
Text = Annotated[str, BeforeValidator(_number_to_text)]
Mobile = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(contact.mobile)]
AnyPhone = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(contact.any_phone)]
Dialable = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(contact.dialable)]
Email = Annotated[str, AfterValidator(contact.email)]
Chat = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(contact.chat)]
Lang = Annotated[str, AfterValidator(contact.lang)]
IdList = Annotated[list[Id], BeforeValidator(_one_or_many)]


class Names(Strict):
    en: Text = Field(min_length=1)
    zh: Text = Field(min_length=1)


Bilingual = Annotated[Names, BeforeValidator(_bilingual)]


# --- compact notations -------------------------------------------------------------

_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-|\.\.|~|–)\s*(-?\d+)\s*$")


def _numbers(value: Any, what: Msg, example: Msg, low: int, high: int) -> list[int]:
    """'1-12, 14-26' / 5 / [1, 2, '5-8'] -> sorted unique numbers."""
    if isinstance(value, bool) or value is None:
        raise invalid("val.dir.numbers_expected", what=what, example=example, value=repr(value))
    items = value if isinstance(value, list) else [value]
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise invalid("val.dir.numbers_expected", what=what, example=example,
                          value=repr(item))
        parts = [item] if isinstance(item, int) else [p for p in item.split(",") if p.strip()]
        for part in parts:
            if isinstance(part, int):
                lo = hi = part
            else:
                m = _RANGE.match(part)
                if m:
                    lo, hi = int(m.group(1)), int(m.group(2))
                elif part.strip().lstrip("-").isdigit():
                    lo = hi = int(part)
                else:
                    raise invalid("val.dir.not_number", "hint.dir.write_like",
                                  part=part.strip(), what=what, example=example)
            if lo > hi:
                raise invalid("val.dir.backwards", "hint.dir.lower_first", part=part,
                              example=example)
            if lo < low or hi > high:
                raise invalid("val.dir.outside", "hint.dir.write_like", part=part, low=low,
                              high=high, what=what, example=example)
            out.update(range(lo, hi + 1))
    return sorted(out)


def _floor_list(value: Any) -> list[int]:
    floors = _numbers(value, Msg("hint.dir.what.floors"), Msg("hint.dir.example.floors"),
                      1, 199)
    if not floors:
        raise invalid("val.dir.no_floors", "hint.dir.floors")
    return floors


def _unit_list(value: Any) -> list[int]:
    if value == [] or value == "none":
        return []
    return _numbers(value, Msg("hint.dir.what.units"), Msg("hint.dir.example.units"), 1, 99)


Floors = Annotated[list[int], BeforeValidator(_floor_list)]
UnitNumbers = Annotated[list[int], BeforeValidator(_unit_list)]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except Exception:
        raise invalid("val.dir.bad_timezone", "hint.dir.timezone", value=value) from None
    return value


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except PydanticCustomError as exc:
        if exc.type == TOO_LONG:  # well-formed, too long: the clock's own finding says so
            raise
        raise invalid("val.dir.not_duration", "hint.dir.duration", value=repr(value)) from None
    except (ValueError, TypeError):
        raise invalid("val.dir.not_duration", "hint.dir.duration", value=repr(value)) from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]


# --- estate.yaml --------------------------------------------------------------------

class SiteIn(Strict):
    id: Id
    name: Bilingual
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Shanghai"
    hotline: Dialable
    address: Bilingual | None = None
    company: Bilingual | None = None  # the property-management company (ICS 214 box 5)
    sms_signature: Bilingual | None = None
    sign_off: Bilingual | None = None


class BuildingIn(Strict):
    name: Bilingual | None = None
    floors: Floors
    units: UnitNumbers
    floor_units: dict[int, UnitNumbers] = {}
    basements: int = Field(default=0, ge=0, le=9)


class PlaceIn(Strict):
    name: Bilingual
    kind: Id = "other"
    building: BuildingId | None = None
    floor: int | None = Field(default=None, ge=-9, le=199)
    notes: Text = ""


class AssemblyPointIn(Strict):
    name: Bilingual
    serves: Annotated[list[BuildingId], BeforeValidator(_one_or_many)] = []
    notes: Text = ""


class ExternalIn(Strict):
    name: Bilingual
    phone: Dialable
    notes: Text = ""


class CalendarIn(Strict):
    """The site's working days (complaint clocks count them): Monday to Friday, minus
    public holidays, plus make-up working days on weekends (调休上班)."""

    holidays: list[date] = []
    workdays: list[date] = []


class EstateFile(Strict):
    site: SiteIn
    buildings: dict[BuildingId, BuildingIn] = Field(min_length=1)
    places: dict[Id, PlaceIn] = {}
    assembly_points: dict[Id, AssemblyPointIn] = {}
    external: dict[Id, ExternalIn] = {}
    calendar: CalendarIn = CalendarIn()


# --- staff.yaml ---------------------------------------------------------------------

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _hours(value: Any) -> tuple[int, int]:
    m = _HOURS.match(str(value)) if isinstance(value, str) else None
    if not m:
        raise invalid("val.dir.not_shift", "hint.dir.shift", value=repr(value))
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise invalid("val.dir.impossible_time", "hint.dir.hours", value=value)
    return h1 * 60 + m1, h2 * 60 + m2


def _shift(value: Any) -> Any:
    return {"hours": value} if isinstance(value, str) else value


class ShiftIn(Strict):
    hours: Annotated[tuple[int, int], BeforeValidator(_hours)]
    name: Bilingual | None = None


class RoleIn(Strict):
    title: Bilingual
    level: int = Field(ge=0, le=9)
    fallback: Id | None = None
    notes: Text = ""


_LOGIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@\\\-$]{0,63}$")


def _check_login(value: str) -> str:
    if not _LOGIN.match(value):
        raise invalid("val.dir.bad_login", "hint.dir.login", value=value)
    return value


Login = Annotated[str, AfterValidator(_check_login)]


class PersonIn(Strict):
    name: Text = Field(min_length=1)
    name_en: Text | None = None
    roles: IdList = Field(min_length=1)
    phone: Mobile | None = None
    email: Email | None = None
    chat: Chat | None = None
    lang: Lang = "zh"
    notes: Text = ""
    # who they are at a keyboard: their operating-system login (unique), and whether
    # they may record acts for a colleague (a supervisor taking a report by phone)
    login: Login | None = None
    enters_for: bool = False


class AccessIn(Strict):
    """How `incident` knows who is at the keyboard (see README, Identity)."""

    identify_by: Literal["login", "declared"] = "login"


Shift = Annotated[ShiftIn, BeforeValidator(_shift)]
# role -> shift -> days ("mon-fri") -> people
Rota = dict[Id, dict[Id, dict[str, IdList]]]


class StaffFile(Strict):
    access: AccessIn = AccessIn()
    roles: dict[Id, RoleIn] = Field(min_length=1)
    people: dict[Id, PersonIn] = {}
    shifts: dict[Id, Shift] = {}
    rota: Rota = {}


# --- vendors.yaml -------------------------------------------------------------------

class VendorIn(Strict):
    kind: Id
    name: Bilingual
    phone: AnyPhone | None = None
    email: Email | None = None
    chat: Chat | None = None
    arrive_within: Duration | None = None
    contact: Text | None = None
    lang: Lang = "zh"
    notes: Text = ""


class VendorsFile(Strict):
    vendors: dict[Id, VendorIn] = {}


# --- day sets used by the rota ------------------------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {d: i for i, d in enumerate(DAYS)}
_DAY_NAMES.update({n: i for i, n in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))})
_DAY_NAMES.update({n: i for i, n in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))})
_DAY_GROUPS = {"daily": range(7), "every day": range(7), "all": range(7),
               "weekdays": range(5), "weekends": range(5, 7), "weekend": range(5, 7)}
DAYS_HINT = "write days like mon-fri, 'sat,sun', wed or daily"


def parse_days(text: str) -> list[int]:
    """'mon-fri' / 'sat,sun' / 'daily' / 'fri-mon' -> weekday numbers (Monday = 0)."""
    out: list[int] = []
    for raw in str(text).replace("，", ",").split(","):
        token = raw.strip().lower()
        if not token:
            continue
        if token in _DAY_GROUPS:
            out.extend(_DAY_GROUPS[token])
            continue
        if "-" in token:
            a, _, b = (s.strip() for s in token.partition("-"))
            if a not in _DAY_NAMES or b not in _DAY_NAMES:
                raise invalid("val.dir.bad_day_range", "hint.dir.days", value=raw.strip())
            i, j = _DAY_NAMES[a], _DAY_NAMES[b]
            out.extend((i + k) % 7 for k in range((j - i) % 7 + 1))
            continue
        if token not in _DAY_NAMES:
            raise invalid("val.dir.bad_day", "hint.dir.days", value=raw.strip())
        out.append(_DAY_NAMES[token])
    if not out:
        raise invalid("val.dir.no_days", "hint.dir.days", value=text)
    return sorted(set(out))
