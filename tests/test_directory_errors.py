"""Broken estate, staff, vendor and roster files: every error names file, line and fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from incident.directory import import_roster, load_directory, read_roster
from incident.errors import Issue, ValidationFailed

MINI = Path(__file__).parent / "data" / "directory" / "mini"
HEADER = "unit,name,phone,email,chat,lang,vulnerable,tags,notes\n"


def contacts(tmp_path: Path, **files: str | bytes) -> Path:
    """The mini estate in tmp_path with some files replaced (estate='...', owners='...')."""
    folder = tmp_path / "contacts"
    shutil.copytree(MINI, folder)
    for name, content in files.items():
        target = folder / (f"{name}.csv" if name == "owners" else f"{name}.yaml")
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return folder


def edit(name: str, old: str, new: str, count: int = 1) -> str:
    """The mini file `name` with `old` replaced by `new` (which must be there)."""
    path = MINI / (f"{name}.csv" if name == "owners" else f"{name}.yaml")
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, count)


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing fragment."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[nth - 1]


def failures(folder: Path) -> list[Issue]:
    with pytest.raises(ValidationFailed) as err:
        load_directory(folder)
    return err.value.errors


def _csv(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "owners.csv"
    path.write_text(header + rows, encoding="utf-8")
    return path


def the_error(folder: Path, fragment: str) -> Issue:
    found = [i for i in failures(folder) if fragment in i.format()]
    assert found, f"no error with {fragment!r}"
    return found[0]


# --- estate.yaml --------------------------------------------------------------------

def test_unknown_key_typo_suggests_the_key(tmp_path: Path) -> None:
    text = edit("estate", "    floors: 1-5\n", "    flors: 1-5\n")
    issue = the_error(contacts(tmp_path, estate=text), "unknown key 'flors'")
    assert issue.file.endswith("estate.yaml")
    assert issue.line == line_of(text, "flors:")
    assert issue.column == 5
    assert issue.path == "buildings.B1.flors"
    assert issue.hint == "did you mean 'floors'?"
    assert issue.format().endswith(f"estate.yaml:{issue.line}:5: error: buildings.B1.flors: "
                                   "unknown key 'flors' — did you mean 'floors'?")


def test_duplicate_key(tmp_path: Path) -> None:
    text = edit("estate", "  B3:\n", "  B2:\n")
    issue = the_error(contacts(tmp_path, estate=text), "duplicate key")
    assert issue.message == f"duplicate key 'B2' (first written on line {line_of(text, 'B2:')})"
    assert issue.line == line_of(text, "B2:", nth=2)


def test_tab_in_indentation(tmp_path: Path) -> None:
    text = edit("estate", "    units: 01-04\n", "\tunits: 01-04\n")
    issue = the_error(contacts(tmp_path, estate=text), "tab character")
    assert issue.line == line_of(text, "\tunits")
    assert "replace the tab with spaces" in issue.hint


def test_wrong_type(tmp_path: Path) -> None:
    text = edit("estate", "    basements: 1\n", "    basements: lots\n")
    issue = the_error(contacts(tmp_path, estate=text), "basements")
    assert issue.message == "expected a whole number, got 'lots'"
    assert issue.line == line_of(text, "basements: lots")


def test_mapping_or_list_where_the_other_was_expected(tmp_path: Path) -> None:
    text = edit("estate", "serves: [B1, B2, B3]", "serves: {B1: yes}")
    text = text.replace("    kind: plant_room\n", "    kind: [plant_room]\n")
    errors = failures(contacts(tmp_path, estate=text))
    by_path = {i.path: i for i in errors}
    assert by_path["assembly_points.ap_main.serves"].message == \
        "expected a list ('- item' lines or [a, b]), got a mapping"
    assert by_path["assembly_points.ap_main.serves"].line == line_of(text, "serves:")
    assert by_path["places.pump_room.kind"].message == "expected text, got a list"
    text = edit("estate", "site:\n  id: test\n", "site: test\nsite2:\n  id: test\n")
    errors = failures(contacts(tmp_path / "b", estate=text))
    assert [(i.line, i.message) for i in errors if i.path == "site"] == [
        (line_of(text, "site: test"), "expected a mapping (indented 'key: value' lines), got 'test'")]


def test_bad_floor_range_and_override(tmp_path: Path) -> None:
    text = edit("estate", "    floors: 1-6\n", "    floors: 6-1\n")
    issue = the_error(contacts(tmp_path, estate=text), "runs backwards")
    assert issue.line == line_of(text, "floors: 6-1")
    assert issue.hint == "write the lower number first, e.g. 1-26 or '1-12, 14-26'"
    text = edit("estate", "      1: []\n", "      9: []\n")
    issue = the_error(contacts(tmp_path / "b", estate=text), "has no floor 9")
    assert issue.line == line_of(text, "9: []")
    assert issue.message == "building B2 has no floor 9"


def test_unknown_building_in_assembly_point(tmp_path: Path) -> None:
    text = edit("estate", "serves: [B1, B2, B3]", "serves: [B1, B2, B33]")
    issue = the_error(contacts(tmp_path, estate=text), "unknown building 'B33'")
    assert issue.line == line_of(text, "serves:")
    assert issue.path == "assembly_points.ap_main.serves[2]"
    assert issue.hint == "did you mean 'B3'?"


def test_bad_timezone_and_hotline(tmp_path: Path) -> None:
    text = edit("estate", "timezone: Asia/Shanghai", "timezone: Asia/Shangai")
    text = text.replace("hotline: 021-5988 6600", "hotline: 021-59")
    errors = failures(contacts(tmp_path, estate=text))
    by_path = {i.path: i for i in errors}
    assert by_path["site.timezone"].message == "'Asia/Shangai' is not a known time zone"
    assert by_path["site.timezone"].line == line_of(text, "timezone:")
    assert by_path["site.hotline"].message == "'021-59' is not a valid phone number"
    assert by_path["site.hotline"].line == line_of(text, "hotline:")


def test_missing_required_key_points_at_its_parent(tmp_path: Path) -> None:
    text = edit("estate", "    units: 01-04\n", "")
    issue = the_error(contacts(tmp_path, estate=text), "missing required key 'units'")
    assert issue.line == line_of(text, "  B1:")


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    issue = the_error(contacts(tmp_path, estate=""), "estate.yaml")
    assert issue.message == "the file is empty"
    issue = the_error(contacts(tmp_path / "b", estate="- a\n- b\n"), "estate.yaml")
    assert issue.message == "expected a mapping of sections at the top of the file, got a list"


def test_missing_estate_file(tmp_path: Path) -> None:
    folder = contacts(tmp_path)
    (folder / "estate.yaml").unlink()
    issue = the_error(folder, "estate.yaml is missing")
    assert issue.file.endswith("estate.yaml")


# --- staff.yaml ---------------------------------------------------------------------

def test_unknown_role_did_you_mean(tmp_path: Path) -> None:
    text = edit("staff", "    roles: [security]\n    chat: GuardA",
                "    roles: [securty]\n    chat: GuardA")
    issue = the_error(contacts(tmp_path, staff=text), "unknown role 'securty'")
    assert issue.line == line_of(text, "roles: [securty]")
    assert issue.path == "people.guard.a.roles[0]"
    assert issue.hint == "did you mean 'security'?"


def test_duplicate_staff_id(tmp_path: Path) -> None:
    text = edit("staff", "  boss:\n", "  guard.a:\n")
    issue = the_error(contacts(tmp_path, staff=text), "duplicate key 'guard.a'")
    assert issue.line == line_of(text, "  guard.a:", nth=2)
    assert "first written on line" in issue.message


def test_unknown_person_in_rota(tmp_path: Path) -> None:
    text = edit("staff", "daily: [guard.lead, guard.a]", "daily: [guard.lead, guard.b]")
    issue = the_error(contacts(tmp_path, staff=text), "guard.b")
    assert issue.message == "unknown person 'guard.b' in the rota"
    assert issue.hint == "did you mean 'guard.a'?"
    assert issue.line == line_of(text, "guard.b")


def test_rota_bad_days_shift_and_role(tmp_path: Path) -> None:
    text = edit("staff", "      mon-fri: [night.officer]", "      mon-fry: [night.officer]")
    text = text.replace("  security:\n    day:", "  security:\n    dya:")
    text = text.replace("rota:\n  duty_officer:", "rota:\n  duty_oficer:")
    errors = failures(contacts(tmp_path, staff=text))
    messages = {i.message: i for i in errors}
    assert messages["unknown role 'duty_oficer'"].hint == "did you mean 'duty_officer'?"
    assert messages["unknown role 'duty_oficer'"].line == line_of(text, "  duty_oficer:")
    assert messages["unknown shift 'dya'"].hint == "did you mean 'day'?"
    assert messages["unknown shift 'dya'"].line == line_of(text, "dya:")
    text = edit("staff", "      mon-fri: [night.officer]", "      mon-fry: [night.officer]")
    issue = the_error(contacts(tmp_path / "b", staff=text), "mon-fry")
    assert issue.message == "'mon-fry' is not a day range"
    assert issue.hint == "write days like mon-fri, 'sat,sun', wed or daily"
    assert issue.line == line_of(text, "mon-fry")


def test_bad_shift_hours(tmp_path: Path) -> None:
    text = edit("staff", "  night: 20:00-08:00", "  night: 25:00-08:00")
    issue = the_error(contacts(tmp_path, staff=text), "shifts.night")
    assert issue.message == "'25:00-08:00' has an impossible time"
    assert issue.line == line_of(text, "25:00")


def test_bad_phone_email_lang_in_staff(tmp_path: Path) -> None:
    text = edit("staff", 'phone: "13800000003"', 'phone: "1380000"')
    line = line_of(text, '"1380000"')
    text = text.replace("email: boss@example.com", "email: boss@example")
    text = text.replace("    lang: en", "    lang: fr")
    errors = failures(contacts(tmp_path, staff=text))
    by_path = {i.path: i for i in errors}
    phone = by_path["people.guard.lead.phone"]
    assert phone.format().endswith(
        f"staff.yaml:{line}:5: error: people.guard.lead.phone: "
        "'1380000' is not a valid mainland mobile number — write 11 digits like 13812345678 "
        "or +8613812345678")
    assert by_path["people.boss.email"].message == "'boss@example' is not a valid e-mail address"
    assert by_path["people.sparky.lang"].message == "'fr' is not a supported language"
    assert by_path["people.sparky.lang"].line == line_of(text, "lang: fr")


def test_unknown_fallback(tmp_path: Path) -> None:
    text = edit("staff", "    fallback: sparky", "    fallback: sparkey")
    issue = the_error(contacts(tmp_path, staff=text), "sparkey")
    assert issue.path == "roles.electrician.fallback"
    assert issue.hint == "did you mean 'sparky'?"


def test_staff_warnings_stay_on_the_directory(tmp_path: Path) -> None:
    text = edit("staff", "    chat: GuardA\n", "")  # guard.a: no channel left
    text = text.replace("daily: [guard.lead, guard.a]", "daily: [guard.lead, sparky]")
    text = text.replace("    fallback: sparky\n", "")  # electrician: gaps, no fallback
    directory = load_directory(contacts(tmp_path, staff=text))
    warnings = {i.message: i for i in directory.warnings}
    assert warnings["guard.a has no phone, email or chat"].line == line_of(text, "  guard.a:")
    assert "sparky is rostered as security but does not hold that role" in warnings
    assert "'electrician' has nobody rostered for 168 hours a week and no fallback" in warnings
    assert all(i.severity == "warning" for i in directory.warnings)


# --- vendors.yaml -------------------------------------------------------------------

def test_vendor_errors(tmp_path: Path) -> None:
    text = edit("vendors", "arrive_within: 30m", "arrive_within: soon")
    text = text.replace("    kind: plumbing\n", "    knid: plumbing\n")
    errors = failures(contacts(tmp_path, vendors=text))
    by_path = {i.path: i for i in errors}
    assert by_path["vendors.lift_co.arrive_within"].message == "'soon' is not a duration"
    assert by_path["vendors.lift_co.arrive_within"].line == line_of(text, "soon")
    assert by_path["vendors.plumber.knid"].hint == "did you mean 'kind'?"


# --- all files at once --------------------------------------------------------------

def test_errors_of_all_files_are_raised_together(tmp_path: Path) -> None:
    estate = edit("estate", "    floors: 1-5\n", "    flors: 1-5\n")
    staff = edit("staff", "roles: [security]\n    chat", "roles: [securty]\n    chat")
    owners = edit("owners", "B2-201,刘洋,13700000001", "B2-201,刘洋,1370000")
    errors = failures(contacts(tmp_path, estate=estate, staff=staff, owners=owners))
    files = {Path(i.file).name for i in errors}
    assert files == {"estate.yaml", "staff.yaml", "owners.csv"}


# --- owners.csv ---------------------------------------------------------------------

def test_bad_phone_in_csv_row(tmp_path: Path) -> None:
    text = edit("owners", "B2-201,刘洋,13700000001", "B2-201,刘洋,1381234")
    issue = the_error(contacts(tmp_path, owners=text), "phone")
    assert issue.line == line_of(text, ",1381234,") == 7
    assert issue.format().endswith(
        f"owners.csv:{issue.line}: error: phone: '1381234' is not a valid mainland mobile "
        "number — write 11 digits like 13812345678 or +8613812345678")


def test_unknown_unit_with_suggestion(tmp_path: Path) -> None:
    text = edit("owners", "B1-204,王芳", "B1-205,王芳")
    issue = the_error(contacts(tmp_path, owners=text), "B1-205")
    assert issue.line == line_of(text, "B1-205")
    assert issue.path == "unit"
    assert issue.message == "unknown unit 'B1-205'"
    assert issue.hint == "did you mean 'B1-204'? floor 2 of B1 has units 201-204"


@pytest.mark.parametrize(("unit", "message", "hint"), [
    ("B9-101", "unknown building 'B9' in unit 'B9-101'", "known: B1, B2, B3"),
    ("B2-101", "unknown unit 'B2-101': no unit of B2 is on floor 1",
     "did you mean 'B2-601'? B2 has units on floors 2-6"),
    ("B3-1203", "unknown unit 'B3-1203'",
     "did you mean 'B3-1202'? floor 12 of B3 has units 1201-1202"),
    ("1201", "'1201' is not a unit id", "write building, '-', door number, like B3-1201"),
])
def test_unit_messages(tmp_path: Path, unit: str, message: str, hint: str) -> None:
    result = read_roster(_csv(tmp_path, f"{unit},某人,13700000001,,,,,,\n"),
                         units=load_directory(MINI).units)
    [issue] = result.errors
    assert (issue.line, issue.message, issue.hint) == (2, message, hint)


def test_unit_ids_match_case_insensitively(tmp_path: Path) -> None:
    result = read_roster(_csv(tmp_path, "b3-1201,某人,13700000001,,,,,,\n"),
                         units=load_directory(MINI).units)
    assert result.issues == []
    assert result.owners[0].unit == "B3-1201"
    assert result.owners[0].id == "owner:B3-1201:1"


def test_missing_column(tmp_path: Path) -> None:
    text = "room,name,phone\nB1-101,张伟,13812345678\n"
    issue = the_error(contacts(tmp_path, owners=text), "missing required column")
    assert issue.line == 1
    assert issue.message == "missing required column 'unit' in the header row"
    assert issue.hint == "the header row has: room, name, phone"


def test_gbk_roster_loads_and_reports_encoding(tmp_path: Path) -> None:
    text = (MINI / "owners.csv").read_text(encoding="utf-8")
    folder = contacts(tmp_path, owners=text.encode("gbk"))
    directory = load_directory(folder)
    assert directory.roster_encoding == "gb18030"
    assert directory.person("owner:B1-101:1").name == "张伟"
    assert read_roster(folder / "owners.csv").encoding == "gb18030"


def test_utf8_bom_roster_loads(tmp_path: Path) -> None:
    text = (MINI / "owners.csv").read_text(encoding="utf-8")
    folder = contacts(tmp_path, owners=text.encode("utf-8-sig"))
    directory = load_directory(folder)
    assert directory.roster_encoding == "utf-8-sig"
    assert len(directory.owners) == 16
    assert directory.owners[0].unit == "B1-101"


def test_chinese_headers_are_understood(tmp_path: Path) -> None:
    result = read_roster(_csv(tmp_path, "B1-101,张伟,138 1234 5678\n", header="房号,姓名,手机\n"))
    assert result.issues == []
    assert result.owners[0].phone == "+8613812345678"


def test_exact_duplicate_row_is_a_warning(tmp_path: Path) -> None:
    row = "B1-101,张伟,13812345678,,,zh,,,\n"
    result = read_roster(_csv(tmp_path, row + row))
    [issue] = result.issues
    assert (issue.severity, issue.line) == ("warning", 3)
    assert issue.message == "exact duplicate of line 2: skipped"
    assert len(result.owners) == 1


def test_several_owners_of_one_unit_are_fine(tmp_path: Path) -> None:
    rows = "B1-101,张伟,13812345678,,,,,,\nB1-101,李娜,13912345678,,,,,,\n"
    result = read_roster(_csv(tmp_path, rows))
    assert result.issues == []
    assert [p.id for p in result.owners] == ["owner:B1-101:1", "owner:B1-101:2"]


@pytest.mark.parametrize(("row", "path", "message", "hint"), [
    ("B1-101,张伟,13812345678,zhang@@x.com,,,,,", "email",
     "'zhang@@x.com' is not a valid e-mail address", "write it like name@example.com"),
    ("B1-101,张伟,13812345678,,,fr,,,", "lang", "'fr' is not a supported language",
     "write zh or en"),
    ("B1-101,张伟,13812345678,,,,elderly,,", "vulnerable",
     "'elderly' is not a kind of vulnerability", "did you mean 'elderly_alone'?"),
    ("B1-101,张伟,13812345678,,,,,car owner,", "tags", "'car owner' is not a valid tag",
     "use letters, digits, '_' or '-', separate tags with ';'"),
    ("B1-101,张伟,12812345678,,,,,,", "phone",
     "'12812345678' is not a valid mainland mobile number",
     "write 11 digits like 13812345678 or +8613812345678"),
    ("B1-101,张伟,1.38123E+10,,,,,,", "phone",
     "'1.38123E+10' looks like a spreadsheet number in scientific notation",
     "format the phone column as text before exporting, then write 11 digits like "
     "13812345678 or +8613812345678"),
    ("B1-101,,13812345678,,,,,,", "name", "the name is empty",
     "write the owner's name as they want to be addressed"),
])
def test_row_errors_name_line_and_column(tmp_path: Path, row: str, path: str, message: str,
                                         hint: str) -> None:
    result = read_roster(_csv(tmp_path, "B1-102,李娜,13912345678,,,,,,\n" + row + "\n"))
    errors = result.errors
    assert [(i.line, i.path, i.message, i.hint) for i in errors] == [(3, path, message, hint)]


def test_foreign_mobile_is_accepted(tmp_path: Path) -> None:
    result = read_roster(_csv(tmp_path, "B1-101,Emily Carter,+44 7911 123456,,,en,,,\n"))
    assert result.errors == []
    assert result.owners[0].phone == "+447911123456"


def test_row_with_no_channel_is_a_warning(tmp_path: Path) -> None:
    result = read_roster(_csv(tmp_path, "B1-101,张伟,,,,,,,\n"))
    [issue] = result.issues
    assert issue.severity == "warning"
    assert issue.message == "张伟 (B1-101) has no usable phone, e-mail or chat"
    assert len(result.owners) == 1


def test_too_many_values_and_multiline_notes_keep_line_numbers(tmp_path: Path) -> None:
    rows = ('B1-101,张伟,13812345678,,,,,,"line one\nline two"\n'
            "B1-102,李娜,13912345678,,,,,,too,many\n"
            "B1-103,王芳,139123,,,,,,\n")
    result = read_roster(_csv(tmp_path, rows))
    assert [(i.line, i.message) for i in result.errors] == [
        (4, "this row has 10 values but the header has 9 columns"),
        (5, "'139123' is not a valid mainland mobile number"),
    ]
    assert result.owners[0].notes == "line one\nline two"


def test_empty_and_unreadable_rosters(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    [issue] = read_roster(empty).issues
    assert issue.message == "the roster is empty"
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"unit,name\n\x80\xff\xfe\n")
    with pytest.raises(ValidationFailed, match="neither UTF-8 nor GBK"):
        read_roster(binary)
    with pytest.raises(ValidationFailed, match="cannot read the file"):
        read_roster(tmp_path / "missing.csv")


def test_many_bad_rows_are_summarised(tmp_path: Path) -> None:
    rows = "".join(f"B1-101,张{i},1{i:05d},,,,,,\n" for i in range(300))
    result = read_roster(_csv(tmp_path, rows))
    assert len(result.issues) == 201
    assert result.issues[-1].message == "100 more problems not listed"
    assert result.issues[-1].severity == "error"


# --- importing a roster -------------------------------------------------------------

def test_import_roster_stores_utf8_and_keeps_a_backup(tmp_path: Path) -> None:
    folder = contacts(tmp_path)
    old = (folder / "owners.csv").read_bytes()
    new = tmp_path / "export.csv"
    new.write_bytes((HEADER + "B3-1201,马晓宇,13700000007,,,,,,\n").encode("gbk"))
    dry = import_roster(new, folder, dry_run=True)
    assert (dry.imported, len(dry.owners), dry.encoding) == (False, 1, "gb18030")
    assert (folder / "owners.csv").read_bytes() == old
    done = import_roster(new, folder, allow_shrink=True)  # 1 row replaces them all
    assert done.imported and done.target == folder / "owners.csv"
    assert (folder / "owners.csv.bak").read_bytes() == old
    directory = load_directory(folder)
    assert directory.roster_encoding == "utf-8"
    assert [p.name for p in directory.owners] == ["马晓宇"]


def test_import_roster_with_errors_writes_nothing(tmp_path: Path) -> None:
    folder = contacts(tmp_path)
    old = (folder / "owners.csv").read_bytes()
    bad = _csv(tmp_path, "B3-1299,某人,13700000007,,,,,,\n")
    result = import_roster(bad, folder)
    assert not result.imported
    assert [i.message for i in result.errors] == ["unknown unit 'B3-1299'"]
    assert (folder / "owners.csv").read_bytes() == old
    assert not (folder / "owners.csv.bak").exists()


def test_a_building_with_no_floors_is_an_error_not_a_crash(tmp_path):
    src = Path(__file__).parent / "data" / "directory" / "mini"
    folder = tmp_path / "contacts"
    shutil.copytree(src, folder)
    estate = folder / "estate.yaml"
    text = estate.read_text(encoding="utf-8")
    text = text.replace("    floors: 1-15\n", "    floors: ''\n", 1)
    estate.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_directory(folder)
    assert any("a building needs at least one floor" in i.message for i in info.value.issues)
