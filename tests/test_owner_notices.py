"""What owners read: every text signed by the estate (signature first, as Chinese carriers
require; the sign-off last), the assembly point named, the incident floor kept apart
from the floors evacuated; and the printable lobby notice (告示)."""

from __future__ import annotations

import html
import re

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.notify import build_planner
from incident.runtime import Runtime

SIG = {"zh": "【临湖苑物业】", "en": "[Lakeside Garden Mgmt] "}
OFF = {"zh": "\n临湖苑物业服务中心", "en": "\nLakeside Garden Property Service Centre"}

# (playbook, step, location, lang) -> the exact text an owner receives
SNAPSHOTS = {
    ("gas_leak", "notify_building", "B3-1201", "zh"):
        "【临湖苑物业】紧急提醒：3号楼12层发生燃气泄漏，正在处置，11-13层住户已疏散至北广场。"
        "请勿使用明火、勿开关电器、勿乘电梯。如闻到燃气味，请开窗后经楼梯离开，到室外再致电"
        "021-5988 6600。\n临湖苑物业服务中心",
    ("gas_leak", "notify_building", "B3-1201", "en"):
        "[Lakeside Garden Mgmt] Gas leak in Building 3 on floor 12, being dealt with; floors "
        "11-13 have been evacuated to North Plaza. No flames, do not switch anything, do not "
        "use the elevators. If you smell gas, open the windows, leave by the stairs and call "
        "021-5988 6600 from outside.\nLakeside Garden Property Service Centre",
    ("fire", "notify_fire_floors", "B7-801", "zh"):
        "【临湖苑物业】紧急通知：7号楼8层发生火情。7-9层住户请立即用湿毛巾捂住口鼻，经楼梯撤离至"
        "中心花园草坪集合，切勿乘坐电梯，勿返回取物。需协助请拨021-5988 6600\n临湖苑物业服务中心",
    ("fire", "notify_fire_floors", "B7-801", "en"):
        "[Lakeside Garden Mgmt] URGENT: fire on floor 8 of Building 7. Floors 7-9: leave now "
        "by the stairs, cover nose and mouth with a wet cloth. Do NOT use the elevators or go "
        "back for belongings. Gather at Central Garden lawn. Need help? 021-5988 6600\n"
        "Lakeside Garden Property Service Centre",
    ("fire", "notify_vulnerable", "B11-501", "zh"):
        "【临湖苑物业】11号楼发生火情，工作人员将致电并上门协助。能行走请立即经楼梯撤离至南门广场；"
        "不能行走请关好房门，用湿毛巾堵住门缝，在窗边或阳台呼救，保持电话畅通。求助：021-5988 6600"
        "\n临湖苑物业服务中心",
    ("power_outage", "short_notice_estate", "lhy", "zh"):
        "【临湖苑物业】尊敬的业主：临湖苑自11:00起停电，停电范围正在核实，工程人员正在抢修，"
        "原因及恢复时间稍后通知。请勿乘坐电梯，请关闭大功率电器。咨询：021-5988 6600\n"
        "临湖苑物业服务中心",
}


@pytest.fixture
def runtime(sqlite_url):
    rt = Runtime(load_settings(database_url=sqlite_url), clock=ManualClock())
    yield rt
    rt.close()


@pytest.mark.parametrize(("key", "expected"), list(SNAPSHOTS.items()),
                         ids=["-".join(k) for k in SNAPSHOTS])
def test_owner_text_snapshots(runtime, key, expected):
    pb, step, at, lang = key
    st = runtime.engine.start(pb, at, actor="chen.jie")
    _subject, body = build_planner(runtime).render(st, st.playbook.steps()[step], lang)
    assert body == expected
    assert body.startswith(SIG[lang]) and body.endswith(OFF[lang])


def test_the_gas_notice_names_the_leak_floor_not_the_evacuated_range(runtime):
    st = runtime.engine.start("gas_leak", "B3-1201", actor="chen.jie")
    _s, body = build_planner(runtime).render(st, st.playbook.steps()["notify_building"], "zh")
    assert "12层发生燃气泄漏" in body and "11-13层发生" not in body


