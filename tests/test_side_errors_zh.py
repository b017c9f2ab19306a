"""Refusals and findings of the side packages read in Chinese (escalation, notify,
inbound, identity, credentials), the way a Chinese duty officer meets them: through the
`incident` command with `--lang zh`, on real files and a real incident.

Every run of Latin letters left must be something the reader types or reads back: a
file name, a field path, an id (step, role, staff login, incident, page), a placeholder
written in the file, or a `command`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_chinese_reader import _english

from incident.cli import main
from incident.errors import Refused, ValidationFailed

REPO = Path(__file__).resolve().parent.parent
CONTACTS = REPO / "contacts"
IDS = frozenset({"service_manger", "service_manager", "notify_residnts", "notify_building",
                 "branch_gm", "brach_gm", "chen.jie", "liu.yang", "deng.jianhua", "xie.yu",
                 "cao.zhiyong", "lin.fang", "he.jing", "guo.yan", "duty_officer", "fire",
                 "mobile", "phone", "NAME"})


def _latin(text: str, ids: frozenset[str] = IDS) -> list[str]:
    """English words in `text`, once ids, placeholders and `commands` are set aside."""
    text = re.sub(r"\$?\{[^{}]*\}", " ", text)  # {phone}, ${NAME}: written in the file
    text = re.sub(r"(?<![\w-])--[a-z][\w-]*", " ", text)  # an option to type: --all
    text = re.sub(r"\b[A-Z][A-Z0-9]+\b", " ", text)  # an acronym: PIN, TLS
    return _english(text, ids)


def _findings(output: str) -> list[str]:
    return [line for line in output.splitlines() if ": 错误: " in line or ": 警告: " in line]


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The shipped contacts with a misspelt role, a zero reminder interval and an SMS
    URL that names the recipient with a placeholder that does not exist."""
    contacts = tmp_path / "contacts"
    shutil.copytree(CONTACTS, contacts)
    esc = contacts / "escalation.yaml"
    text = esc.read_text(encoding="utf-8")
    assert "    to: [project_manager, service_manager]" in text and "reminder_interval: 5" in text
    esc.write_text(text.replace("    to: [project_manager, service_manager]",
                                "    to: [project_manager, service_manger]")
                   .replace("reminder_interval: 5", "reminder_interval: 0"), encoding="utf-8")
    chans = contacts / "channels.yaml"
    text = chans.read_text(encoding="utf-8")
    assert 'url: "sink://sms/{phone}"' in text
    chans.write_text(text.replace('url: "sink://sms/{phone}"', 'url: "sink://sms/{mobile}"'),
                     encoding="utf-8")
    return contacts


