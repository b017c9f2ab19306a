"""Start an incident: playbook search, location with completion, severity with criteria.

The quick path is all Enter: `n`, type "fire", Enter, type "B3-1201", Enter,
Enter (the playbook's default severity is highlighted). Reporter, first
receiver, drill and the playbook's inputs sit below for when they matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed, IncidentData
from incident.console.model import location_candidates

if TYPE_CHECKING:
    from incident.playbook import Playbook


class StartScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="start.back"),
        Binding("ctrl+s", "start", "Start", id="start.go"),
        Binding("down", "pb_down", show=False),
        Binding("up", "pb_up", show=False),
    ]

    def __init__(self, query: str = "", location: str = "") -> None:
        super().__init__(id="start")
        self.initial_query = query
        self.initial_location = location
        self.playbook: Playbook | None = None
        self.location_ok = False
        self.busy = False

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    @property
    def rt(self) -> Any:
        return self.app.runtime  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        lang = self.lang
        user = self.app.user  # type: ignore[attr-defined]
        staff = list(self.rt.directory.staff)
        yield Header()
        with Horizontal(id="start-body"):
            with Vertical(id="start-left"):
                yield Label(t("start.playbook", lang), id="lbl-playbook", classes="section")
                yield Input(self.initial_query, placeholder=t("start.search", lang),
                            id="pb-search")
                yield OptionList(id="pb-list")
                yield Static("", id="pb-description")
            with VerticalScroll(id="start-right"):
                yield Label(t("start.location", lang), id="lbl-location", classes="section")
                yield Input(self.initial_location, placeholder=t("start.location_ph", lang),
                            id="location",
                            suggester=SuggestFromList(location_candidates(self.rt.directory),
                                                      case_sensitive=False))
                yield Static("", id="location-label")
                yield Label(t("start.severity", lang), id="lbl-severity", classes="section")
                yield OptionList(id="severity")
                yield Static("", id="criteria")
                yield Label(t("start.more", lang), id="lbl-more", classes="section")
                yield Label(t("start.reporter", lang), id="lbl-reporter")
                yield Input(user, id="reporter", suggester=SuggestFromList(staff))
                yield Label(t("start.receiver", lang), id="lbl-receiver")
                yield Input(user, id="receiver", suggester=SuggestFromList(staff))
                yield Checkbox(t("start.drill", lang), id="drill")
                yield Vertical(id="pb-inputs")
                yield Static("", id="start-error", markup=False)
                yield Button(t("start.go", lang), id="go", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self._filter(self.initial_query)
        if self.initial_location:
            self._check_location(self.initial_location)
        self.set_focus(self.query_one("#pb-search", Input))

    def relabel(self) -> None:
        self.app.notify(t("lang.now", self.lang), timeout=1)

    def on_key(self, event: Any) -> None:
        """Keys that arrive before any field has focus go to the playbook search."""
        if self.focused is None and event.is_printable and event.character:
            search = self.query("#pb-search")
            if search:
                box = search.first(Input)
                box.insert_text_at_cursor(event.character)
                self.set_focus(box)
                event.stop()

    # ---- playbook ----------------------------------------------------------------------
    def _filter(self, query: str) -> None:
        lib = self.rt.playbooks
        found = lib.search(query) if query.strip() else list(lib)
        ol = self.query_one("#pb-list", OptionList)
        ol.clear_options()
        lang = self.lang
        for pb in found:
            other = pb.title.zh if lang == "en" else pb.title.en
            ol.add_option(Option(f"{escape(pb.title.get(lang))}  [dim]{escape(other)} · "
                                 f"{pb.id}[/]", id=pb.id))
        if found:
            ol.highlighted = 0
            self.query_one("#pb-description", Static).update("")
        else:
            self.query_one("#pb-description", Static).update(
                t("start.no_match", lang, q=escape(query)))

    @on(Input.Changed, "#pb-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._filter(event.value)

    def action_pb_down(self) -> None:
        if self.focused is self.query_one("#pb-search"):
            self.query_one("#pb-list", OptionList).action_cursor_down()

    def action_pb_up(self) -> None:
        if self.focused is self.query_one("#pb-search"):
            self.query_one("#pb-list", OptionList).action_cursor_up()

    @on(Input.Submitted, "#pb-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one("#pb-list", OptionList)
        if ol.highlighted is None:
            self._error(t("start.no_match", self.lang, q=event.value))
            return
        self._pick(ol.get_option_at_index(ol.highlighted).id or "")

    @on(OptionList.OptionSelected, "#pb-list")
    def _pb_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option.id or "")

    @on(OptionList.OptionHighlighted, "#pb-list")
    def _pb_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        pb = self.rt.playbooks.playbooks.get(event.option.id or "")
        if pb is not None:
            self.query_one("#pb-description", Static).update(escape(pb.description.get(self.lang)))

    def _pick(self, playbook_id: str) -> None:
        pb = self.rt.playbooks.playbooks.get(playbook_id)
        if pb is None:
            return
        self.playbook = pb
        lang = self.lang
        self.query_one("#lbl-playbook", Label).update(
            f"{t('start.playbook', lang).split('—')[0].strip()}: {pb.title.get(lang)}")
        sev = self.query_one("#severity", OptionList)
        sev.clear_options()
        default_idx = 0
        for i, s in enumerate(pb.severities):
            sev.add_option(Option(f"{s.level}  {escape(s.name.get(lang))}", id=str(s.level)))
            if s.level == pb.default_severity:
                default_idx = i
        sev.highlighted = default_idx
        self._show_criteria(pb.default_severity)
        box = self.query_one("#pb-inputs", Vertical)
        box.remove_children()
        for key, spec in pb.inputs.items():
            box.mount(Label(spec.label.get(lang) + (" *" if spec.required else "")))
            box.mount(Input(spec.default or "", id=f"in-{key}"))
        self._error("")
        self.set_focus(self.query_one("#location", Input))

    # ---- location ------------------------------------------------------------------------
    def _check_location(self, text: str) -> bool:
        label = self.query_one("#location-label", Static)
        if not text.strip():
            label.update("")
            self.location_ok = False
            return False
        try:
            loc = self.rt.directory.locate(text)
        except Exception as exc:
            hint = getattr(exc, "hint", "")
            label.update(f"[$error]{escape(str(exc))}{' — ' + escape(hint) if hint else ''}[/]")
            self.location_ok = False
            return False
        label.update(f"[$success]✔ {escape(loc.label(self.lang))}[/]  "
                     f"[dim]{escape(loc.label('zh' if self.lang == 'en' else 'en'))}[/]")
        self.location_ok = True
        return True

    @on(Input.Changed, "#location")
    def _location_changed(self, event: Input.Changed) -> None:
        self._check_location(event.value)

    @on(Input.Submitted, "#location")
    def _location_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.playbook is None:
            self._error(t("start.pick_first", self.lang))
            self.set_focus(self.query_one("#pb-search", Input))
            return
        if self._check_location(event.value):
            self.set_focus(self.query_one("#severity", OptionList))

    # ---- severity ------------------------------------------------------------------------
    def _show_criteria(self, level: int) -> None:
        if self.playbook is None:
            return
        try:
            s = self.playbook.severity(level)
        except KeyError:
            return
        lang = self.lang
        other = "zh" if lang == "en" else "en"
        self.query_one("#criteria", Static).update(
            f"{escape(s.criteria.get(lang))}\n[dim]{escape(s.criteria.get(other))}[/]")

    @on(OptionList.OptionHighlighted, "#severity")
    def _sev_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_criteria(int(event.option.id or 0))

    @on(OptionList.OptionSelected, "#severity")
    def _sev_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_start()

    @on(Input.Submitted)
    def _other_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("reporter", "receiver") or (event.input.id or "").startswith("in-"):
            event.stop()
            self.action_start()

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.action_start()

    # ---- start ---------------------------------------------------------------------------
    def _error(self, text: str) -> None:
        self.query_one("#start-error", Static).update(text)
        if text:
            self.app.notify(text, severity="warning", timeout=5)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_start(self) -> None:
        if self.busy:
            return
        pb = self.playbook
        lang = self.lang
        if pb is None:
            ol = self.query_one("#pb-list", OptionList)
            if ol.highlighted is not None and self.query_one("#pb-search", Input).value.strip():
                self._pick(ol.get_option_at_index(ol.highlighted).id or "")
                pb = self.playbook
            if pb is None:
                self._error(t("start.pick_first", lang))
                return
        at = self.query_one("#location", Input).value.strip()
        if not at or not self._check_location(at):
            self._error(t("start.need_location", lang))
            self.set_focus(self.query_one("#location", Input))
            return
        sev_list = self.query_one("#severity", OptionList)
        level = pb.default_severity
        if sev_list.highlighted is not None:
            level = int(sev_list.get_option_at_index(sev_list.highlighted).id or level)
        inputs: dict[str, Any] = {}
        for key, spec in pb.inputs.items():
            w = self.query_one(f"#in-{key}", Input)
            if w.value.strip():
                inputs[key] = w.value.strip()
            elif spec.required:
                self._error(t("start.required", lang, field=spec.label.get(lang)))
                self.set_focus(w)
                return
        reporter = self.query_one("#reporter", Input).value.strip() or None
        receiver = self.query_one("#receiver", Input).value.strip() or None
        drill = self.query_one("#drill", Checkbox).value
        app: Any = self.app
        engine = self.rt.engine
        actor = app.user

        def op() -> Any:
            st = engine.start(pb.id, at, actor=actor, severity=level, drill=drill,
                              reporter=reporter, first_receiver=receiver, inputs=inputs)
            # the incident screen opens on this snapshot: no "Loading…" gap that eats keys
            return IncidentData(st, engine.timers(st), [], [], engine.clock.now())

        self.busy = True
        self._error("")
        app.run_op(self, "start", op)

    def on_action_done(self, msg: ActionDone) -> None:
        msg.stop()
        self.busy = False
        data = msg.result
        self.app.notify(t("start.started", self.lang, id=data.state.id), timeout=3)
        self.app.open_incident(data.state.id, initial=data)  # type: ignore[attr-defined]

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.busy = False
        self._error(msg.reason)
