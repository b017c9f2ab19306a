"""Settings come from one place: flags, then INCIDENT_* env, then incident.toml, then defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.config import REPO_ROOT, config_dir, data_dir, load_settings
from incident.errors import ValidationFailed


def test_defaults_are_the_demo_estate_and_sqlite_in_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.playbooks_dir == REPO_ROOT / "playbooks"
    assert s.contacts_dir == REPO_ROOT / "contacts"
    assert s.db_url == f"sqlite:///{data_dir() / 'incident.db'}"
    assert data_dir() == Path(os.environ["XDG_DATA_HOME"]) / "incident"  # per-user, not cwd


def test_precedence_flags_env_cwd_toml_user_toml(monkeypatch, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "incident.toml").write_text(
        '[incident]\nlang = "zh"\nuser = "from.user.toml"\ntimezone = "UTC"\n', "utf-8")
    assert load_settings().user == "from.user.toml"
    (work / "incident.toml").write_text('user = "from.cwd.toml"\ncontacts_dir = "estate"\n',
                                        "utf-8")
    s = load_settings()
    assert s.user == "from.cwd.toml" and s.lang == "zh" and s.timezone == "UTC"
    assert s.contacts_dir == work / "estate"  # relative to the file that says it
    monkeypatch.setenv("INCIDENT_USER", "from.env")
    assert load_settings().user == "from.env"
    s = load_settings(user="from.flag", lang=None)
    assert s.user == "from.flag" and s.lang == "zh"
    assert s.sources["user"] == "command line" and s.sources["lang"].endswith("incident.toml")


def test_bad_settings_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incident.toml").write_text('databse_url = "x"\n', "utf-8")
    with pytest.raises(ValidationFailed, match="unknown setting 'databse_url'"):
        load_settings()
    (tmp_path / "incident.toml").write_text('user = \n', "utf-8")
    with pytest.raises(ValidationFailed, match="cannot read settings"):
        load_settings()


def test_cli_reports_a_bad_clock_setting_without_a_traceback(tmp_path):
    result = CliRunner().invoke(main, ["list"], env={"INCIDENT_CLOCK": "tomorrow",
                                                     "INCIDENT_DATABASE_URL":
                                                     f"sqlite:///{tmp_path / 'x.db'}"})
    assert result.exit_code == 1
    assert "clock 'tomorrow': use 'system' or 'fixed:" in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_creates_the_schema(db_url):
    result = CliRunner().invoke(main, ["--db", db_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    result = CliRunner().invoke(main, ["--db", db_url, "list"])
    assert result.exit_code == 0 and "no open incidents" in result.output


def test_first_use_creates_the_sqlite_file_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = data_dir() / "incident.db"
    assert not db.exists()
    result = CliRunner().invoke(main, ["start", "fire", "--at", "B3-1201", "--as", "chen.jie"])
    assert result.exit_code == 0, result.output
    assert db.exists() and Path(db).stat().st_size > 0
