"""Inline SVG charts: a Gantt-style chart of tracks and steps against their targets,
and a delivery curve (messages delivered over time). No scripts, no external assets.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from html import escape

from incident.clock import format_duration
from incident.i18n import status_label
from incident.report.labels import t
from incident.report.model import IncidentReport

WIDTH = 1000
LABEL_W = 300
ROW_H = 16
PALETTE = {"done": "#2e7d32", "late": "#ef6c00", "skipped": "#9e9e9e", "open": "#1565c0",
           "ready": "#64b5f6", "missed": "#c62828"}
CHANNEL_COLOURS = ["#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457"]
NICE_STEPS = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]


def _tick_step(span_s: float, max_ticks: int = 10) -> int:
    for s in NICE_STEPS:
        if span_s / s <= max_ticks:
            return s
    return NICE_STEPS[-1] * max(1, int(span_s / NICE_STEPS[-1] / max_ticks) + 1)


def nice_count_step(total: int, max_ticks: int = 5) -> int:
    """A round step (1, 2, 5, 10, 20, 50, ...) giving at most max_ticks steps up to total."""
    base = 1
    while True:
        for m in (1, 2, 5):
            if total / (base * m) <= max_ticks:
                return base * m
        base *= 10


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class _Axis:
    def __init__(self, start: datetime, end: datetime, x0: float, x1: float):
        self.start = start
        self.span = max((end - start).total_seconds(), 60.0)
        self.x0, self.x1 = x0, x1

    def x(self, ts: datetime) -> float:
        s = (ts - self.start).total_seconds()
        s = min(max(s, 0.0), self.span)
        return round(self.x0 + (self.x1 - self.x0) * s / self.span, 1)

    def ticks(self, y0: float, y1: float) -> list[str]:
        step = _tick_step(self.span)
        out = []
        s = 0
        while s <= self.span + 0.5:
            x = round(self.x0 + (self.x1 - self.x0) * s / self.span, 1)
            out.append(f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" class="grid"/>')
            anchor = "end" if x > self.x1 - 25 else ("start" if x < self.x0 + 5 else "middle")
            out.append(f'<text x="{x}" y="{y0 - 4}" class="tick" text-anchor="{anchor}">'
                       f'T+{escape(format_duration(timedelta(seconds=s)))}</text>')
            s += step
        return out


KNEE = timedelta(minutes=30)  # every target of a first response sits in this window
KNEE_SHARE = 0.6              # ... which gets this share of the width on a long incident


class _BrokenAxis(_Axis):
    """A time axis in two linear pieces: the first 30 minutes over 60% of the width,
    the rest after a marked break. A linear axis of an 8-hour incident squeezed the
    first half hour, where every target sits, into a sliver."""

    def __init__(self, start: datetime, end: datetime, x0: float, x1: float):
        super().__init__(start, end, x0, x1)
        self.knee = KNEE.total_seconds()
        self.xk = round(x0 + (x1 - x0) * KNEE_SHARE, 1)

    def at(self, s: float) -> float:
        s = min(max(s, 0.0), self.span)
        if s <= self.knee:
            return round(self.x0 + (self.xk - self.x0) * s / self.knee, 1)
        return round(self.xk + (self.x1 - self.xk) * (s - self.knee)
                     / (self.span - self.knee), 1)

    def x(self, ts: datetime) -> float:
        return self.at((ts - self.start).total_seconds())

    def seconds(self) -> list[int]:
        """Round tick marks: every 5 minutes to T+30m, then a round step after the break."""
        out = list(range(0, int(self.knee) + 1, 300))
        step = _tick_step(self.span - self.knee, max_ticks=4)
        s = (int(self.knee) // step + 1) * step
        while s <= self.span + 0.5:
            if self.at(s) - self.at(out[-1]) >= 40:  # keep labels apart
                out.append(s)
            s += step
        return out

    def ticks(self, y0: float, y1: float) -> list[str]:
        out = []
        for s in self.seconds():
            x = self.at(s)
            out.append(f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" class="grid"/>')
            anchor = "end" if x > self.x1 - 25 else ("start" if x < self.x0 + 5 else "middle")
            out.append(f'<text x="{x}" y="{y0 - 4}" class="tick" text-anchor="{anchor}">'
                       f'T+{escape(format_duration(timedelta(seconds=s)))}</text>')
        xk = self.xk
        out.append(f'<path d="M{xk - 3} {y0} L{xk + 3} {y0 + 6} M{xk + 1} {y0} L{xk + 7} {y0 + 6}"'
                   ' class="brk"/>'
                   f'<line x1="{xk + 2}" y1="{y0}" x2="{xk + 2}" y2="{y1}" class="brkline"/>')
        return out


def time_axis(start: datetime, end: datetime, x0: float, x1: float) -> _Axis:
    """Linear for a short incident; broken after T+30m when the rest would squeeze it."""
    if (end - start) > KNEE * 1.5:
        return _BrokenAxis(start, end, x0, x1)
    return _Axis(start, end, x0, x1)


def gantt_svg(rep: IncidentReport) -> str:
    lang = rep.lang
    bars = [b for b in rep.gantt if b.status != "excluded" and b.start is not None]
    targets = rep.targets
    end = rep.end
    for b in bars:
        if b.end and b.end > end:
            end = b.end
    # Due times shortly after the end stay in view; far ones (a 24 h "resolved" target
    # of a 17-minute incident) are pinned to the right edge instead of squashing the chart.
    limit = end + max((end - rep.started_at) * 0.25, timedelta(minutes=2))
    dues = [tg.due_at for tg in targets if tg.status != "n/a"]
    dues += [b.due for b in bars if b.due is not None]
    for due in dues:
        if end < due <= limit:
            end = due
    axis = time_axis(rep.started_at, end, LABEL_W, WIDTH - 10)
    rows: list[str] = []
    y = 28
    rows.append(f'<text x="4" y="{y + 11}" class="track">{escape(t("targets", lang))}</text>')
    y += ROW_H
    for tg in targets:
        if tg.status == "n/a":
            continue
        xd = axis.x(tg.due_at)
        colour = PALETTE["done"] if tg.status == "met" else (
            PALETTE["missed"] if tg.status in ("missed", "met_late", "not_met") else PALETTE["open"])
        rows.append(f'<text x="14" y="{y + 11}" class="lbl">{escape(_short(tg.title, 44))}</text>')
        rows.append(f'<line x1="{xd}" y1="{y + 1}" x2="{xd}" y2="{y + ROW_H - 1}" '
                    f'class="due"><title>{escape(t("due", lang))} {rep.local(tg.due_at)}</title>'
                    '</line>')
        if tg.met_at is not None:
            xm = axis.x(tg.met_at)
            cy = y + ROW_H / 2
            rows.append(f'<line x1="{axis.x0}" y1="{cy}" x2="{xm}" y2="{cy}" stroke="{colour}" '
                        'stroke-width="2"/>')
            rows.append(f'<path d="M{xm} {cy - 5} L{xm + 5} {cy} L{xm} {cy + 5} L{xm - 5} {cy} Z"'
                        f' fill="{colour}"><title>{escape(tg.title)}: {rep.local(tg.met_at)} '
                        f'({escape(status_label(tg.status, lang))})</title></path>')
        y += ROW_H
    current = None
    for b in bars:
        if b.track != current:
            current = b.track
            y += 4
            rows.append(f'<text x="4" y="{y + 11}" class="track">{escape(b.track_title)}</text>')
            y += ROW_H
        x1 = axis.x(b.start) if b.start else axis.x0
        x2 = axis.x(b.end) if b.end else axis.x(end)
        late = b.due is not None and b.status == "done" and b.end is not None and b.end > b.due
        key = "late" if late else {"done": "done", "skipped": "skipped", "ready": "ready"}.get(
            b.status, "open")
        width = max(x2 - x1, 3.0)
        tip = f"{b.title}: {rep.local(b.start)} → {rep.local(b.end)} ({status_label(b.status, lang)})"
        rows.append(f'<text x="14" y="{y + 11}" class="lbl">{escape(_short(b.title, 44))}</text>')
        rows.append(f'<rect x="{x1}" y="{y + 3}" width="{round(width, 1)}" height="{ROW_H - 6}" '
                    f'rx="2" fill="{PALETTE[key]}"><title>{escape(tip)}</title></rect>')
        if b.due is not None:
            xd = axis.x(b.due)
            rows.append(f'<line x1="{xd}" y1="{y + 1}" x2="{xd}" y2="{y + ROW_H - 1}" class="due"/>')
        y += ROW_H
    height = y + 8
    head = axis.ticks(22, height - 4)
    legend = _legend(lang, height)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height + 22}" '
            f'width="100%" role="img" aria-label="{escape(t("chart_tracks", lang))}" '
            'class="chart">'
            '<style>.grid{stroke:#e0e0e0;stroke-width:1}.tick{font-size:9px;fill:#666}'
            '.lbl{font-size:10px;fill:#222}.track{font-size:10px;font-weight:bold;fill:#000}'
            '.due{stroke:#c62828;stroke-width:1.5;stroke-dasharray:2 1}'
            '.leg{font-size:9px;fill:#333}.brk{stroke:#666;stroke-width:1.2;fill:none}'
            '.brkline{stroke:#999;stroke-width:1;stroke-dasharray:4 3}</style>'
            + "".join(head) + "".join(rows) + legend + "</svg>")


# The legend lists every colour a bar or target marker can take, with the same keys
# the bars use (a test checks each bar's fill is in it).
LEGEND = [("done", "done"), ("late", "met_late"), ("open", "in_progress"), ("ready", "ready"),
          ("skipped", "skipped"), ("missed", "missed")]


def _legend(lang: str, y: float) -> str:
    out = []
    x = LABEL_W - 200
    for key, label in LEGEND:
        out.append(f'<rect x="{x}" y="{y + 6}" width="12" height="8" fill="{PALETTE[key]}" '
                   f'data-key="{key}"/>'
                   f'<text x="{x + 16}" y="{y + 14}" class="leg">{escape(t(label, lang))}</text>')
        x += 100
    out.append(f'<line x1="{x}" y1="{y + 4}" x2="{x}" y2="{y + 16}" class="due"/>'
               f'<text x="{x + 6}" y="{y + 14}" class="leg">{escape(t("due", lang))}</text>')
    return "".join(out)


def delivery_svg(rep: IncidentReport) -> str:
    lang = rep.lang
    points = rep.deliveries
    if not points:
        return ""
    w, h = WIDTH, 260
    left, right, top, bottom = 60, w - 130, 26, h - 30
    end = max(points[-1].ts, rep.started_at + timedelta(minutes=1))
    axis = _Axis(rep.started_at, end, left, right)
    by_channel: dict[str, list[datetime]] = defaultdict(list)
    for p in points:
        by_channel[p.channel].append(p.ts)
    total = len(points)
    series = [(t("total", lang), [p.ts for p in points])]
    series += sorted(by_channel.items())

    ystep = nice_count_step(total)
    ymax = -(-total // ystep) * ystep  # the top tick is a round number too

    def ypos(n: int) -> float:
        return round(bottom - (bottom - top) * n / ymax, 1)

    parts = axis.ticks(top, bottom)
    for n in range(0, ymax + 1, ystep):
        yy = ypos(n)
        parts.append(f'<line x1="{left}" y1="{yy}" x2="{right}" y2="{yy}" class="grid"/>'
                     f'<text x="{left - 6}" y="{yy + 3}" class="tick" text-anchor="end">{n}'
                     '</text>')
    for i, (name, times) in enumerate(series):
        colour = "#000" if i == 0 else CHANNEL_COLOURS[(i - 1) % len(CHANNEL_COLOURS)]
        pts = [f"{left},{bottom}"]
        n = 0
        for ts in times:
            x = axis.x(ts)
            pts.append(f"{x},{ypos(n)}")
            n += 1
            pts.append(f"{x},{ypos(n)}")
        pts.append(f"{right},{ypos(n)}")
        width = 2.2 if i == 0 else 1.4
        parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" '
                     f'stroke-width="{width}"><title>{escape(name)}: {n}</title></polyline>')
        ly = top + 4 + i * 16
        parts.append(f'<rect x="{right + 12}" y="{ly}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{right + 30}" y="{ly + 6}" class="leg">{escape(name)} ({n})'
                     '</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
            f'role="img" aria-label="{escape(t("chart_delivery", lang))}" class="chart">'
            '<style>.grid{stroke:#e0e0e0;stroke-width:1}.tick{font-size:9px;fill:#666}'
            '.leg{font-size:10px;fill:#333}</style>'
            + "".join(parts) + "</svg>")
