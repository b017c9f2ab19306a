"""Walk every shipped playbook to resolution through the engine API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from walker import plan_action, walk

from incident.cli import main
from incident.clock import ManualClock
from incident.config import load_settings
from incident.credentials import CredentialStore
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
PLAYBOOK_IDS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yaml"))


@pytest.fixture
def runtime(db_url):
    rt = Runtime(load_settings(database_url=db_url), clock=ManualClock())
    yield rt
    rt.close()


@pytest.mark.parametrize("playbook_file", PLAYBOOK_IDS)
def test_walk_every_shipped_playbook_through_the_api(runtime, playbook_file):
    pb = next(p for p in runtime.playbooks if runtime.playbooks.sources[p.id].stem == playbook_file)
    engine, clock = runtime.engine, runtime.clock
    required = {k: "01-08 09:00" for k, spec in pb.inputs.items() if spec.required}
    st = engine.start(pb.id, "B3-1201", actor="chen.jie", inputs=required)
    t0 = st.started_at
    st = walk(engine, st.id, clock)
    assert all(s.settled for s in st.steps.values())
    done = [s for s in st.steps.values() if s.status == "done"]
    assert done, "the walk completed nothing"
    for s in done:
        assert s.done_by and s.done_at and s.done_at >= t0
    st = engine.resolve(st.id, actor="chen.jie", summary="walked")
    assert st.status == "resolved"
    now = clock.now()
    for t in st.targets.values():
        status = t.status(now)
        assert status in ("met", "met_late", "n/a"), (t.id, status)
        if status == "met":
            assert t.met_at <= t.due_at
        if status == "met_late":
            assert t.met_at > t.due_at
    # the service loop: every callback the resolution owes is made, and then it closes
    from incident.engine import followups as fu

    assert st.phase == "resolved"
    for who in sorted(st.followups):
        st = fu.record_followup(engine, st.id, who, actor="chen.jie", reached=True,
                                satisfaction=5, note="walked")
    if not st.followups:  # nothing owed: closed by hand
        st = fu.close(engine, st.id, actor="chen.jie")
    assert st.phase == "closed", (pb.id, st.phase, sorted(st.followups))
    rep = runtime.store.verify(st.id)
    assert rep.ok and rep.count == st.last_seq


def _cli(env: dict[str, str], *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False, input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_walk_the_fire_playbook_through_the_cli(db_url, tmp_path):
    t = ManualClock()
    env = {"INCIDENT_DATABASE_URL": db_url, "INCIDENT_CLOCK": f"fixed:{t.now().isoformat()}",
           "INCIDENT_USER": "chen.jie", "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "cred.json")}
    pins = CredentialStore(tmp_path / "cred.json")
    rt = Runtime(load_settings(database_url=db_url), clock=t)
    iid = _cli(env, "start", "fire", "--at", "B3-1201").strip()
    assert iid.startswith("INC-")
    for _ in range(200):
        t.advance("20s")
        env["INCIDENT_CLOCK"] = f"fixed:{t.now().isoformat()}"
        status = json.loads(_cli(env, "status", iid, "--format", "json"))
        open_steps = [sid for sid, s in status["steps"].items()
                      if s["status"] in ("ready", "in_progress", "awaiting_confirmation")]
        if not open_steps:
            if all(s["status"] in ("done", "skipped", "excluded")
                   for s in status["steps"].values()):
                break
            t.advance("1m")
            env["INCIDENT_CLOCK"] = f"fixed:{t.now().isoformat()}"
            _cli(env, "tick")
            continue
        sid = open_steps[0]
        for kwargs in plan_action(rt.engine.state(iid), sid, rt.directory):
            # each person acts at their own keyboard; a second person proves it with a PIN
            args, pin = ["act", iid, sid], None
            if kwargs.get("option"):
                args += ["--option", kwargs["option"]]
            if kwargs.get("value"):
                args += ["--value", kwargs["value"]]
            if kwargs.get("action") == "confirm":
                args += ["--confirm", "--pin-stdin"]
                pin = "2468"
                if not pins.has(kwargs["actor"]):
                    pins.set(kwargs["actor"], pin)
            _cli({**env, "INCIDENT_USER": kwargs["actor"]}, *args, input=pin)
    else:
        raise AssertionError("the fire incident did not settle through the CLI")
    _cli(env, "note", iid, "brigade", "left", "the", "scene")
    out = _cli(env, "resolve", iid, "--summary", "fire out, systems restored")
    assert f"{iid} resolved" in out
    log = json.loads(_cli(env, "log", iid, "--format", "json"))
    # resolution is followed by the callbacks it owes (回访), in the same append
    assert log[0]["kind"] == "incident.started" and log[-2]["kind"] == "incident.resolved"
    assert log[-1]["kind"] == "followup.scheduled"
    assert any(e["kind"] == "note.added" and e["payload"]["text"] == "brigade left the scene"
               for e in log)
    assert "chain intact" in _cli(env, "verify", iid)
    rt.close()


def test_cli_refusals_exit_1_and_write_nothing(db_url):
    env = {"INCIDENT_DATABASE_URL": db_url, "INCIDENT_USER": "chen.jie"}
    iid = _cli(env, "start", "fire", "--at", "B3-1201").strip()
    before = len(json.loads(_cli(env, "log", iid, "--format", "json")))
    result = CliRunner().invoke(main, ["act", iid, "no_such_step"], env=env)
    assert result.exit_code == 1
    assert "refused: no step 'no_such_step'" in result.output
    result = CliRunner().invoke(main, ["start", "fier", "--at", "B3-1201"], env=env)
    assert result.exit_code == 1 and "did you mean 'fire'?" in result.output
    result = CliRunner().invoke(main, ["start", "fire", "--at", "B33-1201"], env=env)
    assert result.exit_code == 1 and "location 'B33-1201'" in result.output
    assert len(json.loads(_cli(env, "log", iid, "--format", "json"))) == before


def test_cli_verify_names_a_tampered_event(sqlite_url):
    import sqlalchemy as sa

    env = {"INCIDENT_DATABASE_URL": sqlite_url, "INCIDENT_USER": "chen.jie"}
    iid = _cli(env, "start", "fire", "--at", "B3-1201").strip()
    _cli(env, "note", iid, "first", "note")
    _cli(env, "note", iid, "second", "note")
    eng = sa.create_engine(sqlite_url)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE events SET payload = :p WHERE incident_id = :i AND seq = 2"),
                     {"p": json.dumps({"text": "nothing happened"}), "i": iid})
    eng.dispose()
    result = CliRunner().invoke(main, ["verify", iid], env=env)
    assert result.exit_code == 1
    assert "chain BROKEN at event 2" in result.output


def test_log_names_who_was_paged(db_url):
    # a weekday morning: the day shift (Chen Jie, Liu Yang) holds duty_officer
    env = {"INCIDENT_DATABASE_URL": db_url, "INCIDENT_USER": "chen.jie",
           "INCIDENT_CLOCK": "fixed:2026-12-01T10:00:00+08:00"}
    iid = _cli(env, "start", "fire", "--at", "B3-1201").strip()
    text = _cli(env, "log", iid)
    paged = [line for line in text.splitlines() if "Sent page P1 to Chen Jie and Liu Yang" in line]
    assert paged, text
    assert paged[0].endswith("as Duty officer (control room): the incident started")
    assert "to=[" not in paged[0]
    assert "向中控室值班员（陈杰、刘洋）发出呼叫P1：事件开始" in _cli(env, "--lang", "zh", "log", iid)
