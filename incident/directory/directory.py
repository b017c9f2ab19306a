"""The loaded estate directory: lookups, locations, audiences and who is on duty."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from incident.directory.models import (
    VULNERABLE_KINDS,
    Access,
    Building,
    External,
    Location,
    Person,
    Place,
    Recipient,
    Role,
    Site,
    Unit,
    Vendor,
)
from incident.directory.rota import Rota, Shift
from incident.directory.selector import (
    POPULATION,
    Selector,
    SelectorError,
    Term,
    parse_selector,
)
from incident.errors import Issue, Msg, known, suggest

Member = Person | Vendor


@dataclass(slots=True)
class Directory:
    site: Site
    buildings: dict[str, Building]
    units: dict[str, Unit]
    roles: dict[str, Role]
    staff: dict[str, Person]
    owners: list[Person]
    vendors: dict[str, Vendor]
    externals: dict[str, External]
    places: dict[str, Place] = field(default_factory=dict)
    shifts: dict[str, Shift] = field(default_factory=dict)
    rota: Rota = field(default_factory=Rota)
    warnings: list[Issue] = field(default_factory=list)
    roster_encoding: str = ""
    access: Access = field(default_factory=Access)
    holidays: frozenset[date] = frozenset()  # site calendar: complaint clocks count working days
    workdays: frozenset[date] = frozenset()
    people: dict[str, Person] = field(init=False)
    tags: set[str] = field(init=False)
    _tz: ZoneInfo = field(init=False)
    _by_unit: dict[str, list[Person]] = field(init=False)
    _by_building: dict[str, list[Person]] = field(init=False)
    _by_role: dict[str, list[Person]] = field(init=False)
    _folded_buildings: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.people = {**self.staff, **{p.id: p for p in self.owners}}
        self.tags = {t for p in self.owners for t in p.tags}
        self._tz = ZoneInfo(self.site.timezone)
        self._by_unit = {}
        self._by_building = {}
        for p in self.owners:
            if p.unit:
                self._by_unit.setdefault(p.unit, []).append(p)
                b = self.units[p.unit].building if p.unit in self.units else p.unit.split("-")[0]
                self._by_building.setdefault(b, []).append(p)
        self._by_role = {r: [] for r in self.roles}
        for p in self.staff.values():
            for r in p.roles:
                self._by_role.setdefault(r, []).append(p)
        self._folded_buildings = {}
        for b in self.buildings.values():
            for alias in (b.id, b.name.get("en", ""), b.name.get("zh", "")):
                if alias:
                    self._folded_buildings[_fold(alias)] = b.id

    # --- simple lookups ------------------------------------------------------------

    @property
    def assembly_points(self) -> dict[str, Place]:
        return {k: p for k, p in self.places.items() if p.kind == "assembly_point"}

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    def person(self, person_id: str) -> Person:
        try:
            return self.people[person_id]
        except KeyError:
            raise KeyError(f"unknown person '{person_id}'") from None

    def owners_of(self, unit: str) -> list[Person]:
        return list(self._by_unit.get(unit, ()))

    def holders(self, role: str) -> list[Person]:
        return list(self._by_role.get(role, ()))

    # --- rota ------------------------------------------------------------------------

    def _role(self, role: str) -> Role:
        if role not in self.roles:
            hint = suggest(role, self.roles)
            raise KeyError(f"unknown role '{role}'" + (f" — {hint}" if hint else ""))
        return self.roles[role]

    def fallback(self, role: str) -> Person | None:
        r = self._role(role)
        return self.staff.get(r.fallback) if r.fallback else None

    def on_duty(self, role: str, at: datetime) -> list[Person]:
        """Staff rostered for `role` at `at` (naive times are taken as UTC)."""
        self._role(role)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        local = at.astimezone(self._tz)
        minute = local.weekday() * 1440 + local.hour * 60 + local.minute
        people = [self.staff[p] for p in self.rota.at(role, minute) if p in self.staff]
        if people:
            return people
        fb = self.fallback(role)
        return [fb] if fb else []

    def rota_gaps(self, role: str) -> list[tuple[int, int]]:
        self._role(role)
        return self.rota.gaps(role)

    # --- locations -------------------------------------------------------------------

    def _location(self, building: str | None = None, floor: int | None = None,
                  unit: str | None = None, place: Place | None = None) -> Location:
        names = self.buildings[building].name if building in self.buildings else {}
        return Location(self.site.id, building, floor, unit,
                        place.id if place else None, building_name=names,
                        place_name=place.name if place else {}, site_name=self.site.name)

    def locate(self, text: str) -> Location:
        """'B3-1201', 'B3 12F', 'B3 floor 12', 'B3', '3号楼 12层', 'pump_room', 'lhy'."""
        raw = str(text).strip()
        folded = _fold(raw)
        if not folded:
            raise SelectorError("val.dir.loc.none", "hint.dir.loc.example")
        if folded in (_fold(self.site.id), _fold(self.site.name["en"]),
                      _fold(self.site.name["zh"])):
            return self._location()
        for place in self.places.values():
            if folded in (_fold(place.id), _fold(place.name["en"]), _fold(place.name["zh"])):
                return self._location(place.building, place.floor, place=place)
        building, rest = self._building_prefix(folded)
        if building is None:
            return self._unknown_location(raw, folded)
        b = self.buildings[building]
        if rest.startswith("-"):  # 'B3-1201', 'B3-12F': the dash separates; 'B3 -1F' is B1F
            rest = rest[1:]
        rest = rest.strip(" _,/")
        if not rest:
            return self._location(building)
        floor = _parse_floor(rest)
        if floor is not None:
            if floor not in b.floors and floor not in b.basements:
                raise SelectorError(Msg("val.dir.no_such_floor", {"building": building,
                                                                  "floor": floor}),
                                    _floors_text(b))
            return self._location(building, floor)
        m = re.fullmatch(r"(?:unit|room|单元|房)?\s*(\d{3,5})\s*(?:室|号)?", rest)
        if m:
            unit_id = f"{building}-{m.group(1)}"
            if unit_id in self.units:
                u = self.units[unit_id]
                return self._location(building, u.floor, u.id)
            floor = int(m.group(1)[:-2])
            floor_units = b.units_by_floor.get(floor, ())
            hint = _floors_text(b)
            if floor_units:
                first, last = (u.split("-", 1)[1] for u in (floor_units[0], floor_units[-1]))
                hint = Msg("hint.dir.floor_units_span", {"floor": floor, "building": building,
                                                         "first": first, "last": last})
                close = suggest(unit_id, floor_units)
                hint = Msg("hint.dir.both", {"first": close, "second": hint}) if close else hint
            raise SelectorError(Msg("val.roster.unknown_unit", {"text": unit_id}), hint)
        raise SelectorError("val.dir.loc.unreadable", "hint.dir.loc.building", rest=rest,
                            building=building)

    def _building_prefix(self, folded: str) -> tuple[str | None, str]:
        best: tuple[str | None, str] = (None, folded)
        best_len = 0
        for alias, bid in self._folded_buildings.items():
            if folded.startswith(alias) and len(alias) > best_len:
                rest = folded[len(alias):]
                # 'B1' must not match the start of 'B12'
                if rest and rest[0].isdigit() and alias[-1].isdigit():
                    continue
                best, best_len = (bid, rest), len(alias)
        return best

    def _unknown_location(self, raw: str, folded: str) -> Location:
        head = re.split(r"[\s\-]", raw, maxsplit=1)[0]
        if head != raw and re.fullmatch(r"[A-Za-z]*\d+", head):
            raise SelectorError(Msg("val.dir.loc.unknown_building", {"head": head, "raw": raw}),
                                suggest(head, self.buildings) or known(self.buildings))
        ids = [*self.buildings, *self.places, self.site.id]
        hint = suggest(raw, ids)
        raise SelectorError(Msg("val.dir.loc.not_found", {"raw": raw, "site": self.site.id}),
                            hint or Msg("hint.dir.loc.write", {"known": known(self.buildings)}))

    # --- selectors -------------------------------------------------------------------

    def _canon(self, kind: str, value: str | None) -> str | None:
        """A building or unit id as written in the estate, matched case-insensitively."""
        if value is None or value == "@":
            return value
        pool = self.buildings if kind == "building" else self.units
        if value in pool:
            return value
        upper = value.upper()
        return next((k for k in pool if k.upper() == upper), value)

    def check_selector(self, text: str | list[str] | Selector) -> list[Msg]:
        """Problems with the names a selector refers to (catalogue messages: ``str()`` is
        English, ``.text(lang)`` the reader's); [] when it is fine."""
        try:
            selector = parse_selector(text)
        except SelectorError as exc:
            return [exc.msg()]
        problems: list[Msg] = []
        for term in selector.terms():
            problem = self._check_term(term)
            if problem and problem not in problems:
                problems.append(problem)
        return problems

    def _check_term(self, term: Term) -> Msg | None:
        value = term.value
        if value == "@":
            return None

        def unknown(what: str, pool: Iterable[str]) -> Msg:
            pool = list(pool)
            hint = suggest(value or "", pool) or known(pool)
            return Msg("val.dir.sel.unknown_in", {"what": Msg(_WHAT[what]), "value": value,
                                                  "term": str(term), "hint": hint})

        kind = term.kind
        if kind in ("building", "unit"):
            value = self._canon(kind, value)
        if kind in ("role", "on_duty") and value not in self.roles:
            return unknown("role", self.roles)
        if kind == "building" and value not in self.buildings:
            return unknown("building", self.buildings)
        if kind == "unit" and value not in self.units:
            pool = self.units
            if value and "-" in value:
                b = value.split("-")[0]
                pool = {u: 0 for u in self.units if u.startswith(b + "-")} or \
                    {b_: 0 for b_ in self.buildings}
            return unknown("unit", pool)
        if kind == "tag" and value not in self.tags:
            return unknown("tag", self.tags)
        if kind == "vulnerable" and value is not None and value not in VULNERABLE_KINDS:
            return unknown("kind of vulnerability", VULNERABLE_KINDS)
        if kind == "vendor" and value not in self.vendors \
                and value not in {v.kind for v in self.vendors.values()}:
            return unknown("vendor", [*self.vendors, *{v.kind for v in self.vendors.values()}])
        if kind == "person" and value not in self.people:
            return unknown("person", self.staff)
        if kind == "site" and value != self.site.id:
            return unknown("site", [self.site.id])
        if kind in ("floor", "floors") and not term.relative and term.low and term.high:
            lo, hi = term.low.value, term.high.value
            if not any(lo <= f <= hi for b in self.buildings.values() for f in b.all_floors):
                return Msg("val.dir.sel.no_building_floor", {
                    "floors": lo if lo == hi else f"{lo}..{hi}", "term": str(term)})
        return None

    def resolve(self, selector: str | list[str] | Selector, location: Location | None = None,
                at: datetime | None = None) -> list[Recipient]:
        """Everyone a selector names, once each, in a stable order."""
        sel = parse_selector(selector)
        seen: set[str] = set()
        out: list[Recipient] = []
        for alt in sel.alternatives:
            for member in self._members(alt, location, at):
                rid = member.id if isinstance(member, Person) else f"vendor:{member.id}"
                if rid not in seen:
                    seen.add(rid)
                    out.append(_recipient(member))
        return out

    def _population(self, term: Term, at: datetime | None) -> list[Member]:
        kind, value = term.kind, term.value or ""
        if kind == "owners":
            return list(self.owners)
        if kind == "staff":
            return list(self.staff.values())
        if kind == "role":
            self._known(value, self.roles, "role")
            return list(self._by_role.get(value, ()))
        if kind == "on_duty":
            self._known(value, self.roles, "role")
            if at is None:
                raise SelectorError("val.dir.sel.needs_time", "hint.dir.sel.needs_time",
                                    term=str(term))
            return list(self.on_duty(value, at))
        if kind == "person":
            self._known(value, self.people, "person")
            return [self.people[value]]
        if kind == "vendors":
            return list(self.vendors.values())
        if value in self.vendors:
            return [self.vendors[value]]
        matches: list[Member] = [v for v in self.vendors.values() if v.kind == value]
        if not matches:
            self._known(value, [*self.vendors, *{v.kind for v in self.vendors.values()}],
                        "vendor")
        return matches

    @staticmethod
    def _known(value: str, pool: Iterable[str], what: str) -> None:
        pool = list(pool)
        if value not in pool:
            raise SelectorError(Msg("val.dir.sel.unknown", {"what": Msg(_WHAT[what]),
                                                            "value": value}),
                                suggest(value, pool) or known(pool))

    def _filter(self, term: Term, location: Location | None) -> Callable[[Member], bool]:
        kind, value = term.kind, term.value
        if kind in ("building", "unit"):
            value = self._canon(kind, value)
        if kind == "site":
            self._known(value or "", [self.site.id], "site")
            return lambda m: True
        if kind == "building":
            if value == "@":
                value = _need(location, "building", str(term))
            else:
                self._known(value or "", self.buildings, "building")
            bid = value
            units = self.units
            return lambda m: isinstance(m, Person) and m.unit is not None \
                and m.unit in units and units[m.unit].building == bid
        if kind == "unit":
            if value == "@":
                value = _need(location, "unit", str(term))
            elif value not in self.units:
                b = (value or "").split("-")[0]
                self._known(value or "", [u for u in self.units if u.startswith(b + "-")]
                            or self.units, "unit")
            uid = value
            return lambda m: isinstance(m, Person) and m.unit == uid
        if kind in ("floor", "floors"):
            assert term.low is not None and term.high is not None
            building = None
            floor = None
            if term.relative:
                floor = _need(location, "floor", str(term))
                building = self.buildings.get(location.building or "") if location else None
            lo, hi = term.low.bind(floor), term.high.bind(floor)
            if building is not None:
                lo, hi = building.clamp(lo), building.clamp(hi)
            lo, hi = min(lo, hi), max(lo, hi)
            units = self.units
            bid = building.id if building is not None else None

            def in_floors(m: Member) -> bool:
                if not isinstance(m, Person) or m.unit is None or m.unit not in units:
                    return False
                u = units[m.unit]
                return lo <= u.floor <= hi and (bid is None or u.building == bid)

            return in_floors
        if kind == "tag":
            tag = (value or "").lower()
            return lambda m: isinstance(m, Person) and tag in m.tags
        if kind == "vulnerable":
            if value is None:
                return lambda m: isinstance(m, Person) and bool(m.vulnerable)
            self._known(value, VULNERABLE_KINDS, "kind of vulnerability")
            return lambda m: isinstance(m, Person) and value in m.vulnerable
        if kind == "lang":
            return lambda m: m.lang == value
        raise SelectorError("val.dir.sel.not_here", term=str(term))  # pragma: no cover

    def _members(self, alt: tuple[Term, ...], location: Location | None,
                 at: datetime | None) -> list[Member]:
        populations = [t for t in alt if t.kind in POPULATION]
        filters = [self._filter(t, location) for t in alt if t.kind not in POPULATION]
        if populations:
            members = self._population(populations[0], at)
            for term in populations[1:]:
                keep = {_key(m) for m in self._population(term, at)}
                members = [m for m in members if _key(m) in keep]
        else:
            members = [*self.owners, *self.staff.values()]
        for check in filters:
            members = [m for m in members if check(m)]
        return members


def _key(m: Member) -> str:
    return m.id if isinstance(m, Person) else f"vendor:{m.id}"


def _recipient(m: Member) -> Recipient:
    if isinstance(m, Person):
        return Recipient(person_id=m.id, name=m.display_name(m.lang), lang=m.lang,
                         addresses=m.channels, unit=m.unit, vulnerable=m.vulnerable,
                         kind=m.kind)
    return Recipient(person_id=f"vendor:{m.id}", name=m.name.get(m.lang) or m.name["zh"],
                     lang=m.lang, addresses=m.channels, kind="vendor")


def _need(location: Location | None, what: str, term: str) -> Any:
    value = getattr(location, what, None) if location is not None else None
    if value is None:
        where = Msg("val.dir.sel.no_location") if location is None \
            else Msg("val.dir.sel.location_lacks", {"location": str(location),
                                                    "what": Msg(_WHAT[what])})
        raise SelectorError(Msg("val.dir.sel.relative", {"term": term, "where": where}),
                            Msg("hint.dir.sel.locate_first", {"what": Msg(_WHAT[what])}))
    return value


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).strip().lower())


