"""`incident status` at 3 a.m. (issue 18): a read folds the log with the playbook's read
form from the compiled cache — no engine, no escalation, drills, notification planner
or pydantic — and prints exactly what the full path prints."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident import compiled
from incident.cli import main
from incident.config import Settings
from incident.runtime import Runtime

START = "fixed:2026-01-05T03:00:00+08:00"
LATER = "fixed:2026-01-05T03:04:00+08:00"  # some steps overdue, others counting down

# prints the modules a command imported, after its own output
_PROBE = """
import sys
sys.argv = ["incident", *sys.argv[1:]]
from incident.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES " + " ".join(sorted(sys.modules)))
"""


def _env(tmp_path: Path, estate: tuple[Path, Path], clock: str) -> dict[str, str]:
    contacts, playbooks = estate
    return {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "INCIDENT_CONTACTS_DIR": str(contacts), "INCIDENT_PLAYBOOKS_DIR": str(playbooks),
            "INCIDENT_USER": "chen.jie", "INCIDENT_CLOCK": clock}


def _started(tmp_path: Path, estate: tuple[Path, Path], playbook: str = "fire") -> str:
    result = CliRunner().invoke(main, ["start", playbook, "--at", "B3-1201"],
                                env=_env(tmp_path, estate, START))
    assert result.exit_code == 0, result.output
    return result.output.split()[-1]


def _probe(argv: list[str], env: dict[str, str]) -> tuple[str, set[str]]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out, _, mods = proc.stdout.rpartition("MODULES ")
    return out, set(mods.split())


def test_status_reads_without_engine_escalation_drills_or_pydantic(tmp_path, estate):
    iid = _started(tmp_path, estate)
    env = _env(tmp_path, estate, LATER)
    first, _ = _probe(["status", iid], env)  # the start already stored the cache
    out, modules = _probe(["status", iid], env)
    assert out == first and "Fire" in out and "OVERDUE" in out
    heavy = sorted(m for m in modules if m.split(".")[0] in ("pydantic", "networkx", "jinja2",
                                                             "alembic", "apprise", "yaml")
                   or m.startswith(("incident.drill", "incident.escalation",
                                    "incident.engine.service", "incident.notify.planner",
                                    "incident.notify.channels", "incident.directory",
                                    "incident.playbook.model")))
    assert heavy == []
    # and the same text as the full path (no cache: every file validated, pydantic models)
    fresh, modules = _probe(["status", iid], {**env, "INCIDENT_NO_CACHE": "1"})
    assert fresh == out and "pydantic" in modules


def test_status_json_and_text_are_identical_with_and_without_the_cache(tmp_path, estate):
    iid = _started(tmp_path, estate, "gas_leak")
    env = _env(tmp_path, estate, LATER)
    runner = CliRunner()
    reads = (["status", iid], ["status", iid, "--format", "json"], ["log", iid], ["list"])
    cached = [runner.invoke(main, argv, env=env).output for argv in reads]
    fresh = [runner.invoke(main, argv, env={**env, "INCIDENT_NO_CACHE": "1"}).output
             for argv in reads]
    assert cached == fresh
    doc = json.loads(cached[1])
    assert doc["playbook"] == "gas_leak" and doc["timers"]
    assert "Gas leak" in cached[2] and iid in cached[3]


def test_log_reads_the_directory_and_one_playbook(tmp_path, estate):
    iid = _started(tmp_path, estate)
    env = _env(tmp_path, estate, LATER)
    out, modules = _probe(["log", iid], env)
    assert "Fire" in out
    assert not any(m.split(".")[0] == "pydantic" or m.startswith("incident.escalation")
                   for m in modules)
    assert out == _probe(["log", iid], {**env, "INCIDENT_NO_CACHE": "1"})[0]


def test_a_read_never_writes(tmp_path, estate):
    """Due timers show as due; nothing is fired or appended by `status`."""
    iid = _started(tmp_path, estate)
    env = _env(tmp_path, estate, "fixed:2026-01-05T05:00:00+08:00")  # everything overdue
    runner = CliRunner()
    before = runner.invoke(main, ["log", iid, "--format", "json"], env=env).output
    out = runner.invoke(main, ["status", iid], env=env).output
    assert "not yet fired" in out
    assert runner.invoke(main, ["log", iid, "--format", "json"], env=env).output == before


def _runtime(tmp_path: Path, estate: tuple[Path, Path]) -> Runtime:
    contacts, playbooks = estate
    return Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", user="chen.jie",
                            contacts_dir=contacts, playbooks_dir=playbooks))


def test_the_cache_is_split_and_a_read_unpickles_one_playbook(tmp_path, estate):
    rt = _runtime(tmp_path, estate)
    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    full = rt.engine.state(iid)
    rt.close()

    rt2 = _runtime(tmp_path, estate)
    st = rt2.read_state(iid)
    bundle = rt2._compiled
    assert bundle is not None
    assert {"directory", "playbooks", "escalation", "channel_names", "playbook:fire",
            "playbook:gas_leak"} <= set(bundle._index)
    assert list(bundle._parts) == ["playbook:fire"]  # nothing else unpickled
    assert "directory" not in rt2.__dict__ and "playbooks" not in rt2.__dict__
    assert type(st.playbook).__name__ == "ReadPlaybook"
    # the same fold as the engine's
    assert st.steps == full.steps and st.targets == full.targets and st.reports == full.reports
    assert [t.id for t in st.timers()] == [t.id for t in full.timers()]
    rt2.close()


def test_read_forms_have_the_models_fields_and_lookups(tmp_path, estate):
    from incident.playbook.readform import read_form

    rt = _runtime(tmp_path, estate)
    for pb in rt.playbooks:
        form = pickle.loads(pickle.dumps(read_form(pb)))
        assert form.steps().keys() == pb.steps().keys()
        assert form.track_of() == pb.track_of() and form.conditional() == pb.conditional()
        assert form.title.get("zh") == pb.title.zh and form.title.get("en") == pb.title.en
        for sid, step in pb.steps().items():
            twin = form.steps()[sid]
            assert twin.due == step.due or twin.due.within == step.due.within
            assert twin.title.get("zh") == step.title.zh
        for level in (s.level for s in pb.severities):
            for t in pb.targets:
                assert form.target_within(t, level) == pb.target_within(t, level)
        with pytest.raises(AttributeError):
            form.id = "other"  # read-only, like the frozen model
    rt.close()


def test_a_damaged_part_falls_back_to_the_files(tmp_path, estate):
    contacts, playbooks = estate
    rt = _runtime(tmp_path, estate)
    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    rt.close()
    [cache] = sorted(compiled.cache_dir().glob("compiled-*.pickle"))
    key = compiled.key_for(contacts, playbooks)
    bundle = compiled.load(contacts, playbooks, key)
    start, length = bundle._index["playbook:fire"]
    data = bytearray(cache.read_bytes())
    body = len(data) - len(bundle._data)
    data[body + start:body + start + length] = b"\x00" * length
    cache.write_bytes(bytes(data))
    rt2 = _runtime(tmp_path, estate)
    st = rt2.read_state(iid)  # the damaged part is a miss: the validated library is used
    assert st.playbook.id == "fire" and rt2._compiled.damaged
    rt2.close()


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_broken_escalation_file_is_refused_by_status_as_before(tmp_path, estate, cache):
    contacts, _playbooks = estate
    iid = _started(tmp_path, estate)
    (contacts / "escalation.yaml").write_text("entry: [\n", "utf-8")
    env = _env(tmp_path, estate, LATER)
    if cache == "off":
        env["INCIDENT_NO_CACHE"] = "1"
    result = CliRunner().invoke(main, ["status", iid], env=env)
    assert result.exit_code == 1 and "escalation.yaml" in result.output


def test_log_still_reads_with_a_broken_escalation_file(tmp_path, estate):
    """`log` never validated escalation.yaml (the audit trail stays readable)."""
    contacts, _playbooks = estate
    iid = _started(tmp_path, estate)
    (contacts / "escalation.yaml").write_text("entry: [\n", "utf-8")
    env = _env(tmp_path, estate, LATER)
    for extra in ({}, {"INCIDENT_NO_CACHE": "1"}):
        result = CliRunner().invoke(main, ["log", iid], env={**env, **extra})
        assert result.exit_code == 0 and "Fire" in result.output, result.output


def test_the_code_fingerprint_sees_an_edit_in_any_subpackage(tmp_path, monkeypatch):
    import incident

    pkg = tmp_path / "pkg"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", "utf-8")
    (pkg / "engine" / "state.py").write_text("x = 1\n", "utf-8")
    (pkg / "notes.txt").write_text("not code", "utf-8")
    monkeypatch.setattr(incident, "__file__", str(pkg / "__init__.py"))
    monkeypatch.setattr(compiled, "_code_print", None)
    first = compiled._code_fingerprint()
    (pkg / "notes.txt").write_text("still not code, longer", "utf-8")
    monkeypatch.setattr(compiled, "_code_print", None)
    assert compiled._code_fingerprint() == first
    (pkg / "engine" / "state.py").write_text("x = 22\n", "utf-8")
    monkeypatch.setattr(compiled, "_code_print", None)
    assert compiled._code_fingerprint() != first
