"""The typed objects the rest of the product reads from the directory.

These are plain frozen dataclasses: cheap to build in bulk (a roster has
thousands of owners) and safe to share between threads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from incident.i18n import N_, data_lang, pick, t

VULNERABLE_KINDS: dict[str, str] = {  # kind -> catalogue key
    "elderly_alone": N_("vulnerable.elderly_alone"),
    "disability": N_("vulnerable.disability"),
    "infant": N_("vulnerable.infant"),
    "patient": N_("vulnerable.patient"),
}


def vulnerable_name(kind: str, lang: str | None) -> str:
    """A kind of vulnerability in the reader's words; an unknown kind as itself."""
    return t(VULNERABLE_KINDS[kind], lang) if kind in VULNERABLE_KINDS else kind

LANGS = ("zh", "en")
SYSTEM_ACTOR = "system"  # the system's own entries in an event log; no person may use it


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: dict[str, str]
    timezone: str
    hotline: str
    address: dict[str, str] = field(default_factory=dict)
    company: dict[str, str] = field(default_factory=dict)  # who runs the site (home agency)
    # what every message to owners starts with (Chinese carriers require a 【signature】
    # at the start; owners take an unsigned emergency text for a scam) and ends with
    sms_signature: dict[str, str] = field(default_factory=dict)
    sign_off: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Building:
    id: str
    name: dict[str, str]
    floors: list[int]  # floors with flats or other rooms, ascending
    basements: list[int] = field(default_factory=list)  # -1, -2 ... (B1F, B2F)
    units_by_floor: dict[int, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @property
    def all_floors(self) -> list[int]:
        return sorted(self.basements) + list(self.floors)

    def clamp(self, floor: int) -> int:
        levels = self.all_floors
        if not levels:
            return floor
        return max(levels[0], min(levels[-1], floor))


@dataclass(frozen=True, slots=True)
class Unit:
    id: str  # "B3-1201"
    building: str  # "B3"
    floor: int  # 12
    number: str  # door number "1201"


@dataclass(frozen=True, slots=True)
class Place:
    """A named place that is not a flat: car park level, pump room, assembly point."""

    id: str
    name: dict[str, str]
    kind: str
    building: str | None = None
    floor: int | None = None
    serves: tuple[str, ...] = ()  # assembly points: the buildings that gather here


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    title: dict[str, str]
    level: int
    fallback: str | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """Who staff are at a keyboard: `logins` maps an operating-system login to a staff
    id; `enters_for` are the staff who may record acts for a colleague (entered by X
    for Y); identify_by "declared" trusts the `user` setting (demos, a shared PC)."""

    identify_by: str = "login"
    logins: dict[str, str] = field(default_factory=dict)
    enters_for: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    name_en: str | None = None
    kind: str = "owner"  # "staff" | "owner"
    roles: tuple[str, ...] = ()
    unit: str | None = None
    phone: str | None = None  # E.164, "+8613812345678"
    email: str | None = None
    chat: str | None = None
    lang: str = "zh"
    vulnerable: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str = ""

    @property
    def channels(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.phone:
            out["sms"] = self.phone
        if self.email:
            out["email"] = self.email
        if self.chat:
            out["chat"] = self.chat
        return out

    def display_name(self, lang: str = "zh") -> str:
        if lang == "en" and self.name_en:
            return self.name_en
        return self.name


@dataclass(frozen=True, slots=True)
class Vendor:
    id: str
    kind: str
    name: dict[str, str]
    phone: str | None = None
    email: str | None = None
    chat: str | None = None
    arrive_within: timedelta | None = None
    contact: str | None = None
    lang: str = "zh"
    notes: str = ""

    @property
    def channels(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.phone and is_mobile(self.phone):
            out["sms"] = self.phone
        if self.email:
            out["email"] = self.email
        if self.chat:
            out["chat"] = self.chat
        return out


@dataclass(frozen=True, slots=True)
class External:
    """Emergency services, utilities, residents' committee: numbers to call."""

    id: str
    name: dict[str, str]
    phone: str
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: str
    name: str
    lang: str
    addresses: dict[str, str]
    unit: str | None = None
    vulnerable: tuple[str, ...] = ()
    kind: str = "owner"  # "owner" | "staff" | "vendor"


_BUILDING_DIGITS = re.compile(r"(\d+)$")


def _floor_label(floor: int, lang: str) -> str:
    if floor < 0:
        return t("place.basement", lang, n=-floor)
    return t("place.floor", lang, n=floor)


def floor_code(floor: int) -> str:
    """Short floor code as on lift buttons: 12F, B1F."""
    return f"B{-floor}F" if floor < 0 else f"{floor}F"


@dataclass(frozen=True, slots=True)
class Location:
    site: str
    building: str | None = None
    floor: int | None = None
    unit: str | None = None
    place: str | None = None
    building_name: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    place_name: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    site_name: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __str__(self) -> str:
        if self.unit:
            return self.unit
        if self.place:
            return self.place
        if self.building and self.floor is not None:
            return f"{self.building} {floor_code(self.floor)}"
        if self.building:
            return self.building
        return self.site

    def _building(self, lang: str) -> str:
        if self.building is None:
            return ""
        if self.building_name.get(data_lang(lang)):
            return self.building_name[data_lang(lang)]
        m = _BUILDING_DIGITS.search(self.building)
        if m:
            return t("place.building", lang, n=m.group(1))
        return self.building

    def label(self, lang: str = "en") -> str:
        """'Building 3, 12F, unit 1201' / '3号楼 12层 1201室'."""
        if self.place:
            name = pick(self.place_name, lang, self.place)
            if self.building:
                return self._building(lang) + t("place.sep", lang) + name
            return name
        parts: list[str] = []
        if self.building:
            parts.append(self._building(lang))
        if self.floor is not None:
            parts.append(_floor_label(self.floor, lang))
        if self.unit:
            number = self.unit.split("-", 1)[-1]
            parts.append(t("place.unit", lang, n=number))
        if not parts:
            return self.site_name.get(data_lang(lang)) or self.site
        return t("place.sep", lang).join(parts)


_MOBILE_E164 = re.compile(r"^\+861[3-9]\d{9}$")


def is_mobile(phone: str) -> bool:
    return bool(_MOBILE_E164.match(phone))
