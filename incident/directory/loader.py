"""load_directory(): read estate.yaml, staff.yaml, vendors.yaml and owners.csv.

Every file is read and checked even when an earlier one failed, so one run
reports every error of every file; warnings are kept on the Directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from incident.directory.directory import Directory
from incident.directory.models import (
    SYSTEM_ACTOR,
    Access,
    Building,
    External,
    Person,
    Place,
    Role,
    Site,
    Unit,
    Vendor,
)
from incident.directory.roster import read_roster
from incident.directory.rota import Rota, Shift
from incident.directory.schema import EstateFile, StaffFile, VendorsFile, parse_days
from incident.directory.validate import validate
from incident.errors import Issue, ValidationFailed, display_path, known, suggest
from incident.i18n import bilingual
from incident.yamlsrc import Located, parse_file

ESTATE, STAFF, VENDORS, ROSTER = "estate.yaml", "staff.yaml", "vendors.yaml", "owners.csv"


@dataclass(slots=True)
class _Estate:
    site: Site
    buildings: dict[str, Building]
    units: dict[str, Unit]
    places: dict[str, Place]
    externals: dict[str, External]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


@dataclass(slots=True)
class _Staff:
    roles: dict[str, Role]
    people: dict[str, Person]
    shifts: dict[str, Shift]
    rota: Rota = field(default_factory=Rota)
    access: Access = field(default_factory=Access)


def _parse(path: Path, issues: list[Issue]) -> Located | None:
    try:
        return parse_file(path)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
        return None


def _names(n: BaseModel | None, fallback: dict[str, str]) -> dict[str, str]:
    return n.model_dump() if n is not None else dict(fallback)


def _estate(path: Path, issues: list[Issue]) -> _Estate | None:
    located = _parse(path, issues)
    if located is None:
        return None
    found = located.issues()
    model = validate(EstateFile, located, found)
    if model is None:
        issues.extend(found.items)
        return None
    buildings: dict[str, Building] = {}
    units: dict[str, Unit] = {}
    raw_buildings = located.data.get("buildings", {})
    for bid, b in model.buildings.items():
        per_floor: dict[int, tuple[str, ...]] = {}
        raw_overrides = (raw_buildings.get(bid) or {}).get("floor_units") or {}
        raw_keys = {}
        for k in raw_overrides:
            try:
                raw_keys[int(k)] = k
            except (TypeError, ValueError):
                continue
        for floor in b.floor_units:
            if floor not in b.floors:
                located.add(found, ("buildings", bid, "floor_units", raw_keys.get(floor, floor)),
                            f"building {bid} has no floor {floor}",
                            f"its floors are {b.floors[0]}-{b.floors[-1]}; add it to 'floors' "
                            "or remove this line")
        for floor in b.floors:
            numbers = b.floor_units.get(floor, b.units)
            ids = []
            for n in numbers:
                door = f"{floor}{n:02d}"
                uid = f"{bid}-{door}"
                units[uid] = Unit(uid, bid, floor, door)
                ids.append(uid)
            per_floor[floor] = tuple(ids)
        digits = "".join(ch for ch in bid if ch.isdigit()) or bid
        name = _names(b.name, bilingual("place.building", n=digits))
        buildings[bid] = Building(bid, name, list(b.floors),
                                  [-i for i in range(1, b.basements + 1)], per_floor)
    places: dict[str, Place] = {}
    for pid, p in model.places.items():
        if p.building is not None and p.building not in buildings:
            located.add(found, ("places", pid, "building"), f"unknown building '{p.building}'",
                        suggest(p.building, buildings) or known(buildings))
        elif p.building is not None and p.floor is not None:
            b = buildings[p.building]
            if p.floor not in b.floors and p.floor not in b.basements:
                located.add(found, ("places", pid, "floor"),
                            f"building {p.building} has no floor {p.floor}",
                            f"floors {b.floors[0]}-{b.floors[-1]}"
                            + (f", basements -1..{b.basements[-1]}" if b.basements else ""))
        places[pid] = Place(pid, p.name.model_dump(), p.kind, p.building, p.floor)
    for aid, a in model.assembly_points.items():
        if aid in places:
            located.add(found, ("assembly_points", aid),
                        f"'{aid}' is already the id of a place", "give it another id")
        for i, bid in enumerate(a.serves):
            if bid not in buildings:
                located.add(found, ("assembly_points", aid, "serves", i),
                            f"unknown building '{bid}'",
                            suggest(bid, buildings) or known(buildings))
        places[aid] = Place(aid, a.name.model_dump(), "assembly_point", serves=tuple(a.serves))
    externals = {xid: External(xid, x.name.model_dump(), x.phone, x.notes)
                 for xid, x in model.external.items()}
    s = model.site
    site = Site(s.id, s.name.model_dump(), s.timezone, s.hotline,
                s.address.model_dump() if s.address else {},
                s.company.model_dump() if s.company else {},
                s.sms_signature.model_dump() if s.sms_signature else {},
                s.sign_off.model_dump() if s.sign_off else {})
    issues.extend(found.items)
    if found.has_errors:
        return None
    return _Estate(site, buildings, units, places, externals,
                   frozenset(model.calendar.holidays), frozenset(model.calendar.workdays))


def _staff(path: Path, issues: list[Issue]) -> _Staff | None:
    located = _parse(path, issues)
    if located is None:
        return None
    found = located.issues()
    model = validate(StaffFile, located, found)
    if model is None:
        issues.extend(found.items)
        return None
    roles = {rid: Role(rid, r.title.model_dump(), r.level, r.fallback)
             for rid, r in model.roles.items()}
    people: dict[str, Person] = {}
    logins: dict[str, str] = {}
    for pid, p in model.people.items():
        if pid == SYSTEM_ACTOR:
            located.add(found, ("people", pid), f"'{pid}' is reserved for the system's own "
                        "entries", "give this person another id")
        if p.login is not None:
            if p.login in logins:
                located.add(found, ("people", pid, "login"),
                            f"login '{p.login}' is already {logins[p.login]}'s",
                            "each login names one person: give each their own login")
            else:
                logins[p.login] = pid
        for i, rid in enumerate(p.roles):
            if rid not in roles:
                located.add(found, ("people", pid, "roles", i), f"unknown role '{rid}'",
                            suggest(rid, roles) or known(roles))
        person = Person(id=pid, name=p.name, kind="staff", name_en=p.name_en,
                        roles=tuple(r for r in p.roles if r in roles), phone=p.phone,
                        email=p.email, chat=p.chat, lang=p.lang, notes=p.notes)
        if not person.channels:
            located.add(found, ("people", pid), f"{pid} has no phone, email or chat",
                        "they cannot be notified: add at least a mobile number",
                        severity="warning")
        people[pid] = person
    for rid, r in model.roles.items():
        if r.fallback is not None and r.fallback not in people:
            located.add(found, ("roles", rid, "fallback"), f"unknown person '{r.fallback}'",
                        suggest(r.fallback, people) or "the fallback must be one of 'people'")
    shifts: dict[str, Shift] = {}
    for sid, sh in model.shifts.items():
        default = {"en": sid.replace("_", " ").capitalize(), "zh": sid}
        shifts[sid] = Shift(sid, _names(sh.name, default), sh.hours[0], sh.hours[1])
    rota = Rota()
    for rid, by_shift in model.rota.items():
        if rid not in roles:
            located.add(found, ("rota", rid), f"unknown role '{rid}'",
                        suggest(rid, roles) or known(roles))
            continue
        for sid, by_days in by_shift.items():
            if sid not in shifts:
                located.add(found, ("rota", rid, sid), f"unknown shift '{sid}'",
                            suggest(sid, shifts) or f"{known(shifts)} (define it under 'shifts')")
                continue
            for days_text, names in by_days.items():
                try:
                    days = parse_days(days_text)
                except ValueError as exc:
                    message, _, hint = str(exc).partition(" — ")
                    located.add(found, ("rota", rid, sid, days_text), message, hint)
                    continue
                ok: list[str] = []
                for i, pid in enumerate(names):
                    if pid not in people:
                        located.add(found, ("rota", rid, sid, days_text, i),
                                    f"unknown person '{pid}' in the rota",
                                    suggest(pid, people) or "add them under 'people' first")
                        continue
                    if rid not in people[pid].roles:
                        located.add(found, ("rota", rid, sid, days_text, i),
                                    f"{pid} is rostered as {rid} but does not hold that role",
                                    f"add {rid} to their roles", severity="warning")
                    ok.append(pid)
                for day in days:
                    rota.add(rid, shifts[sid], day, tuple(ok))
    if not found.has_errors:
        for rid, role in roles.items():
            if not any(rid in p.roles for p in people.values()):
                located.add(found, ("roles", rid), f"nobody holds the role '{rid}'",
                            "add it to someone's roles", severity="warning")
            gaps = rota.gaps(rid)
            if gaps and role.fallback is None:
                located.add(found, ("roles", rid),
                            f"'{rid}' has nobody rostered for {len(gaps)} hours a week and "
                            "no fallback", "add 'fallback: PERSON' to the role",
                            severity="warning")
    issues.extend(found.items)
    if found.has_errors:
        return None
    access = Access(model.access.identify_by, logins,
                    frozenset(pid for pid, p in model.people.items() if p.enters_for))
    return _Staff(roles, people, shifts, rota, access)


def _vendors(path: Path, issues: list[Issue]) -> dict[str, Vendor] | None:
    located = _parse(path, issues)
    if located is None:
        return None
    found = located.issues()
    model = validate(VendorsFile, located, found)
    issues.extend(found.items)
    if model is None:
        return None
    return {vid: Vendor(vid, v.kind, v.name.model_dump(), v.phone, v.email, v.chat,
                        v.arrive_within, v.contact, v.lang, v.notes)
            for vid, v in model.vendors.items()}


def load_directory(contacts_dir: str | Path) -> Directory:
    """Load and check the whole estate directory; raise ValidationFailed on any error."""
    base = Path(contacts_dir)
    issues: list[Issue] = []
    if not base.is_dir():
        raise ValidationFailed([Issue(display_path(base), "the contacts folder does not exist",
                                      hint="point contacts_dir at the folder with estate.yaml")])
    estate_path = base / ESTATE
    if estate_path.is_file():
        estate = _estate(estate_path, issues)
    else:
        estate = None
        issues.append(Issue(display_path(estate_path), "estate.yaml is missing",
                            hint="it describes the site, buildings and units; see the "
                            "shipped contacts/ folder"))
    staff: _Staff | None = _Staff({}, {}, {})
    if (base / STAFF).is_file():
        staff = _staff(base / STAFF, issues)
    else:
        issues.append(Issue(display_path(base / STAFF), "staff.yaml is missing: no staff, "
                            "roles or rota", severity="warning"))
    vendors: dict[str, Vendor] | None = {}
    if (base / VENDORS).is_file():
        vendors = _vendors(base / VENDORS, issues)
    owners: list[Person] = []
    encoding = ""
    if (base / ROSTER).is_file():
        try:
            roster = read_roster(base / ROSTER, units=estate.units if estate else None)
        except ValidationFailed as exc:
            issues.extend(exc.issues)
        else:
            owners, encoding = roster.owners, roster.encoding
            issues.extend(roster.issues)
    else:
        issues.append(Issue(display_path(base / ROSTER), "owners.csv is missing: no owners "
                            "to notify", severity="warning"))
    if any(i.severity == "error" for i in issues) or estate is None or staff is None \
            or vendors is None:
        raise ValidationFailed(issues)
    return Directory(site=estate.site, buildings=estate.buildings, units=estate.units,
                     roles=staff.roles, staff=staff.people, owners=owners, vendors=vendors,
                     externals=estate.externals, places=estate.places, shifts=staff.shifts,
                     rota=staff.rota, warnings=[i for i in issues if i.severity == "warning"],
                     roster_encoding=encoding, access=staff.access,
                     holidays=estate.holidays, workdays=estate.workdays)


@dataclass(slots=True)
class RosterImport:
    """What `import_roster` found and did."""

    owners: list[Person]
    issues: list[Issue]
    encoding: str
    target: Path
    imported: bool = False

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


# A new roster that drops more than this share of today's owners is refused unless the
# officer says --allow-shrink: a truncated export must not silently unlist owners.
MAX_SHRINK = 0.10


def import_roster(path: str | Path, contacts_dir: str | Path, *,
                  dry_run: bool = False, allow_shrink: bool = False,
                  max_shrink: float = MAX_SHRINK) -> RosterImport:
    """Check a roster against the estate's units and make it contacts_dir/owners.csv.

    A roster with no owners, or one that would remove more than ``max_shrink`` of
    the current owners (matched by unit and name), is an error unless allow_shrink.

    Nothing is written when there is any error or with dry_run. The new roster is
    stored as UTF-8 whatever its encoding was; the previous one is kept as
    owners.csv.bak. Raises ValidationFailed only when the roster cannot be read.
    """
    base = Path(contacts_dir)
    target = base / ROSTER
    issues: list[Issue] = []
    estate = _estate(base / ESTATE, issues) if (base / ESTATE).is_file() else None
    if estate is None and not issues:
        issues.append(Issue(display_path(base / ESTATE), "estate.yaml is missing",
                            hint="the roster's units are checked against it"))
    result = read_roster(path, units=estate.units if estate else None)
    issues.extend(result.issues)
    out = RosterImport(result.owners, issues, result.encoding, target)
    if not any(i.severity == "error" for i in issues) and not allow_shrink:
        shrink = _shrink_issue(path, target, result.owners, max_shrink)
        if shrink is not None:
            issues.append(shrink)
    if dry_run or any(i.severity == "error" for i in issues):
        return out
    text = Path(path).read_bytes().decode(result.encoding)
    tmp = target.with_name(target.name + ".tmp")
    # owners' phone numbers: a new roster is private (600); a replaced one keeps its mode
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    if target.exists():
        target.replace(target.with_name(target.name + ".bak"))
    tmp.replace(target)
    out.imported = True
    return out


def _shrink_issue(path: str | Path, target: Path, owners: list[Person],
                  max_shrink: float) -> Issue | None:
    """Refuse an import that empties or sharply shrinks the roster (a cut-off export,
    a header-only file, the wrong sheet)."""
    name = display_path(path)
    hint = ("check that the export is complete; if the owners really left, run again "
            "with --allow-shrink")
    if not owners:
        return Issue(name, "the roster has no owner rows — importing it would unlist every "
                     "owner and break every playbook that notifies owners", hint=hint)
    if not target.is_file():
        return None
    try:
        current = read_roster(target).owners
    except ValidationFailed:
        return None  # the current roster is unreadable: nothing to protect
    if not current:
        return None
    new_keys = {(p.unit, p.name) for p in owners}
    removed = sum(1 for p in current if (p.unit, p.name) not in new_keys)
    if removed / len(current) <= max_shrink:
        return None
    return Issue(name, f"importing this roster would remove {removed:,} of the "
                 f"{len(current):,} current owners ({removed / len(current):.0%}; more than "
                 f"{max_shrink:.0%} is refused)", hint=hint)
