"""The shipped ladder of the demo estate, as a real estate runs it: control-room alarms go
to the security supervisor and the duty manager (not the customer-service supervisor),
the customer-service desk hears at once, and pages read as words in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident.clock import ManualClock
from incident.config import load_settings
from incident.runtime import Runtime

MON_0300 = datetime(2026, 1, 4, 19, 0, tzinfo=UTC)  # Monday 03:00 in Shanghai


@pytest.fixture
def runtime(db_url):
    rt = Runtime(load_settings(database_url=db_url), clock=ManualClock(MON_0300))
    yield rt
    rt.close()


def _pages(rt, iid):
    st = rt.engine.state(iid)
    return [(round((p["ts"] - st.started_at).total_seconds() / 60), p["node"], p["to"])
            for p in st.pages]


def test_a_night_fire_alarm_climbs_through_security_and_the_duty_manager(runtime):
    rt = runtime
    iid = rt.engine.start("fire", "B3-1201", actor="xu.lei", severity=2).id
    # Sunday's night shift runs until Monday 08:00/09:00
    assert sorted(_pages(rt, iid)) == [(0, "cs_specialist", ["bai.xue"]),
                                       (0, "duty_officer", ["xu.lei", "ma.xiaoyu"]),
                                       (0, "fire_safety_lead", ["cao.zhiyong"])]
    for _ in range(5):
        rt.clock.advance(timedelta(minutes=1))
        rt.engine.tick(iid)
    later = sorted(p for p in _pages(rt, iid) if p[0] == 5)
    assert later == [(5, "duty_manager", ["he.bin"]),
                     (5, "security_supervisor", ["jiang.long"])]
    assert not any(node == "cs_supervisor" for t, node, _ in _pages(rt, iid) if t <= 5)
    # the duty manager's page, as he reads it on WeCom
    st = rt.engine.state(iid)
    page = next(p for p in st.pages if p["node"] == "duty_manager")
    [row] = [r for r in rt.store.outbox_rows(iid, step_id=f"escalation:{page['id']}")]
    assert row.body.startswith("【临湖苑物业】二级火灾，地点：3号楼 12层 1201室，03:00接报")
    assert ("通知您（值班经理）的原因：中控室值班员（马晓宇、徐磊）5分钟内未确认" in row.body
            or "通知您（值班经理）的原因：中控室值班员（徐磊、马晓宇）5分钟内未确认" in row.body)
    assert "回复 1 确认收到；也可在值班控制台确认，或致电中控室021-5988 6600确认" in row.body
    assert "incident" not in row.body and "B3-1201" not in row.body
    # the fire-safety manager is told why in words, not "paged together with ... (type fire)"
    fsl = next(p for p in st.pages if p["node"] == "fire_safety_lead")
    [row] = rt.store.outbox_rows(iid, step_id=f"escalation:{fsl['id']}")
    assert "原因：火灾事件须同时通知您，与中控室值班员同时呼叫" in row.body
    assert "paged together" not in row.body and "type fire" not in row.body


def test_role_titles_are_the_ones_people_use(runtime):
    titles = {r: role.title["zh"] for r, role in runtime.directory.roles.items()}
    assert titles["security"] == "秩序维护员"
    assert titles["engineering"] == "工程维修员"
    assert titles["cleaning"] == "保洁员"
    assert titles["fire_safety_lead"] == "消防安全管理人"
    assert titles["security_supervisor"] == "秩序维护主管"
    assert titles["duty_manager"] == "值班经理"
    assert titles["branch_cs_manager"] == "分公司客服经理"


def test_severity_names_are_levels_not_statutory_grades(runtime):
    for pb in runtime.playbooks:
        for sev in pb.severities:
            assert sev.name.zh == f"{'一二三四'[sev.level - 1]}级", (pb.id, sev.level)
            assert sev.name.en == f"Level {sev.level}"
