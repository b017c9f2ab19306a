"""Engine rules on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_helpers import mini_engine

from incident.clock import ManualClock
from incident.errors import Refused


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine(db_url, clock):
    eng = mini_engine(db_url, clock)
    yield eng
    eng.store.close()


def _count(engine, iid) -> int:
    return len(engine.store.events(iid))


def test_start_makes_root_steps_ready_and_owner_is_first_receiver(engine):
    st = engine.start("mini", "B3-1201", actor="wang", first_receiver="li")
    assert st.id.startswith("INC-")
    assert st.status == "open" and st.owner == "li" and st.first_receiver == "li"
    assert st.steps["confirm"].status == "ready"
    assert st.steps["evacuate"].status == "pending"  # only after the 'real' option
    assert st.steps["all_clear"].status == "pending"
    assert engine.store.incident(st.id).owner == "li"


def test_real_fire_branch_excludes_false_alarm_branch(engine, clock):
    iid = engine.start("mini", "B3", actor="wang").id
    clock.advance("30s")
    st = engine.act(iid, "confirm", actor="wang", option="real")
    assert st.steps["confirm"].status == "done" and st.steps["confirm"].option == "real"
    assert st.steps["call_119"].status == "ready"
    assert st.steps["evacuate"].status == "ready"
    assert st.steps["false_cause"].status == "excluded"
    assert st.steps["false_cause"].excluded_because == "decision 'confirm' chose 'real'"
    assert st.targets["first_response"].status(clock.now()) == "met"


def test_false_alarm_branch_lets_the_join_run(engine):
    iid = engine.start("mini", "B3", actor="wang").id
    st = engine.act(iid, "confirm", actor="wang", option="false_alarm")
    for sid in ("call_119", "evacuate", "head_count", "sweep", "restore_power"):
        assert st.steps[sid].status == "excluded", sid
    assert st.steps["all_clear"].status == "pending"
    st = engine.act(iid, "false_cause", actor="wang", value="smoke from cooking")
    assert st.values["cause"] == "smoke from cooking"
    assert st.steps["all_clear"].status == "ready"
    st = engine.act(iid, "all_clear", actor="wang")
    assert st.all_settled()
    st = engine.resolve(iid, actor="wang", summary="false alarm")
    assert st.status == "resolved"
    assert engine.store.incident(iid).status == "resolved"
    assert st.targets["brigade_called"].not_applicable


@pytest.mark.parametrize(
    ("step", "kwargs", "message"),
    [
        ("confirm", {}, "is a decision — choose one of: real, false_alarm"),
        ("confirm", {"option": "reel"}, "did you mean 'real'?"),
        ("call_119", {}, "is not ready yet: waiting for 'confirm'"),
        ("nope", {}, "no step 'nope'"),
        ("confirm", {"action": "skip"}, "a reason is required"),
        ("confirm", {"action": "confirm"}, "nothing to confirm"),
    ],
)
def test_refusals_are_clear_and_write_nothing(engine, step, kwargs, message):
    iid = engine.start("mini", "B3", actor="wang").id
    before = _count(engine, iid)
    with pytest.raises(Refused, match=message.replace("?", r"\?").replace("(", r"\(")):
        engine.act(iid, step, actor="wang", **kwargs)
    assert _count(engine, iid) == before


def test_record_value_is_typed(engine, clock):
    iid = engine.start("mini", "B3", actor="wang").id
    engine.act(iid, "confirm", actor="wang", option="real")
    clock.advance("5m")
    engine.tick(iid)  # the wait step completes itself
    with pytest.raises(Refused, match="whole number; 'about forty' is not one"):
        engine.act(iid, "head_count", actor="wang", value="about forty")
    st = engine.act(iid, "head_count", actor="wang", value="42")
    assert st.values["head_count"] == 42


def test_already_done_names_who_and_when(engine, clock):
    iid = engine.start("mini", "B3", actor="wang").id
    engine.act(iid, "confirm", actor="wang", option="real")
    before = _count(engine, iid)
    with pytest.raises(Refused, match=r"already done by wang at 11:00:00"):
        engine.act(iid, "confirm", actor="li", option="false_alarm")
    assert _count(engine, iid) == before


def test_safety_gate_needs_a_second_person(engine):
    iid = engine.start("mini", "B3", actor="wang").id
    engine.act(iid, "confirm", actor="wang", option="real")
    engine.act(iid, "call_119", actor="wang")
    st = engine.act(iid, "restore_power", actor="wang")
    assert st.steps["restore_power"].status == "awaiting_confirmation"
    with pytest.raises(Refused, match="must be confirmed by a second person"):
        engine.act(iid, "restore_power", actor="wang", action="confirm")
    with pytest.raises(Refused, match="waits for a second person"):
        engine.act(iid, "restore_power", actor="li")
    st = engine.act(iid, "restore_power", actor="li", action="confirm")
    s = st.steps["restore_power"]
    assert s.status == "done" and s.done_by == "wang" and s.confirmed_by == "li"


def test_timers_fire_at_the_right_moments(engine, clock):
    iid = engine.start("mini", "B3", actor="wang").id
    t0 = clock.now()
    clock.advance("1m59s")
    assert engine.tick(iid) == []
    clock.advance("2s")  # confirm was due at +2m, first_response target at +2m
    fired = {p["timer"] for _, p in engine.tick(iid)}
    assert fired == {"step_overdue:confirm", "target_missed:first_response"}
    assert engine.tick(iid) == []  # each timer fires once
    st = engine.act(iid, "confirm", actor="wang", option="real")
    assert st.targets["first_response"].status(clock.now()) == "met_late"
    assert st.targets["first_response"].delta(clock.now()) == timedelta(seconds=-1)
    # call_119 is due 1 minute after the decision
    assert st.steps["call_119"].due_at == clock.now() + timedelta(minutes=1)
    clock.advance("5m")
    fired = {p["timer"] for _, p in engine.tick(iid)}
    assert {"wait_elapsed:evacuate", "step_overdue:call_119",
            "target_missed:brigade_called"} <= fired
    st = engine.state(iid)
    assert st.steps["evacuate"].status == "done" and st.steps["evacuate"].done_by == "system"
    assert st.steps["sweep"].status == "ready"
    assert st.targets["resolved"].due_at == t0 + timedelta(hours=1)


def test_severity_change_brings_report_clocks(engine, clock):
    iid = engine.start("mini", "B3", actor="wang").id
    clock.advance("30m")
    st = engine.set_severity(iid, 1, actor="wang", reason="a resident is injured")
    # the 10-minute call counts from when the incident became level 1
    assert st.reports["leadership_call"].due_at == clock.now() + timedelta(minutes=10)
    assert st.reports["leadership_call"].status(clock.now()) == "pending"
    assert st.targets["first_response"].due_at == st.started_at + timedelta(minutes=1)
    st = engine.report_done(iid, "leadership_call", actor="wang")
    assert st.reports["leadership_call"].status(clock.now()) == "met"
    with pytest.raises(Refused, match="already reported"):
        engine.report_done(iid, "leadership_call", actor="wang")


def test_timer_due_while_down_fires_on_restart_and_says_so(db_url, clock):
    first = mini_engine(db_url, clock)
    iid = first.start("mini", "B3", actor="wang").id
    first.store.close()
    clock.advance("10m")  # nobody ran a process meanwhile
    second = mini_engine(db_url, clock)
    fired = {p["timer"]: p for fired_iid, p in second.tick() if fired_iid == iid}
    assert fired["step_overdue:confirm"]["late"] is True
    assert fired["step_overdue:confirm"]["late_by_s"] == 480.0
    second.store.close()


def test_two_consoles_second_conflicting_action_is_refused(db_url, clock):
    a = mini_engine(db_url, clock)
    b = mini_engine(db_url, clock)
    iid = a.start("mini", "B3", actor="wang").id
    b.state(iid)  # b has a cached fold from before a's action
    a.act(iid, "confirm", actor="wang", option="real")
    with pytest.raises(Refused, match="already done by wang"):
        b.act(iid, "confirm", actor="li", option="false_alarm")
    events = a.store.events(iid)
    assert [e.kind for e in events].count("step.done") == 1
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    a.store.close()
    b.store.close()


def test_resolve_with_open_steps_needs_force_and_summary(engine):
    iid = engine.start("mini", "B3", actor="wang").id
    with pytest.raises(Refused, match="step\\(s\\) are still open"):
        engine.resolve(iid, actor="wang")
    with pytest.raises(Refused, match="needs a summary"):
        engine.resolve(iid, actor="wang", force=True)
    st = engine.resolve(iid, actor="wang", force=True, summary="brigade took over")
    assert st.status == "resolved"
    with pytest.raises(Refused, match="is resolved — reopen it first"):
        engine.act(iid, "confirm", actor="wang", option="real")
    st = engine.reopen(iid, actor="wang", reason="smoke again")
    assert st.status == "open" and st.targets["resolved"].met_at is None


def test_handover_changes_owner(engine):
    iid = engine.start("mini", "B3", actor="wang").id
    st = engine.handover(iid, "zhao", actor="wang", reason="shift change")
    assert st.owner == "zhao" and st.handovers[0]["from"] == "wang"
    assert engine.store.incident(iid).owner == "zhao"


def test_restart_fold_equals_live_state(db_url, clock):
    a = mini_engine(db_url, clock)
    iid = a.start("mini", "B3", actor="wang").id
    a.act(iid, "confirm", actor="wang", option="real")
    clock.advance("6m")
    a.tick(iid)
    a.act(iid, "head_count", actor="wang", value=40)
    a.note(iid, "brigade on scene", actor="wang")
    live = a.state(iid)
    a.store.close()
    b = mini_engine(db_url, clock)
    again = b.state(iid)
    assert again.steps == live.steps and again.targets == live.targets
    assert again.values == live.values and again.notes == live.notes
    assert again.last_seq == live.last_seq
    b.store.close()


def test_floors_variable_stays_inside_the_building(tmp_path):
    from pathlib import Path

    from incident.directory import load_directory
    from incident.engine.context import _floors_around

    d = load_directory(Path(__file__).resolve().parent.parent / "contacts")
    b = next(iter(d.buildings.values()))
    top = b.floors[-1]
    assert _floors_around(d, b.id, top) == f"{top - 1}-{top}"
    assert _floors_around(d, b.id, 12) == "11-13"
    lowest = b.all_floors[0]
    assert _floors_around(d, b.id, lowest).startswith("B")