_FLOOR_PATTERNS = (
    re.compile(r"(?:floor|fl\.?|f)\s*(-?\d{1,3})"),
    re.compile(r"(-?\d{1,3})\s*(?:f|/f|层|楼)"),
    re.compile(r"(-?\d{1,2})"),
)
_BASEMENT_PATTERNS = (
    re.compile(r"b(\d)\s*f?"),
    re.compile(r"(?:地下|负)\s*(\d)\s*层?"),
    re.compile(r"basement\s*(\d)"),
)


def _parse_floor(rest: str) -> int | None:
    for pattern in _BASEMENT_PATTERNS:
        m = pattern.fullmatch(rest)
        if m:
            return -int(m.group(1))
    for pattern in _FLOOR_PATTERNS:
        m = pattern.fullmatch(rest)
        if m:
            return int(m.group(1))
    return None


#: what a selector term names, as a reader says it
_WHAT = {"role": "hint.dir.what.role", "building": "hint.dir.what.building",
         "unit": "hint.dir.what.unit", "floor": "hint.dir.what.floor",
         "tag": "hint.dir.what.tag", "kind of vulnerability": "hint.dir.what.vulnerable",
         "vendor": "hint.dir.what.vendor", "person": "hint.dir.what.person",
         "site": "hint.dir.what.site"}


def _floors_text(b: Building) -> Msg:
    basements = ", ".join(f"B{-f}F" for f in sorted(b.basements, reverse=True))
    if not b.floors:
        return Msg("hint.dir.loc.no_floors_basements" if b.basements
                   else "hint.dir.loc.no_floors", {"building": b.id, "basements": basements})
    return Msg("hint.dir.loc.floors_basements" if b.basements else "hint.dir.loc.floors",
               {"building": b.id, "first": b.floors[0], "last": b.floors[-1],
                "basements": basements})
