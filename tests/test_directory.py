"""The estate directory: the shipped demo, lookups, locations, selectors and the rota."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident.directory import (
    Directory,
    Location,
    Person,
    Recipient,
    SelectorError,
    load_directory,
    parse_selector,
)
from incident.directory.demo import generate_roster, write_roster

REPO = Path(__file__).resolve().parent.parent
CONTACTS = REPO / "contacts"
MINI = Path(__file__).parent / "data" / "directory" / "mini"

# 2026-01-05 is a Monday; the site is UTC+8.
MON_10_LOCAL = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
MON_22_LOCAL = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
TUE_03_LOCAL = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)
SAT_22_LOCAL = datetime(2026, 1, 10, 14, 0, tzinfo=UTC)
MON_03_LOCAL = datetime(2026, 1, 4, 19, 0, tzinfo=UTC)  # end of the unrostered Sunday night


@pytest.fixture(scope="module")
def demo() -> Directory:
    return load_directory(CONTACTS)


@pytest.fixture(scope="module")
def mini() -> Directory:
    return load_directory(MINI)


def ids(recipients: list[Recipient]) -> list[str]:
    return [r.person_id for r in recipients]


# --- the shipped demo estate --------------------------------------------------------

def test_demo_estate_loads_cleanly(demo: Directory) -> None:
    assert demo.warnings == []
    assert demo.site.id == "lhy"
    assert demo.site.name == {"en": "Lakeside Garden", "zh": "临湖苑"}
    assert demo.site.timezone == "Asia/Shanghai"
    assert len(demo.buildings) >= 3
    assert all(len(b.floors) >= 20 for b in demo.buildings.values())
    assert len(demo.units) >= 2000
    assert len(demo.owners) >= 2000
    assert demo.roster_encoding == "utf-8"


def test_demo_roster_is_a_realistic_mix(demo: Directory) -> None:
    langs = {p.lang for p in demo.owners}
    assert langs == {"zh", "en"}
    english = sum(p.lang == "en" for p in demo.owners) / len(demo.owners)
    assert 0.05 < english < 0.15
    vulnerable = sum(bool(p.vulnerable) for p in demo.owners) / len(demo.owners)
    assert 0.02 < vulnerable < 0.08
    assert "car_owner" in demo.tags
    assert any(p.phone is None for p in demo.owners)
    assert any(p.email is None for p in demo.owners)
    assert all(p.channels for p in demo.owners)
    assert all(p.phone is None or (p.phone.startswith("+86") and len(p.phone) == 14)
               for p in demo.owners)
    assert all(p.unit in demo.units for p in demo.owners)


def test_demo_staff_roles_vendors_and_numbers(demo: Directory) -> None:
    assert 35 <= len(demo.staff) <= 50
    assert demo.roles["duty_officer"].title == {"en": "Duty officer (control room)",
                                                "zh": "中控室值班员"}
    assert demo.roles["branch_gm"].level > demo.roles["cs_supervisor"].level
    for role in ("duty_officer", "cs_specialist", "cs_supervisor", "service_manager",
                 "project_manager", "branch_gm", "security", "engineering", "electrician",
                 "fire_safety_lead", "cleaning"):
        assert demo.holders(role), role
        assert demo.fallback(role) is not None, role
    assert demo.rota_gaps("duty_officer") == []
    assert demo.externals["fire"].phone == "119"
    assert demo.externals["police"].phone == "110"
    assert demo.externals["ambulance"].phone == "120"
    assert {"water", "power", "gas", "residents_committee"} <= set(demo.externals)
    lift = demo.vendors["shenghua_elevator"]
    assert lift.kind == "elevator_maintenance"
    assert lift.arrive_within == timedelta(minutes=30)
    assert demo.places["pump_room"].floor == -2
    assert set(demo.assembly_points) == {"ap_north", "ap_garden", "ap_south"}


def test_committed_roster_is_what_the_generator_makes(demo: Directory, tmp_path: Path) -> None:
    rows = generate_roster(demo.units.values())
    assert rows == generate_roster(list(demo.units))  # ids or Unit objects, same seed
    written = write_roster(tmp_path / "owners.csv", rows)
    assert written.read_bytes() == (CONTACTS / "owners.csv").read_bytes()


def test_generator_makes_exactly_n_rows_with_the_documented_columns() -> None:
    rows = generate_roster(["A1-101", "A1-102"], n=7, seed=1)
    assert len(rows) == 7
    assert {r["unit"] for r in rows} == {"A1-101", "A1-102"}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    assert buf.getvalue().strip() == "unit,name,phone,email,chat,lang,vulnerable,tags,notes"


# --- people and lookups -------------------------------------------------------------

def test_people_owner_ids_and_channels(mini: Directory) -> None:
    first, second = mini.owners_of("B1-101")
    assert (first.id, second.id) == ("owner:B1-101:1", "owner:B1-101:2")
    assert second.phone == "+8613912345678"  # '+86 139 1234 5678' normalised
    assert second.channels == {"sms": "+8613912345678"}
    emily = mini.person("owner:B1-301:1")
    assert emily.lang == "en"
    assert emily.channels == {"sms": "+8618612345678", "email": "emily@example.com",
                              "chat": "emily_c"}
    baby = mini.person("owner:B1-502:1")
    assert baby.lang == "zh"  # empty lang column
    assert baby.vulnerable == ("infant", "patient")
    assert mini.person("guard.a").kind == "staff"
    assert mini.person("night.officer").name_en == "Ye Wan"
    assert set(mini.staff) < set(mini.people)
    assert len(mini.people) == len(mini.staff) + len(mini.owners)
    assert mini.tags == {"car_owner", "pet"}
    with pytest.raises(KeyError):
        mini.person("nobody")


def test_units_from_compact_notation(mini: Directory) -> None:
    assert len(mini.units) == 20 + 10 + 30
    unit = mini.units["B3-1201"]
    assert (unit.building, unit.floor, unit.number) == ("B3", 12, "1201")
    assert "B2-101" not in mini.units  # floor_units: 1: []
    assert mini.buildings["B3"].basements == [-1]
    assert mini.buildings["B1"].name == {"en": "Building 1", "zh": "1号楼"}  # default name


# --- locations ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "shown", "en", "zh"), [
    ("B3-1201", "B3-1201", "Building 3, 12F, unit 1201", "3号楼 12层 1201室"),
    ("b3-1201", "B3-1201", "Building 3, 12F, unit 1201", "3号楼 12层 1201室"),
    ("B3 12F", "B3 12F", "Building 3, 12F", "3号楼 12层"),
    ("B3 floor 12", "B3 12F", "Building 3, 12F", "3号楼 12层"),
    ("3号楼 12层", "B3 12F", "Building 3, 12F", "3号楼 12层"),
    ("B3", "B3", "Building 3", "3号楼"),
    ("B3 B1F", "B3 B1F", "Building 3, basement 1", "3号楼 地下1层"),
    ("test", "test", "Test Court", "测试苑"),
    ("pump_room", "pump_room", "Building 3, Water pump room", "3号楼 生活水泵房"),
])
def test_locate(mini: Directory, text: str, shown: str, en: str, zh: str) -> None:
    where = mini.locate(text)
    assert str(where) == shown
    assert where.label("en") == en
    assert where.label("zh") == zh


@pytest.mark.parametrize("text", ["B3-1201", "B3 12F", "B3", "B3 B1F", "test", "pump_room",
                                  "3号楼 1201室", "building 3 floor 12"])
def test_str_of_a_location_locates_it_again(mini: Directory, text: str) -> None:
    where = mini.locate(text)
    assert mini.locate(str(where)) == where


def test_numbers_for_people_stay_as_written(mini: Directory) -> None:
    assert mini.site.hotline == "021-5988 6600"
    assert mini.externals["fire"].phone == "119"
    assert mini.externals["residents_committee"].phone == "021-5977 1234"
    assert mini.vendors["plumber"].phone == "+862169214455"  # machine use: E.164


def test_locate_fields(mini: Directory) -> None:
    assert mini.locate("B3-1201") == Location("test", "B3", 12, "B3-1201")
    assert mini.locate("B3 12F") == Location("test", "B3", 12)
    assert mini.locate("B3") == Location("test", "B3")
    assert mini.locate("test") == Location("test")


@pytest.mark.parametrize(("text", "fragment"), [
    ("B3-1203", "unknown unit 'B3-1203' — did you mean 'B3-1202'? floor 12 of B3 has "
                "units 1201-1202"),
    ("B3-1601", "unknown unit 'B3-1601' — B3 has floors 1-15"),
    ("B3 20F", "building B3 has no floor 20 — B3 has floors 1-15 and basements B1F"),
    ("B4-101", "unknown building 'B4' in 'B4-101' — known: B1, B2, B3"),
    ("pump room", "cannot find 'pump room' in test — did you mean 'pump_room'?"),
    ("B3 upstairs", "cannot read 'upstairs' as a floor or unit of B3"),
    ("", "no location given"),
])
def test_locate_errors(mini: Directory, text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as err:
        mini.locate(text)
    assert fragment in str(err.value)


# --- selectors ----------------------------------------------------------------------

@pytest.mark.parametrize(("selector", "count"), [
    ("owners", 16),
    ("staff", 6),
    ("building:B3", 9),
    ("owners building:B1", 5),
    ("floor:12", 2),
    ("floors:11..13", 5),
    ("building:B3 floors:11..12", 4),
    ("vulnerable", 4),
    ("vulnerable:elderly_alone", 2),
    ("vulnerable building:B1", 2),
    ("tag:car_owner", 6),
    ("tag:pet | vulnerable", 7),
    ("role:security", 2),
    ("lang:en", 3),
    ("owners lang:en", 2),
    ("staff building:B3", 0),
    ("site:test owners", 16),
    ("unit:B3-1201", 2),
    ("building:b3 unit:b3-1201", 2),
    ("vendors", 2),
])
def test_resolve_counts(mini: Directory, selector: str, count: int) -> None:
    assert len(mini.resolve(selector)) == count


def test_relative_floors_follow_the_incident(mini: Directory) -> None:
    fire = mini.locate("B3-1201")
    around = mini.resolve("owners building:@ floors:@-1..@+1", fire)
    assert [r.unit for r in around] == ["B3-1101", "B3-1102", "B3-1201", "B3-1201", "B3-1301"]
    # relative floors alone stay in the incident's building
    assert ids(mini.resolve("floors:@-1..@+1", fire)) == ids(around)
    assert len(mini.resolve("floor:@", fire)) == 2
    assert len(mini.resolve("unit:@", fire)) == 2
    # clamped at the top of the building: 14..16 -> 14..15
    assert [r.unit for r in mini.resolve("floors:@-1..@+1", mini.locate("B3-1502"))] == \
        ["B3-1402", "B3-1502"]
    assert len(mini.resolve("building:@", mini.locate("B1"))) == 5


def test_union_deduplicates_in_stable_order(mini: Directory) -> None:
    result = mini.resolve("unit:B1-101 | tag:car_owner")
    assert ids(result) == ["owner:B1-101:1", "owner:B1-101:2", "owner:B1-502:1",
                           "owner:B2-602:1", "owner:B3-1101:1", "owner:B3-1502:1"]
    assert ids(mini.resolve("person:day.officer | role:duty_officer")) == \
        ["day.officer", "night.officer"]
    assert ids(mini.resolve(["unit:B1-101", "unit:B1-101 tag:pet"])) == \
        ["owner:B1-101:1", "owner:B1-101:2"]


def test_recipients_carry_what_notify_needs(mini: Directory) -> None:
    [old] = mini.resolve("vulnerable:elderly_alone building:B1")
    assert old == Recipient(person_id="owner:B1-204:1", name="王芳", lang="zh",
                            addresses={"sms": "+8615012345678"}, unit="B1-204",
                            vulnerable=("elderly_alone",), kind="owner")
    [lift] = mini.resolve("vendor:elevator_maintenance")
    assert (lift.person_id, lift.kind, lift.name) == ("vendor:lift_co", "vendor", "电梯公司")
    assert lift.addresses == {"sms": "+8613900000001"}
    [plumber] = mini.resolve("vendor:plumber")
    assert plumber.addresses == {"email": "plumber@example.com"}  # a landline gets no SMS
    [sparky] = mini.resolve("role:electrician")
    assert (sparky.kind, sparky.lang, sparky.unit) == ("staff", "en", None)


def test_on_duty_selector_needs_a_time(mini: Directory) -> None:
    assert ids(mini.resolve("on_duty:security", at=MON_10_LOCAL)) == ["guard.lead", "guard.a"]
    assert ids(mini.resolve("on_duty:security", at=MON_22_LOCAL)) == ["guard.a"]
    with pytest.raises(SelectorError, match="needs the time of the incident"):
        mini.resolve("on_duty:security")


@pytest.mark.parametrize(("selector", "location", "fragment"), [
    ("owners building:@", None, "relative to the incident, but no incident location was given"),
    ("floors:@-1..@+1", "B3", "the incident location 'B3' has no floor"),
    ("unit:@", "B3 12F", "the incident location 'B3 12F' has no unit"),
    ("building:B9", None, "unknown building 'B9' — known: B1, B2, B3"),
    ("building:B33", None, "unknown building 'B33' — did you mean 'B3'?"),
    ("role:securty", None, "unknown role 'securty' — did you mean 'security'?"),
])
def test_resolve_errors(mini: Directory, selector: str, location: str | None,
                        fragment: str) -> None:
    where = mini.locate(location) if location else None
    with pytest.raises(SelectorError) as err:
        mini.resolve(selector, where)
    assert fragment in str(err.value)


@pytest.mark.parametrize(("text", "fragment"), [
    ("floors:11-13", "write ranges with '..', like floors:11..13"),
    ("flor:3", "unknown selector term 'flor:3' — did you mean 'floor'?"),
    ("owners |", "empty alternative"),
    ("", "the selector is empty"),
    ("lang:fr", "unknown language 'fr'"),
    ("owners:all", "'owners' takes no value"),
    ("building", "'building' needs a value — write it like building:B3"),
    ("floors:13..11", "runs backwards — write the lower floor first: floors:11..13"),
    ("floor:@2", "write @+2 or @-2"),
    ("tag:@", "'@' only works for building, unit and floors"),
])
def test_selector_syntax_errors(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_selector(text)
    assert fragment in str(err.value)
    assert err.value.hint or err.value.message


def test_selector_round_trip() -> None:
    sel = parse_selector("owners  building:@ floors:@-1..@+1 |  vulnerable:infant")
    assert str(sel) == "owners building:@ floors:@-1..@+1 | vulnerable:infant"
    assert sel.relative
    assert not parse_selector("owners floors:11..13").relative


def test_check_selector(mini: Directory) -> None:
    assert mini.check_selector("owners building:@ floors:@-1..@+1 | on_duty:security") == []
    assert mini.check_selector(["vendor:plumbing", "tag:pet vulnerable:infant"]) == []
    problems = mini.check_selector(
        "role:securty tag:carowner | building:B4 unit:B3-1203 vulnerable:old floor:40")
    assert [str(p) for p in problems] == [
        "unknown role 'securty' in 'role:securty' — did you mean 'security'?",
        "unknown tag 'carowner' in 'tag:carowner' — did you mean 'car_owner'?",
        "unknown building 'B4' in 'building:B4' — known: B1, B2, B3",
        "unknown unit 'B3-1203' in 'unit:B3-1203' — did you mean 'B3-1202'?",
        "unknown kind of vulnerability 'old' in 'vulnerable:old' — known: disability, "
        "elderly_alone, infant, patient",
        "no building has floor 40 in 'floor:40'",
    ]
    assert [str(p) for p in mini.check_selector("floors:1-3")] == [
        "'floors:1-3' is not a floor range — write ranges with '..', like floors:11..13 or "
        "floors:@-1..@+1"]
    # a reader of Chinese reads the same problems in Chinese
    assert [p.text("zh") for p in problems][:2] == [
        "“role:securty”中的角色“securty”不存在——是否想输入“security”？",
        "“tag:carowner”中的标签“carowner”不存在——是否想输入“car_owner”？"]


# --- rota ---------------------------------------------------------------------------

def test_on_duty_day_and_night(mini: Directory) -> None:
    assert [p.id for p in mini.on_duty("duty_officer", MON_10_LOCAL)] == ["day.officer"]
    assert [p.id for p in mini.on_duty("duty_officer", MON_22_LOCAL)] == ["night.officer"]
    # Monday's night shift runs on into Tuesday morning
    assert [p.id for p in mini.on_duty("duty_officer", TUE_03_LOCAL)] == ["night.officer"]


def test_on_duty_falls_back_in_gaps(mini: Directory) -> None:
    assert [p.id for p in mini.on_duty("duty_officer", SAT_22_LOCAL)] == ["boss"]
    assert [p.id for p in mini.on_duty("duty_officer", MON_03_LOCAL)] == ["boss"]
    assert [p.id for p in mini.on_duty("electrician", MON_10_LOCAL)] == ["sparky"]  # no rota
    assert mini.fallback("duty_officer") == mini.person("boss")
    with pytest.raises(KeyError, match="did you mean 'security'"):
        mini.on_duty("securty", MON_10_LOCAL)


def test_rota_gaps(mini: Directory) -> None:
    gaps = mini.rota_gaps("duty_officer")
    # Saturday and Sunday nights, 20:00-08:00, are not rostered
    assert gaps == [(0, h) for h in range(8)] + [(5, h) for h in range(20, 24)] + \
        [(6, h) for h in range(8)] + [(6, h) for h in range(20, 24)]
    assert mini.rota_gaps("security") == []
    assert len(mini.rota_gaps("electrician")) == 7 * 24


def test_on_duty_uses_site_time_not_utc(demo: Directory) -> None:
    # 07:30 UTC Monday = 15:30 in Shanghai: the Monday day shift
    at = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
    assert {p.id for p in demo.on_duty("duty_officer", at)} == {"chen.jie", "liu.yang"}
    # 13:30 UTC Friday = 21:30 Friday in Shanghai: the Thursday-Sunday night team
    at = datetime(2026, 1, 9, 13, 30, tzinfo=UTC)
    assert {p.id for p in demo.on_duty("duty_officer", at)} == {"xu.lei", "ma.xiaoyu"}
    assert all(isinstance(p, Person) for p in demo.on_duty("branch_gm", at))