def test_power_notice_names_the_area_when_given_and_never_says_part_or_all(runtime):
    planner = build_planner(runtime)
    st = runtime.engine.start("power_outage", "lhy", actor="chen.jie",
                              inputs={"affected_area": "1-4号楼"})
    _s, body = planner.render(st, st.playbook.steps()["short_notice_estate"], "zh")
    assert "临湖苑1-4号楼自" in body and "部分或全部" not in body and "正在核实" not in body


def test_every_shipped_notify_message_is_signed_in_both_languages(runtime):
    planner = build_planner(runtime)
    for pb in runtime.playbooks:
        required = {k: "01-08 09:00" for k, spec in pb.inputs.items() if spec.required}
        st = runtime.engine.start(pb.id, "B3-1201", actor="chen.jie", inputs=required)
        for step in pb.steps().values():
            if step.notify is None:
                continue
            for lang in ("zh", "en"):
                _s, body = planner.render(st, step, lang)
                assert body.startswith(SIG[lang]), (pb.id, step.id, lang)
                assert body.endswith(OFF[lang]), (pb.id, step.id, lang)


def _env(db_url, tmp_path, clock):
    return {"INCIDENT_DATABASE_URL": db_url, "INCIDENT_CLOCK": f"fixed:{clock.now().isoformat()}",
            "INCIDENT_USER": "chen.jie", "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "c.json")}


def test_incident_notice_prints_a_bilingual_a4_lobby_notice(db_url, tmp_path):
    env = _env(db_url, tmp_path, ManualClock())
    runner = CliRunner()
    iid = runner.invoke(main, ["start", "gas_leak", "--at", "B3-1201"], env=env).output.strip()
    out = tmp_path / "notice.html"
    res = runner.invoke(main, ["notice", iid, "notify_building", "--format", "html",
                               "-o", str(out)], env=env)
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert "<h1>告示<br><small>NOTICE</small></h1>" in page
    assert "@page { size: A4" in page
    assert not re.search(r"<(script|link|img)\b|https?://", page)   # nothing fetched
    assert "3号楼12层发生燃气泄漏" in page and "Gas leak in Building 3 on floor 12" in page
    assert "临湖苑物业服务中心<br>2026年1月5日" in page
    assert "Lakeside Garden Property Service Centre<br>5 January 2026" in page
    assert "【临湖苑物业】" not in page   # the SMS signature is for texts, not paper
    # standard output works too, and a step that is not a notice is refused clearly
    assert "告示" in runner.invoke(main, ["notice", iid, "notify_building"], env=env).output
    res = runner.invoke(main, ["notice", iid, "shut_gas"], env=env)
    assert res.exit_code != 0 and "not a notify step" in res.output
    assert "notify_building" in res.output and "Traceback" not in res.output


def test_the_notice_escapes_what_an_officer_typed(db_url, tmp_path):
    env = _env(db_url, tmp_path, ManualClock())
    runner = CliRunner()
    evil = "<script>alert(1)</script>"
    iid = runner.invoke(main, ["start", "power_outage", "--at", "lhy", "--input",
                               f"affected_area={evil}"], env=env).output.strip()
    page = runner.invoke(main, ["notice", iid, "short_notice_estate"], env=env).output
    assert evil not in page and html.escape(evil) in page


def test_planned_cut_notice_names_area_times_and_supply(runtime):
    st = runtime.engine.start("scheduled_outage", "B5-301", actor="chen.jie",
                              inputs={"cut_from": "01-08 09:00", "cut_until": "01-08 17:00",
                                      "supply": "电", "supply_en": "power"})
    step = st.playbook.steps()["advance_notice"]
    _s, zh = build_planner(runtime).render(st, step, "zh")
    _s, en = build_planner(runtime).render(st, step, "en")
    assert zh.startswith("【临湖苑物业】尊敬的业主：因计划检修，5号楼将于01-08 09:00至01-08 17:00停电")
    assert "will have no power from 01-08 09:00 to about 01-08 17:00" in en
