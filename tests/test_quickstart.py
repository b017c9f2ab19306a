"""One line read as a start, and the duplicate guard — the core behind the console's
start line and `incident start`'s refusal (no UI here)."""

from __future__ import annotations

import pytest
from test_console import _shared_core, make_runtime

from incident.quickstart import open_duplicates, propose


@pytest.mark.parametrize("line, playbook, location, severity", [
    ("fire B3-1201", "fire", "B3-1201", 3),
    ("火警 3号楼12层", "fire", "B3 12F", 3),
    ("火警3号楼12层", "fire", "B3 12F", 3),
    ("lift B5 stuck", "elevator_entrapment", "B5", None),
    ("fireB3-1201", "fire", "B3-1201", 3),  # keys glued by a fast typist still read right
    ("gas leak B2 12F L1", "gas_leak", "B2 12F", 1),
    ("smoke B3 12F 2级", "fire", "B3 12F", 2),
    ("停电 B5", "power_outage", "B5", None),
])
def test_a_line_proposes_playbook_place_and_severity(line, playbook, location, severity):
    directory, library = _shared_core()
    prop = propose(line, library, directory)
    assert prop.playbook is not None and prop.playbook.id == playbook
    assert str(prop.location) == location
    assert prop.complete
    if severity is not None:
        assert prop.severity == severity
    else:
        assert prop.severity == prop.playbook.default_severity


def test_what_is_missing_is_said():
    directory, library = _shared_core()
    only_what = propose("fire", library, directory)
    assert only_what.playbook.id == "fire" and only_what.missing == ["location"]
    only_where = propose("B3-1201", library, directory)
    assert only_where.playbook is None and only_where.missing == ["playbook"]
    bad = propose("fire B3-9999", library, directory)
    assert bad.location is None and "B3-9999" in bad.location_error
    assert propose("", library, directory).missing == ["playbook", "location"]


def test_open_duplicates_are_the_same_kind_in_the_same_building(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")
    try:
        first = rt.engine.start("fire", "B3-1201", actor="chen.jie")
        rt.engine.start("pipe_burst", "B3-1205", actor="chen.jie")
        rt.engine.start("fire", "B5-801", actor="chen.jie")
        dups = open_duplicates(rt.store, rt.directory, "fire", "B3 12F")
        assert [r.id for r in dups] == [first.id]
        assert open_duplicates(rt.store, rt.directory, "fire", "B4-1201") == []
        rt.engine.resolve(first.id, actor="chen.jie", summary="out", force=True)
        assert open_duplicates(rt.store, rt.directory, "fire", "B3-1201") == []
    finally:
        rt.close()
