"""One logging setup (incident/logs.py): a rotating file in the data folder, stderr for
CLI commands, the level from config, secrets masked."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from click.testing import CliRunner

from incident.cli import main
from incident.config import Settings

REPO = Path(__file__).resolve().parent.parent
TOKEN = "eagle-secret-token"


def _contacts_with_a_dead_sms_gateway(tmp_path: Path, port: int) -> Path:
    contacts = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", contacts)
    (contacts / "channels.yaml").write_text(
        f'channels:\n  sms:\n    url: "smseagle://${{SMSEAGLE_TOKEN}}@127.0.0.1:{port}'
        '/{phone}"\n    retries: 0\n    timeout: 2s\n', encoding="utf-8")
    return contacts


def _cache_open_to_others(tmp_path: Path, monkeypatch) -> list[str]:
    """A compiled cache whose folder others may write: incident refuses to read it and
    says so (a real warning of the CLI); returns the arguments of a command that reads it."""
    monkeypatch.setenv("INCIDENT_USER", "chen.jie")
    db = ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    assert CliRunner().invoke(main, [*db, "start", "fire", "--at", "B3-1201"]).exit_code == 0
    cache = Path(os.environ["XDG_DATA_HOME"]) / "incident" / "cache"
    assert any(cache.glob("compiled-*.pickle"))
    cache.chmod(0o777)
    return [*db, "list"]


def test_a_cli_warning_reaches_stderr_and_the_rotating_file(tmp_path, monkeypatch):
    args = _cache_open_to_others(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    said = "WARNING incident.compiled: not using the compiled cache"
    assert said in res.stderr and "is not private" in res.stderr
    # the data folder (conftest points XDG_DATA_HOME at a private one)
    log = Path(os.environ["XDG_DATA_HOME"]) / "incident" / "logs" / "incident.log"
    assert said in log.read_text(encoding="utf-8")


def test_apprise_per_message_warnings_go_to_the_file_not_stderr(tmp_path, smseagle,
                                                               monkeypatch):
    """A failed send is reported by the command (and recorded per attempt); Apprise's
    own warning about it is kept in the file, without the gateway token."""
    smseagle.refuse()
    contacts = _contacts_with_a_dead_sms_gateway(tmp_path, smseagle.port)
    monkeypatch.setenv("SMSEAGLE_TOKEN", TOKEN)
    res = CliRunner().invoke(main, ["--contacts", str(contacts), "notify", "test", "sms",
                                    "+8613800000001"])
    assert res.exit_code == 1 and "failed" in res.stderr
    assert "WARNING apprise" not in res.stderr
    log = Path(os.environ["XDG_DATA_HOME"]) / "incident" / "logs" / "incident.log"
    text = log.read_text(encoding="utf-8")
    assert "WARNING apprise" in text and "Connection error" in text
    assert TOKEN not in text and TOKEN not in res.stderr


def test_the_level_comes_from_config_env_and_flag(tmp_path, monkeypatch):
    args = _cache_open_to_others(tmp_path, monkeypatch)
    monkeypatch.setenv("INCIDENT_LOG_FILE", str(tmp_path / "own.log"))
    said = "WARNING incident.compiled"
    monkeypatch.setenv("INCIDENT_LOG_LEVEL", "error")
    quiet = CliRunner().invoke(main, args)
    assert quiet.exit_code == 0 and said not in quiet.stderr
    (Path(os.environ["XDG_DATA_HOME"]) / "incident" / "cache").chmod(0o777)
    loud = CliRunner().invoke(main, ["--log-level", "warning", *args])  # the flag wins
    assert said in loud.stderr
    assert said in (tmp_path / "own.log").read_text(encoding="utf-8")
    monkeypatch.delenv("INCIDENT_LOG_LEVEL")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incident.toml").write_text('[logging]\nlevel = "loud"\n', encoding="utf-8")
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code == 1
    assert "unknown log level 'loud'" in bad.output and "Traceback" not in bad.output
    (tmp_path / "incident.toml").write_text('[logging]\nlevel = "ERROR"\n', encoding="utf-8")
    (Path(os.environ["XDG_DATA_HOME"]) / "incident" / "cache").chmod(0o777)
    assert said not in CliRunner().invoke(main, args).stderr


def test_remembered_secrets_and_url_credentials_are_masked_in_the_file(tmp_path):
    from incident import logs
    from incident.masking import remember

    path = logs.setup(Settings(log_file=tmp_path / "x.log"))
    remember(["hunter2-chain-key"])
    logging.getLogger("incident.test").warning(
        "posting to https://anchor:pw123@notary.example/?token=abc key %s",
        "hunter2-chain-key")
    for h in logging.getLogger().handlers:
        h.flush()
    text = Path(path).read_text(encoding="utf-8")
    assert "hunter2-chain-key" not in text and "pw123" not in text and "abc" not in text
    assert "https://***@notary.example/?token=***" in text
