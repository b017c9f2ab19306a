"""`incident --help` in the reader's language: every command's and option's help, click's
own words ("Usage:", "Options:", "Show this message and exit.") and its usage errors
("No such option", "Missing argument", "Invalid value") come from the catalogue.

The command tree is built by plain click decorators; the root group is a `HelpGroup`,
and every command or group added under it becomes a help-aware one of its own class
(`_help_class`), so no decorator names a class. Keys follow the command path:

- ``clihelp.<path>``: a command's help (its docstring), e.g. ``clihelp.notify.send``;
  the root's is ``clihelp.root``;
- ``clihelp.<path>.opt.<param>``: an option's help, else ``clihelp.opt.<param>`` for
  an option that reads the same on every command (``--as``, ``--note``…);
- ``clihelp.arg.<param>``: an argument's name in the usage line (INCIDENT_ID / 事件编号),
  ``clihelp.metavar.<name>`` one the code names (metavar="REASON" / 原因);
- ``clihelp.usage``, ``clihelp.options``, ``clihelp.commands``, ``clihelp.help_option``,
  ``clihelp.err.*``: click's own words.

English comes from the catalogue too (it holds the texts of the code: tests/
test_cli_help_zh.py keeps them equal); a key missing from it shows the code's text.
The language: --lang (read from the command line before click has parsed it, as --help
is handled first), else the settings' (INCIDENT_LANG, incident.toml), else English.
Only the standard library, click and incident.i18n are imported: --help stays fast.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import click
from click.formatting import HelpFormatter, wrap_text

from incident.i18n import char_columns, columns, data_lang, has, t

_LANG = "incident.help_lang"  # Context.meta: the language --lang asked for, if any
ROOT = "root"


# ---------------------------------------------------------------------- the language
def _scan_lang(args: list[str]) -> str | None:
    """--lang X / --lang=X on the command line: the root's, or a command's own --lang
    (`incident report ID --lang zh --help` reads Chinese too)."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if arg == "--":
            break
    return None


def help_lang(ctx: click.Context | None) -> str:
    """The reader's language for help and usage errors."""
    if ctx is not None:
        root = ctx.find_root()
        lang = root.params.get("lang") or ctx.meta.get(_LANG)
        if lang:
            return str(lang)
        runtime = getattr(root.obj, "_runtime", None)  # the cli's Ctx, once loaded
        if runtime is not None:
            return runtime.settings.lang
        if "incident.settings_lang" in ctx.meta:
            return ctx.meta["incident.settings_lang"]
    lang = _settings_lang()
    if ctx is not None:
        ctx.meta["incident.settings_lang"] = lang
    return lang


def _settings_lang() -> str:
    try:
        from incident.config import load_settings

        return load_settings().lang or "en"
    except Exception:  # a broken incident.toml: its own command says so; help reads English
        return "en"


def _zh(lang: str) -> bool:
    return data_lang(lang) == "zh"


