"""`incident --lang zh validate` tells a site manager what is wrong with the estate
directory in Chinese: each finding names file:line:column and the field, says what is
wrong and how to fix it — and the same findings read in English without `--lang`.

The files are real contacts files as people break them: a misspelt key, a short phone
number, a misspelt time zone, a word where a number belongs, a tab in the indentation,
a rota for a role that does not exist, roster rows with a bad phone or an unknown unit.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from test_chinese_reader import _english

from incident.cli import main
from incident.directory import SelectorError, load_directory, parse_selector
from incident.errors import ValidationFailed

ESTATE = """\
site:
  id: lhy
  name: {en: Lakeside Garden, zh: 临湖苑}
  timezone: %(tz)s
  hotline: 021-5988 6600
buildings:
  B1:
    floors: 1-6
    units: 01-02
    basements: %(basements)s
"""

STAFF_BROKEN = """\
roles:
  duty_officer:
    title: {en: Duty officer, zh: 值班员}
    level: 0
people:
  wang.li:
    name: 王丽
    roles: [duty_officer]
    phone: 1381234
  zhao.min:
    name: 赵敏
    roles: duty_officer
    phnoe: 13812345678
"""

STAFF_BAD_ROTA = """\
roles:
  duty_officer:
    title: {en: Duty officer, zh: 值班员}
    level: 0
    fallback: wang.li
people:
  wang.li:
    name: 王丽
    roles: [duty_officer]
    phone: 13812345678
shifts:
  day: 08:00-20:00
rota:
  duty_oficer:
    day:
      daily: [wang.li]
  duty_officer:
    day:
      mon-fry: [wang.li]
