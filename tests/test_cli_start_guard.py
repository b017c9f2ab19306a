"""`incident start` refuses a second incident of the same kind in the same building
(exit 1, nothing written) unless --new; `incident act` prints a decision's severity
proposal; a playbook naming a severity it does not have is refused at load."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from incident.cli import main

REPO = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path) -> dict[str, str]:
    return {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "INCIDENT_PLAYBOOKS_DIR": str(REPO / "playbooks"),
            "INCIDENT_CONTACTS_DIR": str(REPO / "contacts"), "INCIDENT_USER": "chen.jie",
            "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def test_second_start_in_the_same_building_is_refused_with_a_hint_unless_new(tmp_path):
    env, cli = _env(tmp_path), CliRunner()
    first = cli.invoke(main, ["start", "fire", "--at", "B3-1201"], env=env)
    assert first.exit_code == 0, first.output
    iid = first.output.strip()
    again = cli.invoke(main, ["start", "fire", "--at", "B3 15F"], env=env)
    assert again.exit_code == 1
    assert iid in again.output and "--new" in again.output and "chen.jie" in again.output
    listed = cli.invoke(main, ["list"], env=env)
    assert listed.output.count("INC-") == 1  # nothing written
    other_kind = cli.invoke(main, ["start", "pipe_burst", "--at", "B3-1201"], env=env)
    assert other_kind.exit_code == 0, other_kind.output
    separate = cli.invoke(main, ["start", "fire", "--at", "B3-1503", "--new"], env=env)
    assert separate.exit_code == 0 and separate.output.strip() != iid


def test_a_real_fire_prints_the_severity_proposal_without_applying_it(tmp_path):
    env, cli = _env(tmp_path), CliRunner()
    iid = cli.invoke(main, ["start", "fire", "--at", "B3-1201"], env=env).output.strip()
    res = cli.invoke(main, ["act", iid, "confirm_alarm", "--option", "real_fire"], env=env)
    assert res.exit_code == 0, res.output
    assert "proposal: raise to severity 2" in res.output
    assert f"incident severity {iid} 2" in res.output
    status = cli.invoke(main, ["status", iid, "--format", "json"], env=env)
    assert '"severity": 3' in status.output  # proposed, not applied


def test_an_option_severity_the_playbook_lacks_is_refused_at_load(tmp_path):
    import shutil

    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO / "playbooks", playbooks)
    fire = playbooks / "fire.yaml"
    fire.write_text(fire.read_text(encoding="utf-8").replace("            severity: 2\n",
                                                             "            severity: 7\n", 1),
                    encoding="utf-8")
    env = {**_env(tmp_path), "INCIDENT_PLAYBOOKS_DIR": str(playbooks)}
    res = CliRunner().invoke(main, ["validate"], env=env)
    assert res.exit_code == 1
    assert "fire.yaml" in res.output and "severity 7 is not a level" in res.output
