"""Home: active incidents, recently closed ones, and starting a new one (`n`)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from incident.console.i18n import localize_bindings, t
from incident.console.model import elapsed_text

if TYPE_CHECKING:
    from incident.console.messages import CoreReady, HomeData
    from incident.console.model import IncidentSummary

ACTIVE_COLS = ("id", "type", "location", "severity", "mode", "elapsed", "owner", "overdue",
               "pages")
CLOSED_COLS = ("id", "type", "location", "severity", "mode", "closed", "duration")
# Under 110 columns the table keeps what a duty officer scans for (owner, overdue,
# unacked pages) and folds type, place and drill into one "what" column.
ACTIVE_NARROW = ("id", "what", "severity", "elapsed", "owner", "overdue", "pages")
CLOSED_NARROW = ("id", "what", "severity", "closed", "duration")
NARROW_BELOW = 110


class HomeScreen(Screen):
    BINDINGS = [
        Binding("n", "app.new_incident", "New", id="home.new"),
        # D, not d: on the incident screen d is "done" — one key means one thing
        Binding("D", "app.directory", "Directory", id="home.directory"),
    ]

    def __init__(self) -> None:
        super().__init__(id="home")
        self._data: HomeData | None = None
        self._core: CoreReady | None = None
        self._narrow: bool | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home-body"):
            yield Static("", id="home-status")
            yield Label("", id="home-active-label", classes="section")
            yield DataTable(id="active", cursor_type="row", zebra_stripes=True)
            yield Static("", id="home-empty")
            yield Label("", id="home-closed-label", classes="section")
            yield DataTable(id="closed", cursor_type="row")
        yield Footer()

    @property
    def keys_ready(self) -> bool:
        """Keys typed while the console loads are held until it has (the quick keys)."""
        return not self.app.core_loading  # type: ignore[attr-defined]

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self.relabel()
        self.set_interval(1.0, self._tick_elapsed)
        self.set_focus(self.query_one("#active", DataTable))

    def relabel(self) -> None:
        lang = self.lang
        localize_bindings(self, lang)
        self.query_one("#home-active-label", Label).update(t("home.active", lang))
        self.query_one("#home-closed-label", Label).update(t("home.closed", lang))
        self._narrow = self.app.size.width < NARROW_BELOW
        active_cols, closed_cols = (ACTIVE_NARROW, CLOSED_NARROW) if self._narrow \
            else (ACTIVE_COLS, CLOSED_COLS)
        for table_id, cols in (("#active", active_cols), ("#closed", closed_cols)):
            table = self.query_one(table_id, DataTable)
            table.clear(columns=True)
            for c in cols:
                label = t(f"col.{c}.short" if self._narrow and c in ("overdue", "pages")
                          else f"col.{c}", lang)
                table.add_column(label, key=c)
        self._status()
        if self._data is not None:
            self.show(self._data)

    def on_resize(self, _event: Any) -> None:
        if self._narrow is not None and (self.app.size.width < NARROW_BELOW) != self._narrow:
            self.relabel()

    def _status(self) -> None:
        app: Any = self.app
        if self._core is None:
            text = t("home.loading", self.lang)
        else:
            text = t("home.ready", self.lang, playbooks=self._core.playbooks,
                     staff=self._core.staff, units=self._core.units, user=app.user)
            quick = getattr(self, "quick", {})
            if quick:
                lib = app.runtime.playbooks.playbooks
                text += "\n" + t("home.quick", self.lang) + "  " + "  ".join(
                    f"{k} {lib[pid].title.get(self.lang)}" for k, pid in quick.items())
        self.query_one("#home-status", Static).update(text)

    def core_ready(self, msg: CoreReady) -> None:
        self._core = msg
        self._bind_quick_starts()
        self._status()

    def _bind_quick_starts(self) -> None:
        """One key per playbook (the first free letter of its id: f fire, e elevator…):
        the start line opens with the playbook taken, so a fire at a known unit is
        `f`, the unit, Enter, Enter."""
        app: Any = self.app
        # a quick key never takes a letter the incident screen uses (r is resolve there,
        # not rainstorm here): one key means one thing on every screen
        from incident.console.screens.incident import IncidentScreen

        incident_keys = {b.key for b in IncidentScreen.BINDINGS
                         if isinstance(b, Binding) and len(b.key) == 1}
        taken = {"n", "d", "q", "j", "k"} | incident_keys | \
            {k for k in self._bindings.key_to_bindings}
        self.quick: dict[str, str] = {}
        # The plain kinds (fire, typhoon) have the shortest ids: they get their initial
        # before compounds that share it (f is fire, not falling_objects); then the rest
        # take the first free letter of their id.
        books = sorted(app.runtime.playbooks, key=lambda pb: (len(pb.id), pb.id))
        for first_only in (True, False):
            for pb in books:
                if pb.id in self.quick.values():
                    continue
                letters = [c for c in pb.id.lower() if c.isalpha()][:1 if first_only else None]
                key = next((c for c in letters if c not in taken), None)
                if key is None:
                    continue
                taken.add(key)
                self.quick[key] = pb.id
                self._bindings.bind(key, f"app.new_incident('{pb.id}')", pb.title.en,
                                    show=False)
        self.quick = dict(sorted(self.quick.items(), key=lambda kv: kv[1]))  # listed by id
        self.refresh_bindings()

    def _row(self, s: IncidentSummary, now: Any, closed: bool) -> list[str]:
        lang = self.lang
        mode = t("mode.drill", lang) if s.drill else t("mode.live", lang)
        if self._narrow:
            what = f"{s.title.get(lang, s.type)} · {s.location}"
            what = f"{mode} {what}" if s.drill else what
            room = max(12, self.app.size.width - 60)  # what the other columns leave
            base = [s.id, _fit(what, room), f"S{s.severity}"]
        else:
            base = [s.id, s.title.get(lang, s.type), s.location_label.get(lang, s.location),
                    f"{s.severity} {s.severity_name.get(lang, '')}", mode]
        if closed:
            from incident.views import clock_text

            zone = self._zone()
            return [*base, clock_text(s.resolved_at, zone, with_date=True)[5:16],
                    elapsed_text(s.started_at, now, s.resolved_at)]
        app: Any = self.app
        return [*base, elapsed_text(s.started_at, now), app.name_of(s.owner),
                str(s.overdue) if s.overdue else "", str(s.unacked) if s.unacked else ""]

    def _zone(self) -> Any:
        from incident.engine.context import local_zone

        rt: Any = self.app.runtime  # type: ignore[attr-defined]
        return local_zone(rt.directory if rt.loaded("directory") else None)

    def show(self, data: HomeData) -> None:
        self._data = data
        active = self.query_one("#active", DataTable)
        if not active.columns:  # data before on_mount labelled the tables: relabel shows it
            return
        keep = _cursor_key(active)
        active.clear()
        now = self.app.runtime.clock.now()  # type: ignore[attr-defined]
        for s in data.active:
            active.add_row(*self._row(s, now, False), key=s.id)
        _restore_cursor(active, keep)
        self.query_one("#home-empty", Static).update("" if data.active else t("home.none",
                                                                             self.lang))
        closed = self.query_one("#closed", DataTable)
        keep = _cursor_key(closed)
        closed.clear()
        for s in data.closed:
            closed.add_row(*self._row(s, now, True), key=s.id)
        _restore_cursor(closed, keep)
        _fit_columns(active)
        _fit_columns(closed)

    def _tick_elapsed(self) -> None:
        if self._data is None:
            return
        table = self.query_one("#active", DataTable)
        now = self.app.runtime.clock.now()  # type: ignore[attr-defined]
        for s in self._data.active:
            with contextlib.suppress(Exception):  # the row may have gone between refreshes
                table.update_cell(s.id, "elapsed", elapsed_text(s.started_at, now))

    def opens_screen(self, key: str) -> bool:
        """Whether `key` brings up another screen (the app then holds the keys after it)."""
        active = self.active_bindings.get(key)
        if active is not None and active.binding.action.startswith(("app.new_incident",
                                                                     "app.directory")):
            return True
        table = self.focused
        return key == "enter" and isinstance(table, DataTable) and table.row_count > 0

    def on_screen_resume(self) -> None:
        app: Any = self.app
        if not app.opening_incident:  # passing through on the way to an incident
            app.release_keys()

    def on_key(self, event: Any) -> None:
        """Keys typed right after `n` that reached this screen's table before the start
        screen came up belong to the start line: hand them to the app's hold, in order."""
        app: Any = self.app
        if app.screen is not self and app.holding_keys:
            app.hold_stale_key(event)
            event.stop()
            event.prevent_default()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key:
            self.app.open_incident(key)  # type: ignore[attr-defined]


def _fit(text: str, cells: int) -> str:
    """Cut to a width in terminal cells (a Chinese character takes two), with an ellipsis."""
    from rich.cells import cell_len

    if cell_len(text) <= cells:
        return text
    while text and cell_len(text) > cells - 1:
        text = text[:-1]
    return text + "…"


def _fit_columns(table: DataTable) -> None:
    """Size each column to its widest cell now. DataTable measures new rows later, on
    idle, and a theme or size change in between (the console sets its theme as it
    mounts) sometimes left every column as narrow as its label ('INC-2601')."""
    from rich.cells import cell_len

    for key, column in table.columns.items():
        cells = [cell_len(str(table.get_cell(row, key))) for row in table.rows]
        column.content_width = max([cell_len(str(column.label)), *cells])
    table.refresh(layout=True)


def _cursor_key(table: DataTable) -> str | None:
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:
        return None


def _restore_cursor(table: DataTable, key: str | None) -> None:
    if key is None:
        return
    with contextlib.suppress(Exception):
        table.move_cursor(row=table.get_row_index(key))
