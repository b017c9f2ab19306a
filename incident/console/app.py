"""The duty officer's console: the Textual app and its factory.

The app owns the background work: a heartbeat worker (every second) ticks the
engine's timers and polls `store.last_change()`; when the fingerprint moves, the
home and incident views reload in their own workers. Engine operations run in
an "action" worker and report back with ActionDone / ActionFailed to the screen
that asked. Only `post_message` crosses from those threads into the UI.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme

from incident.console import bridge
from incident.console.i18n import localize_bindings, t
from incident.console.messages import (
    ActionDone,
    ActionFailed,
    CoreFailed,
    CoreReady,
    DispatcherReady,
    HomeData,
    IncidentData,
    Logged,
    OpenIncident,
    ServiceStatus,
    StoreChanged,
)
from incident.console.model import delivery_from_tallies, read_home
from incident.console.state_file import UIState, default_path
from incident.errors import Refused, ValidationFailed
from incident.identity import Actor
from incident.logs import RecentRecords

if TYPE_CHECKING:
    from incident.console.model import IncidentSummary
    from incident.console.preload import Preload
    from incident.runtime import Runtime

# Both themes pass WCAG AA (4.5:1) for every state the console draws; the test
# tests/test_console_contrast.py measures the frames Textual composes. Textual's own
# dark theme did not: its error red (#ba3c5b) reads 3.4:1 on the dark background, and
# its bright blue cursor row (#0178d4) leaves amber, green or muted text at ~2.3:1.
# The cursor row is a deep blue here, and badges are black on their colour.
_CURSOR = {"block-cursor-foreground": "#ffffff", "block-cursor-text-style": "bold",
           "block-cursor-blurred-foreground": "#ffffff"}
INCIDENT_DARK = Theme(
    name="incident-dark",
    primary="#0178D4",
    secondary="#004578",
    accent="#ffa62b",
    warning="#ffa62b",
    error="#ff7a85",
    success="#4EBF71",
    foreground="#e0e0e0",
    dark=True,
    variables={**_CURSOR, "block-cursor-background": "#0b3d66",
               "block-cursor-blurred-background": "#0b3d66",
               "text-muted": "#a8a8a8", "text-disabled": "#909090"},
)
HIGH_CONTRAST = Theme(
    name="incident-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#202020",
    boost="#303030",
    success="#00FF00",
    warning="#FFB000",
    error="#FF4040",
    dark=True,
    variables={**_CURSOR, "block-cursor-background": "#002b80",
               "block-cursor-blurred-background": "#002b80",
               "text-muted": "#c8c8c8", "text-disabled": "#b0b0b0"},
)
NORMAL_THEME = INCIDENT_DARK.name
# themes a console stored before they were replaced by ones that pass AA
_OLD_THEMES = {"textual-dark": NORMAL_THEME}


def error_text(exc: BaseException, lang: str = "en") -> str:
    """A user-facing sentence for an exception, in the reader's language; never a
    traceback."""
    if isinstance(exc, ValidationFailed):
        return "\n".join(i.format(lang) for i in exc.issues[:12])
    if isinstance(exc, Refused):
        return exc.text(lang)
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, OSError) else text


class IncidentCommands(Provider):
    """Palette: switch to any active incident (context: what the home view last saw)."""

    def _items(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, IncidentConsole)
        out = []
        for s in app.active_incidents:
            text = f"{t('cmd.switch', app.lang, id=s.id)}: {s.title.get(app.lang)} " \
                   f"{s.location_label.get(app.lang)}"
            out.append((text, s.id, partial(app.open_incident, s.id)))
        return out

    async def discover(self) -> Hits:
        for text, iid, cb in self._items():
            yield DiscoveryHit(text, cb, help=iid)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, iid, cb in self._items():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), cb, help=iid)


class IncidentConsole(App[None]):
    CSS_PATH = "console.tcss"
    TITLE = "incident"
    COMMANDS = App.COMMANDS | {IncidentCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
        Binding("f2", "toggle_language", "中文", id="app.language"),
        Binding("f3", "toggle_contrast", "Contrast", id="app.contrast", show=False),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("f4", "show_log", "Log", id="app.log", show=False),
    ]

    lang: reactive[str] = reactive("en", init=False)

    def __init__(self, runtime: Runtime, *, ui_state_path: Path | None = None,
                 heartbeat: float = 1.0, keymap: dict[str, str] | None = None,
                 dispatcher: bool = True, restore: bool = True, user: str | None = None,
                 read_only: bool = False, preload: Preload | None = None):
        super().__init__()
        self.runtime = runtime
        self.preload = preload  # the forked reader of the home lists (console/preload.py)
        # who acts from this console: resolved by the face that starts it (incident
        # console / serve); the engine refuses anyone who is not staff
        self.user = user if user is not None else Actor(runtime.settings.acting_user)
        self.read_only = read_only
        if read_only:
            dispatcher = False
        self.heartbeat_interval = heartbeat
        self.want_dispatcher = dispatcher
        self.restore = restore
        self.ready = False
        self.core_loading = True  # until CoreReady or CoreFailed: keys typed are held
        self.features: dict[str, bool] = {"notify": False, "escalation": False,
                                          "dispatcher": False}
        self.dispatcher: Any = None
        self.active_incidents: list[IncidentSummary] = []
        self.closed_incidents: list[IncidentSummary] = []
        self.ui = UIState(ui_state_path if ui_state_path is not None else default_path(),
                          runtime.settings.db_url)
        self._fingerprint: Any = None
        self._held: list[events.Key] | None = None  # keys typed while a screen is on its way
        self._held_stale = 0
        self._held_timer: Any = None
        self._held_since = 0.0
        # replayed keys still in the message queue, and live keys that came in meanwhile:
        # those wait until every replay went through, so a released burst keeps its order
        self._replaying = 0
        self._late: list[events.Key] = []
        self.opening_incident = False
        self._beat_errors = 0
        # "" while an `incident service` beats; else the header says escalation runs
        # only while this console is open (its heartbeat fires the timers)
        self.service_warning = ""
        self._service_checked: float | None = None
        # warnings and errors logged while the console runs (stderr is captured): kept
        # for the log panel (F4) and written to the rotating file (incident/logs.py)
        self.log_records = RecentRecords()
        self.log_path: Path | None = None
        self._log_toast_at = 0.0
        self.register_theme(INCIDENT_DARK)
        self.register_theme(HIGH_CONTRAST)
        self.set_reactive(IncidentConsole.lang,
                          self.ui.get("lang") or runtime.settings.lang or "en")
        if keymap:
            self.set_keymap(keymap)

    # ---- lifecycle ---------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        from incident.console.screens.home import HomeScreen

        return HomeScreen()

    def on_mount(self) -> None:
        from incident import logs

        self.log_records.on_record = lambda r: self.post_message(Logged(r))
        self.log_path = logs.setup(self.runtime.settings, stderr=None, extra=self.log_records)
        stored = self.ui.get("theme") or NORMAL_THEME
        self.theme = _OLD_THEMES.get(stored, stored)
        if self.theme not in self.available_themes:
            self.theme = NORMAL_THEME
        self.title = t("app.title", self.lang)
        self.sub_title = self.signed_in_text()
        localize_bindings(self, self.lang)
        if self.heartbeat_interval > 0:
            self.set_interval(self.heartbeat_interval, self._beat, name="heartbeat")
        self.set_interval(2.0, self.ui.flush, name="ui-state")

    def on_ready(self) -> None:
        """The first frame is on screen: load the core now. Started with the app, the
        worker shared the GIL with the first render: the frame came later, the lists no
        sooner."""
        self.load_core()

    def on_unmount(self) -> None:
        if self.preload is not None:
            self.preload.close()
        self.log_records.on_record = None
        self.ui.flush()
        if self.dispatcher is not None:
            with contextlib.suppress(Exception):
                self.dispatcher.stop()
            self.dispatcher = None

    def signed_in_text(self) -> str:
        """Who this console acts as (shown in the header), and whether it only follows."""
        text = str(self.user)
        if self.read_only:
            text = f"{text} · {t('app.read_only', self.lang)}"
        # the missing-service warning comes first: it is what the officer must not miss
        return f"{self.service_warning} · {text}" if self.service_warning else text

    @work(thread=True, exclusive=True, exit_on_error=False, group="core")
    def load_core(self) -> None:
        rt = self.runtime
        try:
            # The lists first, from the forked reader if it answered, else from the lean
            # read path (the compiled cache's read forms, no engine): what is open shows
            # while the rest loads. Keys typed meanwhile are held (on_event) and
            # replayed once the engine is here.
            early = self.preload.take() if self.preload is not None else None
            self.post_message(HomeData(*early) if early else self.home_data())
            directory = rt.directory
            playbooks = rt.playbooks
            engine = rt.engine
            if self.read_only:  # a manager following along: every act is refused
                engine.read_only = "err.read_only"  # a key: told in each reader's language
        except Exception as exc:  # bad YAML, unreachable DB: a modal, never a traceback
            self.post_message(CoreFailed(error_text(exc, self.lang)))
            return
        # the dispatcher imports Apprise (about 0.6 s) after the console is ready
        self.post_message(CoreReady(len(playbooks), len(directory.staff), len(directory.units),
                                    True, bridge.has_ladder(rt)))
        running = False
        if self.want_dispatcher:
            try:
                d = bridge.make_dispatcher(rt)
                d.start()
                self.dispatcher = d
                running = True
            except Exception as exc:
                self.post_message(ActionFailed("app", f"notification dispatcher: "
                                                      f"{error_text(exc, self.lang)}", refused=False))
        self.post_message(DispatcherReady(running))

    def on_core_ready(self, msg: CoreReady) -> None:
        self.ready = True
        self.core_loading = False
        self.features = {"notify": msg.notify, "escalation": msg.escalation,
                         "dispatcher": False}
        home = self.home_screen
        if home is not None:
            home.core_ready(msg)
        self.poke()
        if self.holding_keys:
            # typed on the home screen while it loaded: they go there (after the quick
            # keys are bound), and the last incident is not reopened over them
            self.call_after_refresh(self.release_keys)
            return
        iid = self.ui.get("incident") if self.restore else None
        if iid:
            self.open_incident(iid, self.ui.get("step"))

    def on_dispatcher_ready(self, msg: DispatcherReady) -> None:
        self.features = {**self.features, "dispatcher": msg.running}

    def on_core_failed(self, msg: CoreFailed) -> None:
        from incident.console.screens.dialogs import ErrorModal

        self.core_loading = False
        self.drop_keys()  # typed for a console that could not start: not for the modal
        self.push_screen(ErrorModal(t("err.core", self.lang), msg.message))

    # ---- keys typed faster than screens appear ----------------------------------------
    def hold_keys(self, timeout: float = 5.0) -> None:
        """Hold every key from now until the next screen is ready (`release_keys`): a
        practised officer types `n fire ⏎ B3-1201 ⏎ ⏎` at 30 ms a key, faster than a
        screen mounts or an incident starts; the keys must land where they were meant."""
        if self._held is None:
            self._held = []
            self._held_stale = 0
        if self._held_timer is not None:
            self._held_timer.stop()
        self._held_since = time.monotonic()
        self._held_timer = self.set_timer(timeout, self._hold_expired)

    def _hold_expired(self) -> None:
        """The safety valve: keys are never held for good. A screen that releases them
        itself but is not ready yet (a loaded machine) gets more time, up to 30 s."""
        if not getattr(self.screen, "keys_ready", True) and \
                time.monotonic() - self._held_since < 30:
            self._held_timer = self.set_timer(0.5, self._hold_expired)
            return
        self.release_keys()

    def hold_stale_key(self, event: events.Key) -> None:
        """A key already forwarded to the screen being left, before holding began."""
        if self._held is None:
            return
        self._held.insert(self._held_stale, events.Key(event.key, event.character))
        self._held_stale += 1

    @property
    def holding_keys(self) -> bool:
        return self._held is not None

    def release_keys(self) -> None:
        """Replay the held keys, in order, to whatever screen is now in front."""
        held = self._held
        self.drop_keys()
        self._replay(held or [])

    def drop_keys(self) -> None:
        """Stop holding keys, forgetting those held."""
        self._held, self._held_stale = None, 0
        if self._held_timer is not None:
            self._held_timer.stop()
            self._held_timer = None

    def _replay(self, keys: list[events.Key]) -> None:
        for key in keys:
            replay = events.Key(key.key, key.character)
            # sent by the app, as the driver's keys are: a key "sent" by the screen that
            # released it would stop bubbling at that screen and never reach the bindings
            replay.set_sender(self)
            replay._incident_replay = True  # type: ignore[attr-defined]
            self._replaying += 1
            self.post_message(replay)

    def _replayed(self) -> None:
        """One replay went through (or was held again): after the last one, the live keys
        typed meanwhile follow, in order."""
        self._replaying -= 1
        if self._replaying > 0 or not self._late:
            return
        late, self._late = self._late, []
        if self._held is not None:
            self._held.extend(late)
        else:
            self._replay(late)

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        """Screens that do not say when they are ready for keys get the held ones once
        they have drawn (the start and incident screens release them themselves)."""
        result = super().push_screen(screen, *args, **kwargs)
        if self._held is not None and isinstance(screen, Screen) \
                and not getattr(screen, "RELEASES_KEYS", False):
            screen.call_after_refresh(self.release_keys)
        return result

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and event.key == "ctrl+j" and not event.is_forwarded:
            # Enter typed before the terminal left its cooked mode arrives as a line feed
            # (incident/console/terminal.py); LF is Enter for a shell and for us
            enter = events.Key("enter", "\r")
            enter.set_sender(self)
            enter._incident_replay = getattr(event, "_incident_replay", False)  # type: ignore[attr-defined]
            event = enter
        if isinstance(event, events.Key) and not event.is_forwarded \
                and event.key not in ("ctrl+q", "ctrl+c"):
            replayed = getattr(event, "_incident_replay", False)
            if not replayed and self._replaying > 0:
                self._late.append(event)  # typed while a released burst is still queued
                return
            if self._held is None and self.core_loading:
                self.hold_keys()  # typed before the engine loaded: replayed at CoreReady
            if self._held is not None:
                self._held.append(event)
                if replayed:
                    self._replayed()
                return
            if replayed:
                try:
                    await self._on_live_key(event)
                finally:
                    self._replayed()
                return
            await self._on_live_key(event)
            return
        await super().on_event(event)

    async def _on_live_key(self, event: events.Key) -> None:
        # A key that will bring up another screen: hold what follows from now, before
        # the keys after it are forwarded to (and lost in) the screen being left.
        opens = getattr(self.screen, "opens_screen", None)
        if opens is not None and opens(event.key):
            self.hold_keys(2.0)
        await super().on_event(event)

    # ---- heartbeat: tick timers, notice changes -----------------------------------------
    def _beat(self) -> None:
        if not self.ready:
            return
        if any(w.group == "heartbeat" and w.is_running for w in self.workers):
            return  # the last beat is still busy: skip rather than pile up
        self.heartbeat()

    def poke(self) -> None:
        """Tick and reload now (after an action, and from tests)."""
        if self.ready:
            self.heartbeat()

    @work(thread=True, exclusive=True, exit_on_error=False, group="heartbeat")
    def heartbeat(self) -> None:
        rt = self.runtime
        try:
            rt.engine.tick()
            fp = rt.store.last_change()
        except Exception as exc:
            self._beat_errors += 1
            if self._beat_errors in (1, 30):  # say it once, then again if it persists
                self.post_message(ActionFailed("app", f"timers/refresh: {error_text(exc, self.lang)}",
                                               refused=False))
            return
        self._beat_errors = 0
        self._check_service(rt)
        if fp != self._fingerprint:
            self._fingerprint = fp
            self.post_message(StoreChanged(fp))

    def _check_service(self, rt: Any) -> None:
        """Every 10 s (worker thread): is an `incident service` alive?"""
        from incident.clock import monotonic
        from incident.service import service_seen

        if self._service_checked is not None and monotonic() - self._service_checked < 10:
            return
        self._service_checked = monotonic()
        self.post_message(ServiceStatus(service_seen(rt.store)))

    def on_service_status(self, msg: ServiceStatus) -> None:
        warning = "" if msg.seen else t("svc.none", self.lang)
        if warning == self.service_warning:
            return
        self.service_warning = warning
        self.sub_title = self.signed_in_text()
        for scr in self.incident_screens():
            scr.render_clock()

    def on_store_changed(self, _msg: StoreChanged) -> None:
        self.reload_views()

    def reload_views(self) -> None:
        if not self.ready:
            return
        self.load_home()
        for scr in self.incident_screens():
            self.load_incident(scr.incident_id, scr.last_seq)

    # ---- loading -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="home")
    def load_home(self) -> None:
        try:
            data = self.home_data()
        except Exception as exc:
            self.post_message(ActionFailed("app", error_text(exc, self.lang), refused=False))
            return
        self.post_message(data)

    def home_data(self) -> HomeData:
        """(worker thread) The home lists, read without writing (model.read_home)."""
        return HomeData(*read_home(self.runtime))

    def on_home_data(self, msg: HomeData) -> None:
        self.active_incidents = msg.active
        self.closed_incidents = msg.closed
        home = self.home_screen
        if home is not None and _showing(home):
            home.show(msg)

    @work(thread=True, exclusive=False, exit_on_error=False, group="incident")
    def load_incident(self, incident_id: str, after_seq: int = 0) -> None:
        rt = self.runtime
        try:
            st = rt.engine.state(incident_id)
            timers = rt.engine.timers(st)
            events = rt.store.events(incident_id, after_seq=after_seq)
            from incident.notify.tally import step_tallies

            delivery = delivery_from_tallies(step_tallies(rt.store, incident_id), st)
            now = rt.clock.now()
        except Exception as exc:
            self.post_message(ActionFailed(f"incident:{incident_id}", error_text(exc, self.lang),
                                           refused=isinstance(exc, Refused)))
            return
        self.post_message(IncidentData(st, timers, events, delivery, now))

    def on_incident_data(self, msg: IncidentData) -> None:
        for scr in self.incident_screens():
            if scr.incident_id == msg.state.id and _showing(scr):
                scr.show(msg)

    # ---- actions -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="action")
    def run_op(self, target: Any, origin: str, fn: Callable[[], Any], text: str = "") -> None:
        """Run one engine operation; report to `target` (a screen or widget)."""
        try:
            result = fn()
        except (Refused, ValidationFailed, KeyError, ValueError) as exc:
            target.post_message(ActionFailed(origin, error_text(exc, self.lang), refused=True))
            return
        except Exception as exc:
            detail = error_text(exc, self.lang)
            self.log.error(traceback.format_exc())
            target.post_message(ActionFailed(origin, detail, refused=False))
            return
        target.post_message(ActionDone(origin, result, text))
        self.post_message(StoreChanged(None))  # reload now rather than at the next beat

    def on_action_failed(self, msg: ActionFailed) -> None:
        """Failures nobody else handled (background work): a notification."""
        self.notify(msg.reason, title=t("err.refused" if msg.refused else "err.failed",
                                        self.lang),
                    severity="warning" if msg.refused else "error", timeout=8)

    def on_worker_state_changed(self, event: Any) -> None:
        """A worker that died anyway (a bug): show it as a modal, never a traceback."""
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            from incident.console.screens.dialogs import ErrorModal

            err = event.worker.error
            self.push_screen(ErrorModal(t("err.failed", self.lang),
                                        error_text(err, self.lang) if err else "unknown error"))

    # ---- navigation ----------------------------------------------------------------------
    @property
    def home_screen(self) -> Any:
        from incident.console.screens.home import HomeScreen

        for scr in self.screen_stack:
            if isinstance(scr, HomeScreen):
                return scr
        return None

    def incident_screens(self) -> Iterable[Any]:
        from incident.console.screens.incident import IncidentScreen

        return [s for s in self.screen_stack if isinstance(s, IncidentScreen)]

    def on_open_incident(self, msg: OpenIncident) -> None:
        self.open_incident(msg.incident_id, msg.step)

    def open_incident(self, incident_id: str, step: str | None = None,
                      initial: IncidentData | None = None) -> None:
        self.run_worker(self._show_incident(incident_id, step, initial), group="nav",
                        exclusive=True)

    async def _show_incident(self, incident_id: str, step: str | None,
                             initial: IncidentData | None) -> None:
        from incident.console.screens.incident import IncidentScreen

        self.opening_incident = True  # home shows for a moment on the way: keys wait
        try:
            while len(self.screen_stack) > 1:
                await self.pop_screen()
            await self.push_screen(IncidentScreen(incident_id, step, initial))
        finally:
            self.opening_incident = False
        self.ui.update(incident=incident_id, step=step)

    def go_home(self) -> None:
        self.run_worker(self._go_home(), group="nav", exclusive=True)

    async def _go_home(self) -> None:
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        self.ui.update(incident=None, step=None)
        self.reload_views()

    def action_new_incident(self, query: str = "") -> None:
        from incident.console.screens.start import StartScreen

        if not self.ready:
            self.release_keys()
            self.notify(t("home.loading", self.lang))
            return
        self.hold_keys()  # released by the start screen once its line has focus
        self.push_screen(StartScreen(query))

    def action_help(self) -> None:
        """Every key of the screen in front, in the reader's language (the footer only
        holds what fits at 80 columns)."""
        from incident.console.screens.dialogs import HelpModal

        if isinstance(self.screen, HelpModal):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpModal(self.screen))

    def action_show_log(self) -> None:
        from incident.console.screens.log import LogScreen

        if isinstance(self.screen, LogScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(LogScreen())

    def on_logged(self, msg: Logged) -> None:
        """A warning while the console runs: the open log panel follows it; otherwise a
        short toast (at most one every 30 s, errors always) points to F4."""
        from incident.console.screens.log import LogScreen

        if isinstance(self.screen, LogScreen):
            self.screen.refresh_lines()
            return
        from incident.clock import monotonic

        now = monotonic()
        if msg.record.levelno < logging.ERROR and now - self._log_toast_at < 30:
            return
        self._log_toast_at = now
        text = msg.record.getMessage().splitlines()[0][:120] if msg.record.msg else ""
        self.notify(t("log.new", self.lang, text=text), severity="warning"
                    if msg.record.levelno < logging.ERROR else "error", markup=False)

    def action_directory(self) -> None:
        from incident.console.screens.directory import DirectoryScreen

        if self.ready:
            self.push_screen(DirectoryScreen())

    def action_home(self) -> None:
        self.go_home()

    # ---- language and theme --------------------------------------------------------------
    def action_toggle_language(self) -> None:
        self.lang = "en" if self.lang == "zh" else "zh"

    def watch_lang(self, lang: str) -> None:
        self.ui.update(lang=lang)
        self.title = t("app.title", lang)
        if self.service_warning:
            self.service_warning = t("svc.none", lang)
        self.sub_title = self.signed_in_text()
        localize_bindings(self, lang)
        for scr in self.screen_stack:
            localize_bindings(scr, lang)
            relabel = getattr(scr, "relabel", None)
            if relabel is not None:
                relabel()
        self.refresh_bindings()
        self.notify(t("lang.now", lang), timeout=2)

    def action_toggle_contrast(self) -> None:
        self.theme = NORMAL_THEME if self.theme == HIGH_CONTRAST.name else HIGH_CONTRAST.name

    def watch_theme(self, theme: str) -> None:
        self.ui.update(theme=theme)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        lang = self.lang
        yield SystemCommand(t("cmd.start", lang), t("cmd.start.help", lang),
                            self.action_new_incident)
        yield SystemCommand(t("cmd.home", lang), "", self.action_home)
        yield SystemCommand(t("cmd.directory", lang), "", self.action_directory)
        yield SystemCommand(t("cmd.lang", lang), "", self.action_toggle_language)
        yield SystemCommand(t("cmd.contrast", lang), "", self.action_toggle_contrast)
        yield SystemCommand(t("cmd.log", lang), "", self.action_show_log)
        yield from super().get_system_commands(screen)

    # ---- helpers for screens -------------------------------------------------------------
    def name_of(self, person_id: str | None) -> str:
        return self.names().who(person_id, self.lang)

    def names(self, playbook: Any = None) -> Any:
        """The one name resolver (incident.names) over the loaded directory, with an
        incident's playbook for its steps and tracks."""
        from incident.names import Names

        rt = self.runtime
        return Names(rt.directory if rt.loaded("directory") else None, playbook, self.lang)


def _showing(screen: Screen) -> bool:
    """A screen that can take data: mounted, and not being removed (a worker's answer
    may land while the screen is popped or the console quits; Textual's `display` is
    False from the moment a node is pruned or closing)."""
    return screen.is_mounted and screen.is_attached and screen.display


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """User key remapping: `[keymap]` in console.toml of the config dir (binding id = keys)."""
    import tomllib

    from incident.config import config_dir

    path = path or (config_dir() / "console.toml")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    table = doc.get("keymap", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def create_app(runtime: Runtime, **options: Any) -> IncidentConsole:
    """Build the console for a runtime (tests call this without run())."""
    if "keymap" not in options:
        options["keymap"] = load_keymap()
    return IncidentConsole(runtime, **options)
