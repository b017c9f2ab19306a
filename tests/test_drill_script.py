"""A drill script is checked for causal order before anyone plays it: a step scripted
before what it waits for, an inject before the step it follows from, or an answer
before its inject is an error naming file, line and field with how to fix it."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from test_drill import FIRE, REPO, _load, rt  # noqa: F401  (the fixture)

from incident.cli import main
from incident.drill import run_auto
from incident.drill.script import scripted_times
from incident.engine import events as ev
from incident.errors import ValidationFailed

# the shipped fire drill with four causal slips written into it
SLIPS = [
    # the daughter reports her father missing at the roll call (T+7m) — which the
    # script has done only at T+14m
    ("  - id: father_missing\n    at: 7m\n",
     "  - id: father_missing\n    at: 7m\n    after: head_count\n"),
    # the guard meets the brigade 1 min after 119 is called: before the engines arrive
    ("    meet_brigade: {after: 11m, on: brigade_at_gate}",
     "    meet_brigade: {after: 1m, on: brigade_at_gate}"),
    # the missing list written at T+5m, but the head count is scripted to T+14m
    ("    missing_list: {after: 6m,", "    missing_list: {at: 5m,"),
]
OBJECTIVE_SLIP = ("    step: call_119\n    within: 2m\n",
                  "    step: call_119\n    within: 2m\n    after: meet_brigade\n")


def _slipped() -> str:
    text = FIRE.read_text(encoding="utf-8")
    for old, new in [*SLIPS, OBJECTIVE_SLIP]:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_script_plays_in_causal_order(rt):  # noqa: F811
    loaded = _load(rt)
    assert not loaded.warnings
    times = scripted_times(loaded.scenario, rt.playbooks.get("fire"))
    call, meet = times["call_119"], times["meet_brigade"]
    assert meet.ready == call.settled and meet.waits_for == "call_119"
    # on: brigade_at_gate — the brigade is met after it arrives (T+12m), as --auto plays it
    assert meet.done.total_seconds() == 12 * 60 + 45
    run = run_auto(rt.engine, loaded, rt.clock)
    done = {e.payload["step"]: e.ts - run.started_at
            for e in rt.store.events(run.incident_id, kinds=[ev.STEP_DONE])}
    for sid in ("call_119", "meet_brigade", "missing_list", "head_count"):
        assert done[sid] == times[sid].done, sid


def test_causal_slips_are_errors_with_line_field_and_fix(rt):  # noqa: F811
    text = _slipped()
    with pytest.raises(ValidationFailed) as exc:
        _load(rt, text=text)
    issues = {i.path: i for i in exc.value.issues}
    inj = issues["injects[1].at"]
    assert inj.line == _line(text, "    at: 7m")
    assert "inject 'father_missing' at T+7m00s follows from step 'head_count', which is " \
           "scripted done at T+14m00s" in inj.message
    assert inj.hint == ("move the inject to T+14m00s or later, or script 'head_count' "
                        "earlier (responses.steps.head_count)")
    meet = issues["responses.steps.meet_brigade"]
    assert meet.line == _line(text, "meet_brigade: {after: 1m")
    assert "answers inject 'brigade_at_gate' (T+12m00s)" in meet.message
    assert "after: 10m15s" in meet.hint
    ml = issues["responses.steps.missing_list.at"]
    assert "scripted at T+5m00s, before what it waits for: 'head_count' is scripted to " \
           "settle at T+14m00s" in ml.message
    assert ml.hint == "move it to T+14m00s or later, or script 'head_count' earlier"
    obj = issues["objectives[1].after"]
    assert "'meet_brigade' waits for 'call_119'" in obj.message
    assert all(i.severity == "error" and i.file == "scenario.yaml" for i in exc.value.issues)


def test_validate_commands_exit_1_on_a_script_out_of_order(db_url, tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO / "playbooks", playbooks)
    bad = playbooks / "drills" / "b3_fire_evacuation.yaml"
    bad.write_text(_slipped(), encoding="utf-8")
    line = _line(bad.read_text(encoding="utf-8"), "    at: 7m")
    for args in (["validate"], ["drill", "validate", str(bad)]):
        res = CliRunner().invoke(main, ["--db", db_url, "--playbooks", str(playbooks), *args])
        assert res.exit_code == 1, res.output
        assert f"b3_fire_evacuation.yaml:{line}" in res.output
        assert "injects[1].at: inject 'father_missing'" in res.output
        assert "move the inject to T+14m00s or later" in res.output
