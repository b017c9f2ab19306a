"""Keys typed while the console starts, before Textual has the terminal.

Until Textual switches the terminal to raw mode (after its ~0.3 s of imports), the
terminal is in its cooked mode: it echoes what is typed onto the shell and turns
Enter (CR) into a line feed, which Textual reads as ctrl+j — so `f B3-1201 ⏎ ⏎` typed
the moment the console was launched lost its Enters. `EarlyKeys` puts the terminal in
the mode the console reads from as soon as `incident console` runs, lends the cooked
mode back for a question asked at the terminal, and gives the shell its own mode back
when the console has quit. (Keys typed even earlier, while Python itself starts, still
arrive cooked: the console takes ctrl+j as Enter for them.)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any


class EarlyKeys:
    """No echo, no line editing, Enter as CR; ctrl+c still interrupts (ISIG stays)."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.before: Any = None

    def __enter__(self) -> EarlyKeys:
        try:
            import termios

            fd = sys.stdin.fileno()
            if not os.isatty(fd):
                return self  # a pipe, a test harness: nothing to set up
            self.before = termios.tcgetattr(fd)
            self.fd = fd
        except (ImportError, OSError, ValueError, AttributeError):
            return self  # Windows, no stdin
        self._set(raw=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._set(raw=False)
        self.fd = None

    @contextlib.contextmanager
    def cooked(self) -> Iterator[None]:
        """The shell's own mode for a moment: a question typed and echoed as usual."""
        self._set(raw=False)
        try:
            yield
        finally:
            self._set(raw=True)

    def _set(self, raw: bool) -> None:
        if self.fd is None:
            return
        import termios

        mode = list(self.before)  # only the two flag words change
        when = termios.TCSADRAIN  # the shell's mode back once pending output is written
        if raw:
            mode[0] &= ~termios.ICRNL  # iflag: keep CR (Enter) as typed
            mode[3] &= ~(termios.ICANON | termios.ECHO)  # lflag: no line editing or echo
            when = termios.TCSANOW
        with contextlib.suppress(termios.error):
            termios.tcsetattr(self.fd, when, mode)
