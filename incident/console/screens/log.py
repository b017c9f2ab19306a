"""The console's log panel: warnings and errors the process logged, never lost.

Inside the console stderr is captured, so a warning printed there (a channel that
refuses, a timer that failed) would vanish. incident/logs.py hands every WARNING and
worse to the app's RecentRecords as well as to the rotating file; this modal lists
them, newest last, and follows new ones while it is open (F4 or the palette).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from incident.console.i18n import localize_bindings, t


class LogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f4", "close", "Close", id="modal.close")]

    def compose(self) -> ComposeResult:
        lang = self.app.lang  # type: ignore[attr-defined]
        with Vertical(classes="dialog wide tall"):
            yield Label(t("log.title", lang), classes="dialog-title")
            yield Static(t("log.where", lang, path=self._path()), classes="dialog-description",
                         markup=False)
            with VerticalScroll(id="log-scroll"):
                yield Static("", id="log-lines", markup=False)
            yield Button(t("err.close", lang), id="close")

    def _path(self) -> str:
        return str(getattr(self.app, "log_path", None) or "—")

    def on_mount(self) -> None:
        localize_bindings(self, self.app.lang)  # type: ignore[attr-defined]
        self.refresh_lines()
        self.set_focus(self.query_one("#close", Button))

    def refresh_lines(self) -> None:
        lines = self.app.log_records.lines()  # type: ignore[attr-defined]
        text = "\n".join(lines) if lines else t("log.empty", self.app.lang)  # type: ignore[attr-defined]
        self.query_one("#log-lines", Static).update(text)
        self.query_one("#log-scroll", VerticalScroll).scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)
