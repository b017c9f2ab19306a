"""`incident validate`: the whole configuration checked at once, as a site manager runs it."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from incident.cli import main

REPO = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, playbooks: Path, contacts: Path) -> dict[str, str]:
    return {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}",
            "INCIDENT_PLAYBOOKS_DIR": str(playbooks), "INCIDENT_CONTACTS_DIR": str(contacts),
            "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    playbooks, contacts = tmp_path / "playbooks", tmp_path / "contacts"
    shutil.copytree(REPO / "playbooks", playbooks)
    shutil.copytree(REPO / "contacts", contacts)
    return playbooks, contacts


def test_the_shipped_configuration_is_valid(tmp_path):
    res = CliRunner().invoke(main, ["validate"], env=_env(tmp_path, REPO / "playbooks",
                                                          REPO / "contacts"))
    assert res.exit_code == 0, res.output
    assert "checked channels" in res.output and "chat, email, sms" in res.output
    assert "checked 15 playbooks" in res.output and "checked 3 drill scenarios" in res.output
    assert res.output.rstrip().endswith("valid (0 warning(s))")


def test_every_broken_file_is_named_with_its_line_and_nothing_is_changed(tmp_path):
    playbooks, contacts = _copy(tmp_path)
    fire = playbooks / "fire.yaml"
    fire.write_text(fire.read_text(encoding="utf-8").replace("assignee: duty_officer",
                                                             "assignee: duty_oficer", 1),
                    encoding="utf-8")
    channels = contacts / "channels.yaml"
    channels.write_text(channels.read_text(encoding="utf-8").replace(
        'url: "sink://email/{email}"', 'url: "mailtoo://relay.estate.lan/{email}"'),
        encoding="utf-8")
    channels.write_text(channels.read_text(encoding="utf-8").replace(
        'url: "sink://chat/{chat}"', 'url: "json://chat.estate.lan/${CHAT_TOKEN}/{chat}"'),
        encoding="utf-8")
    before = {p: p.read_bytes() for p in (fire, channels)}

    res = CliRunner().invoke(main, ["validate"], env=_env(tmp_path, playbooks, contacts))
    assert res.exit_code == 1, res.output
    out = res.output
    line = next(i for i, text in enumerate(fire.read_text(encoding="utf-8").splitlines(), 1)
                if "duty_oficer" in text)
    assert f"fire.yaml:{line}" in out and "duty_oficer" in out and "duty_officer" in out
    assert "channels.yaml" in out and "Apprise has no service 'mailtoo://'" in out
    assert "${CHAT_TOKEN} is not set" in out  # a warning: the channel fails until it is set
    assert "2 error(s), 1 warning(s)" in out
    assert {p: p.read_bytes() for p in before} == before