"""

ROSTER = "unit,name,phone\nB1-101,毛伟,18062635374\nB1-901,段霞,18242459604\n" \
         "B1-102,张三,12345\n"

# what the reader wrote, read back as typed (ids, values) — not English prose
WRITTEN = frozenset({"Asia/Shangai", "lots", "phnoe", "phone", "wang.li", "zhao.min",
                     "duty_oficer", "duty_officer", "mon-fry", "IANA", "YAML", "people",
                     "site.timezone", "buildings.B1.basements", "people.wang.li.phone",
                     "people.zhao.min.phnoe", "rota.duty_oficer", "rota.duty_officer.day.mon-fry",
                     "unit", "mon-fri", "sat,sun", "wed", "daily", "known"})


def _contacts(tmp_path: Path, *, staff: str, tz: str = "Asia/Shanghai",
              basements: str = "1", tab: bool = False) -> Path:
    c = tmp_path / "contacts"
    c.mkdir()
    (c / "estate.yaml").write_text(ESTATE % {"tz": tz, "basements": basements},
                                   encoding="utf-8")
    (c / "staff.yaml").write_text(staff, encoding="utf-8")
    vendors = "vendors:\n  lift:\n\tkind: elevator\n" if tab else "vendors: {}\n"
    (c / "vendors.yaml").write_text(vendors, encoding="utf-8")
    (c / "owners.csv").write_text(ROSTER, encoding="utf-8")
    return c


def _validate(tmp_path: Path, contacts: Path, *lang: str) -> tuple[int, list[str]]:
    env = {"INCIDENT_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}",
           "INCIDENT_PLAYBOOKS_DIR": str(tmp_path / "playbooks"),
           "INCIDENT_CONTACTS_DIR": str(contacts),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    res = CliRunner().invoke(main, [*lang, "validate", str(contacts)], env=env)
    findings = [line for line in res.output.splitlines() if line.startswith(str(contacts))]
    return res.exit_code, findings


def _said(line: str) -> str:
    """What a finding says, after 'file:line:col: 错误: field.path: '."""
    return line.split(": ", 3)[-1] if line.count(": ") >= 3 else line.split(": ", 2)[-1]


def test_broken_files_read_in_chinese_with_file_line_and_column(tmp_path):
    contacts = _contacts(tmp_path, staff=STAFF_BROKEN, tz="Asia/Shangai", basements="lots",
                         tab=True)
    code, zh = _validate(tmp_path, contacts, "--lang", "zh")
    assert code == 1
    by_place = {line.split(": ", 1)[0].removeprefix(str(contacts) + "/"): line for line in zh}
    assert by_place.keys() == {"estate.yaml:4:3", "estate.yaml:10:5", "staff.yaml:9:5",
                               "staff.yaml:13:5", "vendors.yaml:3:1", "owners.csv:4"}
    assert "“Asia/Shangai”不是已知的时区" in by_place["estate.yaml:4:3"]
    assert "请写 IANA 时区名，例如 Asia/Shanghai" in by_place["estate.yaml:4:3"]
    assert "应为整数，实际写的是“lots”" in by_place["estate.yaml:10:5"]   # pydantic's int_parsing
    assert "“1381234”不是有效的大陆手机号码" in by_place["staff.yaml:9:5"]
    assert "未知的键“phnoe”" in by_place["staff.yaml:13:5"]
    assert "是否想输入“phone”？" in by_place["staff.yaml:13:5"]
    assert "缩进中有制表符" in by_place["vendors.yaml:3:1"]
    assert "请把制表符换成空格" in by_place["vendors.yaml:3:1"]
    assert "“12345”不是有效的大陆手机号码" in by_place["owners.csv:4"]
    for line in zh:
        assert "错误" in line
        assert _english(_said(line), WRITTEN) == [], line

    code, en = _validate(tmp_path, contacts)
    assert code == 1
    assert [line.split(": ", 1)[0] for line in en] == [line.split(": ", 1)[0] for line in zh]
    said = "\n".join(en)
    assert "site.timezone: 'Asia/Shangai' is not a known time zone — write an IANA name " \
           "like Asia/Shanghai" in said
    assert "buildings.B1.basements: expected a whole number, got 'lots'" in said
    assert "people.zhao.min.phnoe: unknown key 'phnoe' — did you mean 'phone'?" in said
    assert "tab character in indentation — YAML indents with spaces only" in said
    assert "phone: '12345' is not a valid mainland mobile number" in said


def test_rota_and_roster_cross_checks_read_in_chinese(tmp_path):
    contacts = _contacts(tmp_path, staff=STAFF_BAD_ROTA)
    code, zh = _validate(tmp_path, contacts, "--lang", "zh")
    assert code == 1
    text = "\n".join(zh)
    rota_line = STAFF_BAD_ROTA.splitlines().index("  duty_oficer:") + 1
    assert f"staff.yaml:{rota_line}:3: 错误: rota.duty_oficer: 未知的角色“duty_oficer”" \
           " —— 是否想输入“duty_officer”？" in text
    assert "“mon-fry”不是星期范围" in text
    assert "owners.csv:3: 错误: unit: 未知的单元“B1-901”：B1 的第 9 层没有单元" in text
    assert "owners.csv:4: 错误: phone: “12345”不是有效的大陆手机号码" in text
    for line in zh:
        assert _english(_said(line), WRITTEN | {"B1-901"}) == [], line

    code, en = _validate(tmp_path, contacts)
    said = "\n".join(en)
    assert "rota.duty_oficer: unknown role 'duty_oficer' — did you mean 'duty_officer'?" in said
    assert "'mon-fry' is not a day range — write days like mon-fri, 'sat,sun', wed or daily" \
        in said
    assert "unit: unknown unit 'B1-901': no unit of B1 is on floor 9" in said


def test_a_yaml_syntax_error_and_a_shift_read_in_chinese(tmp_path):
    contacts = _contacts(tmp_path, staff=STAFF_BAD_ROTA.replace("day: 08:00-20:00",
                                                                "day: 25:00-08:00"))
    (contacts / "vendors.yaml").write_text("vendors:\n  lift: {kind: elevator\n",
                                           encoding="utf-8")
    with_error = load_errors(contacts)
    assert any(i.message == "'25:00-08:00' has an impossible time" for i in with_error)
    zh = [i.format("zh") for i in with_error]
    assert any("“25:00-08:00”中的时间不存在" in line and "小时为 00-23" in line for line in zh)
    syntax = next(i for i in with_error if i.file.endswith("vendors.yaml"))
    assert syntax.message.startswith("YAML syntax: ")
    assert "YAML 语法错误" in syntax.format("zh") and "请检查这一行附近的缩进、冒号和引号" \
        in syntax.format("zh")
    for line in zh:
        assert _english(_said(line), WRITTEN) == [], line


def load_errors(contacts: Path) -> list:
    try:
        load_directory(contacts)
    except ValidationFailed as exc:
        return exc.errors
    raise AssertionError("the directory loaded")


def test_a_selector_error_tells_its_reader():
    try:
        parse_selector("owners floors:13..11")
    except SelectorError as exc:
        assert str(exc) == "'floors:13..11' runs backwards — write the lower floor first: " \
                           "floors:11..13"
        assert exc.text("zh") == "“floors:13..11”写反了 —— 请先写较低的楼层：`floors:11..13`"
    else:
        raise AssertionError("a backwards range was accepted")


def test_pydantic_types_are_told_from_the_catalogue(tmp_path):
    """A contacts file checked by `validated_file` (channels.yaml, inbound.yaml, …):
    pydantic's own complaints read in Chinese, its ctx filled in; the English stays
    pydantic's wording."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    from incident.clock import parse_duration
    from incident.validation import validated_file

    class Route(BaseModel):
        model_config = ConfigDict(extra="forbid")
        mode: Literal["sms", "chat", "email"]
        tries: int = Field(ge=1, le=5)
        names: list[str] = Field(min_length=1)
        wait: str = "5m"

        def model_post_init(self, _: object) -> None:
            parse_duration(self.wait)

    class File(BaseModel):
        model_config = ConfigDict(extra="forbid")
        routes: dict[str, Route]

    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  a:\n    mode: fax\n    tries: 9\n    names: []\n    retry: 1\n"
                    "  b:\n    mode: sms\n    tries: 2\n    names: [x]\n    wait: soon\n",
                    encoding="utf-8")
    try:
        validated_file(path, File, "routes")
    except ValidationFailed as exc:
        issues = exc.issues
    else:
        raise AssertionError("a broken file was accepted")
    en = {i.path: i.message for i in issues}
    assert en["routes.a.mode"] == "Input should be 'sms', 'chat' or 'email'"
    assert en["routes.a.tries"] == "Input should be less than or equal to 5"
    assert en["routes.a.retry"] == "unknown key 'retry'"
    zh = {i.path: i.format("zh") for i in issues}
    assert zh["routes.a.mode"].endswith("应为 'sms', 'chat'或'email'")
    assert zh["routes.a.tries"].endswith("应小于或等于 5")
    assert "至少应有 1 项，实际只有 0 项" in zh["routes.a.names"]
    assert "未知的键“retry”" in zh["routes.a.retry"]
    assert "“soon”不是时长" in zh["routes.b"] and "`90s`" in zh["routes.b"]
    for line in zh.values():
        assert _english(_said(line), frozenset({"sms", "chat", "email", "retry", "soon", "mode",
                                                 "names", "tries", "wait"})) \
            == [], line