def test_validate_in_chinese_names_file_line_and_fix_without_english(broken, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = CliRunner().invoke(main, ["--lang", "zh", "--contacts", str(broken), "validate"])
    assert result.exit_code == 1, result.output
    found = _findings(result.output)
    assert len(found) == 3, result.output
    by_file = {f.split(": ", 1)[0].rsplit("/", 1)[-1]: f for f in found}
    assert by_file["escalation.yaml:42:27"].endswith(
        "错误: edges[2].to[1]: 未知的角色或人员“service_manger” —— 是否想输入“service_manager”？")
    assert by_file["escalation.yaml:87:1"].endswith(
        "错误: reminder_interval: 提醒间隔必须大于零 —— 以分钟数（`5`）或时长（`90s`）填写")
    sms = by_file["channels.yaml:32:5"]
    assert "channels.sms.url: 未知的占位符“{mobile}”" in sms
    assert "短信渠道用 {phone} 表示收件人" in sms
    for line in found:
        where, said = line.split(": 错误: ", 1)
        assert re.fullmatch(r".+\.yaml:\d+:\d+", where), line  # file:line:column
        field, _, message = said.partition(": ")
        assert re.fullmatch(r"[\w.\[\]]+", field) and _latin(message) == [], line
    # the same findings in English keep their wording
    english = CliRunner().invoke(main, ["--contacts", str(broken), "validate"])
    assert "escalation.yaml:42:27: error: edges[2].to[1]: unknown role or person " \
           "'service_manger' — did you mean 'service_manager'?" in english.output
    assert "unknown placeholder '{mobile}' — a sms channel names the recipient as {phone}; " \
           "secrets are ${NAME}" in english.output


def test_escalation_check_reads_in_chinese():
    result = CliRunner().invoke(main, ["--lang", "zh", "--contacts", str(CONTACTS),
                                       "escalation", "check"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "级别 1：最快 0m，最慢 0m（每个小时都一样）" in out
    assert "cs_supervisor      每周 105 小时：18:00-09:00 每天 → 由后备人员宋慧（song.hui）顶替" \
        in out
    assert "宋慧（song.hui）每周有 105 小时担任后备（cs_supervisor；超过 max_fallback_hours 40）" \
        in out
    assert out.rstrip().endswith("通过（6 个警告）")
    ids = IDS | {"contacts/escalation.yaml", "contacts/staff.yaml", "song.hui", "han.xue",
                 "zhou.min", "feng.guoqiang", "project_manager", "fire_safety_lead",
                 "branch_cs_manager", "duty_manager", "cs_supervisor", "cs_specialist",
                 "roles.project_manager", "roles.branch_gm", "roles.fire_safety_lead",
                 "roles.service_manager", "roles.branch_cs_manager", "people.song.hui",
                 "max_fallback_hours"}
    assert not [w for line in out.splitlines() for w in _latin(line) if w not in ids]


# ------------------------------------------------------------------ refusals, for real
@pytest.fixture
def fire(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    # a weekday morning: the day shift (chen.jie, liu.yang) is on duty and gets P1
    monkeypatch.setenv("INCIDENT_CLOCK", "fixed:2026-12-01T10:00:00+08:00")
    base = ["--db", f"sqlite:///{tmp_path / 'zh.db'}", "--contacts", str(CONTACTS),
            "--playbooks", str(REPO / "playbooks")]

    def run(*args: str):
        return CliRunner().invoke(main, [*base, *args], catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    started = run("--as", "chen.jie", "start", "fire", "--at", "B3-1201", "--severity", "2")
    assert started.exit_code == 0, started.output
    return run, started.output.strip()


def _refusal(result) -> str:
    assert result.exit_code == 1, result.output
    return result.output.strip()


def test_acknowledging_a_page_that_is_not_yours_is_refused_in_chinese(fire):
    run, iid = fire
    said = _refusal(run("--lang", "zh", "ack", iid, "--as", "deng.jianhua", "--page", "P1"))
    assert "呼叫 P1 发给的是陈杰（chen.jie）、刘洋（liu.yang），不是邓建华（deng.jianhua）" \
           "——应由对方确认，或由负责人用 --all 确认" in said
    assert _latin(said) == [], said
    said = _refusal(run("--lang", "zh", "ack", iid, "--as", "deng.jianhua", "--all"))
    assert "只有事件负责人陈杰（chen.jie）可以确认全部呼叫（--all）" in said
    assert _latin(said) == [], said
    said = _refusal(run("--lang", "zh", "ack", iid, "--as", "deng.jianhua"))
    assert f"邓建华（deng.jianhua）在 {iid} 中没有呼叫——待确认：P1（陈杰（chen.jie）、" \
           "刘洋（liu.yang））" in said
    assert _latin(said) == [], said
    # the same refusal for an English reader
    english = run("ack", iid, "--as", "deng.jianhua", "--page", "P1")
    assert "page P1 went to Chen Jie (chen.jie), Liu Yang (liu.yang), not to Deng Jianhua " \
           "(deng.jianhua) — they acknowledge it, or the commander does with --all" \
           in english.output


def test_retry_and_escalation_refusals_read_in_chinese(fire):
    run, iid = fire
    said = _refusal(run("--lang", "zh", "--as", "chen.jie", "notify", "retry", iid,
                        "--step", "notify_residnts"))
    assert f"{iid} 中没有步骤“notify_residnts”——是否想输入“notify_building”？" in said
    assert _latin(said) == [], said
    said = _refusal(run("--lang", "zh", "--as", "chen.jie", "escalate", iid, "--to",
                        "brach_gm", "--reason", "x"))
    assert "未知角色“brach_gm”——是否想输入“branch_gm”？" in said and _latin(said) == []
    said = _refusal(run("--lang", "zh", "--as", "chen.jie", "escalate", iid, "--to",
                        "branch_gm", "--reason", " "))
    assert "请说明升级的原因（原因必填）" in said and _latin(said) == []


def test_identity_credential_and_listener_refusals_told_in_chinese(tmp_path):
    from incident.credentials import CredentialStore, check_strength
    from incident.directory import load_directory
    from incident.identity import staff_id
    from incident.inbound.server import parse_listen

    directory = load_directory(CONTACTS)
    with pytest.raises(Refused) as exc:
        staff_id(directory, "chen.jei")
    assert exc.value.text("zh") == "“chen.jei”不是本单位员工——是否想输入“chen.jie”？"
    assert str(exc.value) == "'chen.jei' is not a member of staff — did you mean 'chen.jie'?"
    with pytest.raises(Refused) as exc:
        staff_id(directory, "", what="confirming person")
    assert exc.value.text("zh").startswith("未给出复核人——请用 `--as STAFF_ID`")
    with pytest.raises(Refused) as exc:
        check_strength("password", "short")
    assert exc.value.text("zh") == "密码至少需要 10 个字符"
    store = CredentialStore(tmp_path / "credentials.json")
    with pytest.raises(Refused) as exc:
        store.require("chen.jie", "1234", "password")
    assert exc.value.text("zh") == ("chen.jie 尚未设置密码——请其用 "
                                    "`incident staff set-password chen.jie` 设置")
    (tmp_path / "credentials.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ValidationFailed) as failed:
        store.has("chen.jie")
    assert failed.value.text("zh").endswith("错误: 凭据文件已损坏 —— "
                                            "请从备份恢复，或删除该文件后让员工重新设置 PIN")
    with pytest.raises(Refused) as exc:
        parse_listen("0.0.0.0:8025")
    said = exc.value.text("zh")
    assert said.startswith("--inbound 0.0.0.0:8025：0.0.0.0 不是本机回环地址") and not _latin(said)


def test_inbound_findings_and_listener_lines_read_in_chinese(tmp_path, monkeypatch):
    """A reply channel that is no channel of channels.yaml, found by `validate`; and the
    line the listener says to staff when a stranger writes in."""
    from incident.config import load_settings
    from incident.inbound.adapters import Message
    from incident.inbound.config import load_inbound
    from incident.inbound.router import Inbox
    from incident.runtime import Runtime

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    contacts = tmp_path / "contacts"
    shutil.copytree(CONTACTS, contacts)
    inbound = contacts / "inbound.yaml"
    original = inbound.read_text(encoding="utf-8")
    inbound.write_text("rate: 3/min\nchannels:\n  wechat:\n    format: generic\n"
                       "    secret: ${TEST_INBOUND_SECRET}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--lang", "zh", "--contacts", str(contacts), "validate"])
    assert result.exit_code == 1
    (line,) = _findings(result.output)
    assert "inbound.yaml:3:3: 错误: channels.wechat: “wechat”不是 channels.yaml 中的渠道" \
           "——回复只从发出呼叫或问询的渠道接收" in line
    message = line.split(": 错误: ")[1].split(": ", 1)[1]
    assert _latin(message, IDS | {"wechat", "chat", "channels.yaml"}) == [], line

    inbound.write_text(original, encoding="utf-8")
    monkeypatch.setenv("TEST_INBOUND_SECRET", "s3cret")
    rt = Runtime(load_settings(database_url=f"sqlite:///{tmp_path / 'in.db'}",
                               playbooks_dir=REPO / "playbooks", contacts_dir=contacts,
                               user="chen.jie", lang="zh"))
    config = load_inbound(contacts)
    channel = next(iter(config.channels))
    said: list[str] = []
    inbox = Inbox(rt, config, say=said.append)
    out = inbox.take(channel, Message("+8613999999999", "1", "p-1"))
    assert out.status == 403 and out.reason.startswith("unknown sender")  # the gateway's
    (line,) = said
    assert line == (f"{channel} 渠道来自 +86139****9999 的回复已拒收（403 unmatched）："
                    "发送人未知：名录中没有人使用这个地址")
