"""Hostile or careless input: alias bombs, huge durations, templates that fail at send
time, rosters that would unlist every owner, bad output paths, a locked database, and
files that must be private. Each gets one clear error naming where, never a traceback."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.cli import main
from incident.clock import MAX_DURATION, parse_duration
from incident.errors import ValidationFailed
from incident.playbook import load_playbook_text
from incident.yamlsrc import MAX_YAML_BYTES, parse_text

REPO = Path(__file__).resolve().parent.parent
FIRE = (REPO / "playbooks" / "fire.yaml").read_text(encoding="utf-8")
SUBJECT = '              en: "FIRE CONFIRMED: {{ location }}"'


def _env(tmp_path: Path, playbooks: Path = REPO / "playbooks",
         contacts: Path = REPO / "contacts") -> dict[str, str]:
    return {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
            "INCIDENT_PLAYBOOKS_DIR": str(playbooks), "INCIDENT_CONTACTS_DIR": str(contacts),
            "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# ---- YAML alias bombs and size --------------------------------------------------------

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [" + ",".join(f"*{p}" for _ in range(9)) + "]"
       for p, c in zip("abcdefgh", "bcdefghi", strict=True)]) + "\n"

_CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB: a regression dies
    from incident.cli import main
    sys.argv = ["incident", "validate", sys.argv[1]]
    main()
""")


