"""Keep the message catalogues whole: extract, update, compile, check, import-table.

    python tools/i18n.py extract        # keys used in incident/**/*.py -> incident.pot
    python tools/i18n.py update         # add new keys to every .po, drop stale ones
    python tools/i18n.py compile        # .po -> .mo (what the program reads)
    python tools/i18n.py check          # exit 1 on any gap (tests/test_catalogue.py runs it)
    python tools/i18n.py import-table incident.console.i18n:LABELS [--prefix P]
                                        # move a {key: (en, zh)} table into the catalogue

Keys are found (with Python's ast) in calls ``t("key", …)``, ``nt("key", n, …)``
(plural) and ``N_("key")`` (a key kept in a table and translated later). A key is
*stale* when no extracted call, no string literal in the code and no entry of DYNAMIC
names it. Babel is a development tool only: the program reads the ``.mo`` files with
the standard library's gettext.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import importlib
import io
import re
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "incident"
LOCALE_DIR = SRC / "locale"
DOMAIN = "incident"
SOURCE_LOCALE = "en"

#: Keys built at run time, so no literal names them. Keep this short: prefer a table
#: of ``N_("key")`` literals. Each entry is a regular expression and why it exists.
DYNAMIC: dict[str, str] = {
    r"(binding|status|step\.kind)\..+": "footer label by binding id (console.i18n."
                                         "binding_label); a step, target, clock or incident "
                                         "status (i18n.status_label); a step's kind from the "
                                         "playbook (console step detail)",
    r"(channel|means|unit)\.[a-z_]+": "a channel, a report's means or a record's unit named "
                                      "in config or playbook (i18n.channel_name, means_name, "
                                      "with_unit)",
    r"col\.[a-z_]+(\.short)?": "home table column heads by column id (console/screens/home.py)",
    r"inc\.(tracks|timers|messages|escalation|timeline)": "incident tabs by panel id "
                                                          "(console/screens/incident.py)",
    r"clihelp\..+": "command and option help by command path (incident/clihelp.py; "
                    "tools/clihelp.py lists them from the click tree)",
}

#: Tables of new (en, zh) pairs other branches add before moving them here with
#: ``import-table``; the check fails while any of them holds entries.
STAGING = ("incident.console.i18n:LABELS", "incident.report.labels:LABELS")


# ---------------------------------------------------------------------- extraction
@dataclass
class Used:
    """What the code asks of the catalogue."""

    singular: dict[str, set[str]] = field(default_factory=dict)  # key -> files
    plural: dict[str, set[str]] = field(default_factory=dict)
    literals: set[str] = field(default_factory=set)  # every string constant in the code

    @property
    def keys(self) -> set[str]:
        return set(self.singular) | set(self.plural)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.parent).as_posix()
    except ValueError:
        return path.as_posix()


KEYWORDS = {"t": "singular", "N_": "singular", "nt": "plural"}
#: A string constant shaped like one of these keys is a message raised or recorded by the
#: core (``Refused("refused.no_incident", …)``, ``issues.add("val.unknown_role", …)``,
#: ``Msg("hint.known", …)``) and told later by a face: it must be in the catalogue.
DEFERRED = re.compile(r"(refused|val|hint|issue|err)(\.[a-z0-9_]+)+")


def _keys(arg: ast.expr) -> list[str]:
    """The literal keys an argument can be: "a", or both branches of "a" if x else "b"."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        return _keys(arg.body) + _keys(arg.orelse)
    return []  # built at run time: DYNAMIC must name it


def extract(src: Path = SRC) -> Used:
    """Keys in t()/nt()/N_() calls (plain or attribute calls such as i18n.t), and every
    string constant. Parsed with ast rather than Babel's token extractor, which glues
    the two branches of ``t("a" if x else "b")`` into one key "ab"."""
    used = Used()
    for path in sorted(src.rglob("*.py")):
        where = _rel(path, src)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                used.literals.add(node.value)
                if DEFERRED.fullmatch(node.value):
                    used.singular.setdefault(node.value, set()).add(where)
            if not isinstance(node, ast.Call) or not node.args:
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(
                f, ast.Attribute) else ""
            if name in KEYWORDS:
                table = used.plural if KEYWORDS[name] == "plural" else used.singular
                for key in _keys(node.args[0]):
                    table.setdefault(key, set()).add(where)
    return used


def template(used: Used) -> Catalog:
    cat = Catalog(domain=DOMAIN, project="incident", fuzzy=False)
    for key, files in sorted(used.singular.items()):
        cat.add(key, locations=[(f, None) for f in sorted(files)])
    for key, files in sorted(used.plural.items()):
        cat.add((key, key), locations=[(f, None) for f in sorted(files)])
    return cat


