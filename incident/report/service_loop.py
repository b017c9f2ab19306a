"""Monthly analysis of the service loop: callback completion and timeliness, owner
satisfaction and complaint closure — the KPIs the service manuals measure
(回访率, 及时率, 满意度, 投诉处理率)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident.i18n import t

if TYPE_CHECKING:
    from incident.engine.state import IncidentState

@dataclass(slots=True)
class Care:
    """One incident's service-loop figures."""

    due: int = 0
    done: int = 0
    on_time: int = 0
    satisfaction: list[int] = field(default_factory=list)
    complaints: int = 0
    complaints_closed: int = 0
    investigated_on_time: int = 0
    closed: bool = False
    open_items: list[str] = field(default_factory=list)


def care_of(st: IncidentState, now: datetime, lang: str) -> Care:
    c = Care(closed=st.closed_at is not None and st.status != "open")
    for f in st.followups.values():
        c.due += 1
        if f.done:
            c.done += 1
            c.on_time += int(f.done_at is not None and f.done_at <= f.due_at)
        elif f.status(now) == "overdue":
            c.open_items.append(t("loop.callback_overdue", lang, name=f.name))
        if f.satisfaction:
            c.satisfaction.append(int(f.satisfaction))
    for k in st.complaints.values():
        c.complaints += 1
        if not k.open:
            c.complaints_closed += 1
            if k.satisfaction:
                c.satisfaction.append(int(k.satisfaction))
        else:
            c.open_items.append(t("loop.complaint_open", lang, id=k.id))
        c.investigated_on_time += int(k.clock("investigated", now) == "met")
    return c


@dataclass(slots=True)
class CareTotals:
    due: int = 0
    done: int = 0
    on_time: int = 0
    satisfaction: Counter[int] = field(default_factory=Counter)
    complaints: int = 0
    complaints_closed: int = 0
    investigated_on_time: int = 0
    closed: int = 0
    incidents: int = 0

    def add(self, c: Care) -> None:
        self.incidents += 1
        self.due += c.due
        self.done += c.done
        self.on_time += c.on_time
        self.satisfaction.update(c.satisfaction)
        self.complaints += c.complaints
        self.complaints_closed += c.complaints_closed
        self.investigated_on_time += c.investigated_on_time
        self.closed += int(c.closed)

    @staticmethod
    def _rate(a: int, b: int) -> float | None:
        return a / b if b else None

    @property
    def completion(self) -> float | None:
        return self._rate(self.done, self.due)

    @property
    def timeliness(self) -> float | None:
        return self._rate(self.on_time, self.due)

    @property
    def satisfied(self) -> float | None:
        n = sum(self.satisfaction.values())
        return self._rate(self.satisfaction[4] + self.satisfaction[5], n)

    @property
    def closure(self) -> float | None:
        return self._rate(self.complaints_closed, self.complaints)

    def rows(self, lang: str) -> list[list[str]]:
        """Figure, value rows for the Markdown and HTML reports."""
        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x * 100:.0f}%"

        dist = " · ".join(f"{k}: {self.satisfaction.get(k, 0)}" for k in range(5, 0, -1))
        return [
            [t("loop.callbacks_due", lang), str(self.due)],
            [t("loop.callbacks_done", lang), str(self.done)],
            [t("loop.callback_rate", lang), pct(self.completion)],
            [t("loop.callback_timeliness", lang), pct(self.timeliness)],
            [t("loop.satisfaction", lang), dist],
            [t("loop.satisfied_rate", lang), pct(self.satisfied)],
            [t("loop.complaints_opened", lang), str(self.complaints)],
            [t("loop.complaints_closed", lang), str(self.complaints_closed)],
            [t("loop.complaint_closure", lang), pct(self.closure)],
            [t("loop.investigated_on_time", lang), str(self.investigated_on_time)],
            [t("loop.closed_incidents", lang), f"{self.closed}/{self.incidents}"],
        ]

    def as_dict(self) -> dict[str, Any]:
        return {"callbacks_due": self.due, "callbacks_done": self.done,
                "callbacks_on_time": self.on_time, "completion": self.completion,
                "timeliness": self.timeliness,
                "satisfaction": {str(k): self.satisfaction.get(k, 0) for k in range(1, 6)},
                "satisfied_rate": self.satisfied, "complaints": self.complaints,
                "complaints_closed": self.complaints_closed, "complaint_closure": self.closure,
                "investigated_on_time": self.investigated_on_time,
                "incidents_closed": self.closed, "incidents": self.incidents}


def totals(cares: list[Care]) -> CareTotals:
    out = CareTotals()
    for c in cares:
        out.add(c)
    return out
