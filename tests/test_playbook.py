"""Playbooks: the shipped ones load; broken ones are pointed at, line by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.directory import load_directory
from incident.errors import ValidationFailed
from incident.playbook import load_library, load_playbook_text, playbook_schema

REPO = Path(__file__).resolve().parent.parent
MINI = (REPO / "tests" / "data" / "playbooks" / "mini.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def directory():
    return load_directory(REPO / "contacts")


def _errors(text: str, directory=None) -> list:
    with pytest.raises(ValidationFailed) as info:
        load_playbook_text(text, "broken.yaml", directory)
    return info.value.issues


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"{needle!r} not in text")


def test_shipped_playbooks_load_against_the_demo_estate(directory):
    lib = load_library(REPO / "playbooks", directory)
    ids = {p.id for p in lib}
    assert {"fire", "elevator_entrapment"} <= ids
    types = {p.type for p in lib}
    assert len(lib) >= 4, ids
    assert any("flood" in t or "pipe" in t or "rain" in t for t in types | ids), ids
    assert any("power" in t for t in types | ids), ids
    for pb in lib:
        assert pb.targets, f"{pb.id} has no time targets"
        assert len(pb.tracks) >= 2, f"{pb.id} should run tracks in parallel"
        for step in pb.steps().values():
            assert step.title.en.strip() and step.title.zh.strip()


def test_fire_playbook_never_gates_the_119_call(directory):
    pb = load_library(REPO / "playbooks", directory).get("fire")
    steps = pb.steps()
    calls = [s for s in steps.values() if s.call and directory.externals[s.call].phone == "119"]
    assert calls, "the fire playbook must have a step that calls 119"
    for step in calls:
        assert step.gate is None
        assert step.due is not None
        assert all(steps[d].gate is None and steps[d].kind != "escalate" for d in step.after)


def test_the_mini_playbook_is_valid():
    assert load_playbook_text(MINI, "mini.yaml").id == "mini"


@pytest.mark.parametrize(
    ("old", "new", "message", "needle"),
    [
        ("        kind: decision\n", "        kind: decision\n        optoins: []\n",
         "unknown key 'optoins' — did you mean 'options'?", "optoins"),
        ("after: [evacuate]\n        record", "after: [evacuat]\n        record",
         "unknown step 'evacuat' — did you mean 'evacuate'?", "evacuat]"),
        ("        wait: 5m", "        wait: soon", "'soon' is not a duration", "wait: soon"),
        ("default_severity: 2", "default_severity: 3", "severity level 3 is not defined",
         "default_severity"),
        ("        join: [head_count, false_cause]", "        after: [head_count, false_cause]",
         "can never run: it needs two different answers to decision 'confirm'",
         "after: [head_count, false_cause]"),
        ("title: {en: Sweep floors, zh: 逐层搜寻}", "title: {en: Sweep floors}",
         "missing required field 'zh'", "title: {en: Sweep floors}"),
        ("record: {name: head_count, type: int}", "record: {name: head_count, type: integer}",
         "Input should be 'int', 'number', 'text' or 'list'", "type: integer"),
    ],
)
def test_broken_playbooks_point_at_the_line(old, new, message, needle):
    assert old in MINI
    text = MINI.replace(old, new, 1)
    issues = _errors(text)
    hit = [i for i in issues if message in i.format()]
    assert hit, [i.format() for i in issues]
    assert hit[0].line == _line_of(text, needle), hit[0].format()
    assert hit[0].file == "broken.yaml"


def test_dependency_cycle_is_named():
    text = MINI.replace("        after: [evacuate]\n      - id: sweep", "XX", 1)
    text = MINI.replace("        wait: 5m", "        wait: 5m\n        after: [sweep]", 1)
    issues = _errors(text)
    assert any("dependency cycle: " in i.message and "sweep" in i.message
               and "evacuate" in i.message for i in issues), [i.format() for i in issues]


def test_duplicate_keys_and_tabs_are_caught():
    dup = MINI.replace("default_severity: 2", "default_severity: 2\ndefault_severity: 1", 1)
    issues = _errors(dup)
    assert issues[0].message.startswith("duplicate key 'default_severity'")
    assert issues[0].line == _line_of(dup, "default_severity", 2)
    tabbed = MINI.replace("      - id: sweep", "\t  - id: sweep", 1)
    issues = _errors(tabbed)
    assert "tab character in indentation" in issues[0].message
    assert issues[0].line == _line_of(tabbed, "\t  - id: sweep")


def test_all_errors_of_a_file_come_at_once():
    text = MINI.replace("after: [evacuate]\n        record", "after: [nope]\n        record", 1)
    text = text.replace("met_by: call_119", "met_by: call_911", 1)
    text = text.replace("        after: [call_119]", "        after: [call_11]", 1)
    messages = [i.message for i in _errors(text)]
    assert len(messages) == 3, messages


def test_yes_no_are_explained_when_text_was_meant():
    text = MINI.replace("title: {en: All clear, zh: 解除警报}", "title: {en: no, zh: 解除警报}", 1)
    issues = _errors(text)
    assert any("put quotes around text" in i.hint for i in issues), [i.format() for i in issues]


def test_references_to_the_directory_are_checked(directory):
    text = MINI.replace("to: branch_gm", "to: brnch_gm", 1)
    text = text.replace("      - id: sweep\n        kind: check\n",
                        "      - id: sweep\n        kind: check\n        call: fire_911\n"
                        "        assignee: securty\n", 1)
    formatted = [i.format() for i in _errors(text, directory)]
    assert any("unknown role 'brnch_gm' — did you mean 'branch_gm'?" in f for f in formatted)
    assert any("unknown role 'securty' — did you mean 'security'?" in f for f in formatted)
    assert any("unknown external number 'fire_911'" in f for f in formatted), formatted


NOTIFY_STEP = """
      - id: tell_owners
        kind: notify
        title: {en: Tell owners, zh: 通知业主}
        after: [call_119]
        notify:
          audience: AUDIENCE
          channels: [sms, emial]
          message:
            subject: {en: "Fire at {{ location }}", zh: "{{ locaton }}火警"}
            body: {en: "Call {{ hotline }}", zh: "请致电 {{ hotline }}"}
