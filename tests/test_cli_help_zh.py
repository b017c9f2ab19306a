"""`incident --help`, every command's help and click's usage errors in the reader's
language (issue 16, one vocabulary).

A Chinese reader (`--lang zh`, INCIDENT_LANG=zh or `lang = "zh"` in incident.toml)
reads the usage line, the help text, the option and command lists and the errors in
Chinese: the only Latin left is what they type (command and option names, choice
values, `commands`, file names, acronyms). An English reader reads what the code says.
The catalogue holds both (clihelp.*), and a walk of the click tree fails when a
command or option has no entry in either language.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from test_catalogue import _latin_words, tool
from tools_loader import load_tool

from incident.cli import main
from incident.clihelp import command_help, option_help

clihelp_tool = load_tool("clihelp")
PATHS = [path for path, _ in clihelp_tool.walk(main)]


def _typed() -> frozenset[str]:
    """What a reader types, so it stays Latin: command names and choice values."""
    words = set()
    for path, cmd in clihelp_tool.walk(main):
        words.update(path)
        for p in cmd.params:
            if isinstance(p.type, click.Choice):
                words.update(str(c) for c in p.type.choices)
    return frozenset(words)


TYPED = _typed()


def _english(text: str) -> list[str]:
    """Latin words a Chinese reader would not type (the catalogue's own rule, plus the
    command names and choice values of the tree)."""
    text = re.sub(r"\[[\w|-]+\]", " ", text)  # a choice: [text|json]
    return [w for w in _latin_words(text) if w not in TYPED]


def _run(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), prog_name="incident",
                              env={"INCIDENT_LANG": "", **(env or {})})


# ------------------------------------------------------------------ the catalogue
def _catalogue(locale: str) -> dict[str, str]:
    return {m.id: m.string for m in tool.load(locale) if m.id and isinstance(m.id, str)}


def test_every_command_and_option_has_english_and_chinese() -> None:
    """Walks the click tree: each command's help, each option's help and each argument's
    name has an entry in both catalogues, and the English one says what the code says."""
    en, zh = _catalogue("en"), _catalogue("zh_CN")
    wanted = clihelp_tool.entries(main)
    missing = [f"{k} [{loc}]" for k in wanted for loc, cat in (("en", en), ("zh_CN", zh))
               if not cat.get(k)]
    assert missing == [], ("no catalogue entry (python tools/clihelp.py missing lists them "
                           "as a table to import): " + ", ".join(missing))
    stale_english = [k for k, text in wanted.items() if en[k] != text]
    assert stale_english == [], f"English differs from the code: {stale_english}"
    for path, cmd in clihelp_tool.walk(main):  # what the help screens really look up
        assert command_help(cmd, path, "en") == inspect.cleandoc(cmd.help or "")
        assert command_help(cmd, path, "zh") != command_help(cmd, path, "en"), path
        for opt in cmd.params:
            if isinstance(opt, click.Option) and opt.help:
                assert option_help(opt, path, "en") == opt.help, (path, opt.name)
                assert _latin_words(option_help(opt, path, "zh")) == [], (path, opt.name)


# ------------------------------------------------------------------ Chinese reader
def test_root_help_in_chinese() -> None:
    result = _run("--lang", "zh", "--help")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("用法：incident [选项] 命令 [参数]...")
    assert "面向物业项目的应急响应与事件协同。" in out
    assert "选项：" in out and "命令：" in out
    assert "显示本帮助并退出。" in out and "输出语言" in out
    assert re.search(r"^  status +事件的任务线、步骤、时间目标和计时$", out, re.M)
    assert _english(out) == []


def test_status_help_in_chinese() -> None:
    out = _run("--lang", "zh", "status", "--help").output
    assert out.startswith("用法：incident status [选项] 事件编号\n")
    assert "事件的任务线、步骤、时间目标和计时。" in out
    assert "以谁的身份操作（员工编号）" in out
    assert _english(out) == []


@pytest.mark.parametrize("group", [["notify"], ["drill"], ["escalation"], ["staff"]])
def test_a_command_group_in_chinese(group: list[str]) -> None:
    out = _run("--lang", "zh", *group, "--help").output
    assert "命令：" in out and "用法：incident " + " ".join(group) + " [选项] 命令" in out
    assert _english(out) == []


def test_every_help_screen_reads_in_chinese() -> None:
    leaks = {}
    for path in PATHS:
        result = _run("--lang", "zh", *path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "用法：" in result.output
        if words := _english(result.output):
            leaks[" ".join(path)] = words
    assert leaks == {}


def test_chinese_wraps_by_terminal_columns() -> None:
    """A Chinese character takes two columns: no line of help runs past the width."""
    for path in (["start"], ["service"], ["report"], ["act"], []):
        for line in _run("--lang", "zh", *path, "--help").output.splitlines():
            cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            assert cols <= 80 or line.lstrip().startswith("--log-level"), (path, line)


@pytest.mark.parametrize(("args", "want"), [
    (["status", "--bogus"], "错误：没有选项 '--bogus'。"),
    (["status"], "错误：缺少参数“事件编号”。"),
    (["bogus"], "错误：没有命令 'bogus'。"),
    (["statu"], "您是不是要用其中之一：'staff', 'start', 'status'？"),
    (["list", "--format", "x"], "错误：'--format' 的取值无效：'x' 不是可选值"),
    (["status", "a", "b"], "错误：多出了一个参数（b）"),
    (["start", "fire", "--at"], "错误：选项 '--at' 需要一个值。"),
])
def test_usage_errors_in_chinese(args: list[str], want: str) -> None:
    result = _run("--lang", "zh", *args)
    assert result.exit_code == 2
    assert want in result.output
    if args[-1] != "--at":  # click names no command for a value missing at the end
        assert "用法：incident" in result.output and "查看帮助。" in result.output
    assert _english(result.output.replace("'x'", "").replace("'bogus'", "")
                    .replace("'statu'", "")) == []


def test_the_settings_language_reads_help_too(tmp_path: Path, monkeypatch) -> None:
    """No --lang: INCIDENT_LANG, else `lang` in incident.toml, as every other command."""
    assert "用法：" in _run("status", "--help", env={"INCIDENT_LANG": "zh"}).output
    assert "错误：没有选项" in _run("status", "-x", env={"INCIDENT_LANG": "zh"}).output
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incident.toml").write_text('lang = "zh"\n', encoding="utf-8")
    assert "事件的任务线" in _run("status", "--help").output
    # --lang wins over the settings
    assert _run("--lang", "en", "status", "--help").output.startswith("Usage: incident")


# ------------------------------------------------------------------ English reader
def test_english_help_says_what_it_said() -> None:
    out = _run("--help").output
    assert out.startswith("Usage: incident [OPTIONS] COMMAND [ARGS]...\n")
    assert "Emergency response and incident coordination for managed estates." in out
    assert "\nOptions:\n" in out and "\nCommands:\n" in out
    assert "-h, --help                      Show this message and exit." in out
    assert "--lang [en|zh]                  language for output" in out
    status = _run("status", "--help").output
    assert status.startswith("Usage: incident status [OPTIONS] INCIDENT_ID\n")
    assert "--as TEXT             the acting person (staff id)" in status
    err = _run("status", "--bogus")
    assert err.exit_code == 2
    assert err.output.endswith("Try 'incident status --help' for help.\n\n"
                               "Error: No such option '--bogus'.\n")
    assert "Error: Missing argument 'INCIDENT_ID'." in _run("status").output
    assert ("Error: Invalid value for '--format': 'x' is not one of 'text', 'json'."
            in _run("list", "--format", "x").output)


def test_a_group_without_its_command_shows_its_help_in_chinese() -> None:
    out = _run("--lang", "zh", "notify").output
    assert out.startswith("用法：incident notify [选项] 命令 [参数]...")
    assert "通知渠道：检查、测试、预览和发送。" in out and "错误" not in out
    assert _english(out) == []
