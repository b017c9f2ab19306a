"""WCAG 2.x contrast of what the console actually draws.

The colours are not read from a list: `screen_text_colours` takes the frame Textual has
composed (theme variables, tcss, component classes and Rich markup such as `[$error]`
or `[dim]` all resolved to true colours) and returns every run of text with its
foreground and background; `findings` keeps those below the WCAG AA minimum.

Rule used (WCAG 2.2, 1.4.3 Contrast (Minimum)): 4.5:1 for all text. Terminal text is
one cell high (about 10-12 pt), so nothing on screen is "large text" and the 3:1
allowance is not used, bold or not. Box-drawing and block characters (borders,
scrollbars, progress bars: U+2500-U+259F) are graphics, not text, and are skipped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

AA_TEXT = 4.5
Rgb = tuple[int, int, int]


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(rgb: Rgb) -> float:
    """Relative luminance (WCAG 2.x, sRGB)."""
    r, g, b = (_channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Rgb, b: Rgb) -> float:
    """The contrast ratio of two colours, 1.0 (none) to 21.0 (black on white)."""
    la, lb = luminance(a), luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def _blend(fg: Rgb, bg: Rgb, amount: float) -> Rgb:
    return tuple(int(f + (b - f) * amount) for f, b in zip(fg, bg, strict=True))  # type: ignore[return-value]


def _is_graphic(ch: str) -> bool:
    return ch.isspace() or 0x2500 <= ord(ch) <= 0x259F


@dataclass(frozen=True, slots=True)
class Run:
    """A run of text as drawn: its colours and its contrast."""

    text: str
    fg: Rgb
    bg: Rgb
    bold: bool
    x: int = 0
    y: int = 0

    @property
    def ratio(self) -> float:
        return contrast(self.fg, self.bg)

    def describe(self) -> str:
        hexes = "#{:02x}{:02x}{:02x}"
        return (f"{self.text.strip()[:40]!r}: {hexes.format(*self.fg)} on "
                f"{hexes.format(*self.bg)} = {self.ratio:.2f}:1")


def screen_text_colours(app: Any, region: Any = None) -> list[Run]:
    """Every run of text on the app's current frame (screen, modals over it, toasts);
    with `region` (a textual Region), only the runs that start inside it — a modal's
    own text, not the screen it dims behind it (dimmed on purpose: not for reading)."""
    import re

    from rich.cells import cell_len
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    default_bg = _rgb(app.current_theme.background) or (0, 0, 0)
    default_fg = _rgb(app.current_theme.foreground) or (255, 255, 255)
    out: list[Run] = []
    x = y = 0
    move = re.compile(r"\x1b\[(\d+);(\d+)H")
    for seg in console._record_buffer:
        style = seg.style
        text = seg.text
        m = move.fullmatch(text) if style is None else None
        if m:  # the compositor positions each line
            y, x = int(m.group(1)) - 1, int(m.group(2)) - 1
            continue
        at_x = x
        x += cell_len(text)
        if style is None or not any(not _is_graphic(c) for c in text):
            continue
        if region is not None and not region.contains(at_x, y):
            continue
        fg = style.color.get_truecolor() if style.color else None
        bg = style.bgcolor.get_truecolor() if style.bgcolor else None
        fg_rgb: Rgb = tuple(fg) if fg is not None else default_fg  # type: ignore[assignment]
        bg_rgb: Rgb = tuple(bg) if bg is not None else default_bg  # type: ignore[assignment]
        if style.reverse:
            fg_rgb, bg_rgb = bg_rgb, fg_rgb
        if style.dim:  # as Rich draws it in SVG: 40% of the way to the background
            fg_rgb = _blend(fg_rgb, bg_rgb, 0.4)
        out.append(Run(text, fg_rgb, bg_rgb, bool(style.bold), at_x, y))
    return out


def _rgb(value: Any) -> Rgb | None:
    if not value:
        return None
    from textual.color import Color

    c = Color.parse(value)
    return (c.r, c.g, c.b)


def findings(runs: list[Run], minimum: float = AA_TEXT) -> list[Run]:
    """The runs below `minimum`, each colour pair once."""
    seen: set[tuple[Rgb, Rgb]] = set()
    out = []
    for r in runs:
        if r.ratio < minimum and (r.fg, r.bg) not in seen:
            seen.add((r.fg, r.bg))
            out.append(r)
    return out

