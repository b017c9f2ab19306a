"""The compiled cache (incident/compiled.py): a second command reads validated objects
instead of re-validating the files, an edit is seen at once, and the cache file is
private and never unpickled unless it belongs to these exact files and this code."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

from click.testing import CliRunner

from incident import compiled
from incident.cli import main
from incident.config import Settings
from incident.runtime import Runtime


def _runtime(tmp_path: Path, estate: tuple[Path, Path]) -> Runtime:
    contacts, playbooks = estate
    return Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", user="chen.jie",
                            contacts_dir=contacts, playbooks_dir=playbooks))


def _cache_files() -> list[Path]:
    return sorted(compiled.cache_dir().glob("compiled-*.pickle"))


def test_second_runtime_reads_the_compiled_objects(tmp_path, estate):
    rt = _runtime(tmp_path, estate)
    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    rt.close()
    [cache] = _cache_files()
    mode = stat.S_IMODE(cache.stat().st_mode)
    assert mode == 0o600 and stat.S_IMODE(cache.parent.stat().st_mode) == 0o700

    rt2 = _runtime(tmp_path, estate)
    assert rt2._compiled is not None  # a hit: nothing re-validated
    st = rt2.engine.state(iid)
    assert st.playbook.id == "fire" and len(rt2.directory.owners) == len(rt.directory.owners)
    assert rt2.directory.warnings == rt.directory.warnings
    esc = rt2.engine  # escalation came from the cache too and still pages
    assert st.pages, "the entry role was paged at start"
    from incident.escalation import installed

    graph = installed(esc).graph
    assert graph is not None and graph.entry == installed(rt.engine).graph.entry
    assert set(graph.graph.nodes) == set(graph.nodes)  # the networkx view rebuilds on use
    rt2.close()


def test_an_edited_file_is_seen_by_the_next_command(tmp_path, estate):
    _contacts, playbooks = estate
    rt = _runtime(tmp_path, estate)
    rt.engine  # noqa: B018 — builds and stores the cache
    rt.close()
    fire = playbooks / "fire.yaml"
    fire.write_text(fire.read_text("utf-8").replace("en: Fire", "en: Blaze", 1), "utf-8")
    rt2 = _runtime(tmp_path, estate)
    assert rt2._compiled is None  # other content, other key: rebuilt from the files
    assert rt2.playbooks.get("fire").title.en == "Blaze"
    rt2.engine  # noqa: B018
    rt2.close()
    rt3 = _runtime(tmp_path, estate)
    assert rt3._compiled is not None and rt3.playbooks.get("fire").title.en == "Blaze"
    rt3.close()


def test_a_broken_file_is_reported_every_time_and_never_cached(tmp_path, estate):
    contacts, _playbooks = estate
    (contacts / "staff.yaml").write_text("roles: [\n", "utf-8")
    for _ in range(2):
        result = CliRunner().invoke(main, ["--contacts", str(contacts), "start", "fire",
                                           "--at", "B3-1201"],
                                    env={"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
        assert result.exit_code == 1 and "staff.yaml" in result.output
    assert _cache_files() == []


def test_a_cache_file_for_other_inputs_or_not_private_is_never_unpickled(tmp_path, estate):
    contacts, playbooks = estate
    rt = _runtime(tmp_path, estate)
    rt.engine  # noqa: B018
    rt.close()
    [cache] = _cache_files()
    key = compiled.key_for(contacts, playbooks)
    assert compiled.load(contacts, playbooks, key) is not None

    class Boom:
        def __reduce__(self):
            return (os.abort, ())  # would kill the test run if it were ever unpickled

    header = cache.read_bytes().split(b"\n", 1)[0]
    cache.write_bytes(b"incident-compiled-1 " + b"0" * 64 + b"\n" + pickle.dumps(Boom()))
    assert compiled.load(contacts, playbooks, key) is None  # other key: not read

    cache.write_bytes(header + b"\n" + pickle.dumps({}) + pickle.dumps({"directory": (0, 64)})
                      + b"truncated")
    assert compiled.load(contacts, playbooks, key).part("directory") is None  # no crash
    cache.write_bytes(header + b"\n" + pickle.dumps({}) + b"truncated")
    assert compiled.load(contacts, playbooks, key) is None  # no index: a miss
    rt = _runtime(tmp_path, estate)
    assert rt.directory.owners and rt.engine  # read from the files, and the file repaired
    rt.close()
    assert compiled.load(contacts, playbooks, key).part("directory") is not None
    cache.write_bytes(header + b"\nnot a pickle")
    assert compiled.load(contacts, playbooks, key) is None

    rt = _runtime(tmp_path, estate)
    rt.engine  # noqa: B018 — rewrites a good file
    rt.close()
    assert compiled.load(contacts, playbooks, key) is not None
    cache.chmod(0o644)
    assert compiled.load(contacts, playbooks, key) is None  # readable by others: ignored
    cache.chmod(0o600)
    cache.parent.chmod(0o777)
    assert compiled.load(contacts, playbooks, key) is None  # folder writable by others
    cache.parent.chmod(0o700)


def test_the_cache_can_be_turned_off(tmp_path, estate, monkeypatch):
    monkeypatch.setenv("INCIDENT_NO_CACHE", "1")
    rt = _runtime(tmp_path, estate)
    rt.engine  # noqa: B018
    rt.close()
    assert _cache_files() == []


def test_status_and_list_read_the_same_with_and_without_the_cache(tmp_path, estate,
                                                                   monkeypatch):
    contacts, playbooks = estate
    env = {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "INCIDENT_CONTACTS_DIR": str(contacts), "INCIDENT_PLAYBOOKS_DIR": str(playbooks),
           "INCIDENT_USER": "chen.jie", "INCIDENT_CLOCK": "fixed:2026-01-05T03:00:00+08:00"}
    runner = CliRunner()
    iid = runner.invoke(main, ["start", "gas_leak", "--at", "B3-1201"], env=env).output.split()[-1]
    # read later on a fixed clock: some steps and targets overdue, the rest counting down
    env["INCIDENT_CLOCK"] = "fixed:2026-01-05T03:04:00+08:00"
    reads = (["status", iid], ["status", iid, "--format", "json"], ["list"])
    cached = [runner.invoke(main, argv, env=env).output for argv in reads]
    assert _cache_files()
    again = [runner.invoke(main, argv, env=env).output for argv in reads]  # a cache hit
    fresh = [runner.invoke(main, argv, env={**env, "INCIDENT_NO_CACHE": "1"}).output
             for argv in reads]
    assert cached == again == fresh
    assert "OVERDUE" in cached[0] and "due in" in cached[0] and "Gas leak" in cached[0]
    assert iid in cached[2]


def test_schema_head_is_read_without_alembic():
    from alembic.script import ScriptDirectory

    from incident.store import db

    assert db._scan_head() == ScriptDirectory.from_config(db.alembic_config()).get_current_head()
