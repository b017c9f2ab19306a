"""A Chinese reader's status, report and brief carry no English words.

A fire is walked through the CLI's own data (engine acts, messages delivered to a
sandbox), then `incident --lang zh status`, `report --format md --lang zh` and
`brief --lang zh` are read the way a duty officer reads them. Every run of Latin
letters must be one of the few things that stay Latin in a Chinese document:

- identifiers the officer types or reads back: incident ids (INC-…), staff logins
  (chen.jie), step, role and option ids (snake_case), unit and building codes (B3-1201);
- compact durations and offsets (T+18m00s, 1h42m): a notation, like a clock time;
- the chain hash (hex), the time zone name (Asia/Shanghai), the form name "ICS".

The whole report is read, timeline included: its sentences come from the one event
renderer (incident.narrate) and the catalogue.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from test_report_walker import REPO, make_runtime

from incident.cli import main
from incident.clock import ManualClock

LATIN = re.compile(r"[A-Za-z]")
NOTATION = [
    re.compile(r"INC-\d{6}-\d{4}"),                 # incident id
    re.compile(r"[A-Z]\d+(-\d+)?F?|\d+F"),           # unit, building and floor codes
    re.compile(r"(T\+)?(\d+[hms])*"),                # offsets and durations: T+18m00s
    re.compile(r"[0-9a-f]{12,}|k[0-9a-f]{12}"),      # chain hash, chain key id
    re.compile(r"Asia/Shanghai|ICS"),               # time zone, form name
    re.compile(r"P\d+"),                            # page number
]


def _english(text: str, ids: frozenset[str] = frozenset()) -> list[str]:
    """Latin words in `text` that are neither identifiers (`ids`) nor notation."""
    text = re.sub(r"`[^`]*`", "", text)              # a command to type stays as typed
    text = re.sub(r"\[[x~?>.\- ]\]", "", text)       # status's check boxes
    words = []
    for m in re.finditer(r"[A-Za-z0-9_.'+/-]+", text):  # Latin runs (Chinese has no spaces)
        token = m.group(0).strip(".-/'")
        if not LATIN.search(token) or token in ids:
            continue
        if any(p.fullmatch(token) for p in NOTATION):
            continue
        words.append(token)
    return words


def _without_timeline(md: str, heading: str) -> str:
    """The markdown without the section under `heading` (up to the next ## heading)."""
    return re.sub(rf"(?ms)^## {heading}\n.*?(?=^## |\Z)", "", md)


def _ids(rt) -> frozenset[str]:
    """What a Chinese reader reads back as an id: staff logins, role, step, option ids."""
    pb = rt.playbooks.get("fire")
    ids = {pb.id, pb.type, *rt.directory.staff, *rt.directory.roles}
    for sid, step in pb.steps().items():
        ids.add(sid)
        ids.update(o.id for o in step.options or [])
    return frozenset(ids)


@pytest.fixture
def fire(sqlite_url, tmp_path):
    """A fire walked part way by officers writing Chinese, messages sent to the sandbox."""
    clock = ManualClock()
    rt = make_runtime(sqlite_url, clock)
    engine, directory = rt.engine, rt.directory
    officer = next(iter(directory.holders("duty_officer"))).id
    iid = engine.start("fire", "B3-1201", actor=officer).id
    pb = rt.playbooks.get("fire")
    defs = pb.steps()
    for _ in range(12):  # settle a dozen steps; the rest stay open for the brief
        st = engine.state(iid)
        sid = next(s for s in defs if st.steps[s].open)
        s, step = st.steps[sid], defs[sid]
        clock.advance("30s")
        if s.status == "awaiting_confirmation":
            second = next(p.id for p in directory.staff.values() if p.id != s.awaiting_by)
            engine.act(iid, sid, actor=second, action="confirm")
        elif step.kind == "decision":
            engine.act(iid, sid, actor=officer, option=step.options[0].id)
        elif step.kind == "record":
            value = {"int": "42", "number": "3.5", "list": "11, 12"}.get(step.record.type,
                                                                         "三楼走廊有烟")
            engine.act(iid, sid, actor=officer, value=value)
        else:
            engine.act(iid, sid, actor=officer)
    engine.note(iid, "消防队已到场", actor=officer)
    if engine.planner is not None:
        from incident.notify import Dispatcher

        with Dispatcher(engine.store, engine.planner.channels, clock, directory=directory,
                        engine=engine, incident_id=iid) as d:
            d.run_until_idle()
    clock.advance("2m")
    env = {"INCIDENT_DATABASE_URL": sqlite_url, "INCIDENT_USER": "chen.jie",
           "INCIDENT_CLOCK": f"fixed:{clock.now().isoformat()}",
           "INCIDENT_PLAYBOOKS_DIR": str(REPO / "playbooks"),
           "INCIDENT_CONTACTS_DIR": str(REPO / "contacts"),
           "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "c.json")}
    ids = _ids(rt)
    rt.close()

    def cli(*args: str) -> str:
        r = CliRunner().invoke(main, ["--lang", "zh", *args], env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    return iid, cli, ids


def test_status_reads_in_chinese(fire):
    iid, cli, ids = fire
    out = cli("status", iid)
    assert "地点" in out and "时间目标" in out
    assert _english(out, ids) == []


def test_report_reads_in_chinese(fire):
    iid, cli, ids = fire
    md = cli("report", iid, "--format", "md", "--lang", "zh")
    assert "## 时间线" in md and "任务线" in md
    assert _english(md, ids) == []


def test_brief_reads_in_chinese(fire):
    iid, cli, ids = fire
    md = cli("brief", iid, "--lang", "zh")
    assert "情况概述" in md
    assert _english(md, ids) == []


def test_report_timeline_reads_in_chinese(fire):
    iid, cli, ids = fire
    md = cli("report", iid, "--format", "md", "--lang", "zh")
    assert _english(md, ids) == []


def test_the_check_sees_english():
    """The detector itself: English words are found, identifiers and notation are not."""
    assert _english("已送达 0/7（sms 送达 0）") == ["sms"]
    ids = frozenset({"chen.jie", "confirm_alarm"})
    assert _english("INC-260105-0001 chen.jie confirm_alarm B3-1201 T+18m00s", ids) == []
    assert _english("chen.jie confirm_alarm") == ["chen.jie", "confirm_alarm"]
    assert _english("112 people") == ["people"]

