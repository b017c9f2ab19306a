"""The escalation graph: loading errors with file:line, and the pre-flight check's findings
on crafted broken graphs."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import pytest

from incident.directory import load_directory
from incident.errors import ValidationFailed
from incident.escalation import (
    Escalation,
    check,
    load_escalation,
    render_dot,
    render_mermaid,
    render_text,
)
from incident.yamlsrc import parse_file

REPO = Path(__file__).resolve().parent.parent
CONTACTS = REPO / "contacts"

HEAD = """\
entry: duty_officer
top: branch_gm
severities: [1, 2, 3]
"""
LADDER = """\
edges:
  - {from: duty_officer, to: cs_supervisor, wait: 5}
  - {from: cs_supervisor, to: project_manager, wait: 10}
  - {from: project_manager, to: branch_gm, wait: 15}
"""


@pytest.fixture(scope="module")
def directory():
    return load_directory(CONTACTS)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "escalation.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def more(text: str) -> str:
    """Further items of the 'edges:' list."""
    return textwrap.indent(textwrap.dedent(text), "  ")


def block(text: str) -> str:
    return textwrap.dedent(text)


def errors_of(path: Path, directory) -> list:
    with pytest.raises(ValidationFailed) as exc:
        load_escalation(path, directory)
    return exc.value.issues


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


# ---- the shipped graph -------------------------------------------------------------------

def test_the_shipped_graph_passes_the_check(directory):
    graph = load_escalation(CONTACTS / "escalation.yaml", directory)
    assert isinstance(graph.graph, nx.MultiDiGraph)
    report = check(graph, directory, parse_file(CONTACTS / "staff.yaml"))
    assert report.ok, [i.format() for i in report.errors]
    reach = {r.severity: (r.best, r.worst, r.never) for r in report.reach}
    assert reach == {1: (0, 0, []), 2: (30, 30, []), 3: (30, 30, [])}
    gaps = {g.node: g for g in report.gaps}
    assert gaps["cs_supervisor"].covered and gaps["cs_supervisor"].fallback == "song.hui"
    assert len(gaps["cs_supervisor"].hours) == 105  # 18:00-09:00 every day
    assert gaps["branch_gm"].no_rota and gaps["branch_gm"].covered
    assert report.spofs["branch_gm"] == "deng.jianhua"
    [spof] = report.find("'branch_gm' rests on one person")
    assert spof.severity == "warning" and spof.file.endswith("staff.yaml")
    assert spof.line == line_of(CONTACTS / "staff.yaml", "  branch_gm:")
    text = "\n".join(report.lines(directory))
    assert "severity 2: best 30m, worst 30m (at every hour)" in text
    assert "cs_supervisor      105 h/week: 18:00-09:00 daily → covered by fallback song.hui" \
        in text
    # one supervisor on call as the fallback 105 hours a week is flagged (max 40)
    [tired] = report.find("song.hui (宋慧) is the fallback for 105 hours a week")
    assert tired.severity == "warning" and tired.file.endswith("staff.yaml")
    assert "more than max_fallback_hours 40" in tired.message
    assert report.fallback_hours == {"song.hui": 105}
    assert text.endswith("ok (6 warning(s))")


# ---- loading: names, keys, values --------------------------------------------------------

def test_an_unknown_role_names_file_line_and_the_role_meant(tmp_path, directory):
    path = write(tmp_path, HEAD + LADDER + "  - {from: cs_supervisor, to: [projct_manager], "
                 "wait: 5}\n")
    [issue] = errors_of(path, directory)
    assert issue.message == "unknown role or person 'projct_manager'"
    assert issue.hint == "did you mean 'project_manager'?"
    assert issue.file.endswith("escalation.yaml") and issue.line == 8
    assert issue.path == "edges[3].to[0]"


def test_unknown_people_keys_and_levels_are_errors(tmp_path, directory):
    path = write(tmp_path, HEAD + block("""\
        nodes:
          branch_gm: {people: [deng.jainhua]}
        edges:
          - {from: duty_officer, to: cs_supervisor, wiat: 5}
          - from: cs_supervisor
            to: branch_gm
            wait: 10
            when: {severity: 4}
          - from: cs_supervisor
            to: branch_gm
            wait: 10
            when: {severity: "1-2"}
        """))
    issues = {i.message: i for i in errors_of(path, directory)}
    assert "unknown key 'wiat'" in issues
    assert issues["unknown key 'wiat'"].hint == "did you mean 'wait'?"
    assert issues["unknown key 'wiat'"].line == 7
    level = "'1-2' is not a list of severity levels"
    assert any(m.startswith(level) for m in issues)
    assert "level 1 is the most severe" in next(i.hint for m, i in issues.items()
                                                 if m.startswith(level))


def test_cross_references_are_checked_after_the_schema(tmp_path, directory):
    path = write(tmp_path, HEAD + block("""\
        nodes:
          branch_gm: {people: [deng.jainhua]}
        edges:
          - {from: duty_officer, to: cs_supervisor, wait: 5}
          - {from: cs_supervisor, to: branch_gm, wait: 10, when: {severity: [4]}}
        """))
    issues = {i.message: i for i in errors_of(path, directory)}
    person = issues["unknown person 'deng.jainhua'"]
    assert person.hint == "did you mean 'deng.jianhua'?" and person.line == 5
    sev = issues["severity 4 is not one of the levels in use (1, 2, 3)"]
    assert sev.line == 8


def test_missing_sections_are_named(tmp_path, directory):
    path = write(tmp_path, "top: branch_gm\nseverities: [1]\n" + LADDER)
    [issue] = errors_of(path, directory)
    assert issue.message == "missing required key 'entry'"


def test_entry_must_be_on_the_graph(tmp_path, directory):
    path = write(tmp_path, HEAD.replace("entry: duty_officer", "entry: cs_specialist")
                 + LADDER)
    [issue] = errors_of(path, directory)
    assert issue.message == "'cs_specialist' is not on any edge" and issue.line == 1


# ---- the pre-flight check on crafted broken graphs -----------------------------------------

def checked(tmp_path, directory, text: str, staff=None):
    graph = load_escalation(write(tmp_path, text), directory)
    return check(graph, directory, staff)


def test_a_loop_that_never_reaches_a_decision_maker(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + LADDER + more("""\
          - {from: duty_officer, to: security, wait: 2}
          - {from: security, to: cs_specialist, wait: 5, repeat: 3}
          - {from: cs_specialist, to: security, wait: 5}
        """))
    [loop] = report.find("never reaches a decision-maker")
    assert loop.severity == "error"
    assert loop.message.startswith("loop security → cs_specialist → security") or \
        loop.message.startswith("loop cs_specialist → security → cs_specialist")
    assert loop.line in (9, 10)
    assert not report.ok
    assert report.find("escalation stops at 'security'")


def test_a_loop_without_a_repeat_limit(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + LADDER + more("""\
          - {from: branch_gm, to: cs_supervisor, wait: 15}
        """))
    [loop] = report.find("has no repeat limit")
    assert loop.severity == "error" and loop.line == 8
    assert loop.hint == "add 'repeat: N' to one of its edges"
    assert not report.find("never reaches a decision-maker")


def test_unreachable_roles_and_dead_ends(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + LADDER + more("""\
          - {from: electrician, to: project_manager, wait: 5}
          - {from: duty_officer, to: cleaning, wait: 5}
        """))
    [unreachable] = report.find("'electrician' cannot be reached from the entry point")
    assert unreachable.severity == "warning" and unreachable.line == 8
    [dead] = report.find("escalation stops at 'cleaning'")
    assert dead.severity == "warning" and dead.line == 9
    assert report.ok  # warnings only


def test_the_top_unreachable_is_an_error(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + block("""\
        edges:
          - {from: duty_officer, to: cs_supervisor, wait: 5}
          - {from: cs_supervisor, to: project_manager, wait: 10}
          - {from: branch_gm, to: project_manager, wait: 10}
        """))
    [top] = report.find("the top 'branch_gm' cannot be reached")
    assert top.severity == "error" and top.line == 2


def test_a_severity_that_never_reaches_the_top(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + block("""\
        edges:
          - {from: duty_officer, to: cs_supervisor, wait: 5}
          - {from: cs_supervisor, to: branch_gm, wait: 10, when: {severity: [1, 2]}}
        """))
    [never] = report.find("severity 3 never pages 'branch_gm'")
    assert never.severity == "warning"
    reach = {r.severity: r.best for r in report.reach}
    assert reach == {1: 15, 2: 15, 3: None}


def _edited_contacts(tmp_path: Path, old: str, new: str) -> Path:
    target = tmp_path / "contacts"
    shutil.copytree(CONTACTS, target)
    staff = target / "staff.yaml"
    text = staff.read_text(encoding="utf-8")
    assert old in text
    staff.write_text(text.replace(old, new), encoding="utf-8")
    return target


def test_rota_gaps_without_a_fallback_and_their_effect_on_the_time(tmp_path):
    contacts = _edited_contacts(
        tmp_path, "    level: 1\n    fallback: song.hui\n", "    level: 1\n")
    directory = load_directory(contacts)
    staff = parse_file(contacts / "staff.yaml")
    report = checked(tmp_path, directory, HEAD + LADDER, staff)
    [gap] = report.find("'cs_supervisor' has nobody rostered")
    assert gap.severity == "warning"
    assert "18:00-09:00 daily (105 h/week)" in gap.message
    assert gap.path == "rota.cs_supervisor" and gap.file.endswith("staff.yaml")
    assert gap.line is not None and gap.line > line_of(contacts / "staff.yaml", "rota:")
    # at night the empty step is skipped at once: the GM is paged 10 minutes sooner
    [r2] = [r for r in report.reach if r.severity == 2]
    assert (r2.best, r2.worst) == (20, 30)
    assert report.ok


def test_a_person_with_no_paging_channel_on_the_path(tmp_path):
    contacts = _edited_contacts(
        tmp_path, "    phone: 150 1383 1903\n    email: deng.jianhua@lakeside-pm.cn\n"
        "    chat: DengJianhua\n", "    email: deng.jianhua@lakeside-pm.cn\n")
    directory = load_directory(contacts)
    staff = parse_file(contacts / "staff.yaml")
    report = checked(tmp_path, directory, HEAD + LADDER, staff)
    [issue] = report.find("has no chat or sms to be paged on")
    assert issue.severity == "error"
    assert issue.message.startswith("deng.jianhua (邓建华) is on the escalation path (branch_gm)")
    assert issue.file.endswith("staff.yaml")
    assert issue.line == line_of(contacts / "staff.yaml", "  deng.jianhua:")
    assert not report.ok
    # nobody can be paged as GM, so the time to reach the GM is "never"
    assert all(r.best is None for r in report.reach)


def test_a_self_loop_repeats_before_moving_on(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + LADDER + more("""\
          - {from: duty_officer, to: duty_officer, wait: 2, repeat: 2}
        """))
    assert report.ok
    assert {r.severity: r.best for r in report.reach} == {1: 34, 2: 34, 3: 34}


def test_time_of_day_and_type_conditions(tmp_path, directory):
    report = checked(tmp_path, directory, HEAD + LADDER + more("""\
          - from: duty_officer
            to: branch_gm
            wait: 1
            when: {types: [fire], hours: '22:00-06:00', days: mon-fri}
        """))
    [r] = [r for r in report.reach if r.severity == 2]
    assert (r.best, r.worst) == (1, 30)
    assert r.best_at is not None and r.best_at[1] == "fire"
    hour = r.best_at[0]
    assert hour % 24 >= 22 or hour % 24 < 6


def test_renderings(directory):
    graph = load_escalation(CONTACTS / "escalation.yaml", directory)
    esc = Escalation(graph, directory)
    at = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    mermaid = render_mermaid(esc, 2, None, at)
    assert mermaid.startswith("flowchart TD\n")
    assert 'duty_officer -->|"5m"| security_supervisor' in mermaid
    assert 'duty_officer -->|"5m"| duty_manager' in mermaid
    assert "severity 1" not in mermaid  # filtered to severity 2
    assert "Chen Jie, Liu Yang" in mermaid
    dot = render_dot(esc, None, None, at)
    assert dot.startswith("digraph escalation {")
    assert '"duty_officer" -> "branch_gm" [label="0m · severity 1"];' in dot
    text = render_text(esc, 2, "fire", at)
    assert text[0].startswith("Escalation for severity 2, type fire, starting Mon")
    assert any("T+30m" in line and "branch_gm" in line for line in text)
