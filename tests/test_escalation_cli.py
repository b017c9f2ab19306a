"""The escalation verbs of the `incident` command, through click's runner."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from incident.cli import main

REPO = Path(__file__).resolve().parent.parent
CONTACTS = REPO / "contacts"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_check_of_the_shipped_graph_exits_zero():
    result = invoke("--contacts", str(CONTACTS), "escalation", "check")
    assert result.exit_code == 0, result.output
    assert "severity 1: best 0m, worst 0m (at every hour)" in result.output
    assert "staff.yaml:" in result.output and "rests on one person" in result.output
    assert "is the fallback for 105 hours a week" in result.output
    assert result.output.rstrip().endswith("ok (6 warning(s))")


def test_check_exits_one_on_errors_naming_file_and_line(tmp_path):
    contacts = tmp_path / "contacts"
    shutil.copytree(CONTACTS, contacts)
    path = contacts / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    to: [project_manager, service_manager]",
        "    to: [project_manager, service_manger]"), encoding="utf-8")
    result = invoke("--contacts", str(contacts), "escalation", "check")
    assert result.exit_code == 1
    assert "escalation.yaml:42:27: error: edges[2].to[1]: " in result.output
    assert "unknown role or person 'service_manger' — did you mean 'service_manager'?" \
        in result.output


def test_check_exits_one_on_a_loop_without_a_limit(tmp_path):
    contacts = tmp_path / "contacts"
    shutil.copytree(CONTACTS, contacts)
    path = contacts / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    repeat: 2\n", ""),
                    encoding="utf-8")
    result = invoke("--contacts", str(contacts), "escalation", "check")
    assert result.exit_code == 1
    assert "error: edges[10]: loop" in result.output and "no repeat limit" in result.output


def test_show_in_each_format():
    text = invoke("--contacts", str(CONTACTS), "escalation", "show", "--severity", "2",
                  "--at", "mon 11:00")
    assert text.exit_code == 0, text.output
    # control-room alarms: the security supervisor and the duty manager after 5 minutes,
    # the customer-service desk at once
    assert "T+5m     page  security_supervisor" in text.output
    assert "T+5m     page  duty_manager" in text.output
    assert "T+0m     page  cs_specialist" in text.output
    assert "Qian Yong (qian.yong)" in text.output
    mermaid = invoke("--contacts", str(CONTACTS), "escalation", "show", "--format", "mermaid")
    assert mermaid.output.startswith("flowchart TD")
    dot = invoke("--contacts", str(CONTACTS), "escalation", "show", "--format", "dot",
                 "--severity", "1")
    assert dot.output.startswith("digraph escalation {")
    bad = invoke("--contacts", str(CONTACTS), "escalation", "show", "--at", "25:00")
    assert bad.exit_code == 2


def test_start_escalate_ack_from_the_command_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    base = ("--db", db, "--contacts", str(CONTACTS), "--playbooks", str(REPO / "playbooks"))
    assert invoke(*base, "db", "upgrade").exit_code == 0
    started = invoke(*base, "--as", "chen.jie", "start", "fire", "--at", "B3-1201",
                     "--severity", "2")
    assert started.exit_code == 0, started.output
    iid = started.output.strip()
    pages = invoke(*base, "escalation", "pages", iid)
    assert "P1" in pages.output and "duty_officer" in pages.output
    assert "next:" in pages.output
    wrong = invoke(*base, "--as", "chen.jie", "escalate", iid, "--to", "brach_gm",
                   "--reason", "smoke")
    assert wrong.exit_code == 1 and "did you mean 'branch_gm'?" in wrong.output
    esc = invoke(*base, "--as", "chen.jie", "escalate", iid, "--to", "branch_gm",
                 "--reason", "smoke in the stairwell")
    assert esc.exit_code == 0, esc.output
    # P1 the duty officers, P2 the customer-service desk, P3 the fire-safety manager
    assert "paged branch_gm (P4): deng.jianhua" in esc.output
    ack = invoke(*base, "ack", iid, "--as", "deng.jianhua")
    assert ack.exit_code == 0 and "acknowledged by deng.jianhua (P4)" in ack.output
    others = invoke(*base, "ack", iid, "--as", "deng.jianhua", "--all")
    assert others.exit_code == 1 and "only the incident's commander" in others.output
    owner = invoke(*base, "ack", iid, "--as", "chen.jie", "--all")
    assert owner.exit_code == 0 and "acknowledged by chen.jie (P1, P2, P3)" in owner.output
    again = invoke(*base, "ack", iid, "--as", "deng.jianhua")
    assert again.exit_code == 1 and "already acknowledged by Deng Jianhua (deng.jianhua)" in again.output
    log = invoke(*base, "log", iid)
    assert "Chen Jie escalated to Branch general manager: smoke in the stairwell" in log.output
    assert "Deng Jianhua acknowledged page P4" in log.output


def _broken_ladder(tmp_path: Path) -> Path:
    contacts = tmp_path / "contacts"
    shutil.copytree(CONTACTS, contacts)
    path = contacts / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    to: [project_manager, service_manager]",
        "    to: [project_manager, service_manger]"), encoding="utf-8")
    return contacts


def test_a_broken_ladder_stops_validate_and_every_command_with_file_line_field(
        tmp_path, monkeypatch):
    """Not a log line saying escalation is off while incidents run without it: the same
    file:line:field error as a broken playbook, and exit 1."""
    contacts = _broken_ladder(tmp_path)
    monkeypatch.setenv("INCIDENT_USER", "chen.jie")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    where = "escalation.yaml:42:27: error: edges[2].to[1]: unknown role or person " \
            "'service_manger'"
    checked = CliRunner().invoke(main, ["--contacts", str(contacts), "validate"])
    assert checked.exit_code == 1
    assert where in checked.output
    db = f"sqlite:///{tmp_path / 'x.db'}"
    started = CliRunner().invoke(main, ["--db", db, "--contacts", str(contacts),
                                        "start", "fire", "--at", "B3-1201"])
    assert started.exit_code == 1
    assert where in started.output and "nothing was changed" in started.output
    assert "Traceback" not in started.output
