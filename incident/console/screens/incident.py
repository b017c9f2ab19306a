"""The incident screen: tracks and steps, the current step's card, timers, messages,
escalation and the live timeline; notes one key away; handover and resolve.

All engine calls go through the app's action worker; this screen only turns
keys into operations and snapshots into widgets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static, TabbedContent, TabPane

from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed, IncidentData
from incident.console.model import (
    Drafts,
    StepDelivery,
    TimerRow,
    first_open_step,
    location_labels,
    page_rows,
    timer_rows,
    urgent_step,
)
from incident.console.screens.dialogs import FormField, FormModal
from incident.console.widgets.incident import (
    DeliveryPanel,
    IncidentHeader,
    StepList,
    Timeline,
    card_text,
    pages_text,
    timers_text,
)
from incident.engine.context import local_zone
from incident.errors import Refused
from incident.i18n import means_name
from incident.identity import Actor

PANELS = ("timers", "messages", "escalation", "timeline")


def _set(widget: Static, text: str) -> None:
    """Update a Static only when its text changes, and only re-run the screen's layout
    when its line count changes (a countdown ticking needs a repaint, not a reflow)."""
    old = getattr(widget, "_last_text", None)
    if old != text:
        widget._last_text = text  # type: ignore[attr-defined]
        widget.update(text, layout=old is None or old.count("\n") != text.count("\n"))


INJECT_RECENT = timedelta(minutes=5)  # an inject this fresh opens with the console


class IncidentScreen(Screen):
    RELEASES_KEYS = True  # the app holds keys until this screen says it is ready
    # The footer holds what an officer needs in a fire at 80x24 (next due, done, note,
    # ack, escalate, resolve, language, help); everything else is listed by `?`.
    BINDINGS = [
        Binding("escape", "back", "Home", id="incident.back", show=False),
        Binding("u", "urgent", "Next due", id="incident.urgent"),
        Binding("d", "primary", "Done", id="incident.done"),
        Binding("w", "note", "Note", id="incident.note"),
        Binding("a", "ack", "Ack page", id="incident.ack"),
        Binding("E", "escalate", "Escalate", id="incident.escalate"),
        Binding("r", "resolve", "Resolve", id="incident.resolve"),
        Binding("R", "retry_failed", "Retry failed", id="incident.retry"),
        Binding("o", "reopen", "Reopen", id="incident.reopen"),
        Binding("s", "skip", "Skip", id="incident.skip", show=False),
        Binding("c", "confirm", "Confirm", id="incident.confirm", show=False),
        Binding("t", "take", "Take on", id="incident.take", show=False),
        Binding("h", "handover", "Hand over", id="incident.handover", show=False),
        Binding("v", "severity", "Severity", id="incident.severity", show=False),
        Binding("p", "report", "Reported", id="incident.report", show=False),
        Binding("m", "recipients", "Recipients", id="incident.recipients", show=False),
        Binding("b", "rollcall", "Roll call", id="incident.rollcall", show=False),
        Binding("right_square_bracket", "next_panel", "Panel", id="incident.panel",
                show=False),
        Binding("n", "app.new_incident", "New", id="incident.new", show=False),
        Binding("D", "app.directory", "Directory", id="incident.directory", show=False),
        *[Binding(str(i), f"choose({i})", show=False) for i in range(1, 10)],
    ]

    def __init__(self, incident_id: str, step: str | None = None,
                 initial: IncidentData | None = None):
        super().__init__(id="incident-screen")
        self.incident_id = incident_id
        self.initial = initial
        self._early: list[str] = []
        self.wanted_step = step
        self.state: Any = None
        self.timers: list[Any] = []
        self.rows: list[TimerRow] = []
        self.delivery: list[StepDelivery] = []
        self.last_seq = 0
        self.drafts = Drafts()
        self.form_drafts: dict[str, dict[str, Any]] = {}
        self._shown_seq = -1
        self._card_step: str | None = None
        self._bindings_for: Any = ""
        self._reflow: Any = None
        self._asked: set[tuple[str, str]] = set()  # severity proposals already asked
        self.keys_ready = False  # the app holds typed keys until this screen is mounted

    # ---- plumbing --------------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    @property
    def rt(self) -> Any:
        return self.app.runtime  # type: ignore[attr-defined]

    @property
    def zone(self) -> Any:
        return local_zone(self.rt.directory)

    def now(self) -> datetime:
        return self.rt.clock.now()

    def name_of(self, person: str | None) -> str:
        return self.app.name_of(person)  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        lang = self.lang
        yield IncidentHeader(t("inc.loading", lang), id="inc-header")
        with Horizontal(id="inc-body"):
            yield StepList(id="steps")
            with Vertical(id="inc-right"):
                with Vertical(id="card"):
                    with VerticalScroll(id="card-scroll"):
                        yield Static("", id="card-body")
                    yield Input(placeholder=t("inc.value_ph", lang), id="card-value")
                    yield Static("", id="card-hints")
                with TabbedContent(id="panels", initial=self._initial_tab()):
                    with TabPane(t("inc.timers", lang), id="timers"), VerticalScroll():
                        yield Static("", id="timers-text")
                    with TabPane(t("inc.messages", lang), id="messages"):
                        yield DeliveryPanel(id="delivery")
                    with TabPane(t("inc.escalation", lang), id="escalation"), VerticalScroll():
                        yield Static("", id="pages-text")
                    with TabPane(t("inc.timeline", lang), id="timeline"):
                        yield Timeline(id="timeline-log")
        yield Input(placeholder=t("inc.note_ph", lang), id="note")
        yield Footer(compact=True, show_command_palette=False)

    def _initial_tab(self) -> str:
        tab = self.app.ui.get("tab") if self.app.ui.get("incident") == self.incident_id \
            else None  # type: ignore[attr-defined]
        return tab if tab in PANELS else "timers"

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self.query_one("#card-value", Input).display = False
        self.set_focus(self.query_one("#steps", StepList))
        self.set_interval(1.0, self.tick_clock)
        if self.initial is not None:
            self.show(self.initial)
            self.initial = None
        self.app.load_incident(self.incident_id, 0)  # type: ignore[attr-defined]
        # keys typed while the incident started come here, in order (held by the app)
        self.call_after_refresh(self._keys_ready)

    def _keys_ready(self) -> None:
        self.keys_ready = True
        self.app.release_keys()  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "ack":  # pages by hand need no ladder: ack is always offered
            return True
        if self.state is None:  # loading: shown dimmed, and keys for them are held
            return True if action == "back" else None
        resolved = self.state.status != "open"
        if action == "reopen":
            return resolved
        if action == "retry_failed":  # offered only while some recipient was not reached
            return not resolved and any(d.failed for d in self.delivery
                                        if not d.step_id.startswith("escalation:"))
        return not (resolved and action in ("primary", "skip", "confirm", "take", "handover", "ack", "escalate", "resolve", "severity", "report", "choose"))

    # ---- data in ---------------------------------------------------------------------------
    def show(self, msg: IncidentData) -> None:
        st = msg.state
        first = self.state is None
        self.state = st
        self.timers = msg.timers
        self.rows = timer_rows(st, msg.timers)
        self.delivery = msg.delivery
        new = [e for e in msg.events if e.seq > self.last_seq]
        if new:
            self.query_one("#timeline-log", Timeline).add_events(
                new, self.lang, self.zone, self.app.names(st.playbook))  # type: ignore[attr-defined]
            self.last_seq = new[-1].seq
            if st.drill:
                self._show_injects(new, first)
        steps = self.query_one("#steps", StepList)
        keep = None
        if first:  # open on what was being worked on, else on the most urgent step
            wanted = st.steps.get(self.wanted_step) if self.wanted_step else None
            keep = self.wanted_step if wanted is not None and wanted.open else \
                (urgent_step(st, self.now()) or first_open_step(st))
        if first or st.last_seq != self._shown_seq:
            self._shown_seq = st.last_seq
            steps.show_state(st, self.now(), self.lang, keep)
            if first and keep is not None:
                steps.go_to(keep)  # its "due now" copy at the top, in view
        self.query_one(DeliveryPanel).show(st, self.delivery, self.lang,
                                           bool(self.app.features.get("dispatcher")))  # type: ignore[attr-defined]
        self.render_clock()
        self.render_card(force=True)
        failed = any(d.failed for d in self.delivery)
        if first or (st.status, failed) != self._bindings_for:
            self._bindings_for = (st.status, failed)  # "Retry failed" comes and goes
            self.refresh_bindings()
        if first and self._early:
            self.call_later(self._replay_early)

    def _show_injects(self, events: list[Any], first: bool) -> None:
        """Each drill inject that arrives opens whole (detail and expected response) over
        the screen. Opening the console on a running drill shows the latest inject only if
        it is recent; older ones are in the timeline."""
        from incident.console.screens.dialogs import InjectModal
        from incident.engine import events as ev

        injects = [e for e in events if e.kind == ev.DRILL_INJECT]
        if first:
            injects = [e for e in injects[-1:] if self.now() - e.ts <= INJECT_RECENT]
        for e in injects:
            self.app.push_screen(InjectModal(dict(e.payload), self.lang))

    def show_state(self, st: Any) -> None:
        """Apply an operation's resulting snapshot at once (events follow with the reload)."""
        if st is None or getattr(st, "id", None) != self.incident_id:
            return
        self.state = st
        self._shown_seq = st.last_seq
        self.query_one("#steps", StepList).show_state(st, self.now(), self.lang, None)
        self.render_clock()
        self.render_card(force=True)
        failed = any(d.failed for d in self.delivery)
        if (st.status, failed) != self._bindings_for:
            self._bindings_for = (st.status, failed)
            self.refresh_bindings()

    def tick_clock(self) -> None:
        if self.state is None:
            return
        self.render_clock()
        self.query_one("#steps", StepList).update_prompts(self.state, self.now(), self.lang)
        self.render_card()

    def render_clock(self) -> None:
        st = self.state
        if st is None:
            return
        now = self.now()
        lang = self.lang
        loc = location_labels(self.rt.directory, st.location).get(lang, st.location)
        self.query_one("#inc-header", IncidentHeader).show(
            st, self.timers, now, lang, loc, self.name_of(st.owner),
            warning=getattr(self.app, "service_warning", ""))
        _set(self.query_one("#timers-text", Static),
             timers_text(self.rows, now, lang, self.zone, st.status != "open"))
        app: Any = self.app
        _set(self.query_one("#pages-text", Static),
             pages_text(page_rows(st, self.rt.directory, lang), self.timers, now, lang,
                        self.zone, bool(app.features.get("escalation"))))

    def render_card(self, force: bool = False) -> None:
        st = self.state
        sid = self.current_step
        if st is None or sid is None:
            return
        from incident.engine.state import waiting_for

        body, hints = card_text(st, sid, self.now(), self.lang, self.zone, self.name_of,
                                self.rt.directory.externals, waiting_for(st, sid)
                                if st.steps[sid].status == "pending" else [],
                                next((d for d in self.delivery if d.step_id == sid), None))
        card = self.query_one("#card-body", Static)
        if sid != self._card_step and getattr(card, "_last_text", None) is not None:
            # Moving through the steps: paint the new card at once and reflow a moment
            # later (a reflow of the whole screen per key would make the cursor lag).
            if card._last_text != body:  # type: ignore[attr-defined]
                card._last_text = body  # type: ignore[attr-defined]
                card.update(body, layout=False)
                self.query_one("#card-scroll").scroll_home(animate=False)
                if self._reflow is not None:
                    self._reflow.stop()
                self._reflow = self.set_timer(0.25, lambda: card.refresh(layout=True))
        else:
            _set(card, body)
        _set(self.query_one("#card-hints", Static), hints)
        if force or sid != self._card_step:
            value = self.query_one("#card-value", Input)
            step = st.playbook.steps()[sid]
            show_value = step.kind == "record" and st.steps[sid].status in ("ready",
                                                                             "in_progress")
            if sid != self._card_step:
                value.value = self.drafts.get(sid, "value")
                rec = step.record
                if rec is not None:
                    label = rec.label.get(self.lang) if rec.label else rec.name
                    value.placeholder = f"{label} ({rec.type}) — {t('inc.value_ph', self.lang)}"
                    if show_value and not value.value and rec.from_roll_call is not None:
                        value.value = self._from_roll_call(step)
            value.display = show_value
            self._card_step = sid

    def _from_roll_call(self, step: Any) -> str:
        """The head count or missing list offered from the roll-call board (in memory:
        the state is already here), for the officer to check and confirm with Enter."""
        from incident.engine.rollcall import suggested_value

        try:
            value = suggested_value(self.state, step, self.now(), self.rt.directory, self.lang)
        except Refused:
            return ""
        if value is None:
            return ""
        self.app.notify(t("rc.prefill", self.lang), timeout=4)
        return "; ".join(value) if isinstance(value, list) else str(value)

    @property
    def current_step(self) -> str | None:
        return self.query_one("#steps", StepList).step_id

    @on(OptionList.OptionHighlighted, "#steps")
    def _step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.state is None:
            return
        self.render_card()
        sid = self.current_step
        if sid:
            self.app.ui.update(step=sid, save=False)  # type: ignore[attr-defined]

    @on(TabbedContent.TabActivated, "#panels")
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id if event.pane is not None else None
        if pane in PANELS and self.app.ui.get("incident") == self.incident_id:  # type: ignore[attr-defined]
            self.app.ui.update(tab=pane)  # type: ignore[attr-defined]

    def relabel(self) -> None:
        lang = self.lang
        localize_bindings(self, lang)
        tabs = self.query_one("#panels", TabbedContent)
        for pane in PANELS:
            with contextlib.suppress(Exception):
                tabs.get_tab(pane).label = t(f"inc.{pane}", lang)
        self.query_one("#note", Input).placeholder = t("inc.note_ph", lang)
        self.query_one("#timeline-log", Timeline).rewrite(
            lang, self.zone, self.app.names(self.state.playbook if self.state else None))  # type: ignore[attr-defined]
        if self.state is not None:
            self.query_one("#steps", StepList).show_state(self.state, self.now(), lang, None)
            self.query_one(DeliveryPanel).show(self.state, self.delivery, lang,
                                               bool(self.app.features.get("dispatcher")))  # type: ignore[attr-defined]
            self.render_clock()
            self.render_card(force=True)

    # ---- running operations ---------------------------------------------------------------------
    def run(self, origin: str, op: Callable[[], Any], text: str = "") -> None:
        self.app.run_op(self, origin, op, text)  # type: ignore[attr-defined]

    def on_action_done(self, msg: ActionDone) -> None:
        msg.stop()
        origin = msg.origin
        result = msg.result
        if origin.startswith("step:"):
            sid = origin.split(":", 1)[1]
            self.drafts.put(sid, "value", "")
            if self._card_step == sid:
                self.query_one("#card-value", Input).value = ""
            self.show_state(result)
            nxt = first_open_step(result, after=sid) if result is not None else None
            if nxt and self.current_step == sid and result.steps[sid].settled:
                self.query_one("#steps", StepList).go_to(nxt)
            self.set_focus(self.query_one("#steps", StepList))
            self._propose_severity(result, sid)
        elif origin == "note":
            note = self.query_one("#note", Input)
            note.value = ""
            note.remove_class("-visible")
            self.set_focus(self.query_one("#steps", StepList))
            self.show_state(result)
        else:
            self.show_state(result)
        if msg.text:
            self.app.notify(msg.text, timeout=3)

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        # What was typed stays where it was: only success clears a field.
        self.app.notify(msg.reason, title=t("err.refused" if msg.refused else "err.failed",
                                            self.lang),
                        severity="warning" if msg.refused else "error", timeout=10)

    def _after_form(self, text: str) -> Callable[[Any], None]:
        def done(result: Any) -> None:
            if result is None:
                return
            self.show_state(result if hasattr(result, "steps") else None)
            if text:
                self.app.notify(text, timeout=3)

        return done

    def _step_title(self, sid: str) -> str:
        return self.state.playbook.steps()[sid].title.get(self.lang)

    def _act(self, sid: str, action: str = "done", *, actor: str | None = None,
             ok: str = "ok.done", **kw: Any) -> None:
        engine = self.rt.engine
        iid = self.incident_id
        who = actor or self.app.user  # type: ignore[attr-defined]

        def op() -> Any:
            return engine.act(iid, sid, actor=who, action=action, **kw)

        self.run(f"step:{sid}", op, t(ok, self.lang, step=self._step_title(sid)))

    # ---- step actions ---------------------------------------------------------------------------
    def action_primary(self) -> None:
        st, sid = self.state, self.current_step
        if st is None or sid is None:
            return
        step = st.playbook.steps()[sid]
        s = st.steps[sid]
        if s.status == "awaiting_confirmation":
            self.action_confirm()
            return
        if step.kind == "decision" and s.status in ("ready", "in_progress"):
            opts = " · ".join(f"{i} {o.title.get(self.lang)}"
                              for i, o in enumerate(step.options or [], 1))
            self.app.notify(f"{t('step.options', self.lang)}: {opts}", timeout=6)
            return
        if step.kind == "record" and s.status in ("ready", "in_progress"):
            value = self.query_one("#card-value", Input)
            if value.value.strip():
                self._act(sid, value=value.value)
            else:
                value.display = True
                self.set_focus(value)
            return
        if step.kind in ("notify", "roll_call") and s.status in ("ready", "in_progress"):
            self.open_preview(sid)
            return
        if step.kind == "roll_call" and s.status == "done":
            self.action_rollcall()
            return
        if step.kind == "dispatch" and s.status == "ready":
            self._act(sid, "start", ok="ok.started")
            return
        self._act(sid)

    @on(OptionList.OptionSelected, "#steps")
    def _step_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_primary()

    @on(Input.Submitted, "#card-value")
    def _value_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        sid = self._card_step
        if sid is None:
            return
        self._act(sid, value=event.value)

    @on(Input.Changed, "#card-value")
    def _value_changed(self, event: Input.Changed) -> None:
        if self._card_step is not None:
            self.drafts.put(self._card_step, "value", event.value)

    def action_choose(self, number: int) -> None:
        st, sid = self.state, self.current_step
        if st is None or sid is None:
            return
        step = st.playbook.steps()[sid]
        if not step.options:
            return
        if not 1 <= number <= len(step.options):
            return
        self._act(sid, option=step.options[number - 1].id)

    def action_take(self) -> None:
        sid = self.current_step
        if self.state is not None and sid is not None:
            self._act(sid, "start", ok="ok.started")

    def action_skip(self) -> None:
        sid = self.current_step
        if self.state is None or sid is None:
            return
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            reason = (values.get("reason") or "").strip()
            if not reason:
                raise Refused("form.reason")
            return lambda: engine.act(iid, sid, actor=user, action="skip", reason=reason)

        drafts = self.form_drafts.setdefault(f"skip:{sid}", {})
        self.app.push_screen(
            FormModal(t("form.skip.title", self.lang, step=self._step_title(sid)),
                      [FormField("reason", t("form.reason", self.lang))], submit,
                      drafts=drafts, form_id="skip"),
            self._after_form(t("ok.skipped", self.lang, step=self._step_title(sid))))

    def action_confirm(self) -> None:
        sid = self.current_step
        if self.state is None or sid is None:
            return
        engine, iid = self.rt.engine, self.incident_id
        step = self.state.playbook.steps()[sid]
        staff = list(self.rt.directory.staff)

        me = self.app.user  # type: ignore[attr-defined]
        credentials = self.rt.settings.credentials_path

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            who = (values.get("who") or "").strip()
            if not who:
                raise Refused("form.confirmer")
            note = (values.get("note") or "").strip() or None
            actor = confirming_actor(self.rt.directory, me, who, values.get("pin") or "",
                                     credentials, self.lang)
            return lambda: engine.act(iid, sid, actor=actor, action="confirm", note=note)

        desc = step.gate.text.get(self.lang) if step.gate else ""
        drafts = self.form_drafts.setdefault(f"confirm:{sid}", {})
        self.app.push_screen(
            FormModal(t("form.confirm.title", self.lang, step=self._step_title(sid)),
                      [FormField("who", t("form.confirmer", self.lang), suggestions=staff),
                       FormField("pin", t("form.pin", self.lang), secret=True),
                       FormField("note", t("form.note", self.lang))], submit,
                      description=desc, drafts=drafts, form_id="confirm"),
            self._after_form(t("ok.confirmed", self.lang, step=self._step_title(sid))))

    def open_preview(self, sid: str) -> None:
        from incident.console.screens.notify import NotifyPreviewScreen

        self.app.push_screen(NotifyPreviewScreen(self.state, sid),
                             self._after_form(""))

    # ---- incident actions ---------------------------------------------------------------------
    def action_note(self) -> None:
        note = self.query_one("#note", Input)
        note.add_class("-visible")
        self.set_focus(note)
        self.call_after_refresh(self.app.release_keys)  # type: ignore[attr-defined]

    @on(Input.Submitted, "#note")
    def _note_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if not text.strip():
            return
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]
        step = self.current_step
        self.run("note", lambda: engine.note(iid, text, actor=user, step=step),
                 t("inc.noted", self.lang))

    def on_key(self, event: Any) -> None:
        if self._hold_key(event):
            return
        if event.key == "escape" and self.focused is not None and \
                self.focused.id in ("note", "card-value"):
            event.stop()
            event.prevent_default()
            if self.focused.id == "note":
                self.query_one("#note", Input).remove_class("-visible")
            self.set_focus(self.query_one("#steps", StepList))

    # ---- keys typed before the incident has loaded ------------------------------------
    def _hold_key(self, event: Any) -> bool:
        """Keep a key for this screen's bindings that came before the first snapshot
        (or while earlier ones wait): an officer who opens an incident and presses
        `1` at once gets option 1, not silence. Replayed in order by `show`."""
        if self.state is not None and not self._early:
            return False
        active = self.active_bindings.get(event.key)
        if active is None or active.node is not self or active.binding.action == "back":
            return False
        self._early.append(event.key)
        event.stop()
        event.prevent_default()
        return True

    async def _replay_early(self) -> None:
        while self._early:
            key = self._early.pop(0)
            active = self.active_bindings.get(key)
            if active is not None and active.enabled:
                await self.run_action(active.binding.action)

    def opens_screen(self, key: str) -> bool:
        """Whether `key` leaves for another screen (the app holds the keys after it)."""
        active = self.active_bindings.get(key)
        if active is None or isinstance(self.focused, Input):  # typing text, not keys
            return False
        # `w` then a note typed at speed: the letters must reach the note, not act as keys
        # (a "d" in "brigade" would mark a step done)
        return active.binding.action in ("back", "app.new_incident", "note", "app.directory")

    def _propose_severity(self, st: Any, sid: str) -> None:
        """The option just chosen proposes a worse severity: ask once (never silently)."""
        from incident.proposals import severity_proposal

        prop = severity_proposal(st, sid) if st is not None else None
        if prop is None or (sid, prop.option) in self._asked:
            return
        self._asked.add((sid, prop.option))
        from incident.console.screens.dialogs import AskModal

        lang = self.lang
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]
        option = st.playbook.steps()[sid].options
        title = next((o.title.get(lang) for o in option or [] if o.id == prop.option),
                     prop.option)
        name = prop.name.get(lang) or prop.name["en"]

        def answered(yes: bool | None) -> None:
            if yes:
                self.run("severity", lambda: engine.set_severity(
                    iid, prop.level, actor=user, reason=f"{sid}: {prop.option}"),
                    t("ok.severity", lang, level=prop.level))

        self.app.push_screen(AskModal(
            t("sev.ask.title", lang, level=prop.level, name=name),
            t("sev.ask.text", lang, option=title, current=prop.current, level=prop.level),
            t("sev.ask.yes", lang, level=prop.level), t("sev.ask.no", lang),
            modal_id="severity-ask"), answered)

    def action_urgent(self) -> None:
        """Jump to the most urgent step: the most overdue, else the next due."""
        st = self.state
        if st is None:
            return
        sid = urgent_step(st, self.now())
        steps = self.query_one("#steps", StepList)
        if sid is None:
            self.app.notify(t("inc.nothing_due", self.lang), timeout=3)
            return
        steps.go_to(sid)
        self.set_focus(steps)

    def action_back(self) -> None:
        self.app.go_home()  # type: ignore[attr-defined]

    def action_handover(self) -> None:
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]
        staff = list(self.rt.directory.staff)

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            to = (values.get("to") or "").strip()
            if not to:
                raise Refused("form.handover.to")
            reason = (values.get("reason") or "").strip() or None
            return lambda: engine.handover(iid, to, actor=user, reason=reason)

        drafts = self.form_drafts.setdefault("handover", {})
        self.app.push_screen(
            FormModal(t("form.handover.title", self.lang, id=iid),
                      [FormField("to", t("form.handover.to", self.lang), suggestions=staff),
                       FormField("reason", t("form.note", self.lang))], submit,
                      drafts=drafts, form_id="handover"),
            self._after_handover)

    def _after_handover(self, result: Any) -> None:
        if result is not None:
            self.show_state(result)
            self.app.notify(t("ok.handover", self.lang, to=self.name_of(result.owner)),
                            timeout=3)

    def action_resolve(self) -> None:
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            summary = values.get("summary") or ""
            force = bool(values.get("force"))
            return lambda: engine.resolve(iid, actor=user, summary=summary, force=force)

        drafts = self.form_drafts.setdefault("resolve", {})
        self.app.push_screen(
            FormModal(t("form.resolve.title", self.lang, id=iid),
                      [FormField("summary", t("form.summary", self.lang)),
                       FormField("force", t("form.force", self.lang), False, kind="check")],
                      submit, drafts=drafts, form_id="resolve",
                      description=t("form.resolve.what", self.lang),
                      ok_label=t("form.resolve.ok", self.lang, id=iid)),
            self._after_form(t("ok.resolved", self.lang, id=iid)))

    def action_reopen(self) -> None:
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            reason = values.get("reason") or ""
            return lambda: engine.reopen(iid, actor=user, reason=reason)

        self.app.push_screen(
            FormModal(t("form.reopen.title", self.lang, id=iid),
                      [FormField("reason", t("form.reason", self.lang))], submit,
                      drafts=self.form_drafts.setdefault("reopen", {}), form_id="reopen"),
            self._after_form(t("ok.reopened", self.lang, id=iid)))

    def action_severity(self) -> None:
        if self.state is None:
            return
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]
        lang = self.lang
        options = [(f"{s.level} {s.name.get(lang)} — {s.criteria.get(lang)[:60]}", s.level)
                   for s in self.state.playbook.severities]

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            level = values.get("level")
            reason = (values.get("reason") or "").strip()
            if level is None:
                raise Refused("form.level")
            if not reason:
                raise Refused("form.reason")
            return lambda: engine.set_severity(iid, int(level), actor=user, reason=reason)

        self.app.push_screen(
            FormModal(t("form.severity.title", lang),
                      [FormField("level", t("form.level", lang), self.state.severity,
                                 kind="select", options=options),
                       FormField("reason", t("form.reason", lang))], submit,
                      drafts=self.form_drafts.setdefault("severity", {}), form_id="severity"),
            self._after_form(""))

    def action_report(self) -> None:
        if self.state is None:
            return
        engine, iid, user = self.rt.engine, self.incident_id, self.app.user  # type: ignore[attr-defined]
        lang = self.lang
        pending = [(t("tm.report_label", lang, title=r.title.get(lang, r.id), to=r.to,
                      by=means_name(r.by, lang)), r.id)
                   for r in self.state.reports.values() if r.live]
        if not pending:
            self.app.notify(t("tm.none", lang), timeout=3)
            return

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            rid = values.get("report")
            if not rid:
                raise Refused("form.report")
            note = (values.get("note") or "").strip() or None
            return lambda: engine.report_done(iid, rid, actor=user, note=note)

        self.app.push_screen(
            FormModal(t("form.report.title", lang),
                      [FormField("report", t("form.report", lang), pending[0][1],
                                 kind="select", options=pending),
                       FormField("note", t("form.note", lang))], submit,
                      drafts=self.form_drafts.setdefault("report", {}), form_id="report"),
            self._after_form(t("ok.reported", lang)))

    def action_ack(self) -> None:
        from incident.console import bridge

        rt, iid, user = self.rt, self.incident_id, self.app.user  # type: ignore[attr-defined]
        self.run("ack", lambda: bridge.acknowledge(rt, iid, user), t("ok.acked", self.lang))

    def action_retry_failed(self) -> None:
        """Send again what failed for good: the highlighted notify step's messages, or
        every notify step's when the highlighted step has none."""
        from incident.console import bridge

        if self.state is None:
            return
        rt, iid, user = self.rt, self.incident_id, self.app.user  # type: ignore[attr-defined]
        sid = self.current_step
        failed = {d.step_id for d in self.delivery if d.failed}
        step = sid if sid in failed else None
        lang = self.lang
        self.run("retry", lambda: bridge.retry_failed(rt, iid, user, step, lang),
                 t("ok.retried", lang))

    def action_escalate(self) -> None:
        from incident.console import bridge

        rt, iid, user = self.rt, self.incident_id, self.app.user  # type: ignore[attr-defined]
        lang = self.lang
        roles = sorted(rt.directory.roles.values(), key=lambda r: (r.level, r.id))
        options = [(f"L{r.level} {r.title.get(lang) or r.id}", r.id) for r in roles]

        def submit(values: dict[str, Any]) -> Callable[[], Any]:
            role = values.get("role")
            reason = (values.get("reason") or "").strip()
            if not role:
                raise Refused("form.role")
            if not reason:
                raise Refused("form.reason")
            return lambda: bridge.raise_escalation(rt, iid, role, user, reason)

        default = next((r.id for r in roles if r.level >= 1), roles[0].id if roles else "")
        self.app.push_screen(
            FormModal(t("form.escalate.title", lang),
                      [FormField("role", t("form.role", lang), default, kind="select",
                                 options=options),
                       FormField("reason", t("form.reason", lang))], submit,
                      drafts=self.form_drafts.setdefault("escalate", {}), form_id="escalate"),
            self._after_form(t("ok.escalated", lang, to="")))

    def action_recipients(self) -> None:
        from incident.console.screens.notify import RecipientsScreen

        if self.state is None:
            return
        sid = self.current_step
        steps = self.state.playbook.steps()
        queued = [d.step_id for d in self.delivery if d.step_id in steps]  # not pages
        if sid not in queued:
            if not queued:
                self.app.notify(t("msg.none", self.lang), timeout=3)
                return
            sid = queued[-1]
        self.app.push_screen(RecipientsScreen(self.incident_id, sid,
                                              self.state.playbook.steps()[sid].title.get(
                                                  self.lang)))

    def action_rollcall(self) -> None:
        """The roll-call board of the current roll-call step (else the latest sent)."""
        from incident.console.screens.rollcall import RollCallScreen
        from incident.engine.rollcall import roll_call_steps

        if self.state is None:
            return
        sent = roll_call_steps(self.state)
        if not sent:
            self.app.notify(t("msg.none", self.lang), timeout=3)
            return
        sid = self.current_step
        self.app.push_screen(RollCallScreen(self.incident_id, sid if sid in sent else None))

    def action_next_panel(self) -> None:
        tabs = self.query_one("#panels", TabbedContent)
        idx = PANELS.index(tabs.active) if tabs.active in PANELS else 0
        tabs.active = PANELS[(idx + 1) % len(PANELS)]


def confirming_actor(directory: Any, me: Any, who: str, pin: str, credentials: Any,
                     lang: str) -> Actor:
    """The second person, proven: the console's own person when their login (or the
    served console's sign-in) identified them, anyone else only with their PIN."""
    from incident.credentials import CredentialStore
    from incident.identity import staff_id

    person = staff_id(directory, who, what="confirming person")
    if person == str(me) and not pin:
        return me  # the engine decides: their own login proves them, a declared name not
    if not pin:
        raise Refused("form.pin.missing", who=person)
    CredentialStore(credentials).require(person, pin)
    return Actor(person, how="pin")
