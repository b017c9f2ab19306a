"""Notify preview (what a notify step will send, to how many, in how many SMS parts)
and the per-recipient delivery drill-down."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from incident.console import bridge
from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed, PreviewReady, RecipientRows
from incident.i18n import N_, channel_name, nt, outbox_state
from incident.views import clock_text


class NotifyPreviewScreen(ModalScreen[Any]):
    BINDINGS = [
        Binding("escape", "cancel", "Close", id="modal.close"),
        Binding("ctrl+s", "send", "Send", id="preview.send"),
    ]

    def __init__(self, state: Any, step_id: str):
        super().__init__(classes="dialog-screen", id="preview-modal")
        self.state = state
        self.step_id = step_id
        self.preview: bridge.Preview | None = None
        self.busy = False

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        lang = self.lang
        title = self.state.playbook.steps()[self.step_id].title.get(lang)
        with Vertical(classes="dialog wide"):
            yield Label(t("pv.title", lang, step=title), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(t("pv.loading", lang), id="pv-audience")
                yield Static("", id="pv-messages")
            yield Static("", id="pv-error", classes="form-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("pv.send", lang), id="send", variant="primary", disabled=True)
                yield Button(t("pv.cancel", lang), id="cancel")

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self.set_focus(self.query_one("#cancel", Button))
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def load(self) -> None:
        rt = self.app.runtime  # type: ignore[attr-defined]
        try:
            p = bridge.preview(rt, self.state, self.step_id, self.lang)
        except Exception as exc:
            from incident.console.app import error_text

            self.post_message(ActionFailed("preview", error_text(exc), refused=False))
            return
        self.post_message(PreviewReady(p))

    def on_preview_ready(self, msg: PreviewReady) -> None:
        p = self.preview = msg.preview
        lang = self.lang
        aud = [f"[b]{t('pv.audience', lang)}[/b]: {t('pv.recipients', lang, n=p.recipients)}"]
        for ch, n in sorted(p.audience.items()):
            aud.append(f"  {escape(ch):<8} {n}")
        if p.no_channel:
            aud.append(f"  [$warning]{t('pv.no_channel', lang, n=p.no_channel)}[/]")
        if p.by_lang:
            aud.append("  " + " · ".join(f"{k}: {v}" for k, v in sorted(p.by_lang.items())))
        if p.note:
            aud.append(f"[$warning]{escape(p.note)}[/]")
        if not p.can_send:
            aud.append(f"[b $error]{t('pv.not_configured', lang)}[/]")
        self.query_one("#pv-audience", Static).update("\n".join(aud))
        msgs = []
        for code, (subject, body) in p.messages.items():
            segs = p.sms_segments.get(code)
            head = f"[b]{t('lang.name', code)}[/b]"
            if segs is not None:
                head += f"  [dim]{t('pv.segments', lang, n=segs)} · {nt('pv.chars', len(body), lang)}[/]"
            msgs.append(head)
            if subject:
                msgs.append(f"[b]{escape(subject)}[/b]")
            msgs.append(escape(body))
            msgs.append("")
        self.query_one("#pv-messages", Static).update("\n".join(msgs))
        send = self.query_one("#send", Button)
        send.disabled = not p.can_send
        if p.can_send:
            self.set_focus(send)

    @on(Button.Pressed, "#send")
    def _send(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_send(self) -> None:
        if self.busy or self.preview is None or not self.preview.can_send:
            return
        self.busy = True
        engine = self.app.runtime.engine  # type: ignore[attr-defined]
        iid, sid, user = self.state.id, self.step_id, self.app.user  # type: ignore[attr-defined]
        self.query_one("#pv-error", Static).update(t("form.working", self.lang))
        self.app.run_op(self, "send", lambda: engine.act(iid, sid, actor=user))  # type: ignore[attr-defined]

    def on_action_done(self, msg: ActionDone) -> None:
        msg.stop()
        self.busy = False
        st = msg.result
        queued = st.notifications.get(self.step_id, {}) if st is not None else {}
        n = queued.get("messages", queued.get("recipients", ""))
        self.app.notify(t("pv.sent", self.lang, n=n), timeout=4)
        self.dismiss(st)

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.busy = False
        self.query_one("#pv-error", Static).update(msg.reason)
        if msg.origin == "preview":
            self.query_one("#pv-audience", Static).update("")


RECIPIENT_COLS = ("person", "channel", "address", "state", "attempts", "sent", "error")
RECIPIENT_HEADS = (N_("rc.col.person"), N_("rc.col.channel"), N_("rc.col.address"),
                   N_("rc.col.state"), N_("rc.col.attempts"), N_("rc.col.sent"),
                   N_("rc.col.error"))


class RecipientsScreen(ModalScreen[None]):
    """Every outbox row of one notify step, refreshed each second while open."""

    BINDINGS = [Binding("escape", "close", "Close", id="modal.close")]

    def __init__(self, incident_id: str, step_id: str, title: str):
        super().__init__(classes="dialog-screen", id="recipients-modal")
        self.incident_id = incident_id
        self.step_id = step_id
        self.title_text = title
        self._seen: dict[str, tuple] = {}

    def compose(self) -> ComposeResult:
        lang = self.app.lang  # type: ignore[attr-defined]
        with Vertical(classes="dialog wide tall"):
            yield Label(t("msg.recipients", lang, step=self.title_text), classes="dialog-title")
            yield Static("", id="rc-summary")
            yield DataTable(id="rc-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        localize_bindings(self, self.app.lang)  # type: ignore[attr-defined]
        table = self.query_one("#rc-table", DataTable)
        lang = self.app.lang  # type: ignore[attr-defined]
        for c, head in zip(RECIPIENT_COLS, RECIPIENT_HEADS, strict=True):
            table.add_column(t(head, lang), key=c)
        self.set_focus(table)
        self.load()
        self.set_interval(1.0, self.load)

    @work(thread=True, exclusive=True, exit_on_error=False, group="recipients")
    def load(self) -> None:
        store = self.app.runtime.store  # type: ignore[attr-defined]
        try:
            rows = store.outbox_rows(self.incident_id, self.step_id)
        except Exception as exc:
            from incident.console.app import error_text

            self.post_message(ActionFailed("recipients", error_text(exc), refused=False))
            return
        self.post_message(RecipientRows(self.step_id, rows))

    def on_recipient_rows(self, msg: RecipientRows) -> None:
        table = self.query_one("#rc-table", DataTable)
        app: Any = self.app
        zone = None
        try:
            from incident.engine.context import local_zone

            zone = local_zone(app.runtime.directory)
        except Exception:
            pass
        counts: dict[str, int] = {}
        for r in msg.rows:
            counts[r.state] = counts.get(r.state, 0) + 1
        lang = app.lang
        self.query_one("#rc-summary", Static).update(
            f"{len(msg.rows)} · " + " · ".join(f"{outbox_state(k, lang)} {v}"
                                               for k, v in sorted(counts.items())))
        for r in msg.rows:
            key = str(r.id)
            sig = (r.state, r.attempts, r.sent_at, r.last_error)
            if self._seen.get(key) == sig:
                continue
            existing = key in self._seen
            self._seen[key] = sig
            cells = [app.name_of(r.person_id) if not r.person_id.startswith("owner:")
                     else r.person_id, channel_name(r.channel, lang), r.address,
                     outbox_state(r.state, lang), str(r.attempts),
                     clock_text(r.sent_at, zone) if (r.sent_at and zone) else "",
                     (r.last_error or "")[:60]]
            if existing:
                for col, value in zip(RECIPIENT_COLS, cells, strict=True):
                    if col in ("state", "attempts", "sent", "error"):
                        table.update_cell(key, col, value)
            else:
                table.add_row(*cells, key=key)

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.query_one("#rc-summary", Static).update(msg.reason)

    def action_close(self) -> None:
        self.dismiss(None)
