"""The English help of the `incident` command tree, as catalogue entries (clihelp.*).

    python tools/clihelp.py missing     # entries the catalogue lacks (or whose English
                                        # the code has reworded), as an import table

Every command's help (its docstring), every option's help and every argument's name
are looked up by a key built from the command path (see incident/clihelp.py). This
walks the click tree and says which key each one reads and what its English is; a
new command or option shows up in `missing` as a table to fill in with its Chinese
and move in with ``tools/i18n.py import-table``. tests/test_cli_help_zh.py fails while
any is missing or its English differs from the code.
"""

from __future__ import annotations

import inspect
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent

#: click's own words, as click says them in English
CLICK_WORDS = {
    "clihelp.usage": "Usage:",
    "clihelp.usage_options": "OPTIONS",
    "clihelp.usage_command": "COMMAND [ARGS]...",
    "clihelp.options": "Options",
    "clihelp.commands": "Commands",
    "clihelp.help_option": "Show this message and exit.",
    "clihelp.try_help": "Try '{command} {option}' for help.",
    "clihelp.error": "Error: {message}",
    "clihelp.env_var": "env var: {var}",
    "clihelp.default": "default: {default}",
    "clihelp.required": "required",
    "clihelp.type.text": "TEXT",
    "clihelp.type.integer": "INTEGER",
    "clihelp.type.float": "FLOAT",
    "clihelp.type.path": "PATH",
    "clihelp.type.filename": "FILENAME",
    "clihelp.type.file": "FILE",
    "clihelp.type.directory": "DIRECTORY",
    "clihelp.type.boolean": "BOOLEAN",
    "clihelp.type.uuid": "UUID",
    "clihelp.type.integer_range": "INTEGER RANGE",
    "clihelp.type.float_range": "FLOAT RANGE",
    "clihelp.err.no_such_option": "No such option {name}.",
    "clihelp.err.no_such_command": "No such command {name}.",
    "clihelp.err.did_you_mean": "Did you mean {names}?",
    "clihelp.err.did_you_mean_any": "(Did you mean one of: {names}?)",
    "clihelp.err.missing_argument": "Missing argument {name}.",
    "clihelp.err.missing_option": "Missing option {name}.",
    "clihelp.err.missing_parameter": "Missing parameter {name}.",
    "clihelp.err.choose_from": "Choose from: {choices}.",
    "clihelp.err.invalid_value": "Invalid value: {message}",
    "clihelp.err.invalid_value_for": "Invalid value for {name}: {message}",
    "clihelp.err.not_one_of": "{value} is not one of {choices}.",
    "clihelp.err.not_an_integer": "{value} is not a valid integer.",
    "clihelp.err.not_a_number": "{value} is not a valid float.",
    "clihelp.err.not_in_range": "{value} is not in the range {range}.",
    "clihelp.err.does_not_exist": "Path {value} does not exist.",
    "clihelp.err.extra_arg": "Got unexpected extra argument ({args})",
    "clihelp.err.extra_args": "Got unexpected extra arguments ({args})",
    "clihelp.err.needs_value": "Option {name} requires an argument.",
    "clihelp.err.needs_values": "Option {name} requires {n} arguments.",
    "clihelp.err.takes_no_value": "Option {name} does not take a value.",
    "clihelp.err.missing_command": "Missing command.",
}


def walk(cmd: click.Command, path: list[str] | None = None
         ) -> Iterator[tuple[list[str], click.Command]]:
    path = path or []
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from walk(sub, [*path, sub.name or name])


def _options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and p.help and not p.hidden]


def catalogue_text(code: str) -> str:
    """A help text as the catalogue holds it (click's \\b marker written as backslash-b)."""
    return code.replace("\b", "\\b")


def entries(main: click.Group) -> dict[str, str]:
    """Every clihelp key the tree reads, with its English (as in the catalogue)."""
    from incident.clihelp import command_key, metavar_key, option_keys

    out = dict(CLICK_WORDS)
    texts: dict[str, list[str]] = defaultdict(list)  # option name -> its help texts
    for _path, cmd in walk(main):
        for opt in _options(cmd):
            texts[opt.name or ""].append(opt.help or "")
    for path, cmd in walk(main):
        out[command_key(path)] = catalogue_text(inspect.cleandoc(cmd.help or "")
                                                .partition("\f")[0])
        for opt in _options(cmd):
            own, shared = option_keys(path, opt.name or "")
            same = texts[opt.name or ""]  # on several commands, in the same words: shared
            out[shared if len(same) > 1 and len(set(same)) == 1 else own] = opt.help or ""
        for param in cmd.params:
            if param.metavar:
                out[metavar_key(param.metavar)] = param.metavar
            elif isinstance(param, click.Argument):
                out[f"clihelp.arg.{param.name}"] = (param.name or "").upper()
    return out


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from incident import i18n
    from incident.cli import main as cli

    if sys.argv[1:] != ["missing"]:
        print(__doc__)
        return 2
    missing = {k: v for k, v in entries(cli).items()  # new, or reworded in the code
               if not i18n.has(k) or i18n.t(k, "en") != v}
    print("TABLE = {")
    for key, text in missing.items():
        print(f"    {key!r}: ({text!r}, ''),")
    print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