def test_a_nine_level_alias_bomb_is_refused_with_its_line(tmp_path):
    """In a child process with 1 GiB of address space and a timeout, so a regression
    fails this test instead of eating the machine."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    env = {**os.environ, **_env(tmp_path, playbooks=folder)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(folder / "bomb.yaml")],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "MemoryError" not in out
    assert "bomb.yaml:6:" in out and "too many aliases" in out


@pytest.mark.parametrize(("text", "message"), [
    (BOMB, "nested more than 4 deep"),
    ("x: &x " + "[" + ",".join(["1"] * 500) + "]\n"
     + "".join(f"k{i}: *x\n" for i in range(300)), "stand for more than 100,000 values"),
    ("x: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(1001)), "more than 1,000 aliases"),
])
def test_alias_limits_name_the_alias(text, message):
    with pytest.raises(ValidationFailed) as info:
        parse_text(text, "b.yaml")
    issue = info.value.issues[0]
    assert "too many aliases" in issue.message and message in issue.message, issue.format()
    assert issue.line is not None and issue.file == "b.yaml"


def test_ordinary_anchors_and_merge_keys_still_work():
    doc = parse_text("base: &b {en: Hi, zh: 你好}\nx: *b\ny:\n  <<: *b\n  en: Hello\n", "ok.yaml")
    assert doc.data["x"] == {"en": "Hi", "zh": "你好"}
    assert doc.data["y"] == {"en": "Hello", "zh": "你好"}


def test_an_oversized_yaml_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("w") as fh:
        fh.write("x: '" + "a" * (MAX_YAML_BYTES + 10) + "'\n")
    res = CliRunner().invoke(main, ["validate", str(big)], env=_env(tmp_path))
    assert res.exit_code == 1 and "at most 4 MiB" in res.output, res.output


# ---- durations ----------------------------------------------------------------------

@pytest.mark.parametrize("due", ["99999999999h", "999999999h", "721h", "43201m"])
def test_a_duration_beyond_thirty_days_is_refused_at_load(tmp_path, due):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    text = FIRE.replace("        due: 3m\n", f"        due: {due}\n", 1)
    (folder / "fire.yaml").write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["validate", str(folder / "fire.yaml")],
                             env=_env(tmp_path, playbooks=folder))
    assert res.exit_code == 1, res.output
    assert f"fire.yaml:{_line(text, 'due: ' + due)}" in res.output
    assert "longer than 30 days" in res.output and "Traceback" not in res.output


_DURATIONS = st.one_of(
    st.from_regex(r"\A\s*(\d{1,14}(\.\d{1,3})?h)?\s*(\d{1,14}m)?\s*(\d{1,14}s)?\s*\Z"),
    st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True),
    st.text(max_size=20))


@settings(max_examples=300, deadline=None)
@given(_DURATIONS)
def test_fuzzed_durations_parse_within_range_or_raise_value_error(value):
    try:
        d = parse_duration(value)
    except ValueError:
        return
    assert d.total_seconds() >= 0 and d <= MAX_DURATION


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DURATIONS.filter(lambda v: isinstance(v, str | int)))
def test_fuzzed_due_in_a_playbook_is_valid_or_a_clear_error(value):
    text = FIRE.replace("        due: 3m\n", f"        due: {value!r}\n"
                        if isinstance(value, str) else f"        due: {value}\n", 1)
    try:
        load_playbook_text(text, "fuzz.yaml")
    except ValidationFailed as exc:
        assert all(i.file == "fuzz.yaml" for i in exc.issues)


# ---- templates ----------------------------------------------------------------------

@pytest.mark.parametrize(("template", "message"), [
    ("{{ 1 // 0 }}", "division by zero"),
    ("{% for i in range(10**9) %}x{% endfor %}", "1,000,000,000"),
    ("{{ ''.__class__.__mro__ }}", "'__class__'"),
    ("{{ location['__class__'] }}", "'__class__'"),
    ("{{ 'x' * 1000000000 }}", "'*' making"),
    ("{{ location.zfill(100000000) }}", "100,000,000"),
    ("{{ '{:>999999999}'.format(1) }}", "unsafe"),
    ("{{ floor + 1 }}", "no floor"),
    ("{{ location|center(1000000000) }}", "No filter named 'center'"),
])
def test_a_template_that_would_fail_at_send_time_is_refused_at_load(template, message):
    text = FIRE.replace(SUBJECT, f"              en: \"{template}\"", 1)
    assert text != FIRE
    with pytest.raises(ValidationFailed) as info:
        load_playbook_text(text, "tpl.yaml")
    hit = [i for i in info.value.issues if message in i.message]
    assert hit, [i.format() for i in info.value.issues]
    assert hit[0].line == _line(text, template[:12]) and hit[0].file == "tpl.yaml"


_PIECES = ["{{ ", " }}", "{% ", " %}", "location", "floor", "hotline", "severity", "1", "0",
           "10**9", " // ", " * ", " + ", " % ", "range(", ")", "'x'", "|upper", "|center(",
           "|first", "|sum", "|round", "|abs", "unit", "|default", "|trim",
           ".__class__", "[", "]", "for i in ", "endfor", "if ", "endif", "9" * 12, "(", ","]


@settings(max_examples=250, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_fuzzed_templates_load_or_fail_cleanly_and_loaded_ones_render(template):
    from incident.playbook.templates import check, render, sample_contexts, undeclared

    names = {"location", "floor", "hotline", "severity", "unit"}
    ctxs = sample_contexts(names)
    try:
        unknown = undeclared(template) - names  # the loader refuses these first
        problem = check(template, ctxs)
    except Exception as exc:  # only syntax errors may escape check (the loader reports them)
        from jinja2 import TemplateSyntaxError

        assert isinstance(exc, TemplateSyntaxError), repr(exc)
        return
    if problem is None and not unknown:  # what passed the loader renders with the same values
        for _label, ctx in ctxs:
            assert len(render(template, ctx)) <= 20_000


# ---- rosters ------------------------------------------------------------------------

def _contacts(tmp_path: Path) -> Path:
    folder = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", folder)
    return folder


def _import(tmp_path: Path, folder: Path, roster: Path, *flags: str):
    return CliRunner().invoke(main, ["contacts", "import", str(roster), *flags],
                              env=_env(tmp_path, contacts=folder))


def test_a_header_only_roster_is_refused_unless_allowed(tmp_path):
    folder = _contacts(tmp_path)
    before = (folder / "owners.csv").read_bytes()
    empty = tmp_path / "export.csv"
    empty.write_text("unit,name,phone,email,chat,lang,vulnerable,tags,notes\n", encoding="utf-8")
    res = _import(tmp_path, folder, empty)
    assert res.exit_code == 1, res.output
    assert "no owner rows" in res.output and "--allow-shrink" in res.output
    assert (folder / "owners.csv").read_bytes() == before
    res = _import(tmp_path, folder, empty, "--allow-shrink")
    assert res.exit_code == 0 and "imported 0 owners" in res.output, res.output


def test_a_roster_that_drops_too_many_owners_is_refused(tmp_path):
    folder = _contacts(tmp_path)
    lines = (folder / "owners.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    cut = tmp_path / "cut.csv"
    keep = 1 + (len(lines) - 1) * 8 // 10  # 20% of the owners missing
    cut.write_text("".join(lines[:keep]), encoding="utf-8")
    res = _import(tmp_path, folder, cut)
    assert res.exit_code == 1 and "would remove" in res.output, res.output
    assert "more than 10% is refused" in res.output
    few = tmp_path / "few.csv"
    few.write_text("".join(lines[:len(lines) - 3]), encoding="utf-8")  # 3 owners moved out
    res = _import(tmp_path, folder, few)
    assert res.exit_code == 0, res.output


def test_an_unterminated_quote_names_its_row_and_imports_nothing(tmp_path):
    folder = _contacts(tmp_path)
    lines = (folder / "owners.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    broken = [*lines[:5], lines[5].replace(",", ',"', 1), *lines[6:]]
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(broken), encoding="utf-8")
    res = _import(tmp_path, folder, bad)
    assert res.exit_code == 1, res.output
    assert "bad.csv:6:" in res.output and "do not pair up" in res.output
    last = tmp_path / "last.csv"  # a quote opened on the last row runs to the end of the file
    last.write_text("".join([*lines[:-1], lines[-1].replace(",", ',"', 1)]), encoding="utf-8")
    res = _import(tmp_path, folder, last)
    assert res.exit_code == 1, res.output
    assert f"last.csv:{len(lines)}:" in res.output and "never closed" in res.output


# ---- output paths, locks and file modes -----------------------------------------------

def _incident(tmp_path: Path) -> tuple[str, dict[str, str]]:
    env = _env(tmp_path)
    res = CliRunner().invoke(main, ["start", "fire", "--at", "B3-1201", "--as", "chen.jie"],
                             env=env)
    assert res.exit_code == 0, res.output
    return res.output.strip().splitlines()[-1], env


def test_report_into_a_missing_folder_is_an_error_and_creates_nothing(tmp_path):
    iid, env = _incident(tmp_path)
    target = tmp_path / "no" / "such" / "dir" / "x.html"
    res = CliRunner().invoke(main, ["report", iid, "--format", "html", "-o", str(target)],
                             env=env)
    assert res.exit_code == 1
    assert "does not exist" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["report", iid, "-o", str(blocker / "x.md")], env=env)
    assert res.exit_code == 1 and "Traceback" not in res.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_output_path_is_one_line(tmp_path):  # pragma: no cover - root in CI
    iid, env = _incident(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    res = CliRunner().invoke(main, ["report", iid, "-o", str(locked / "r.md")], env=env)
    assert res.exit_code == 1 and "permission denied" in res.output


def test_exports_follow_the_umask_the_database_is_private(tmp_path):
    old = os.umask(0o022)
    try:
        iid, env = _incident(tmp_path)
        db = tmp_path / "h.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        out = tmp_path / "r.md"
        res = CliRunner().invoke(main, ["report", iid, "-o", str(out)], env=env)
        assert res.exit_code == 0, res.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_wal_and_shm_files_are_private_too(tmp_path):
    from test_report_walker import make_runtime

    old = os.umask(0o022)
    try:
        rt = make_runtime(f"sqlite:///{tmp_path / 'w.db'}")
        rt.engine.start("fire", "B3-1201", actor="chen.jie")
        files = [tmp_path / n for n in ("w.db", "w.db-wal", "w.db-shm")]
        assert all(f.exists() for f in files)
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
        rt.close()
    finally:
        os.umask(old)


def test_sink_file_is_private(tmp_path):
    old = os.umask(0o022)
    try:
        res = CliRunner().invoke(main, ["notify", "test", "sms", "+8613812345678"],
                                 env=_env(tmp_path))
        assert res.exit_code == 0, res.output
        sink = tmp_path / "data" / "incident" / "sink.jsonl"
        assert stat.S_IMODE(sink.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_locked_database_is_one_clear_line(tmp_path, monkeypatch):
    import incident.store.db as db

    iid, env = _incident(tmp_path)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        res = CliRunner().invoke(main, ["note", iid, "hello", "--as", "chen.jie"], env=env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.exit_code == 1, res.output
    assert "database is busy" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_a_read_is_not_stopped_by_a_held_write_lock(tmp_path, monkeypatch):
    import incident.store.db as db

    iid, env = _incident(tmp_path)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        res = CliRunner().invoke(main, ["log", iid], env=env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.exit_code == 0, res.output
    assert "Incident started" in res.output or "started" in res.output.lower()
