"""Start an incident from one line: "fire B3-1201", "火警 3号楼12层", "lift B5 stuck".

The line proposes playbook, location and severity together (incident.quickstart);
every key goes into that one field, so typing fast never races a focus change.
README's quick path still works: `n`, "fire", Enter (the playbook is taken, the
line waits for a place), "B3-1201", Enter (the full proposal, and any open
incident of the same kind in that building), Enter (start). ↑/↓ change the
severity, Tab reaches the playbook list; reporter, first receiver, drill and the
playbook's inputs sit below for when they matter. An open incident of the same
kind in the same building is offered for joining before a second one starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.suggester import Suggester, SuggestFromList
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionDone, ActionFailed, IncidentData
from incident.console.model import location_candidates
from incident.console.widgets.toggle import ClearCheckbox
from incident.quickstart import Proposal, open_duplicates, propose

if TYPE_CHECKING:
    from incident.playbook import Playbook


class LastWordSuggester(Suggester):
    """Completes the last word of the line to a unit, floor, building or place."""

    def __init__(self, candidates: list[str]):
        super().__init__(use_cache=True, case_sensitive=False)
        self._by_prefix = sorted(candidates, key=str.casefold)

    async def get_suggestion(self, value: str) -> str | None:
        head, _, last = value.rpartition(" ")
        if len(last) < 2 or not any(c.isdigit() for c in last):
            return None
        low = last.casefold()
        for cand in self._by_prefix:
            if cand.casefold().startswith(low) and len(cand) > len(last):
                return f"{head} {cand}" if head else cand
        return None


class StartLine(Input):
    """The start line. Enter is handled here, synchronously, not through a posted
    Submitted: the keys typed after it (at 30 ms a key, or replayed from the app's
    hold) must see its effect — the space after the playbook, the check, the start."""

    async def _on_key(self, event: Any) -> None:
        app: Any = self.app
        screen = self.screen
        if isinstance(screen, StartScreen) and screen.busy and app.holding_keys:
            # typed after the Enter that started the incident: for the incident screen
            app.hold_stale_key(event)
            event.stop()
            event.prevent_default()
            return
        if event.key == "enter":  # here, in key order; a binding would run a key late
            event.stop()
            event.prevent_default()
            screen = self.screen
            if isinstance(screen, StartScreen):
                screen._enter()
            return
        await super()._on_key(event)


class StartScreen(Screen):
    RELEASES_KEYS = True  # the app holds keys until this screen says it is ready
    BINDINGS = [
        Binding("escape", "back", "Back", id="start.back"),
        Binding("ctrl+s", "start", "Start", id="start.go"),
        Binding("down", "sev_down", show=False),
        Binding("up", "sev_up", show=False),
    ]

    def __init__(self, query: str = "", location: str = "") -> None:
        super().__init__(id="start")
        self.initial_text = " ".join(p for p in (query.strip(), location.strip()) if p)
        if query.strip() and not location.strip():
            self.initial_text += " "
        self.proposal: Proposal | None = None
        self.picked: str | None = None  # a playbook chosen from the list overrides the line
        self.level: int | None = None  # a severity chosen with ↑/↓
        self.armed: str | None = None  # the line as it was when Enter showed the proposal
        self.allow_new = False
        self.busy = False
        self.keys_ready = False  # the app holds typed keys until the line has focus

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    @property
    def rt(self) -> Any:
        return self.app.runtime  # type: ignore[attr-defined]

    @property
    def playbook(self) -> Playbook | None:
        if self.picked is not None:
            return self.rt.playbooks.playbooks.get(self.picked)
        return self.proposal.playbook if self.proposal else None

    def compose(self) -> ComposeResult:
        lang = self.lang
        user = self.app.user  # type: ignore[attr-defined]
        staff = list(self.rt.directory.staff)
        yield Header()
        with Vertical(id="start-body"):
            yield Label(t("start.line", lang), id="lbl-line", classes="section")
            yield StartLine(self.initial_text, placeholder=t("start.line_ph", lang),
                            id="start-line",
                        suggester=LastWordSuggester(location_candidates(self.rt.directory)))
            yield Static("", id="proposal")
            yield Static("", id="start-error", markup=False)
            with Horizontal(id="start-lists"):
                with Vertical(id="start-left"):
                    yield Label(t("start.playbook", lang), id="lbl-playbook", classes="section")
                    yield OptionList(id="pb-list")
                with Vertical(id="start-right"):
                    yield Label(t("start.severity", lang), id="lbl-severity", classes="section")
                    yield OptionList(id="severity")
                    yield Static("", id="criteria")
            with VerticalScroll(id="start-more"):
                yield Label(t("start.more", lang), id="lbl-more", classes="section")
                yield Label(t("start.reporter", lang), id="lbl-reporter")
                yield Input(user, id="reporter", suggester=SuggestFromList(staff))
                yield Label(t("start.receiver", lang), id="lbl-receiver")
                yield Input(user, id="receiver", suggester=SuggestFromList(staff))
                yield ClearCheckbox(t("start.drill", lang), id="drill")
                yield Vertical(id="pb-inputs")
                yield Button(t("start.go", lang), id="go", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        line = self.query_one("#start-line", Input)
        self.set_focus(line)
        line.cursor_position = len(line.value)
        self._update(line.value)
        # keys typed on the way here (the app held them) now land in the line, in order
        self._tries = 0
        self.call_after_refresh(self._release_when_focused)

    def _release_when_focused(self) -> None:
        """Replay the held keys only once the line really has the focus (a screen's focus
        settles after it becomes current; keys sent earlier would go to the screen)."""
        line = self.query_one("#start-line", Input)
        app: Any = self.app
        if (app.screen is self and app.focused is line) or self._tries > 500:
            self.keys_ready = True
            app.release_keys()
            return
        self._tries += 1
        if app.screen is self and app.focused is None:
            self.set_focus(line)
        self.set_timer(0.02, self._release_when_focused)

    def relabel(self) -> None:
        self.app.notify(t("lang.now", self.lang), timeout=1)

    def on_key(self, event: Any) -> None:
        """A key that arrives with nothing focused goes to the line."""
        lines = self.query("#start-line")
        if self.focused is not None or not lines:
            return
        box = lines.first(Input)
        if event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
        elif event.key == "enter":
            self._enter()
        else:
            return
        self.set_focus(box)
        event.stop()

    def opens_screen(self, key: str) -> bool:
        """Enter on a checked line starts the incident: keys after it belong to the
        incident screen (or the join question), not to this line."""
        if key == "ctrl+s":
            return True
        line = self.query("#start-line")
        return key == "enter" and bool(line) and self.focused is line.first() \
            and self.armed is not None and self.armed == self._line()

    # ---- the proposal --------------------------------------------------------------------
    def _update(self, text: str) -> None:
        prop = propose(text, self.rt.playbooks, self.rt.directory)
        old_pb = self.playbook
        self.proposal = prop
        if self.picked is not None and self.picked not in {p.id for p in prop.candidates} \
                and prop.candidates:
            self.picked = None
        if prop.severity_given:
            self.level = prop.severity
        self._fill_playbooks(prop)
        pb = self.playbook
        if pb is not old_pb:
            self._fill_severities(pb)
            self._fill_inputs(pb)
        self._render_proposal()

    def _fill_playbooks(self, prop: Proposal) -> None:
        ol = self.query_one("#pb-list", OptionList)
        lib = self.rt.playbooks
        shown = prop.candidates or list(lib)
        ids = [p.id for p in shown]
        if getattr(ol, "_ids", None) != ids:
            ol._ids = ids  # type: ignore[attr-defined]
            ol.clear_options()
            lang = self.lang
            for pb in shown:
                other = pb.title.zh if lang == "en" else pb.title.en
                ol.add_option(Option(f"{escape(pb.title.get(lang))}  [dim]{escape(other)}[/]",
                                     id=pb.id))
        pb = self.playbook
        if pb is not None and pb.id in ids:
            ol.highlighted = ids.index(pb.id)

    def _fill_severities(self, pb: Playbook | None) -> None:
        sev = self.query_one("#severity", OptionList)
        sev.clear_options()
        if pb is None:
            self.query_one("#criteria", Static).update("")
            return
        levels = [s.level for s in pb.severities]
        if self.level not in levels:
            self.level = None
        for s in pb.severities:
            sev.add_option(Option(f"{s.level}  {escape(s.name.get(self.lang))}", id=str(s.level)))
        sev.highlighted = levels.index(self._level(pb))
        self._show_criteria(self._level(pb))

    def _fill_inputs(self, pb: Playbook | None) -> None:
        box = self.query_one("#pb-inputs", Vertical)
        box.remove_children()
        if pb is None:
            return
        for key, spec in pb.inputs.items():
            box.mount(Label(spec.label.get(self.lang) + (" *" if spec.required else "")))
            box.mount(Input(spec.default or "", id=f"in-{key}"))

    def _level(self, pb: Playbook) -> int:
        return self.level if self.level is not None else pb.default_severity

    def _show_criteria(self, level: int) -> None:
        pb = self.playbook
        if pb is None:
            return
        try:
            s = pb.severity(level)
        except KeyError:
            return
        lang = self.lang
        other = "zh" if lang == "en" else "en"
        self.query_one("#criteria", Static).update(
            f"{escape(s.criteria.get(lang))}\n[dim]{escape(s.criteria.get(other))}[/]")

    def _render_proposal(self, duplicates: list[Any] | None = None) -> None:
        prop, pb, lang = self.proposal, self.playbook, self.lang
        if prop is None:
            return
        parts = []
        if pb is not None:
            parts.append(f"[b]{escape(pb.title.get(lang))}[/]")
        else:
            parts.append(f"[$warning]{t('start.what', lang)}[/]")
        if prop.location is not None:
            parts.append(f"[$success]✔ {escape(prop.location.label(lang))}[/]")
        elif prop.location_error:
            parts.append(f"[$error]{escape(prop.location_error)}[/]")
        else:
            parts.append(f"[$warning]{t('start.where', lang)}[/]")
        if pb is not None:
            s = pb.severity(self._level(pb))
            parts.append(f"{t('start.level', lang)} {s.level} {escape(s.name.get(lang))}")
        line = "  ·  ".join(parts)
        if duplicates:
            row = duplicates[0]
            app: Any = self.app
            line += "\n[$warning]" + escape(t("start.dup_hint", lang, id=row.id,
                                               owner=app.name_of(row.owner))) + "[/]"
        elif prop.complete:
            key = "start.enter_starts" if self.armed == self._line() else "start.enter_check"
            line += f"\n[dim]{t(key, lang)}[/]"
        self.query_one("#proposal", Static).update(line)

    def _line(self) -> str:
        return self.query_one("#start-line", Input).value

    @on(Input.Changed, "#start-line")
    def _line_changed(self, event: Input.Changed) -> None:
        text = self._line()  # the line now: the message may be older than an Enter since
        if self.armed != text:
            self.armed = None
        if self.proposal is None or self.proposal.text != text:
            self._update(text)
            self._error("")

    def _enter(self) -> None:
        """Enter on the line: take the playbook, then check, then start."""
        text = self._line()
        if self.proposal is None or self.proposal.text != text:
            self._update(text)
        prop = self.proposal
        assert prop is not None
        lang = self.lang
        app: Any = self.app
        if self.armed != text or prop.location is None:
            app.release_keys()  # this Enter did not start: keys held after it go on here
        if self.playbook is None:
            self._error(t("start.no_match", lang, q=text.strip()) if text.strip()
                        else t("start.what", lang))
            return
        if prop.location is None:
            if prop.location_error:
                self._error(prop.location_error)
                return
            line = self.query_one("#start-line", Input)
            if not line.value.endswith(" "):
                line.value = line.value + " "  # the playbook is taken: now the place
                line.cursor_position = len(line.value)
            return
        if self.armed != text:
            self.armed = text
            dups = self._duplicates()
            self._render_proposal(dups)
            return
        self.action_start()

    def _duplicates(self) -> list[Any]:
        pb, prop = self.playbook, self.proposal
        if pb is None or prop is None or prop.location is None:
            return []
        try:
            return open_duplicates(self.rt.store, self.rt.directory, pb.id, str(prop.location),
                                   drill=self.query_one("#drill", Checkbox).value)
        except Exception:
            return []

    # ---- lists ---------------------------------------------------------------------------
    def action_sev_down(self) -> None:
        self._move_severity(1)

    def action_sev_up(self) -> None:
        self._move_severity(-1)

    def _move_severity(self, delta: int) -> None:
        if self.focused is not self.query_one("#start-line"):
            ol = self.focused
            if isinstance(ol, OptionList):
                (ol.action_cursor_down if delta > 0 else ol.action_cursor_up)()
            return
        sev = self.query_one("#severity", OptionList)
        (sev.action_cursor_down if delta > 0 else sev.action_cursor_up)()

    @on(OptionList.OptionHighlighted, "#severity")
    def _sev_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        pb = self.playbook
        level = int(event.option.id or 0)
        if pb is not None and level != self._level(pb):
            self.level = level
            self._render_proposal()
        self._show_criteria(level)

    @on(OptionList.OptionSelected, "#severity")
    def _sev_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.set_focus(self.query_one("#start-line", Input))
        self._enter()

    @on(OptionList.OptionSelected, "#pb-list")
    def _pb_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.picked = event.option.id
        self._fill_severities(self.playbook)
        self._fill_inputs(self.playbook)
        self._render_proposal()
        self.set_focus(self.query_one("#start-line", Input))

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
            self.app.release_keys()  # type: ignore[attr-defined]  # refused: stay here
            self.app.notify(text, severity="warning", timeout=5)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_start(self) -> None:
        if self.busy:
            return
        pb = self.playbook
        prop = self.proposal
        lang = self.lang
        if pb is None:
            self._error(t("start.pick_first", lang))
            return
        if prop is None or prop.location is None:
            self._error(prop.location_error if prop and prop.location_error
                        else t("start.need_location", lang))
            self.set_focus(self.query_one("#start-line", Input))
            return
        at = str(prop.location)
        level = self._level(pb)
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
        rt = self.rt
        engine = rt.engine
        actor = app.user
        allow_new = self.allow_new

        def op() -> Any:
            if not allow_new:
                dups = open_duplicates(rt.store, rt.directory, pb.id, at, drill=drill)
                if dups:
                    return dups  # offer to join before a second one pages everyone again
            st = engine.start(pb.id, at, actor=actor, severity=level, drill=drill,
                              reporter=reporter, first_receiver=receiver, inputs=inputs)
            # the incident screen opens on this snapshot: no "Loading…" gap that eats keys
            return IncidentData(st, engine.timers(st), [], [], engine.clock.now())

        self.busy = True
        self._error("")
        app.hold_keys()  # keys typed while it starts go to the screen that comes next
        app.run_op(self, "start", op)

    def on_action_done(self, msg: ActionDone) -> None:
        msg.stop()
        self.busy = False
        data = msg.result
        app: Any = self.app
        if isinstance(data, list):
            from incident.console.screens.dialogs import JoinModal

            self.app.push_screen(JoinModal(data), self._after_join)
            return
        self.app.notify(t("start.started", self.lang, id=data.state.id), timeout=3)
        app.open_incident(data.state.id, initial=data)

    def _after_join(self, choice: Any) -> None:
        app: Any = self.app
        if choice == "new":
            self.allow_new = True
            self.action_start()
        elif choice:
            app.open_incident(choice)
        else:
            self.set_focus(self.query_one("#start-line", Input))

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.busy = False
        self.app.release_keys()  # type: ignore[attr-defined]
        self._error(msg.reason)
