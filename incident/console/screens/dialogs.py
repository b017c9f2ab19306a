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

from incident.console.i18n import binding_label, localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed
from incident.console.widgets.toggle import ClearCheckbox
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
                    yield ClearCheckbox(f.label, bool(value), id=f"f-{f.name}")
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
            err.update(exc.text(self.app.lang))  # type: ignore[attr-defined]
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


class JoinModal(ModalScreen[Any]):
    """The duplicate guard: an incident of this kind is open in this building.

    Enter joins the open one (the default: two consoles must not both page everyone);
    `s` or the second button starts a separate incident; Esc goes back to the line.
    Dismisses with the incident id to join, "new", or None.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="modal.close"),
        Binding("s", "separate", "Separate", id="join.new"),
    ]

    def __init__(self, rows: list[Any]):
        super().__init__(classes="dialog-screen", id="join-modal")
        self.rows = rows

    def compose(self) -> ComposeResult:
        app: Any = self.app
        lang = app.lang
        row = self.rows[0]
        title = (row.title or {}).get(lang) or row.type
        when = row.created_at
        with Vertical(classes="dialog"):
            yield Label(t("join.title", lang), classes="dialog-title")
            lines = [t("join.open", lang, id=row.id, title=title, at=row.location,
                       owner=app.name_of(row.owner))]
            for other in self.rows[1:3]:
                lines.append(t("join.also", lang, id=other.id, at=other.location,
                               owner=app.name_of(other.owner)))
            yield Static("\n".join(lines), id="join-text", markup=False)
            yield Static(t("join.since", lang, when=when.strftime("%H:%M") if when else ""),
                         classes="dialog-description", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("join.join", lang, id=row.id), id="join", variant="primary")
                yield Button(t("join.new", lang), id="separate")

    def on_mount(self) -> None:
        app: Any = self.app
        localize_bindings(self, app.lang)
        self.set_focus(self.query_one("#join", Button))
        self.call_after_refresh(app.release_keys)

    @on(Button.Pressed, "#join")
    def _join(self) -> None:
        self.dismiss(self.rows[0].id)

    @on(Button.Pressed, "#separate")
    def _separate(self) -> None:
        self.dismiss("new")

    def action_separate(self) -> None:
        self.dismiss("new")

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """The `?` overlay: every binding of the screen below with its key and label."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="modal.close")]

    def __init__(self, below: Any):
        super().__init__(classes="dialog-screen", id="help-modal")
        self.below = below

    def compose(self) -> ComposeResult:
        app: Any = self.app
        lang = app.lang
        rows: list[str] = []
        seen: set[str] = set()
        for active in self.below.active_bindings.values():
            b = active.binding
            label = binding_label(getattr(b, "id", None), lang) or b.description
            if not label or (b.id or b.action) in seen:
                continue
            seen.add(b.id or b.action)
            shown = app.get_key_display(b)
            text = f"{shown:>8}  {label}"
            rows.append(text if active.enabled else f"{text}  ·")
        with Vertical(classes="dialog"):
            yield Label(t("help.title", lang), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static("\n".join(rows), id="help-keys", markup=False)
            yield Static(t("help.hint", lang), classes="dialog-description", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class AskModal(ModalScreen[bool]):
    """One yes/no question; Enter answers yes (the focused button), Esc or `n` no."""

    BINDINGS = [
        Binding("escape", "no", "No", id="modal.close"),
        Binding("n", "no", show=False),
        Binding("y", "yes", show=False),
    ]

    def __init__(self, title: str, text: str, yes: str, no: str, *, modal_id: str = "ask"):
        super().__init__(classes="dialog-screen", id=f"{modal_id}-modal")
        self.title_text, self.text, self.yes, self.no = title, text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.text, id="ask-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="warning")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        localize_bindings(self, self.app.lang)  # type: ignore[attr-defined]
        self.set_focus(self.query_one("#yes", Button))

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)


class InjectModal(ModalScreen[None]):
    """A drill inject as the exercise controller would hand it over: the headline, what
    happens and the response expected, not only the one-line timeline entry."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="modal.close")]

    def __init__(self, payload: dict[str, Any], lang: str):
        # one per inject (two can arrive in one reload): the id keeps screens apart
        super().__init__(classes="dialog-screen inject-modal",
                         id=f"inject-{payload.get('inject') or 'x'}")
        self.payload = payload
        self.lang = lang

    def _text(self, key: str) -> str:
        value = self.payload.get(key) or {}
        if isinstance(value, str):
            return value
        return str(value.get(self.lang) or value.get("en") or "")

    def lines(self) -> dict[str, str]:
        """What the modal shows, by part (the tests read these)."""
        lang = self.lang
        out = {"title": t("inject.title", lang, at=self.payload.get("at") or "?"),
               "headline": self._text("headline"),
               "detail": self._text("detail") or t("inject.none", lang),
               "expect": self._text("expect")}
        fault = self.payload.get("fault") or {}
        if fault.get("channel"):
            span = t("inject.fault_for", lang, span=fault["for"]) if fault.get("for") else ""
            out["fault"] = t("inject.fault", lang, channel=fault["channel"], span=span)
        return out

    def compose(self) -> ComposeResult:
        parts = self.lines()
        lang = self.lang
        with Vertical(classes="dialog wide inject-dialog"):
            yield Label(parts["title"], classes="dialog-title", id="inject-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(parts["headline"], id="inject-headline", markup=False,
                             classes="inject-headline")
                yield Label(t("inject.detail", lang), classes="dialog-description")
                yield Static(parts["detail"], id="inject-detail", markup=False)
                if parts.get("fault"):
                    yield Static(parts["fault"], id="inject-fault", markup=False)
                if parts["expect"]:
                    yield Label(t("inject.expect", lang), classes="dialog-description")
                    yield Static(parts["expect"], id="inject-expect", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("inject.ok", lang), id="inject-ok", variant="warning")

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self.set_focus(self.query_one("#inject-ok", Button))

    @on(Button.Pressed, "#inject-ok")
    def action_close(self) -> None:
        self.dismiss(None)
