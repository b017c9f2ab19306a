"""Fuzzing: whatever a user writes, the directory answers with issues, never a crash."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.directory import Directory, SelectorError, load_directory, parse_selector, read_roster
from incident.errors import ValidationFailed

MINI = Path(__file__).parent / "data" / "directory" / "mini"
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])
ESTATE_LINES = (MINI / "estate.yaml").read_text(encoding="utf-8").splitlines()
STAFF_LINES = (MINI / "staff.yaml").read_text(encoding="utf-8").splitlines()
YAML_BITS = ["", " ", "  ", ":", "- ", "[", "]", "{", "}", "'", '"', "&a ", "*a", "<<: *a",
             "!!binary ", "\t", "01-08", "1-5", "-1", "yes", "null", "~", "1e3", "2024-13-45",
             "B1", "floors", "units", "08:00-20:00", "#", "|", ">", "---", "@", "\u3000"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fuzz") / "contacts"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture(scope="module")
def mini() -> Directory:
    return load_directory(MINI)


def load_or_fail(folder: Path) -> None:
    try:
        load_directory(folder)
    except ValidationFailed as exc:
        assert exc.issues
        assert all(i.message and i.file for i in exc.issues)
        for issue in exc.issues:
            issue.format()


@st.composite
def mutated(draw: st.DrawFn, lines: list[str]) -> str:
    """A real file with a few lines dropped, duplicated or spliced with YAML fragments."""
    out = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        action = draw(st.sampled_from(["drop", "dup", "splice", "replace_value"]))
        if action == "drop":
            del out[i]
        elif action == "dup":
            out.insert(i, out[i])
        elif action == "splice":
            pos = draw(st.integers(0, len(out[i])))
            out[i] = out[i][:pos] + draw(st.sampled_from(YAML_BITS)) + out[i][pos:]
        else:
            key, sep, _ = out[i].partition(":")
            if sep:
                out[i] = f"{key}: " + draw(st.one_of(st.sampled_from(YAML_BITS),
                                                     st.text(max_size=12)))
    return "\n".join(out) + "\n"


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text_as_estate(folder: Path, text: str) -> None:
    (folder / "estate.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_fail(folder)


@FUZZ
@given(text=mutated(ESTATE_LINES))
def test_mutated_estate(folder: Path, text: str) -> None:
    (folder / "estate.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_fail(folder)
    shutil.copy(MINI / "estate.yaml", folder / "estate.yaml")


@FUZZ
@given(text=mutated(STAFF_LINES))
def test_mutated_staff(folder: Path, text: str) -> None:
    (folder / "staff.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_fail(folder)
    shutil.copy(MINI / "staff.yaml", folder / "staff.yaml")


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_as_estate_and_roster(folder: Path, data: bytes) -> None:
    (folder / "estate.yaml").write_bytes(data)
    (folder / "owners.csv").write_bytes(data)
    load_or_fail(folder)
    try:
        result = read_roster(folder / "owners.csv")
    except ValidationFailed as exc:
        assert exc.issues
    else:
        assert result.encoding in ("utf-8", "utf-8-sig", "gb18030")
    shutil.copy(MINI / "estate.yaml", folder / "estate.yaml")
    shutil.copy(MINI / "owners.csv", folder / "owners.csv")


CELL = st.one_of(st.text(max_size=15), st.sampled_from(
    ["B1-101", "B3-1201", "b9-9999", "13812345678", "+86 138 1234 5678", "1.38E+10",
     "a@b.cn", "zh", "en", "elderly_alone", "infant;patient", "car_owner;pet", "", " ", ";"]))


@FUZZ
@given(header=st.lists(st.sampled_from(["unit", "name", "phone", "email", "chat", "lang",
                                        "vulnerable", "tags", "notes", "房号", "x", ""]),
                       max_size=10),
       rows=st.lists(st.lists(CELL, max_size=11), max_size=12),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_arbitrary_roster_rows(folder: Path, mini: Directory, header: list[str],
                               rows: list[list[str]], encoding: str) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path = folder / "fuzz.csv"
    try:
        path.write_bytes(buf.getvalue().encode(encoding))
    except UnicodeEncodeError:
        return
    result = read_roster(path, units=mini.units)
    assert all(i.file for i in result.issues)
    assert all(p.unit in mini.units for p in result.owners)
    assert all(p.phone is None or p.phone.startswith("+") for p in result.owners)


TERMS = st.sampled_from(["owners", "staff", "vulnerable", "vendors", "building:B3",
                         "building:@", "floor:@", "floors:@-1..@+1", "floors:1..3", "unit:@",
                         "role:security", "on_duty:security", "tag:pet", "lang:en",
                         "vendor:plumbing", "person:boss", "vulnerable:infant", "site:test",
                         "|", "floors:3..1", "x:y", ":", "@", "floor:@+99"])


@FUZZ
@given(text=st.one_of(st.text(max_size=40),
                      st.lists(TERMS, max_size=6).map(" ".join)),
       where=st.sampled_from([None, "B3-1201", "B3", "B1 2F", "test", "pump_room"]))
def test_selectors_only_raise_selector_errors(mini: Directory, text: str,
                                              where: str | None) -> None:
    from datetime import UTC, datetime

    assert isinstance(mini.check_selector(text), list)
    try:
        parse_selector(text)
        result = mini.resolve(text, mini.locate(where) if where else None,
                              datetime(2026, 1, 5, tzinfo=UTC))
    except SelectorError as exc:
        assert str(exc)
    else:
        assert len({r.person_id for r in result}) == len(result)


@FUZZ
@given(text=st.one_of(st.text(max_size=20),
                      st.from_regex(r"(B\d{1,2}|\d号楼)[ -]?(\d{1,4}[F层室]?|B\dF|floor -?\d+)?",
                                    fullmatch=True)))
def test_locate_only_raises_selector_errors(mini: Directory, text: str) -> None:
    try:
        where = mini.locate(text)
    except SelectorError as exc:
        assert str(exc)
    else:
        assert where.site == "test"
        assert where.label("en") and where.label("zh")
