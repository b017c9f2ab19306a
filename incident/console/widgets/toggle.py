"""A checkbox that cannot be misread: empty when off, a tick when on.

Textual's default draws a dim "X" when a box is off, which at 3 a.m. in a dark
terminal reads as ticked (the resolve dialog's "force" box was taken for on).
"""

from __future__ import annotations

from textual.widgets import Checkbox


class ClearCheckbox(Checkbox):
    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:
        return "✔" if self.value else " "