# ---------------------------------------------------------------------- catalogues
def po_path(locale: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def locales(locale_dir: Path = LOCALE_DIR) -> list[str]:
    return sorted(p.parent.parent.name for p in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def load(locale: str, locale_dir: Path = LOCALE_DIR) -> Catalog:
    path = po_path(locale, locale_dir)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="incident", fuzzy=False)
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def save(cat: Catalog, locale: str, locale_dir: Path = LOCALE_DIR) -> None:
    path = po_path(locale, locale_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    cat.fuzzy = False
    buf = io.BytesIO()
    write_po(buf, cat, width=0, sort_output=True, include_lineno=False,
             ignore_obsolete=True)
    path.write_bytes(buf.getvalue())


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    out = []
    for loc in locales(locale_dir):
        cat = load(loc, locale_dir)
        mo = po_path(loc, locale_dir).with_suffix(".mo")
        buf = io.BytesIO()
        write_mo(buf, cat)
        mo.write_bytes(buf.getvalue())
        out.append(mo)
    return out


def _forms(msg: Message) -> list[str]:
    s = msg.string
    return list(s) if isinstance(s, (tuple, list)) else [s or ""]


def _key(msg: Message) -> str:
    return msg.id[0] if isinstance(msg.id, (tuple, list)) else msg.id


def _fields(texts: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for text in texts:
        try:
            names |= {f.split(".")[0].split("[")[0]
                      for _, f, _, _ in string.Formatter().parse(text) if f}
        except ValueError:
            names.add("<malformed>")
    return names


def _dynamic(key: str, dynamic: dict[str, str]) -> bool:
    return any(re.fullmatch(p, key) for p in dynamic)


def update(used: Used, locale_dir: Path = LOCALE_DIR, dynamic: dict[str, str] = DYNAMIC) -> None:
    """Add keys the code uses to every catalogue (empty, to translate), drop stale ones,
    and put the English text beside each key of the other catalogues for translators."""
    english = {_key(m): _forms(m) for m in load(SOURCE_LOCALE, locale_dir) if m.id}
    for loc in locales(locale_dir):
        cat = load(loc, locale_dir)
        have = {_key(m) for m in cat if m.id}
        for key in sorted(used.keys - have):
            cat.add((key, key) if key in used.plural else key, ("", "") if key in used.plural
                    else "")
        for msg in list(cat):
            key = _key(msg) if msg.id else ""
            if not key:
                continue
            if key not in used.keys and key not in used.literals and not _dynamic(key, dynamic):
                cat.delete(msg.id)
                continue
            files = used.singular.get(key, set()) | used.plural.get(key, set())
            msg.locations = [(f, None) for f in sorted(files)]
            msg.auto_comments = ([" / ".join(english[key])] if loc != SOURCE_LOCALE
                                 and english.get(key) and any(english[key]) else [])
        save(cat, loc, locale_dir)


def import_table(table: dict[str, tuple], prefix: str = "",
                 locale_dir: Path = LOCALE_DIR, replace: bool = False) -> list[str]:
    """Move {key: (en, zh)} into the en and zh_CN catalogues; returns clashes (a key
    already there with other words) unless `replace`. A plural message is written
    {key: (("{n} person", "{n} people"), ("{n} 人",))} and used with nt()."""
    cats = {"en": load("en", locale_dir), "zh_CN": load("zh_CN", locale_dir)}
    clashes = []
    for key, (en, zh) in table.items():
        full = prefix + key
        for loc, text in (("en", en), ("zh_CN", zh)):
            old = cats[loc].get(full)
            if old is not None and old.string and old.string != text and not replace:
                clashes.append(f"{full} [{loc}]: catalogue has {old.string!r}, table {text!r}")
    if clashes:
        return clashes
    for key, (en, zh) in table.items():
        full = prefix + key
        for loc, text in (("en", en), ("zh_CN", zh)):
            cat = cats[loc]
            if cat.get(full) is not None:
                cat.delete(full)
            plural = isinstance(text, (tuple, list))
            cat.add((full, full) if plural else full, tuple(text) if plural else text)
    for loc, cat in cats.items():
        save(cat, loc, locale_dir)
    compile_all(locale_dir)
    return []


# ---------------------------------------------------------------------- the check
def check(src: Path = SRC, locale_dir: Path = LOCALE_DIR, dynamic: dict[str, str] = DYNAMIC,
          staging: Iterable[str] = STAGING) -> list[str]:
    """Every problem with the catalogues, as lines a person can act on."""
    used = extract(src)
    problems: list[str] = []
    locs = locales(locale_dir)
    if SOURCE_LOCALE not in locs:
        return [f"no {SOURCE_LOCALE} catalogue under {locale_dir}"]
    cats = {loc: load(loc, locale_dir) for loc in locs}
    for loc, cat in cats.items():
        msgs = {_key(m): m for m in cat if m.id}
        for key in sorted(used.keys - set(msgs)):
            where = ", ".join(sorted(used.singular.get(key, set()) | used.plural.get(key, set())))
            problems.append(f"{loc}: missing {key!r} (used in {where})")
        for key, msg in sorted(msgs.items()):
            if not all(_forms(msg)):
                problems.append(f"{loc}: untranslated {key!r}")
            plural = isinstance(msg.id, (tuple, list))
            if key in used.plural and not plural:
                problems.append(f"{loc}: {key!r} is used with nt() but has no plural forms")
            if key in used.singular and plural:
                problems.append(f"{loc}: {key!r} has plural forms but is used with t()")
            if key not in used.keys and key not in used.literals and not _dynamic(key, dynamic):
                problems.append(f"{loc}: stale {key!r}: no code uses it "
                                "(run tools/i18n.py update, or list it in DYNAMIC)")
        problems += _mo_problems(loc, cat, locale_dir)
    english = {_key(m): m for m in cats[SOURCE_LOCALE] if m.id}
    for loc, cat in cats.items():
        if loc == SOURCE_LOCALE:
            continue
        for msg in cat:
            if not msg.id or _key(msg) not in english:
                continue
            want, got = _fields(_forms(english[_key(msg)])), _fields(_forms(msg))
            if want != got:
                problems.append(f"{loc}: {_key(msg)!r} fields {sorted(got)} differ from "
                                f"English {sorted(want)}")
    for spec in staging:
        mod, _, name = spec.partition(":")
        try:
            table = getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
        if table:
            problems.append(f"{spec} still holds {len(table)} entries: move them with "
                            f"tools/i18n.py import-table {spec} (then empty the table)")
    return problems


def _mo_problems(loc: str, cat: Catalog, locale_dir: Path) -> list[str]:
    """The compiled file must say exactly what the .po says (else: run compile)."""
    mo = po_path(loc, locale_dir).with_suffix(".mo")
    if not mo.exists():
        return [f"{loc}: {mo.name} missing (run tools/i18n.py compile)"]
    with mo.open("rb") as f:
        compiled = dict(gettext.GNUTranslations(f)._catalog)  # type: ignore[attr-defined]
    compiled = {k: v for k, v in compiled.items() if k != ""}
    want: dict[object, str] = {}
    for msg in cat:
        if not msg.id or not all(_forms(msg)):
            continue
        if isinstance(msg.id, (tuple, list)):
            for i, form in enumerate(_forms(msg)):
                want[(msg.id[0], i)] = form
        else:
            want[msg.id] = msg.string
    if compiled != want:
        diff = sorted(str(k) for k in set(compiled) ^ set(want)) or sorted(
            str(k) for k in want if compiled.get(k) != want[k])
        return [f"{loc}: {mo.name} differs from the .po ({', '.join(diff[:5])}…): "
                "run tools/i18n.py compile"]
    return []


# ---------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/i18n.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("extract", help="write the keys the code uses to incident.pot")
    ex.add_argument("-o", "--output", default=str(LOCALE_DIR / f"{DOMAIN}.pot"))
    sub.add_parser("update", help="add new keys to every .po and drop stale ones")
    sub.add_parser("compile", help="compile every .po to .mo")
    sub.add_parser("check", help="fail on missing, untranslated or stale messages")
    imp = sub.add_parser("import-table", help="move a {key: (en, zh)} table into the .po files")
    imp.add_argument("table", help="MODULE:NAME, e.g. incident.console.i18n:LABELS")
    imp.add_argument("--prefix", default="", help="prepended to every key (avoids clashes)")
    imp.add_argument("--replace", action="store_true", help="overwrite clashing words")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.cmd == "extract":
        buf = io.BytesIO()
        write_po(buf, template(extract()), width=0, sort_output=True, include_lineno=False)
        Path(args.output).write_bytes(buf.getvalue())
        print(f"wrote {args.output}")
    elif args.cmd == "update":
        update(extract())
        compile_all()
        print("updated and compiled: " + ", ".join(locales()))
    elif args.cmd == "compile":
        for mo in compile_all():
            print(f"compiled {mo.relative_to(ROOT)}")
    elif args.cmd == "check":
        problems = check()
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s)" if problems else "catalogues complete")
        return 1 if problems else 0
    elif args.cmd == "import-table":
        mod, _, name = args.table.partition(":")
        table = getattr(importlib.import_module(mod), name)
        clashes = import_table(table, args.prefix, replace=args.replace)
        for c in clashes:
            print(c)
        if clashes:
            print("nothing imported: use --prefix, rename the keys, or --replace")
            return 1
        print(f"imported {len(table)} entries into en and zh_CN and compiled; now empty "
              f"{args.table} in the source")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
