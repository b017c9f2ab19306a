"""The message catalogues are whole, and the check that says so can fail.

`tools/i18n.py check` runs on the shipped tree; the checker itself is tried on a tiny
fake tree where each kind of gap is made on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tools_loader import load_tool

from incident import i18n

tool = load_tool("i18n")


def test_shipped_catalogues_are_complete() -> None:
    problems = tool.check()
    assert problems == [], "\n".join(problems)


def test_dynamic_allow_list_stays_small() -> None:
    assert len(tool.DYNAMIC) <= 6


# ---------------------------------------------------------------- the checker itself
def _tree(tmp_path: Path, code: str, en: dict, zh: dict) -> tuple[Path, Path]:
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "mod.py").write_text(code, encoding="utf-8")
    loc = tmp_path / "locale"
    for locale, table in (("en", en), ("zh_CN", zh)):
        cat = tool.Catalog(locale=locale, domain=tool.DOMAIN, fuzzy=False)
        for key, text in table.items():
            cat.add((key, key) if isinstance(text, tuple) else key, text)
        tool.save(cat, locale, loc)
    tool.compile_all(loc)
    return src, loc


CODE = 'from incident.i18n import t, nt\nt("a.hello", "en", name="x")\nnt("a.people", 3, "en")\n'
EN = {"a.hello": "Hello {name}", "a.people": ("{n} person", "{n} people")}
ZH = {"a.hello": "你好 {name}", "a.people": ("{n} 人",)}


def _check(src: Path, loc: Path) -> list[str]:
    return tool.check(src, loc, dynamic={}, staging=())


def test_checker_passes_a_whole_tree(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE, EN, ZH)
    assert _check(src, loc) == []


def test_checker_fails_on_a_key_missing_from_a_catalogue(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE + 't("a.new", "en")\n', EN, ZH)
    problems = _check(src, loc)
    assert any("missing 'a.new'" in p and p.startswith("zh_CN") for p in problems)


def test_checker_fails_on_an_untranslated_entry(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE, EN, {**ZH, "a.hello": ""})
    assert any("zh_CN: untranslated 'a.hello'" in p for p in _check(src, loc))


def test_checker_fails_on_a_stale_entry(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE, {**EN, "a.gone": "Gone"}, {**ZH, "a.gone": "没了"})
    assert any("stale 'a.gone'" in p for p in _check(src, loc))
    # ...unless the allow-list names it as built at run time
    assert not any("a.gone" in p for p in tool.check(src, loc, dynamic={r"a\.go.*": "test"},
                                                      staging=()))


def test_checker_fails_on_fields_that_differ_between_languages(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE, EN, {**ZH, "a.hello": "你好 {nmae}"})
    assert any("'a.hello' fields ['nmae'] differ from English ['name']" in p
               for p in _check(src, loc))


def test_checker_fails_on_a_mo_not_compiled_after_an_edit(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE, EN, ZH)
    po = tool.po_path("zh_CN", loc)
    po.write_text(po.read_text(encoding="utf-8").replace("你好", "您好"), encoding="utf-8")
    assert any("incident.mo differs from the .po" in p for p in _check(src, loc))
    tool.compile_all(loc)
    assert _check(src, loc) == []


def test_checker_fails_on_plural_use_without_plural_forms(tmp_path: Path) -> None:
    src, loc = _tree(tmp_path, CODE, {**EN, "a.people": "people"}, {**ZH, "a.people": "人"})
    assert any("used with nt() but has no plural forms" in p for p in _check(src, loc))


def test_checker_fails_while_a_staging_table_holds_entries(tmp_path: Path,
                                                           monkeypatch) -> None:
    src, loc = _tree(tmp_path, CODE, EN, ZH)
    (tmp_path / "staged_mod.py").write_text('T = {"x.y": ("X", "叉")}\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = tool.check(src, loc, dynamic={}, staging=("staged_mod:T",))
    assert any("staged_mod:T still holds 1 entries" in p for p in problems)


def test_import_table_moves_pairs_and_refuses_clashes(tmp_path: Path) -> None:
    _src, loc = _tree(tmp_path, CODE + 't("b.new", "en")\n', EN, ZH)
    assert tool.import_table({"b.new": ("New {n}", "新 {n}")}, locale_dir=loc) == []
    assert tool.load("zh_CN", loc).get("b.new").string == "新 {n}"
    clashes = tool.import_table({"a.hello": ("Hi {name}", "嗨 {name}")}, locale_dir=loc)
    assert clashes and "a.hello" in clashes[0]
    assert tool.import_table({"hello": ("Hi {name}", "嗨 {name}")}, prefix="c.",
                             locale_dir=loc) == []


# ---------------------------------------------------------------- the runtime side
@pytest.mark.parametrize(("lang", "want"), [
    ("en", "Active incidents"), ("zh", "进行中的事件"), ("zh_CN", "进行中的事件"),
    ("zh-Hans", "进行中的事件"), ("fr", "Active incidents"), (None, "Active incidents"),
])
def test_language_choice(lang: str | None, want: str) -> None:
    assert i18n.t("home.active", lang) == want


def test_unknown_key_shows_itself_and_missing_fields_stay_visible() -> None:
    assert i18n.t("no.such.key", "zh") == "no.such.key"
    assert i18n.t("start.started", "en") == "Started {id}"
    assert i18n.t("start.started", "zh", id="B3") == "已发起 B3"


def test_plural_forms_follow_the_language() -> None:
    assert i18n.nt("delivery.queued", 1, "en") == "1 message queued, none sent yet"
    assert i18n.nt("delivery.queued", 112, "en") == "112 messages queued, none sent yet"
    assert i18n.nt("delivery.queued", 112, "zh") == "已排队 112 条消息，尚未发送"


def test_pick_reads_data_borne_text_by_the_same_rule() -> None:
    text = {"en": "Fire", "zh": "火警"}
    assert i18n.pick(text, "zh_CN") == "火警"
    assert i18n.pick(text, "fr") == "Fire"
    assert i18n.pick({"zh": "火警"}, "en") == "火警"
    assert i18n.pick(None, "en", "x") == "x"


# ------------------------------------------------------------ Chinese reads as Chinese
#: What may stay Latin inside a Chinese message, besides `{fields}` and `commands`:
#: a key to press, a file or setting name, a module, an acronym, a command-line option.
LATIN_NOTATION = [
    r"[A-Za-z]",                                    # a single key: n, s, E
    r"Esc|Tab|Enter|Ctrl\+\w|F\d+|PgUp|PgDn",        # named keys
    r"[\w./-]+\.(yaml|toml|csv|md|html|json|pdf|svg|key)",  # files
    r"[a-z0-9]+(_[a-z0-9]+)+",                     # settings and ids: playbooks_dir
    r"incident(\.\w+)*",                            # the command and its modules
    r"--?[a-z][\w-]*",                              # options: --team, -o
    r"[A-Z][A-Z0-9]+(-[0-9]+)?",                    # acronyms: PIN, SHA-256, HSEEP, ICS
    r"[A-Z]\d+(-\d+)?|\d+F",                         # unit, building and floor codes
    r"zh-CN|Asia/Shanghai",
]
#: Messages whose Latin words are the point: the language menu names English in English.
LATIN_ALLOWED = {"cmd.lang", "start.line"}  # start.line: "fire B3-1201" is what one types


def _latin_words(text: str) -> list[str]:
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\[[a-z_]+\]", " ", text)  # a settings section: [keymap]
    text = re.sub(r"\bincident [a-z]+\b", " ", text)  # a command line: incident rollcall …
    words = []
    for m in re.finditer(r"[A-Za-z0-9_.+/-]+", text):
        token = m.group(0).strip("./+").rstrip("-")
        if re.search(r"[A-Za-z]", token) and not any(
                re.fullmatch(p, token) for p in LATIN_NOTATION):
            words.append(token)
    return words


def test_chinese_catalogue_reads_in_chinese():
    """No English word in any Chinese message — refusals, findings and CLI output
    included — beyond notation a Chinese reader also types (keys, files, ids)."""
    from babel.messages.pofile import read_po

    with tool.po_path("zh_CN").open("rb") as f:
        cat = read_po(f, locale="zh_CN")
    leaks = {}
    for m in cat:
        key = m.id if isinstance(m.id, str) else m.id[0]
        if not key or key in LATIN_ALLOWED:
            continue
        texts = [m.string] if isinstance(m.string, str) else list(m.string)
        words = [w for s in texts for w in _latin_words(s)]
        if words:
            leaks[key] = words
    assert leaks == {}


def test_the_latin_check_sees_english():
    assert _latin_words("没有事件“{incident}”——`incident list` 可列出") == []
    assert _latin_words("按 n 发起；Esc 返回；见 contacts/escalation.yaml") == []
    assert _latin_words("步骤 is overdue") == ["is", "overdue"]
    assert _latin_words("已送达（sms 送达 0）") == ["sms"]
