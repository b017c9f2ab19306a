"""Modals: errors, and small forms whose typed text survives a refusal.

A FormModal runs its operation in the app's action worker and stays open until
the engine accepts it; a refusal is shown inside the form with every field as
typed. Cancelling keeps the text too (the caller passes a drafts dict).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed
from incident.errors import Refused


class ErrorModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "dismiss_error", "Close", id="modal.close")]

    def __init__(self, title: str, message: str):
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        lang = self.app.lang  # type: ignore[attr-defined]
        with Vertical(classes="dialog error-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.message, id="error-message", markup=False)
            yield Button(t("err.close", lang), id="close", variant="error")

    def on_mount(self) -> None:
        localize_bindings(self, self.app.lang)  # type: ignore[attr-defined]
        self.set_focus(self.query_one("#close", Button))

    def action_dismiss_error(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


@dataclass
class FormField:
    name: str
    label: str
    value: Any = ""
    kind: str = "input"  # input | check | select
    placeholder: str = ""
    options: list[tuple[str, Any]] = field(default_factory=list)
    suggestions: list[str] | None = None
    secret: bool = False  # typed text is hidden (a PIN)


class FormModal(ModalScreen[Any]):
    """A titled form; `submit(values)` returns the operation to run in a worker."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="modal.close"),
        Binding("ctrl+s", "submit", "OK", id="form.submit"),
    ]

    def __init__(self, title: str, fields: list[FormField],
                 submit: Callable[[dict[str, Any]], Callable[[], Any]], *,
                 description: str = "", ok_label: str | None = None,
                 drafts: dict[str, Any] | None = None, form_id: str = "form"):
        super().__init__(classes="dialog-screen", id=f"{form_id}-modal")
        self.title_text = title
        self.fields = fields
        self.submit_fn = submit
        self.description = description
        self.ok_label = ok_label
        self.drafts = drafts if drafts is not None else {}
        self.busy = False

    def compose(self) -> ComposeResult:
        lang = self.app.lang  # type: ignore[attr-defined]
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            if self.description:
                yield Static(self.description, classes="dialog-description", markup=False)
            for f in self.fields:
                value = self.drafts.get(f.name, f.value)
                if f.kind == "check":
                    yield Checkbox(f.label, bool(value), id=f"f-{f.name}")
                    continue
                yield Label(f.label, classes="field-label")
                if f.kind == "select":
                    yield Select(f.options, value=value if value not in ("", None)
                                 else Select.NULL, id=f"f-{f.name}", allow_blank=not value not in ("", None))
                else:
                    sugg = SuggestFromList(f.suggestions, case_sensitive=False) \
                        if f.suggestions else None
                    yield Input("" if f.secret else str(value or ""), placeholder=f.placeholder,
                                id=f"f-{f.name}", suggester=sugg, password=f.secret)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ok_label or t("form.ok", lang), id="ok", variant="primary")
                yield Button(t("form.cancel", lang), id="cancel")

    def on_mount(self) -> None:
        localize_bindings(self, self.app.lang)  # type: ignore[attr-defined]
        first = self.query("Input, Select, Checkbox").first()
        self.set_focus(first)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            w = self.query_one(f"#f-{f.name}")
            if isinstance(w, Checkbox):
                out[f.name] = w.value
            elif isinstance(w, Select):
                out[f.name] = None if w.value is Select.NULL else w.value
            elif isinstance(w, Input):
                out[f.name] = w.value
        return out

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _keep_draft(self, event: Any) -> None:
        wid = event.control.id or ""
        if wid.startswith("f-"):
            if any(f.secret and f"f-{f.name}" == wid for f in self.fields):
                return  # a PIN is never kept as a draft
            value = event.value
            self.drafts[wid[2:]] = None if value is Select.NULL else value

    @on(Input.Submitted)
    def _next_or_submit(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        idx = inputs.index(event.input)
        if idx < len(inputs) - 1:
            self.set_focus(inputs[idx + 1])
        else:
            self.action_submit()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        if self.busy:
            return
        err = self.query_one("#form-error", Static)
        try:
            op = self.submit_fn(self.values())
        except Refused as exc:
            err.update(str(exc))
            return
        self.busy = True
        err.update(t("form.working", self.app.lang))  # type: ignore[attr-defined]
        self.app.run_op(self, "form", op)  # type: ignore[attr-defined]

    def on_action_done(self, msg: ActionDone) -> None:
        msg.stop()
        self.busy = False
        self.drafts.clear()
        self.dismiss(msg.result)

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.busy = False
        self.query_one("#form-error", Static).update(
            f"{t('err.refused' if msg.refused else 'err.failed', self.app.lang)}: "  # type: ignore[attr-defined]
            f"{msg.reason}")
