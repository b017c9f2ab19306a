"""The roll-call board: per floor, who answered safe, who needs help, who is silent,
and the vulnerable residents not yet accounted for — refreshed every second while
open; k sends the door-knock list to the step's team through the outbox.

The board is computed in a worker thread (it reads the store); the UI thread only
paints the text it is handed. Lines fit 80 columns (rollcall_text)."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed


class BoardText(Message):
    """A freshly computed board (plain text) for the screen to paint."""

    def __init__(self, board: str, knock: str, team: str | None) -> None:
        super().__init__()
        self.board, self.knock, self.team = board, knock, team


class RollCallScreen(ModalScreen[Any]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="modal.close"),
        Binding("k", "send_knock", "Send knock list", id="rollcall.send"),
        Binding("l", "toggle_list", "Knock list", id="rollcall.list"),
    ]

    def __init__(self, incident_id: str, step_id: str | None = None):
        super().__init__(classes="dialog-screen", id="rollcall-modal")
        self.incident_id = incident_id
        self.step_id = step_id
        self.team: str | None = None
        self.show_list = False
        self.busy = False
        self._texts = ("", "")

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall"):
            yield Label(t("rc.title", self.lang), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(t("pv.loading", self.lang), id="rc-board", markup=False)
            yield Static(t("rc.keys", self.lang), id="rc-keys", markup=False)
            yield Static("", id="rc-error", classes="form-error", markup=False)

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self.load()
        self.set_interval(1.0, self.load)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rollcall")
    def load(self) -> None:
        from incident.engine import rollcall
        from incident.engine import rollcall_text as rt_text

        rt = self.app.runtime  # type: ignore[attr-defined]
        lang = self.lang
        try:
            st = rt.engine.state(self.incident_id)
            b = rollcall.board(st, rt.clock.now(), self.step_id)
        except Exception as exc:
            from incident.console.app import error_text

            self.post_message(ActionFailed("rollcall", error_text(exc), refused=True))
            return
        step = st.playbook.steps()[b.step_id]
        team = step.roll_call.team if step.roll_call is not None else None
        self.post_message(BoardText(
            rt_text.board_text(b, rt.directory, lang, width=76),
            rt_text.knock_text(b.knock_list(), rt.directory, lang, team or "—"), team))

    def on_board_text(self, msg: BoardText) -> None:
        self.team = msg.team
        self._texts = (msg.board, msg.knock)
        self._paint()

    def _paint(self) -> None:
        text = self._texts[1] if self.show_list else self._texts[0]
        widget = self.query_one("#rc-board", Static)
        if getattr(widget, "_last_text", None) != text:
            widget._last_text = text  # type: ignore[attr-defined]
            widget.update(text)

    def action_toggle_list(self) -> None:
        self.show_list = not self.show_list
        self._paint()

    def action_send_knock(self) -> None:
        if self.busy:
            return
        if not self.team:
            self.query_one("#rc-error", Static).update(t("rc.no_team", self.lang))
            return
        self.busy = True
        engine = self.app.runtime.engine  # type: ignore[attr-defined]
        iid, sid, team, user = self.incident_id, self.step_id, self.team, self.app.user  # type: ignore[attr-defined]
        self.query_one("#rc-error", Static).update(t("form.working", self.lang))
        self.app.run_op(self, "knock",  # type: ignore[attr-defined]
                        lambda: engine.knock(iid, team=team, actor=user, step_id=sid))

    def on_action_done(self, msg: ActionDone) -> None:
        msg.stop()
        self.busy = False
        sent = msg.result.knocks[-1] if msg.result is not None and msg.result.knocks else {}
        text = t("rc.sent", self.lang, n=len(sent.get("units", [])),
                 team=self.team or "", to=len(sent.get("to", [])))
        self.query_one("#rc-error", Static).update(text)
        self.app.notify(text, timeout=4)

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.busy = False
        self.query_one("#rc-error", Static).update(msg.reason)

    def action_close(self) -> None:
        self.dismiss(None)