# ---------------------------------------------------------------------- the words
def command_path(ctx: click.Context) -> list[str]:
    """The command names from the root down to ctx's command (the root's: [])."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.command.name or ctx.info_name or "")
        ctx = ctx.parent
    return names[::-1]


def command_key(path: list[str]) -> str:
    return "clihelp." + (".".join(path) if path else ROOT)


def option_keys(path: list[str], name: str) -> tuple[str, str]:
    """The option's own key, and the shared one of an option that reads the same on
    every command."""
    return f"{command_key(path)}.opt.{name}", f"clihelp.opt.{name}"


def _say(key: str, lang: str, fallback: str, **fields: object) -> str:
    return t(key, lang, **fields) if has(key) else fallback


def _raw(text: str) -> str:
    """A no-rewrap marker line (click's \\b) as the catalogue writes it: backslash-b."""
    return text.replace("\\b", "\b")


def command_help(cmd: click.Command, path: list[str], lang: str) -> str:
    code = inspect.cleandoc(cmd.help or "").partition("\f")[0]
    return _raw(_say(command_key(path), lang, code))


def option_help(param: click.Parameter, path: list[str], lang: str) -> str:
    if param.name == "_click_default_help" or getattr(param, "_help_option", False):
        return t("clihelp.help_option", lang)
    code = getattr(param, "help", None) or ""
    if not code:
        return ""
    own, shared = option_keys(path, param.name or "")
    if has(own):
        return t(own, lang)
    return _say(shared, lang, code)


def short_help(cmd: click.Command, path: list[str], lang: str, limit: int) -> str:
    """The one line a group lists a command with: the first sentence of its help."""
    if cmd.short_help and not _zh(lang):
        return inspect.cleandoc(cmd.short_help)
    text = command_help(cmd, path, lang)
    if not _zh(lang):  # click's cut, by terminal columns: a Chinese word takes two each
        first = text.split("\n\n")[0]
        return click.Command(None, help=text).get_short_help_str(
            limit - (_cols(first) - len(first)))
    first = text.split("\n\n")[0].replace("\n", "")
    sentence = re.split(r"(?<=[。！？])", first, maxsplit=1)[0]
    return _cut(sentence.rstrip("。"), limit)


# ---------------------------------------------------------------------- wide text
_cols = columns


def _wide(text: str) -> bool:
    return any(char_columns(ch) == 2 for ch in text)


def _cut(text: str, limit: int) -> str:
    if _cols(text) <= limit:
        return text
    out = ""
    for ch in text:
        if _cols(out + ch) > limit - 1:
            break
        out += ch
    if out.count("`") % 2:  # never half a `command`
        out = out[: out.rindex("`")].rstrip()
    return out + "…"


_NO_LINE_START = set("，。；：、）》」』”！？")


def _units(text: str) -> list[str]:
    """Unbreakable pieces: a Latin word, a space, or one wide character (with the
    closing punctuation that may not begin a line)."""
    units: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace() or char_columns(ch) == 2:
            if word:
                units.append(word)
                word = ""
            if units and ch in _NO_LINE_START:
                units[-1] += ch
            else:
                units.append(" " if ch.isspace() else ch)
        else:
            word += ch
    if word:
        units.append(word)
    return units


def _fill(text: str, width: int, first: str, rest: str) -> str:
    lines, line = [], first
    for u in _units(text):
        if u == " " and line.strip() == "":
            continue
        if _cols(line) + _cols(u) > width and line.strip():
            lines.append(line.rstrip())
            line = rest
            if u == " ":
                continue
        line += u
    lines.append(line.rstrip())
    return "\n".join(lines)


def wrap(text: str, width: int, initial: str = "", subsequent: str = "") -> str:
    """click's wrap_text (paragraphs kept, \\b blocks as written), measured in terminal
    columns when the text holds wide (Chinese) characters."""
    if not _wide(text):
        return wrap_text(text, width, initial_indent=initial, subsequent_indent=subsequent,
                         preserve_paragraphs=True)
    out = []
    for para in re.split(r"\n\s*\n", text.expandtabs()):
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append("\n".join(subsequent + line for line in lines[1:]))
            continue
        joined = ""
        for line in (x.strip() for x in lines):
            sep = " " if joined and not (_wide(joined[-1]) or _wide(line[:1])) else ""
            joined += sep + line
        out.append(_fill(joined, width, initial, subsequent))
    return "\n\n".join(out)


class Formatter(HelpFormatter):
    """click's formatter, wrapping Chinese by terminal columns (a character takes two)."""

    def write_heading(self, heading: str) -> None:
        colon = "" if heading.endswith("：") else ":"  # a Chinese heading brings its own
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, indent, indent))
        self.write("\n")

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        if not any(_wide(second) for _, second in rows):
            return super().write_dl(rows, col_max, col_spacing)
        first_col = min(max((_cols(a) for a, _ in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if _cols(first) <= first_col - col_spacing:
                self.write(" " * (first_col - _cols(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - 2 - self.current_indent, 10)
            lines = wrap(second, text_width).splitlines() or [""]
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class HelpContext(click.Context):
    formatter_class = Formatter


# ---------------------------------------------------------------------- the usage line
_TYPE_WORDS = ("TEXT", "INTEGER", "FLOAT", "PATH", "FILENAME", "FILE", "DIRECTORY",
               "BOOLEAN", "UUID", "INTEGER RANGE", "FLOAT RANGE")


def _metavar(text: str, lang: str) -> str:
    """A type's metavar (TEXT, INTEGER…) in the reader's words."""
    for word in sorted(_TYPE_WORDS, key=len, reverse=True):
        if text.endswith(" " + word) or text == word:
            key = "clihelp.type." + word.lower().replace(" ", "_")
            return text[: len(text) - len(word)] + _say(key, lang, word)
    return text


def metavar_key(metavar: str) -> str:
    """The key of a metavar the code names (REASON, SEQ:HASH, NAME=N…)."""
    return "clihelp.metavar." + (re.sub(r"\W+", "_", metavar.lower()).strip("_") or "x")


def _arg_piece(param: click.Parameter, ctx: click.Context, lang: str) -> list[str]:
    pieces = param.get_usage_pieces(ctx)
    named = getattr(param, "metavar", None)
    key = metavar_key(named) if named else f"clihelp.arg.{param.name}"
    if not has(key):
        return pieces
    return [p.replace(named or (param.name or "").upper(), t(key, lang)) for p in pieces]


# ---------------------------------------------------------------------- usage errors
def _quote(names: Any) -> str:
    if names is None:
        return ""
    if isinstance(names, str):
        return names
    return " / ".join(repr(x) for x in names)


def _possibilities(found: list[str] | None, lang: str) -> str:
    if not found:
        return ""
    names = ", ".join(repr(p) for p in sorted(found))
    key = "clihelp.err.did_you_mean" if len(found) == 1 else "clihelp.err.did_you_mean_any"
    return ("" if _zh(lang) else " ") + t(key, lang, names=names)


#: click's inner messages (a type refusing a value) as the reader says them
_INNER = [
    (re.compile(r"(?P<value>.+) is not one of (?P<choices>.+)\.", re.S), "clihelp.err.not_one_of"),
    (re.compile(r"(?P<value>.+) is not (?P<choices>'[^']*')\.", re.S), "clihelp.err.not_one_of"),
    (re.compile(r"(?P<value>.+) is not a valid integer\.", re.S), "clihelp.err.not_an_integer"),
    (re.compile(r"(?P<value>.+) is not a valid float\.", re.S), "clihelp.err.not_a_number"),
    (re.compile(r"(?P<value>.+) is not in the range (?P<range>.+)\.", re.S),
     "clihelp.err.not_in_range"),
    (re.compile(r"(?:File|Directory|Path) (?P<value>.+) does not exist\.", re.S),
     "clihelp.err.does_not_exist"),
]
_PLAIN = [
    (re.compile(r"Got unexpected extra argument \((?P<args>.*)\)", re.S),
     "clihelp.err.extra_arg"),
    (re.compile(r"Got unexpected extra arguments \((?P<args>.*)\)", re.S),
     "clihelp.err.extra_args"),
    (re.compile(r"Option (?P<name>'[^']+') requires an argument\.", re.S),
     "clihelp.err.needs_value"),
    (re.compile(r"Option (?P<name>'[^']+') requires (?P<n>\d+) arguments\.", re.S),
     "clihelp.err.needs_values"),
    (re.compile(r"Option (?P<name>'[^']+') does not take a value\.", re.S),
     "clihelp.err.takes_no_value"),
    (re.compile(r"Missing command\.", re.S), "clihelp.err.missing_command"),
]


def _match(message: str, table: list, lang: str) -> str | None:
    for pattern, key in table:
        m = pattern.fullmatch(message)
        if m:
            return t(key, lang, **m.groupdict())
    return None


def _param_hint(exc: click.BadParameter, lang: str) -> str:
    if exc.param_hint is not None:
        return _quote(exc.param_hint)
    param = exc.param
    if param is None:
        return ""
    named = getattr(param, "metavar", None)
    key = metavar_key(named) if named else f"clihelp.arg.{param.name}"
    if isinstance(param, click.Argument) and has(key):
        return f"“{t(key, lang)}”" if _zh(lang) else repr(t(key, lang))
    return param.get_error_hint(exc.ctx)


def error_text(exc: click.UsageError, lang: str) -> str:
    """The line after "Error:" in the reader's words (click's English where a message
    is not one of click's own)."""
    if isinstance(exc, click.NoSuchOption):
        return (t("clihelp.err.no_such_option", lang, name=repr(exc.option_name))
                + _possibilities(exc.possibilities, lang))
    if isinstance(exc, click.exceptions.NoSuchCommand):
        return (t("clihelp.err.no_such_command", lang, name=repr(exc.command_name))
                + _possibilities(exc.possibilities, lang))
    if isinstance(exc, click.MissingParameter):
        hint = _param_hint(exc, lang)
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        key = {"argument": "clihelp.err.missing_argument",
               "option": "clihelp.err.missing_option"}.get(kind, "clihelp.err.missing_parameter")
        text = t(key, lang, name=hint)
        choices = getattr(exc.param.type, "choices", None) if exc.param else None
        if exc.message:
            text += " " + exc.message
        elif choices:
            text += " " + t("clihelp.err.choose_from", lang,
                            choices=", ".join(str(c) for c in choices))
        return text
    if isinstance(exc, click.BadParameter):
        inner = _match(exc.message, _INNER, lang) or exc.message
        hint = _param_hint(exc, lang)
        if not hint:
            return t("clihelp.err.invalid_value", lang, message=inner)
        return t("clihelp.err.invalid_value_for", lang, name=hint, message=inner)
    return _match(exc.message, _PLAIN, lang) or exc.format_message()


class _Told(click.UsageError):
    """A usage error told in the reader's words (usage line, hint, message)."""

    def __init__(self, exc: click.UsageError, lang: str):
        super().__init__(error_text(exc, lang), exc.ctx)
        self.lang = lang

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        from click.utils import echo

        if file is None:
            from click._compat import get_text_stderr

            file = get_text_stderr()
        ctx, color, hint = self.ctx, None, ""
        if ctx is not None and ctx.command.get_help_option(ctx) is not None:
            names = ctx.command.get_help_option_names(ctx)
            hint = t("clihelp.try_help", self.lang, command=ctx.command_path,
                     option=max(names, key=len)) + "\n"
        if ctx is not None:
            color = ctx.color
            echo(f"{ctx.get_usage()}\n{hint}", file=file, color=color)
        echo(t("clihelp.error", self.lang, message=self.message), file=file, color=color)


#: errors shown as they are: told already, or a group's help shown for want of a command
#: (its help is the help screen, in the reader's language already)
_KEEP = (_Told, getattr(click.exceptions, "NoArgsIsHelpError", _Told))


# ---------------------------------------------------------------------- the classes
class HelpMixin:
    """Help, usage and usage errors of a command from the catalogue."""

    context_class = HelpContext

    def format_usage(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        lang = help_lang(ctx)
        pieces = []
        if self.options_metavar:  # type: ignore[attr-defined]
            pieces.append("[" + t("clihelp.usage_options", lang) + "]")
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(param, click.Argument):
                pieces.extend(_arg_piece(param, ctx, lang))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        if isinstance(self, click.Group):
            pieces.append(t("clihelp.usage_command", lang))
        prefix = t("clihelp.usage", lang)
        formatter.write_usage(ctx.command_path, " ".join(pieces),
                              prefix=prefix if prefix.endswith("：") else prefix + " ")

    def format_help_text(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        text = command_help(self, command_path(ctx), help_lang(ctx))  # type: ignore[arg-type]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def format_options(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        lang, path = help_lang(ctx), command_path(ctx)
        rows = []
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(param, click.Option) and not param.hidden:
                rows.append(self._option_row(param, ctx, path, lang))
        if rows:
            with formatter.section(t("clihelp.options", lang)):
                formatter.write_dl(rows)
        if isinstance(self, click.Group):
            self._format_commands(ctx, formatter, path, lang)

    @staticmethod
    def _option_row(param: click.Option, ctx: click.Context, path: list[str],
                    lang: str) -> tuple[str, str]:
        spec = param.get_help_spec(ctx)
        if spec and param.metavar and has(metavar_key(param.metavar)):
            spec = spec.replace(param.metavar, t(metavar_key(param.metavar), lang))
        elif spec and not param.is_flag and not param.count and not param.metavar:
            spec = _metavar(spec, lang)
        help = option_help(param, path, lang)
        extra = param.get_help_extra(ctx)
        items = []
        if "envvars" in extra:
            items.append(t("clihelp.env_var", lang, var=", ".join(extra["envvars"])))
        if "default" in extra:
            items.append(t("clihelp.default", lang, default=extra["default"]))
        if "range" in extra:
            items.append(extra["range"])
        if "required" in extra:
            items.append(t("clihelp.required", lang))
        if items:
            sep = "；" if _zh(lang) else "; "
            help = f"{help}  [{sep.join(items)}]" if help else f"[{sep.join(items)}]"
        return spec or "", help

    def _format_commands(self, ctx: click.Context, formatter: HelpFormatter,
                         path: list[str], lang: str) -> None:
        commands = []
        for name in self.list_commands(ctx):  # type: ignore[attr-defined]
            cmd = self.get_command(ctx, name)  # type: ignore[attr-defined]
            if cmd is not None and not cmd.hidden:
                commands.append((name, cmd))
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        rows = [(name, short_help(cmd, [*path, cmd.name or name], lang, limit))
                for name, cmd in commands]
        with formatter.section(t("clihelp.commands", lang)):
            formatter.write_dl(rows)

    # ---- the command tree: every command added below is a help-aware one
    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        adopt(cmd)
        super().add_command(cmd, name)  # type: ignore[misc]

    # ---- usage errors, caught where the root parses and runs
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            ctx.meta[_LANG] = _scan_lang(args)
        return super().parse_args(ctx, args)  # type: ignore[misc]

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)  # type: ignore[misc]
        except click.UsageError as exc:
            if parent is not None or isinstance(exc, _KEEP):
                raise
            raise _Told(exc, help_lang(exc.ctx) if exc.ctx else _scan_lang(args)
                        or _settings_lang()) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except click.UsageError as exc:
            if ctx.parent is not None or isinstance(exc, _KEEP):
                raise
            raise _Told(exc, help_lang(exc.ctx or ctx)) from None


class HelpCommand(HelpMixin, click.Command):
    pass


class HelpGroup(HelpMixin, click.Group):
    command_class = HelpCommand
    group_class = type  # subgroups are HelpGroups too


_CLASSES: dict[type, type] = {click.Command: HelpCommand, click.Group: HelpGroup}


def _help_class(cls: type) -> type:
    """`cls` with the catalogue's help (a subclass such as a group that reads its
    arguments its own way keeps doing so)."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(cls.__name__, (HelpMixin, cls), {"__module__": cls.__module__})
    return _CLASSES[cls]


def adopt(cmd: click.Command) -> None:
    """Make `cmd` (and what it holds) read its help from the catalogue."""
    if not isinstance(cmd, HelpMixin):
        cmd.__class__ = _help_class(type(cmd))
    for sub in getattr(cmd, "commands", {}).values():
        adopt(sub)
