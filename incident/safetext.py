"""Data from users and rosters, made harmless for the place it is written to.

A note, an owner's name or a roster field is typed by someone we do not control.
Written raw, it can act instead of being read: a CSV cell ``=HYPERLINK(...)``
becomes a live formula in Excel, ``\\x1b]0;…\\x07`` retitles the officer's
terminal and ``\\x1b[2J`` wipes it, ``<script>`` or ``[x](javascript:…)`` runs in
a Markdown viewer, and a newline in a note forges a line that looks like
another event in ``incident log``. One function per destination, used by every
writer to that destination:

- ``csv_cell``      spreadsheet cells (OWASP "CSV injection")
- ``terminal``      one line of data for a terminal (escape and control codes removed)
- ``TerminalGuard`` a stream filter the CLI puts on stdout/stderr as a second net
- ``md_text``       Markdown text (HTML and link syntax neutralised)
- ``one_line``      multi-line data folded so it cannot start a line of its own
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# ---- CSV ------------------------------------------------------------------------------

_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CSV_FIRST = frozenset(_CSV_TRIGGERS)
# Left alone although they start with + or -: plain numbers and phone numbers (digits and
# separators only: at worst Excel does arithmetic, it can call nothing) and the project's
# own signed durations ('-5m00s', '-1h02m'), so exports stay readable and sortable.
_CSV_HARMLESS = re.compile(r"[+-]?[0-9][0-9 .,:/()-]*%?|-?(?:\d+h)?\d+m(?:\d{2}s)?")


def csv_cell(value: Any) -> Any:
    """A value safe to put in a CSV cell.

    Numbers stay numbers. Text that a spreadsheet would read as a formula (it begins
    with ``= + - @``, a tab or a carriage return) gets a leading apostrophe, which
    Excel, LibreOffice and WPS all take as "this is text" (OWASP's advice). A carriage
    return inside becomes a newline: Python's writer (lineterminator "\\n") would leave
    a lone CR unquoted, and spreadsheets read it as the start of a new row.
    """
    if value.__class__ is not str or not value:  # (the hot path of a 10,000-row export)
        return value
    if value[0] not in _CSV_FIRST and "\r" not in value:
        return value
    if "\r" in value:
        value = "'" + value if value.startswith(_CSV_TRIGGERS) else value
        return value.replace("\r\n", "\n").replace("\r", "\n")
    if not value.startswith(_CSV_TRIGGERS) or _CSV_HARMLESS.fullmatch(value):
        return value
    return "'" + value


def csv_row(values: list[Any] | tuple[Any, ...]) -> list[Any]:
    cell = csv_cell
    return [cell(v) for v in values]


def csv_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {k: csv_cell(v) for k, v in row.items()}


# ---- terminal -------------------------------------------------------------------------

# ESC-introduced sequences: CSI (cursor moves, clear screen, colours), OSC (window title,
# hyperlinks, clipboard), DCS/SOS/PM/APC strings, and the two-byte escapes; also the C1
# single-byte CSI (0x9b) and OSC (0x9d) forms.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"                        # CSI
    r"|\x1b\][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"      # OSC ... BEL / ST
    r"|\x1b[PX^_][^\x1b\x9c\n]*(?:\x1b\\|\x9c)?"           # DCS, SOS, PM, APC ... ST
    r"|\x1b[ -/]*[0-~]?"                                # other escapes (charset, reset...)
    r"|\x9b[0-?]*[ -/]*[@-~]?"                         # C1 CSI
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x9c)?"  # C1 OSC/DCS/SOS/PM/APC
)
# A string sequence is cut at the end of its line: with its introducer gone the rest is
# plain text, and an unterminated one must not swallow the lines (CSV rows) after it.
# Everything else that a terminal acts on rather than prints: C0 (but tab and newline are
# handled by the callers), DEL, C1, and the bidirectional overrides that reorder what the
# reader sees ("Trojan Source").
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Text with escape sequences removed and other control characters dropped.

    Tabs become a space. Newlines are kept only with ``keep_newlines``; otherwise they
    become ' ⏎ ' so the text stays one line (see ``one_line``).
    """
    if text.isprintable():  # the common case: nothing to do
        return text
    text = _ESCAPES.sub("", text)
    text = text.replace("\t", " ")
    if keep_newlines:
        return _CONTROLS.sub("", _NEWLINES.sub("\n", text))
    return _CONTROLS.sub("", one_line(text))


def terminal(value: Any) -> str:
    """One line of data for a terminal: printable, no escapes, no line breaks."""
    return strip_controls("" if value is None else str(value))


def one_line(text: str, mark: str = " ⏎ ") -> str:
    """Multi-line data as one line, each break shown as ⏎, so a note can never begin a
    line of its own that reads like another event."""
    if "\n" not in text and "\r" not in text and not _NEWLINES.search(text):
        return text
    return _NEWLINES.sub(mark, text.strip("\r\n"))


# SGR colour and weight codes that click.style itself writes (fg/bg, bright, bold, dim,
# underline, reset). Anything else from data (conceal, cursor, titles...) is removed.
_CLICK_SGR = re.compile(r"\x1b\[(?:(?:0|1|2|4|22|24|39|49|3[0-7]|4[0-7]|9[0-7]|10[0-7])"
                        r"(?:;(?:0|1|2|4|22|24|39|49|3[0-7]|4[0-7]|9[0-7]|10[0-7]))*)?m")


def guard_text(text: str) -> str:
    """What TerminalGuard lets through: printable text, newlines, tabs, click's colours."""
    if not _CONTROLS.search(text):
        return text  # one regex scan: ~10 ms per MB of report
    kept: list[str] = []
    pos = 0
    for m in _CLICK_SGR.finditer(text):
        kept.append(_guard_plain(text[pos:m.start()]))
        kept.append(m.group(0))
        pos = m.end()
    kept.append(_guard_plain(text[pos:]))
    return "".join(kept)


def _guard_plain(text: str) -> str:
    if not text or text.isprintable():
        return text
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", _NEWLINES.sub("\n", text))  # _CONTROLS spares \t and \n


class TerminalGuard:
    """A text stream that filters what is written through it with ``guard_text``.

    The CLI wraps stdout and stderr in it, so whatever path a piece of data takes to
    the terminal — an error message quoting a YAML value, a third-party warning, a
    verb someone adds later — it cannot move the cursor, clear the screen or set the
    window title. (Data-level ``terminal()`` also keeps data on its own line.)
    """

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(guard_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno, buffer...
        return getattr(self._stream, name)


def guard_streams() -> None:
    """Put TerminalGuard on sys.stdout and sys.stderr (idempotent)."""
    import sys

    if sys.stdout is not None and not isinstance(sys.stdout, TerminalGuard):
        sys.stdout = TerminalGuard(sys.stdout)  # type: ignore[assignment]
    if sys.stderr is not None and not isinstance(sys.stderr, TerminalGuard):
        sys.stderr = TerminalGuard(sys.stderr)  # type: ignore[assignment]


# ---- Markdown -------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"[<>\[\]`]|&(?=#?\w+;)")
_MD_REPLACE = {"<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "`": "\\`", "&": "&amp;"}


def md_text(value: Any) -> str:
    """Data as Markdown text that renders as itself.

    Raw HTML (``<script>``, ``<img onerror=…>``) is escaped to entities; brackets and
    backticks are backslash-escaped so no ``[text](javascript:…)`` link, ``<autolink>``
    or code span can form. Other Markdown (emphasis) is left alone: it can only change
    how text looks, and escaping it would litter ids like ``duty_officer``. Newlines
    become ⏎ and controls are removed, so a value stays within its line.
    """
    text = strip_controls("" if value is None else str(value))
    if not _MD_SPECIAL.search(text):
        return text
    return _MD_SPECIAL.sub(lambda m: _MD_REPLACE[m.group(0)[0]], text)


__all__ = ["TerminalGuard", "csv_cell", "csv_dict", "csv_row", "guard_streams", "guard_text",
           "md_text", "one_line", "strip_controls", "terminal"]
