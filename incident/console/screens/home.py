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


class HomeScreen(Screen):
    BINDINGS = [
        Binding("n", "app.new_incident", "New", id="home.new"),
        Binding("d", "app.directory", "Directory", id="home.directory"),
    ]

    def __init__(self) -> None:
        super().__init__(id="home")
        self._data: HomeData | None = None
        self._core: CoreReady | None = None

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
        for table_id, cols in (("#active", ACTIVE_COLS), ("#closed", CLOSED_COLS)):
            table = self.query_one(table_id, DataTable)
            table.clear(columns=True)
            for c in cols:
                table.add_column(t(f"col.{c}", lang), key=c)
        self._status()
        if self._data is not None:
            self.show(self._data)

    def _status(self) -> None:
        app: Any = self.app
        if self._core is None:
            text = t("home.loading", self.lang)
        else:
            text = t("home.ready", self.lang, playbooks=self._core.playbooks,
                     staff=self._core.staff, units=self._core.units, user=app.user)
        self.query_one("#home-status", Static).update(text)

    def core_ready(self, msg: CoreReady) -> None:
        self._core = msg
        self._status()

    def _row(self, s: IncidentSummary, now: Any, closed: bool) -> list[str]:
        lang = self.lang
        mode = t("drill", lang) if s.drill else t("live", lang)
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

        app: Any = self.app
        return local_zone(app.runtime.directory if app.ready else None)

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

    def _tick_elapsed(self) -> None:
        if self._data is None:
            return
        table = self.query_one("#active", DataTable)
        now = self.app.runtime.clock.now()  # type: ignore[attr-defined]
        for s in self._data.active:
            with contextlib.suppress(Exception):  # the row may have gone between refreshes
                table.update_cell(s.id, "elapsed", elapsed_text(s.started_at, now))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key:
            self.app.open_incident(key)  # type: ignore[attr-defined]


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