"""


def test_notify_steps_check_audience_channels_and_template_variables(directory):
    step = NOTIFY_STEP.replace("AUDIENCE", "owners building:@ floors:@-1..@+1 role:nobody")
    text = MINI.replace("  - id: evac\n", step.lstrip("\n") + "  - id: evac\n", 1)
    formatted = [i.format() for i in _errors(text, directory)]
    assert any("unknown channel 'emial' — did you mean 'email'?" in f for f in formatted)
    assert any("unknown template variable 'locaton' — did you mean 'location'?" in f
               for f in formatted)
    assert any("role" in f and "nobody" in f for f in formatted), formatted
    named = NOTIFY_STEP.replace("AUDIENCE", "afected").replace("emial", "email")
    named = named.replace("locaton", "location")
    text = MINI.replace("targets:\n", "audiences:\n  affected: owners building:@\ntargets:\n", 1)
    text = text.replace("  - id: evac\n", named.lstrip("\n") + "  - id: evac\n", 1)
    formatted = [i.format() for i in _errors(text, directory)]
    assert formatted == [f for f in formatted if "unknown audience 'afected' — did you mean "
                         "'affected'?" in f] and formatted


def test_json_schema_export_matches_the_shipped_file():
    schema = playbook_schema()
    assert schema["title"] == "incident playbook"
    assert "tracks" in schema["properties"] and "Step" in schema["$defs"]
    shipped = json.loads((REPO / "playbooks" / "playbook.schema.json").read_text("utf-8"))
    assert shipped == schema, "run: incident schema playbook -o playbooks/playbook.schema.json"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes_the_loader(text):
    try:
        load_playbook_text(text, "fuzz.yaml")
    except ValidationFailed as exc:
        assert exc.issues and all(i.file == "fuzz.yaml" for i in exc.issues)


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "kind", "title", "en", "zh", "steps", "tracks",
                                       "after", "options", "next", "due", "wait", "x"]),
                      inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_yaml_values)
def test_arbitrary_structures_never_crash_the_loader(value):
    import yaml

    text = yaml.safe_dump(value, allow_unicode=True)
    try:
        load_playbook_text(text, "fuzz.yaml")
    except ValidationFailed as exc:
        assert exc.issues


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MINI.splitlines()), st.text(max_size=30))
def test_mutated_playbooks_never_crash_the_loader(line, junk):
    text = MINI.replace(line, line[: len(line) // 2] + junk, 1)
    try:
        load_playbook_text(text, "fuzz.yaml")
    except ValidationFailed as exc:
        assert exc.issues
