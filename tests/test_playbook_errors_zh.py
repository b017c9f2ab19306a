"""Playbook and drill findings and refusals read in the reader's language: real broken
files run through the command line with `--lang zh`, each finding with its file:line,
no English word beyond the ids the reader wrote; the same findings in English without."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_chinese_reader import _english
from test_drill import BAD

from incident.cli import main
from incident.drill import load_scenario_text
from incident.errors import ValidationFailed
from incident.playbook import load_playbook_text

REPO = Path(__file__).resolve().parent.parent

#: A finding as a face prints it: file:line[:col]: word: [field path: ]message
FINDING = re.compile(r"^(?P<file>[\w./-]+\.yaml):(?P<line>\d+)(?::\d+)?: (?P<word>\S+): "
                     r"(?:(?P<path>[\w.\[\]]+): )?(?P<said>.*)$")


def _env(tmp_path: Path, playbooks: Path) -> dict[str, str]:
    return {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}",
            "INCIDENT_PLAYBOOKS_DIR": str(playbooks),
            "INCIDENT_CONTACTS_DIR": str(REPO / "contacts"),
            "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line(path: Path, mark: str) -> int:
    """The line `mark` is written on (its first occurrence)."""
    text = path.read_text(encoding="utf-8")
    return text[:text.index(mark)].count("\n") + 1


def _findings(output: str) -> list[re.Match]:
    return [m for m in map(FINDING.match, output.splitlines()) if m]


def _said(found: list[re.Match]) -> str:
    """What the findings say, without the file:line and field path frame."""
    return "\n".join(m["said"] for m in found)


@pytest.fixture
def broken(tmp_path):
    """Playbooks with cross-reference mistakes (fire.yaml) and a value our own validator
    refuses (gas_leak.yaml), with the lines they were written on."""
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO / "playbooks", playbooks)
    fire, gas = playbooks / "fire.yaml", playbooks / "gas_leak.yaml"
    edits = {  # what is wrong: (was, now, where the finding points)
        "role": ("assignee: duty_officer", "assignee: duty_oficer", "duty_oficer"),
        "met_by": ("met_by: call_119", "met_by: call_911", "call_911"),
        "delivered": ("met_by: confirm_alarm\n", "met_by: confirm_alarm\n    delivered: 90%\n",
                      "delivered: 90%"),
        "severity": ("            severity: 2\n", "            severity: 7\n", "severity: 7"),
        "kind": ("      - id: call_119\n        kind: check",
                 "      - id: call_119\n        kind: notify", "kind: notify"),
    }
    for old, new, _mark in edits.values():
        _edit(fire, old, new)
    lines = {key: _line(fire, mark) for key, (_old, _new, mark) in edits.items()}
    gas_text = gas.read_text(encoding="utf-8")
    target = re.search(r"^  - id: \w+\n", gas_text[gas_text.index("\ntargets:"):], re.M)
    assert target is not None
    _edit(gas, target.group(0), target.group(0) + "    delivered: 150%\n")
    lines["share"] = _line(gas, "delivered: 150%")
    return tmp_path, playbooks, lines


def test_broken_playbooks_read_in_chinese_with_file_and_line(broken):
    tmp_path, playbooks, lines = broken
    res = CliRunner().invoke(main, ["--lang", "zh", "playbooks"], env=_env(tmp_path, playbooks))
    assert res.exit_code == 1, res.output
    found = _findings(res.output)
    where = {(m["file"].rsplit("/", 1)[-1], int(m["line"])) for m in found}
    for key in ("role", "met_by", "delivered", "severity", "kind"):
        assert ("fire.yaml", lines[key]) in where, (key, res.output)
    assert ("gas_leak.yaml", lines["share"]) in where, res.output
    said = _said(found)
    assert "未知角色“duty_oficer” —— 是否想输入“duty_officer”？" in said
    assert "未知步骤“call_911” —— 是否想输入“call_119”？" in said
    assert "`delivered` 只适用于由通知步骤达成的时间目标，而“confirm_alarm”不是通知步骤" in said
    assert "级别 7 不是本预案的级别 —— 请用以下之一：" in said
    assert "通知步骤需要 `notify` —— 在步骤“call_119”中加上 `notify:`" in said
    assert "“150%”不是介于 0%（不含）与 100% 之间的比例" in said
    assert all(m["word"] == "错误" for m in found)
    assert "处错误——未做任何更改" in res.output
    ids = frozenset({"duty_oficer", "duty_officer", "call_911", "call_119", "confirm_alarm"})
    assert _english(said, ids) == []


def test_the_same_findings_in_english_without_lang(broken):
    tmp_path, playbooks, _lines = broken
    res = CliRunner().invoke(main, ["playbooks"], env=_env(tmp_path, playbooks))
    assert res.exit_code == 1, res.output
    said = _said(_findings(res.output))
    assert "unknown role 'duty_oficer' — did you mean 'duty_officer'?" in said
    assert "unknown step 'call_911' — did you mean 'call_119'?" in said
    assert ("'delivered' only applies to a target met by a notify step, and 'confirm_alarm' "
            "is not one — remove 'delivered', or set met_by to a notify step") in said
    assert "severity 7 is not a level of this playbook — use one of " in said
    assert "a notify step needs 'notify' — add 'notify:' to step 'call_119'" in said
    assert "'150%' is not a share between 0% (excluded) and 100%" in said


def test_template_limits_and_model_checks_tell_each_language():
    """A template that would fail at send time, and a duration that is not one, found at
    load and told in each language."""
    text = (REPO / "playbooks" / "fire.yaml").read_text(encoding="utf-8")
    old = "                Fire confirmed at {{ location }} ({{ time }})."
    assert old in text
    bad = text.replace(old, "                Fire confirmed {{ 1 // 0 }}.", 1)
    with pytest.raises(ValidationFailed) as exc:
        load_playbook_text(bad, "fire.yaml")
    issue = next(i for i in exc.value.issues if "division by zero" in i.message)
    assert issue.message == "the template goes past a limit (sample values): division by zero " \
                            "('// 0')"
    zh = issue.format("zh")
    assert "模板超出限制（使用示例值）：除以零（“// 0”） —— 消息须总能生成" in zh
    assert _english(zh.split(": ", 3)[-1]) == []
    with pytest.raises(ValidationFailed) as exc:
        load_playbook_text(text.replace("due: 3m\n", "due: [3m]\n", 1), "fire.yaml")
    zh = "\n".join(i.format("zh") for i in exc.value.issues)
    assert "fire.yaml:174" in zh and "应为时长，如 `90s`、`5m` 或 `1h30m`" in zh, zh
    assert "a duration like '90s', '5m' or '1h30m' is expected" in exc.value.issues[0].message


# ---- drills ---------------------------------------------------------------------------------

BAD_DRILL = BAD.replace("tmie: 3\n", "")  # test_drill's broken scenario, no typo key


def test_a_broken_drill_scenario_reads_in_chinese(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_DRILL, encoding="utf-8")
    env = _env(tmp_path, REPO / "playbooks")
    res = CliRunner().invoke(main, ["--lang", "zh", "drill", "run", str(bad), "--auto"], env=env)
    assert res.exit_code == 1, res.output
    found = _findings(res.output)
    by_line = {int(m["line"]): m["said"] for m in found}
    assert by_line[7] == "未知人员“chen.jei” —— 是否想输入“chen.jie”？"
    assert by_line[9].startswith("未知角色“cs_specialst” —— 是否想输入“cs_specialist”？")
    assert by_line[14] == "未知渠道“smss” —— 是否想输入“sms”？"
    assert by_line[18] == "预案“fire”中没有步骤“call_911” —— 是否想输入“call_119”？"
    assert by_line[22].startswith("预案“fire”中没有时间目标“evacuation_broadcst”")
    assert "步骤“confirm_alarm”没有选项“real_fir” —— 是否想输入“real_fire”？" in _said(found)
    assert "步骤“head_count”记录的是数字；“lots”不是数字" in _said(found)
    ids = frozenset({"chen.jei", "chen.jie", "cs_specialst", "cs_specialist", "smss", "sms",
                     "fire", "call_911", "call_119", "evacuation_broadcst",
                     "evacuation_broadcast", "confirm_alarm", "real_fir", "real_fire",
                     "head_count", "lots"})
    assert _english(_said(found), ids) == []
    english = CliRunner().invoke(main, ["drill", "run", str(bad), "--auto"], env=env).output
    assert "unknown person 'chen.jei' — did you mean 'chen.jie'?" in english
    assert "step 'head_count' records a number; 'lots' is not one" in english


def test_a_scenario_model_check_reads_in_chinese():
    """The scenario's own validators (pydantic) are told from the catalogue too."""
    text = (REPO / "playbooks" / "drills" / "b3_fire_evacuation.yaml").read_text(encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_scenario_text(text.replace("    target: alarm_confirmed\n", "    within: 3m\n", 1),
                           "scenario.yaml")
    issue = exc.value.issues[0]
    assert "exactly one of 'step' or 'target'" in issue.message
    zh = issue.format("zh")
    assert "演练目标须在 `step` 与 `target` 中恰好写一个" in zh
    assert re.match(r"scenario\.yaml:\d+", zh)


def test_drill_refusals_read_in_chinese(tmp_path):
    env = _env(tmp_path, REPO / "playbooks")
    runner = CliRunner()
    res = runner.invoke(main, ["--as", "han.xue", "drill", "elevator_rescue", "--auto"], env=env)
    assert res.exit_code == 0, res.output
    iid = res.output.splitlines()[0]
    res = runner.invoke(main, ["--lang", "zh", "--as", "han.xue", "drill", "rate", iid,
                               "technician_on_site", "M"], env=env)
    assert res.exit_code == 1
    said = res.output.strip()
    assert said.startswith("操作被拒绝："), said
    assert "不是场景“elevator_rescue”的评估员——评估员为 tang.wei" in said
    assert _english(said, frozenset({"elevator_rescue", "tang.wei", "han.xue"})) == []
    res = runner.invoke(main, ["--lang", "zh", "--as", "tang.wei", "drill", "rate", iid,
                               "technician_on_sit", "M"], env=env)
    assert res.exit_code == 1
    assert ("场景“elevator_rescue”中没有演练目标“technician_on_sit”——是否想输入"
            "“technician_on_site”？") in res.output, res.output
    res = runner.invoke(main, ["--lang", "zh", "--as", "tang.wei", "drill", "plan-status", iid,
                               "IP7", "done"], env=env)
    assert res.exit_code == 1 and f"{iid} 中没有改进计划项“IP7”——" in res.output, res.output
    res = runner.invoke(main, ["--lang", "zh", "--as", "tang.wei", "drill", "plan", iid,
                               "--issue", "x", "--action", "y", "--owner", "song.hui",
                               "--due", "31/03/2026"], env=env)
    assert res.exit_code == 1
    assert "截止日期“31/03/2026”无效——请写成 `YYYY-MM-DD`" in res.output
    # and in English without --lang, as before
    res = runner.invoke(main, ["--as", "tang.wei", "drill", "plan", iid, "--issue", "x",
                               "--action", "y", "--owner", "song.hui", "--due", "31/03/2026"],
                        env=env)
    assert "due date '31/03/2026' — write it as YYYY-MM-DD" in res.output


def test_an_unknown_playbook_is_refused_in_chinese(tmp_path):
    env = _env(tmp_path, REPO / "playbooks")
    res = CliRunner().invoke(main, ["--lang", "zh", "--as", "chen.jie", "start", "fier", "--at",
                                    "B3-1201"], env=env)
    assert res.exit_code == 1
    assert "未知预案“fier”——是否想输入“fire”？" in res.output, res.output
    res = CliRunner().invoke(main, ["--as", "chen.jie", "start", "fier", "--at", "B3-1201"], env=env)
    assert "unknown playbook 'fier' — did you mean 'fire'?" in res.output, res.output
