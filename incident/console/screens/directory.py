"""Directory and escalation: who is on duty now, contact search, the escalation chain."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static

from incident.console import bridge
from incident.console.i18n import localize_bindings, t
from incident.console.messages import ActionFailed, DirectoryData


def _matches(directory: Any, query: str, lang: str, limit: int = 60) -> list[tuple[str, ...]]:
    q = query.strip().lower()
    out: list[tuple[str, str, str, str]] = []
    if not q:
        return out
    for p in directory.staff.values():
        hay = " ".join([p.id, p.name, p.name_en or "", *p.roles, p.phone or "",
                        p.email or ""]).lower()
        if q in hay:
            out.append((p.id, p.display_name(lang), ", ".join(p.roles), p.phone or ""))
    for v in directory.vendors.values():
        hay = " ".join([v.id, v.kind, *v.name.values(), v.phone or ""]).lower()
        if q in hay:
            out.append((f"vendor:{v.id}", v.name.get(lang) or v.id, v.kind, v.phone or ""))
    for e in directory.externals.values():
        hay = " ".join([e.id, *e.name.values(), e.phone]).lower()
        if q in hay:
            out.append((e.id, e.name.get(lang) or e.id, "external", e.phone))
    for p in directory.owners:
        if len(out) >= limit:
            break
        hay = " ".join([p.id, p.name, p.name_en or "", p.unit or "", p.phone or ""]).lower()
        if q in hay:
            out.append((p.id, p.display_name(lang), p.unit or "", p.phone or ""))
    return out[:limit]


class DirectoryScreen(Screen):
    BINDINGS = [Binding("escape", "back", "Back", id="directory.back")]

    def __init__(self) -> None:
        super().__init__(id="directory-screen")

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        lang = self.lang
        yield Header()
        with Horizontal(id="dir-body"):
            with Vertical(id="dir-left"):
                yield Label(t("dir.on_duty", lang), classes="section", id="dir-on-duty-label")
                yield DataTable(id="on-duty", cursor_type="row")
                yield Input(placeholder=t("dir.search", lang), id="dir-search")
                yield DataTable(id="dir-results", cursor_type="row")
            with Vertical(id="dir-right"):
                levels = bridge.escalation_levels(self.app.runtime) or [1]  # type: ignore[attr-defined]
                yield Select([(f"{t('inc.severity', lang)} {lv}", lv) for lv in levels],
                             value=levels[0], allow_blank=False, id="dir-severity")
                with VerticalScroll():
                    yield Static("", id="dir-chain", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        duty = self.query_one("#on-duty", DataTable)
        for c in ("role", "title", "on duty"):
            duty.add_column(c, key=c)
        res = self.query_one("#dir-results", DataTable)
        for c in ("id", "name", "role/unit", "phone"):
            res.add_column(c, key=c)
        self.set_focus(self.query_one("#dir-search", Input))
        self.load("", self.query_one("#dir-severity", Select).value)

    def relabel(self) -> None:
        localize_bindings(self, self.lang)
        self.load(self.query_one("#dir-search", Input).value,
                  self.query_one("#dir-severity", Select).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="directory")
    def load(self, query: str, severity: Any) -> None:
        rt = self.app.runtime  # type: ignore[attr-defined]
        lang = self.lang
        try:
            d = rt.directory
            now = rt.clock.now()
            duty = []
            for rid, role in sorted(d.roles.items(), key=lambda kv: (kv[1].level, kv[0])):
                people = [f"{p.display_name(lang)} {p.phone or ''}".strip()
                          for p in d.on_duty(rid, now)]
                duty.append((rid, role.title.get(lang) or rid, people))
            level = None if severity is Select.NULL else severity
            chain = bridge.escalation_text(rt, level, None, lang)
            matches = _matches(d, query, lang)
        except Exception as exc:
            from incident.console.app import error_text

            self.post_message(ActionFailed("directory", error_text(exc, self.app.lang), refused=False))
            return
        self.post_message(DirectoryData(duty, chain, matches))

    def on_directory_data(self, msg: DirectoryData) -> None:
        duty = self.query_one("#on-duty", DataTable)
        duty.clear()
        for rid, title, people in msg.on_duty:
            duty.add_row(rid, title, ", ".join(people) or t("dir.nobody", self.lang), key=rid)
        self.query_one("#dir-chain", Static).update(msg.chain)
        res = self.query_one("#dir-results", DataTable)
        res.clear()
        for row in msg.matches:
            res.add_row(*row)

    def on_action_failed(self, msg: ActionFailed) -> None:
        msg.stop()
        self.app.notify(msg.reason, severity="error", timeout=8)

    @on(Input.Changed, "#dir-search")
    def _search(self, event: Input.Changed) -> None:
        self.load(event.value, self.query_one("#dir-severity", Select).value)

    @on(Select.Changed, "#dir-severity")
    def _severity(self, event: Select.Changed) -> None:
        self.load(self.query_one("#dir-search", Input).value, event.value)

    def action_back(self) -> None:
        self.app.pop_screen()
