"""The admin verbs of the `incident` command read in Chinese for a Chinese reader.

Each verb runs through click's runner against a real SQLite data folder, the demo
estate and playbooks, with `--lang zh`; what it prints must carry no English words
(tests/test_chinese_reader.py `_english`) beyond identifiers the reader types back
(staff logins, role, step and objective ids, channel configuration) and notation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_chinese_reader import _english

from incident.cli import main
from incident.config import load_settings
from incident.notify import sink
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent


def _ids(tmp_path: Path) -> frozenset[str]:
    """Identifiers a Chinese reader reads back as they are typed."""
    settings = load_settings(playbooks_dir=REPO / "playbooks", contacts_dir=REPO / "contacts",
                             database_url=f"sqlite:///{tmp_path / 'ids.db'}")
    rt = Runtime(settings)
    try:
        d = rt.directory
        ids = {*d.staff, *d.roles, "sms", "email", "chat", "zh", "en", "fire", "UCS-2"}
        for pb in rt.playbooks:
            ids.update((pb.id, pb.type))
            for sid, step in pb.steps().items():
                ids.add(sid)
                ids.update(o.id for o in step.options or [])
    finally:
        rt.close()
    return frozenset(ids)


@pytest.fixture
def zh(tmp_path):
    """Run `incident --lang zh …` in a fresh data folder; returns (run, ids)."""
    sink.configure(tmp_path / "sink.jsonl")
    env = {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "INCIDENT_USER": "chen.jie",
           "INCIDENT_CLOCK": "fixed:2026-12-01T19:50:00+08:00",  # chen.jie on shift
           "INCIDENT_PLAYBOOKS_DIR": str(REPO / "playbooks"),
           "INCIDENT_CONTACTS_DIR": str(REPO / "contacts"),
           "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "credentials.json")}

    def run(*args: str, code: int = 0, lang: str = "zh") -> str:
        r = CliRunner().invoke(main, ["--lang", lang, *args], env=env, catch_exceptions=False)
        assert r.exit_code == code, r.output
        return r.output

    assert "数据库已在版本" in run("db", "upgrade")
    yield run, _ids(tmp_path), tmp_path
    sink.configure(None)


def _words(out: str, ids: frozenset[str], tmp_path: Path) -> list[str]:
    """English words of `out`, once file paths, URLs and time stamps are set aside."""
    out = out.replace(str(tmp_path), "").replace(str(REPO), "")
    out = re.sub(r"\S*(/\S+)+", " ", out)                       # paths and URLs
    out = re.sub(r"\d{4}-\d\d-\d\dT[\d:.+]+", " ", out)         # ISO time stamps
    out = re.sub(r"(?<!\w)--?[a-z][\w-]*", " ", out)             # options: --new
    out = re.sub(r"“[^”]*”", " ", out)                          # what the reader typed
    out = re.sub(r"owner:[\w-]+:\d+|\[[a-z_,]+\]", " ", out)   # owner ids, their care tags
    out = re.sub(r"\b(roles|people|rota|edges|nodes)[\w.\[\]]*", " ", out)  # a finding's field
    return _english(out, ids | {"UTC"})


def test_notify_verbs_read_in_chinese(zh):
    run, ids, tmp = zh
    iid = run("start", "fire", "--at", "B3-1201", "--severity", "2").strip()
    said = {
        "channels": run("notify", "channels"),
        "preview": run("notify", "preview", iid, "start_internal_plan"),
        "deliveries": run("deliveries", iid),
        "send": run("notify", "send", iid),
        "retry": run("notify", "retry", iid),
        "dispatch": run("dispatch"),
        "test": run("notify", "test", "sms", "+8613800000001"),
    }
    for verb, out in said.items():
        assert _words(out, ids, tmp) == [], (verb, out)
    assert "渠道配置来自" in said["channels"] and "并发 16" in said["channels"]
    assert "位收件人" in said["preview"] and "按渠道：即时消息" in said["preview"]
    assert "[中文]" in said["preview"] and "标题：" in said["preview"]
    assert "条消息：待发送" in said["deliveries"] and "哈希链：完整" in said["deliveries"]
    assert "本次：已发送 4 条消息" in said["send"] and "呼叫 P1：已送达 2/2" in said["send"]
    assert "没有最终失败的消息" in said["retry"]
    assert said["dispatch"].strip() == "已发送 0 条消息"
    assert "已发送，用时" in said["test"] and "本地接收器" in said["test"]


def test_refusals_of_the_admin_verbs_read_in_chinese(zh):
    run, ids, tmp = zh
    iid = run("start", "fire", "--at", "B3-1201").strip()
    dup = run("start", "fire", "--at", "B3-1202", code=1)
    assert f"{iid}（fire，B3-1201，负责人 chen.jie）已在本楼栋进行中" in dup
    assert f"`incident status {iid}`" in dup and "--new" in dup
    notice = run("notice", iid, "confirm_alarm", code=1)
    assert "“confirm_alarm”不是预案“fire”的通知步骤" in notice
    fill = run("rollcall", iid, "--fill", "confirm_alarm", code=1)
    assert "不从点名结果填写——可填写的步骤：head_count, missing_list" in fill
    for out in (dup, notice, fill):
        assert _words(out, ids, tmp) == [], out


def test_integrity_verbs_read_in_chinese(zh):
    run, ids, tmp = zh
    iid = run("start", "fire", "--at", "B3-1201").strip()
    said = {
        "verify": run("verify", iid),
        "anchor": run("anchor"),
        "verify again": run("verify"),
        "key show": run("key", "show"),
        "key rotate": run("key", "rotate"),
    }
    for verb, out in said.items():
        assert _words(out, ids, tmp) == [], (verb, out)
    assert f"{iid}：哈希链完整" in said["verify"] and "尚未设锚点" in said["verify"]
    assert "已为 1 个事件设锚点" in said["anchor"]
    assert "锚点在第" in said["verify again"]
    assert "（为新事件签名）" in said["key show"] and "锚点文件：" in said["key show"]
    assert "新的链密钥" in said["key rotate"] and "保留 1 个旧密钥用于校验" in said["key rotate"]


def test_staff_escalation_and_timer_verbs_read_in_chinese(zh):
    run, ids, tmp = zh
    iid = run("start", "fire", "--at", "B3-1201", "--severity", "2").strip()
    said = {
        "whoami": run("staff", "whoami"),
        "pages": run("escalation", "pages", iid),
        "escalate": run("escalate", iid, "--to", "branch_gm", "--reason", "烟很大"),
        "ack": run("ack", iid, "--all"),
        "tick": run("tick"),
        "validate": run("validate"),
        "contacts": run("contacts", "show", "owners", "building:B3", "floors:12",
                        "--limit", "3"),
    }
    for verb, out in said.items():
        assert _words(out, ids, tmp) == [], (verb, out)
    assert "chen.jie——陈杰（按声明识别" in said["whoami"] and "已设凭据：无" in said["whoami"]
    assert "等待确认" in said["pages"] and "— 事件开始" in said["pages"]
    assert "下一次：" in said["pages"]
    assert f"{iid}：已呼叫 branch_gm（P4）：deng.jianhua" in said["escalate"]
    assert f"{iid}：chen.jie 已确认（P1, P2, P3, P4）" in said["ack"]
    assert said["tick"].strip() == "没有到期的计时器"
    assert "个预案" in said["validate"] and said["validate"].rstrip().endswith("检查通过（0 处警告）")
    assert "共 8 位收件人" in said["contacts"] and "另有 5 位" in said["contacts"]


def test_escalation_check_reads_in_chinese(zh):
    run, ids, tmp = zh
    out = run("escalation", "check")
    assert _words(out, ids | {"max_fallback_hours"}, tmp) == [], out  # a setting's name
    assert "升级检查" in out and "无人确认时，到呼叫 branch_gm 所需的时间" in out
    assert "级别 2：最快 30m，最慢 30m（每个小时都一样）" in out
    assert "每周 105 小时：18:00-09:00 每天 → 由后备人员宋慧（song.hui）顶替" in out
    assert "警告: roles.branch_gm: “branch_gm”只靠一个人（邓建华（deng.jianhua））" in out
    assert out.rstrip().endswith("通过（6 个警告）")


def test_drill_verbs_read_in_chinese(zh):
    run, ids, tmp = zh
    out = run("drill", "b3_fire_evacuation", "--auto")
    did = out.splitlines()[0]
    objectives = frozenset(re.findall(r"^\s+[PSMU]\s+(\w+)", out, re.M))
    ids = ids | objectives | {"P", "S", "M", "U", "b3_fire_evacuation", "elevator_rescue", "medical_collapse",
                              "elevator_entrapment", "medical_emergency", "IP1"}
    said = {
        "auto": out,
        "list": run("drill", "list"),
        "validate": run("drill", "validate"),
        "score": run("drill", "score", did),
        "strength": run("drill", "strength", did, "疏散有序"),
        "plan": run("drill", "plan", did, "--issue", "电池", "--action", "购买",
                    "--owner", "chen.jie", "--due", "2027-01-01"),
        "plan-status": run("drill", "plan-status", did, "IP1", "in_progress"),
        "counts": run("drill", "counts", did, "occupants=10"),
    }
    for verb, text in said.items():
        assert _words(text, ids, tmp) == [], (verb, text)
    assert "项目标：" in said["auto"] and "沙箱消息：" in said["auto"]
    assert "达成，余" in said["score"]
    assert "个情景注入" in said["list"] and "预案 fire" in said["list"]
    assert said["validate"].rstrip().endswith("检查通过（0 处警告）")
    assert "已记录优点" in said["strength"] and "已记录改进计划项" in said["plan"]
    assert f"{did} IP1：进行中" in said["plan-status"] and "已记录人数" in said["counts"]


def test_drill_marks_read_in_one_language(zh):
    """The drill's opening note and its injects say "drill" in the reader's language
    only — not "[DRILL/演练] English / 中文" to everyone."""
    run, _ids, _tmp = zh
    did = run("drill", "b3_fire_evacuation", "--auto").splitlines()[0]
    zh_log, en_log = run("log", did), run("log", did, lang="en")
    assert "陈杰备注：[演练] 3号楼消防疏散演练" in zh_log
    assert "DRILL" not in zh_log and "Building 3" not in zh_log
    assert "Chen Jie noted: [DRILL] Building 3 fire evacuation drill" in en_log
    assert "演练" not in en_log


def test_inject_payload_text_is_bilingual():
    from incident.drill.events import inject_payload

    p = inject_payload("s", {"id": "smoke", "at": "4m",
                             "title": {"en": "Smoke on 13F", "zh": "13层报告有烟"},
                             "detail": {"en": "Hazy corridor", "zh": "走廊有烟"}})
    assert p["text"] == {"en": "[DRILL] Smoke on 13F — Hazy corridor",
                         "zh": "[演练] 13层报告有烟——走廊有烟"}
