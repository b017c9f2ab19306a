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
from incident.errors import Issue, Msg, ValidationFailed, display_path, known, suggest
from incident.i18n import bilingual
from incident.validation import finding
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
                            Msg("val.dir.no_such_floor", {"building": bid, "floor": floor}),
                            Msg("hint.dir.floor_units", {"first": b.floors[0],
                                                         "last": b.floors[-1]}))
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
            located.add(found, ("places", pid, "building"), "val.dir.unknown_building",
                        suggest(p.building, buildings) or known(buildings), name=p.building)
        elif p.building is not None and p.floor is not None:
            b = buildings[p.building]
            if p.floor not in b.floors and p.floor not in b.basements:
                span = {"first": b.floors[0], "last": b.floors[-1],
                        "deepest": b.basements[-1] if b.basements else 0}
                located.add(found, ("places", pid, "floor"),
                            Msg("val.dir.no_such_floor", {"building": p.building,
                                                          "floor": p.floor}),
                            Msg("hint.dir.floors_basements" if b.basements
                                else "hint.dir.floors_span", span))
        places[pid] = Place(pid, p.name.model_dump(), p.kind, p.building, p.floor)
    for aid, a in model.assembly_points.items():
        if aid in places:
            located.add(found, ("assembly_points", aid), "val.dir.place_id_taken",
                        "hint.dir.another_id", id=aid)
        for i, bid in enumerate(a.serves):
            if bid not in buildings:
                located.add(found, ("assembly_points", aid, "serves", i),
                            "val.dir.unknown_building",
                            suggest(bid, buildings) or known(buildings), name=bid)
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
            located.add(found, ("people", pid), "val.dir.reserved_id",
                        "hint.dir.person_another_id", id=pid)
        if p.login is not None:
            if p.login in logins:
                located.add(found, ("people", pid, "login"), "val.dir.login_taken",
                            "hint.dir.login_taken", login=p.login, person=logins[p.login])
            else:
                logins[p.login] = pid
        for i, rid in enumerate(p.roles):
            if rid not in roles:
                located.add(found, ("people", pid, "roles", i), "val.dir.unknown_role",
                            suggest(rid, roles) or known(roles), name=rid)
        person = Person(id=pid, name=p.name, kind="staff", name_en=p.name_en,
                        roles=tuple(r for r in p.roles if r in roles), phone=p.phone,
                        email=p.email, chat=p.chat, lang=p.lang, notes=p.notes)
        if not person.channels:
            located.add(found, ("people", pid), "val.dir.unreachable_staff",
                        "hint.dir.unreachable_staff", severity="warning", person=pid)
        people[pid] = person
    for rid, r in model.roles.items():
        if r.fallback is not None and r.fallback not in people:
            located.add(found, ("roles", rid, "fallback"), "val.dir.unknown_person",
                        suggest(r.fallback, people) or "hint.dir.fallback", name=r.fallback)
    shifts: dict[str, Shift] = {}
    for sid, sh in model.shifts.items():
        default = {"en": sid.replace("_", " ").capitalize(), "zh": sid}
        shifts[sid] = Shift(sid, _names(sh.name, default), sh.hours[0], sh.hours[1])
    rota = Rota()
    for rid, by_shift in model.rota.items():
        if rid not in roles:
            located.add(found, ("rota", rid), "val.dir.unknown_role",
                        suggest(rid, roles) or known(roles), name=rid)
            continue
        for sid, by_days in by_shift.items():
            if sid not in shifts:
                located.add(found, ("rota", rid, sid), "val.dir.unknown_shift",
                            suggest(sid, shifts)
                            or Msg("hint.dir.define_shift", {"known": known(shifts)}), name=sid)
                continue
            for days_text, names in by_days.items():
                try:
                    days = parse_days(days_text)
                except ValueError as exc:
                    message, hint = finding(exc)
                    located.add(found, ("rota", rid, sid, days_text), message, hint)
                    continue
                ok: list[str] = []
                for i, pid in enumerate(names):
                    if pid not in people:
                        located.add(found, ("rota", rid, sid, days_text, i),
                                    "val.dir.unknown_rota_person",
                                    suggest(pid, people) or "hint.dir.add_person", name=pid)
                        continue
                    if rid not in people[pid].roles:
                        located.add(found, ("rota", rid, sid, days_text, i),
                                    "val.dir.rostered_without_role",
                                    Msg("hint.dir.add_role", {"role": rid}),
                                    severity="warning", person=pid, role=rid)
                    ok.append(pid)
                for day in days:
                    rota.add(rid, shifts[sid], day, tuple(ok))
    if not found.has_errors:
        for rid, role in roles.items():
            if not any(rid in p.roles for p in people.values()):
                located.add(found, ("roles", rid), "val.dir.role_unheld",
                            "hint.dir.role_unheld", severity="warning", role=rid)
            gaps = rota.gaps(rid)
            if gaps and role.fallback is None:
                located.add(found, ("roles", rid), "val.dir.rota_gap", "hint.dir.rota_gap",
                            severity="warning", role=rid, hours=len(gaps))
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
        raise ValidationFailed([Issue(display_path(base), "val.dir.no_folder",
                                      hint="hint.dir.no_folder")])
    estate_path = base / ESTATE
    if estate_path.is_file():
        estate = _estate(estate_path, issues)
    else:
        estate = None
        issues.append(Issue(display_path(estate_path), "val.dir.no_estate",
                            hint="hint.dir.no_estate"))
    staff: _Staff | None = _Staff({}, {}, {})
    if (base / STAFF).is_file():
        staff = _staff(base / STAFF, issues)
    else:
        issues.append(Issue(display_path(base / STAFF), "val.dir.no_staff",
                            severity="warning"))
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
        issues.append(Issue(display_path(base / ROSTER), "val.dir.no_roster",
                            severity="warning"))
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
        issues.append(Issue(display_path(base / ESTATE), "val.dir.no_estate",
                            hint="hint.dir.estate_for_roster"))
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
    hint = "hint.dir.shrink"
    if not owners:
        return Issue(name, "val.dir.roster_no_owners", hint=hint)
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
    return Issue(name, Msg("val.dir.roster_shrink", {
        "removed": f"{removed:,}", "current": f"{len(current):,}",
        "share": f"{removed / len(current):.0%}", "most": f"{max_shrink:.0%}"}), hint=hint)
