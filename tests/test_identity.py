"""Every act has a person: staff only, known by login or declared as the estate allows,
acting for a colleague only when staff.yaml permits, and a second person proven by
their own login or PIN."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident.cli import main
from incident.credentials import CredentialStore, check_secret, hash_secret
from incident.directory import load_directory
from incident.errors import Refused, ValidationFailed
from incident.identity import Actor, acting_person, keyboard_person

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'incident.db'}",
            "INCIDENT_CREDENTIALS_FILE": str(tmp_path / "credentials.json")}


def cli(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env=env, input=input)


def events(env: dict[str, str], iid: str) -> list[dict]:
    r = cli({**env, "INCIDENT_USER": "chen.jie"}, "log", iid, "--format", "json")
    return json.loads(r.output)


def login_estate(tmp_path: Path) -> Path:
    """The demo estate as a real site runs it: people known by their OS login."""
    folder = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", folder)
    staff = folder / "staff.yaml"
    staff.write_text(staff.read_text("utf-8").replace("identify_by: declared",
                                                      "identify_by: login"), "utf-8")
    return folder


@pytest.mark.parametrize("who", ["nobody.here", "", "system", "   "])
def test_unknown_empty_and_system_actors_are_refused_and_nothing_is_written(env, who):
    r = cli(env, "start", "fire", "--at", "B3-1201", "--as", who)
    assert r.exit_code == 1
    assert "refused:" in r.output and "Traceback" not in r.output
    assert ("reserved" in r.output) if who == "system" else True
    r = cli({**env, "INCIDENT_USER": "chen.jie"}, "list", "--all")
    assert "no incidents" in r.output


def test_without_any_identity_nothing_is_written(env):
    r = cli(env, "start", "fire", "--at", "B3-1201")
    assert r.exit_code == 1 and "who is acting?" in r.output


def test_the_engine_itself_refuses_non_staff(env):
    from incident.config import load_settings
    from incident.runtime import Runtime

    rt = Runtime(load_settings(database_url=env["INCIDENT_DATABASE_URL"]))
    with pytest.raises(Refused, match="not a member of staff"):
        rt.engine.start("fire", "B3-1201", actor="nobody.here")
    with pytest.raises(Refused, match="reserved"):
        rt.engine.start("fire", "B3-1201", actor="system")
    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    with pytest.raises(Refused):
        rt.engine.note(iid, "forged", actor="")
    assert rt.store.events(iid)[0].actor == "chen.jie"
    rt.close()


def test_entered_for_a_colleague_only_when_permitted_and_recorded(env, tmp_path):
    iid = cli({**env, "INCIDENT_USER": "chen.jie"}, "start", "fire", "--at", "B3-1201"
              ).output.strip()
    # an officer may not put words in a colleague's mouth
    r = cli({**env, "INCIDENT_USER": "chen.jie"}, "note", iid, "all", "clear", "--as", "liu.yang")
    assert r.exit_code == 1 and "enters_for" in r.output
    # a supervisor taking a colleague's phone call may (enters_for: true)
    r = cli({**env, "INCIDENT_USER": "song.hui"}, "note", iid, "smoke", "on", "12F",
            "--as", "liu.yang")
    assert r.exit_code == 0, r.output
    last = events(env, iid)[-1]
    assert last["actor"] == "liu.yang" and last["payload"]["entered_by"] == "song.hui"
    log = cli({**env, "INCIDENT_USER": "chen.jie"}, "log", iid).output
    assert "Liu Yang noted: smoke on 12F; entered by Song Hui" in log
    report = cli({**env, "INCIDENT_USER": "chen.jie"}, "report", iid, "--format", "md").output
    assert ("entered by" in report and "Song Hui" in report) or "宋慧" in report


def test_login_mode_knows_the_person_from_the_os_login(env, tmp_path):
    contacts = login_estate(tmp_path)
    env = {**env, "INCIDENT_CONTACTS_DIR": str(contacts)}
    # getpass reads LOGNAME first: the login this process runs under
    r = cli({**env, "LOGNAME": "intruder"}, "start", "fire", "--at", "B3-1201")
    assert r.exit_code == 1 and "login: intruder" in r.output
    r = cli({**env, "LOGNAME": "chenjie"}, "start", "fire", "--at", "B3-1201")
    assert r.exit_code == 0, r.output
    iid = r.output.strip()
    # declaring someone else does not change who you are
    r = cli({**env, "LOGNAME": "chenjie", "INCIDENT_USER": "deng.jianhua"}, "note", iid, "x")
    assert r.exit_code == 1 and "identifies people by login" in r.output
    r = cli({**env, "LOGNAME": "chenjie"}, "note", iid, "x", "--as", "deng.jianhua")
    assert r.exit_code == 1 and "may not act as deng.jianhua" in r.output
    r = cli({**env, "LOGNAME": "songhui"}, "note", iid, "called", "in", "--as", "chen.jie")
    assert r.exit_code == 0, r.output
    who = cli({**env, "LOGNAME": "chenjie"}, "staff", "whoami")
    assert "chen.jie" in who.output and "by your login" in who.output


def test_keyboard_rules_without_the_cli():
    d = load_directory(REPO / "contacts")
    assert keyboard_person(d, "chen.jie", login="root") == "chen.jie"
    assert keyboard_person(d, None, login="tangwei").how == "login"
    with pytest.raises(Refused, match="who is acting"):
        keyboard_person(d, None, login="root")
    me = Actor("song.hui", how="login")
    for_them = acting_person(d, me, "chen.jie")
    assert for_them == "chen.jie" and for_them.entered_by == "song.hui"
    assert not for_them.proven  # entered for someone proves nothing about them


def _gated(env: dict[str, str]) -> str:
    """The mini fire with 'restore power' done and waiting for a second person."""
    e = {**env, "INCIDENT_USER": "chen.jie"}
    iid = cli(e, "start", "mini", "--at", "B3-1201").output.strip()
    for step, extra in (("confirm", ["--option", "real"]), ("call_119", []),
                        ("restore_power", [])):
        r = cli(e, "act", iid, step, *extra)
        assert r.exit_code == 0, r.output
    return iid


def test_second_person_needs_their_own_pin_never_a_typed_id(env, tmp_path):
    env = {**env, "INCIDENT_PLAYBOOKS_DIR": str(REPO / "tests" / "data" / "playbooks")}
    iid = _gated(env)
    st = json.loads(cli({**env, "INCIDENT_USER": "chen.jie"}, "status", iid, "--format",
                        "json").output)
    assert st["steps"]["restore_power"]["status"] == "awaiting_confirmation", st["steps"]
    officer = {**env, "INCIDENT_USER": "chen.jie"}
    # a typed colleague's id: they have no PIN, so nothing can prove them
    r = cli(officer, "act", iid, "restore_power", "--confirm", "--as", "liu.yang",
            "--pin-stdin", input="1234\n")
    assert r.exit_code == 1 and "has no PIN" in r.output
    # declared as themselves is still only a typed id
    r = cli({**env, "INCIDENT_USER": "liu.yang"}, "act", iid, "restore_power", "--confirm",
            "--pin-stdin", input="1234\n")
    assert r.exit_code == 1
    r = cli({**env, "INCIDENT_USER": "liu.yang"}, "staff", "set-pin", "liu.yang",
            "--pin-stdin", input="2580\n")
    assert r.exit_code == 0, r.output
    r = cli(officer, "act", iid, "restore_power", "--confirm", "--as", "liu.yang",
            "--pin-stdin", input="1111\n")
    assert r.exit_code == 1 and "wrong PIN" in r.output
    st = json.loads(cli(officer, "status", iid, "--format", "json").output)
    assert st["steps"]["restore_power"]["status"] == "awaiting_confirmation"
    r = cli(officer, "act", iid, "restore_power", "--confirm", "--as", "liu.yang",
            input="2580\n")  # the hidden prompt
    assert r.exit_code == 0, r.output
    last = [e for e in events(env, iid) if e["kind"] == "step.confirmed"][-1]
    assert last["actor"] == "liu.yang" and "entered_by" not in last["payload"]


def test_pins_are_hashed_in_a_private_file_and_only_their_owner_sets_them(env, tmp_path):
    path = tmp_path / "credentials.json"
    r = cli({**env, "INCIDENT_USER": "chen.jie"}, "staff", "set-pin", "liu.yang",
            "--pin-stdin", input="2580\n")
    assert r.exit_code == 1 and "only liu.yang sets their first PIN" in r.output
    assert not path.exists()
    r = cli({**env, "INCIDENT_USER": "liu.yang"}, "staff", "set-pin", "liu.yang",
            "--pin-stdin", input="12\n")
    assert r.exit_code == 1 and "4 to 12 digits" in r.output
    r = cli({**env, "INCIDENT_USER": "liu.yang"}, "staff", "set-pin", "liu.yang",
            "--pin-stdin", input="2580\n")
    assert r.exit_code == 0
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text("utf-8")
    assert "2580" not in text and "scrypt$" in text
    # changing it needs the current one, whoever asks
    r = cli({**env, "INCIDENT_USER": "liu.yang"}, "staff", "set-pin", "liu.yang",
            "--pin-stdin", input="0000\n9999\n")
    assert r.exit_code == 1 and "wrong PIN" in r.output
    assert CredentialStore(path).verify("liu.yang", "2580")


def test_secret_hashes_are_salted():
    a, b = hash_secret("2580"), hash_secret("2580")
    assert a != b and check_secret("2580", a) and check_secret("2580", b)
    assert not check_secret("2581", a) and not check_secret("2580", "garbage")


def test_staff_yaml_logins_are_unique_and_system_is_reserved(tmp_path):
    folder = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", folder)
    staff = folder / "staff.yaml"
    text = staff.read_text("utf-8")
    staff.write_text(text.replace("    login: tangwei\n", "    login: songhui\n"), "utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_directory(folder)
    msg = "\n".join(i.format() for i in exc.value.issues)
    assert "login 'songhui' is already song.hui's" in msg and "staff.yaml:" in msg
    staff.write_text(text.replace("  chen.jie:\n    name: 陈杰", "  system:\n    name: 陈杰"),
                     "utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_directory(folder)
    assert any("reserved" in i.message for i in exc.value.issues)
