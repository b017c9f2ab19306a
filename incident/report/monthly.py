"""The monthly analysis of many incidents (the service manuals' 月度分析).

Counts by type and severity, median and 90th-percentile times against each
target, the timeliness rate (share of targets met), notification delivery rate
per channel, the incidents that missed targets and the open follow-ups. Drills
are reported apart from live incidents.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from incident.clock import format_duration
from incident.engine.context import local_zone
from incident.engine.state import fold
from incident.i18n import channel_name, status_label
from incident.report.labels import t
from incident.report.model import ChannelStats, TargetRow, duration_text, margin_text, target_rows
from incident.report.render import h, html_page, html_table, md_table, pct
from incident.report.service_loop import Care, CareTotals, care_of
from incident.report.service_loop import totals as care_totals
from incident.safetext import csv_row
from incident.store import StoredEvent
from incident.views import pick

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.playbook import PlaybookLibrary
    from incident.store import IncidentRow, Store


@dataclass(slots=True)
class Facts:
    id: str
    playbook_id: str
    type: str
    title: str
    severity: int
    severity_name: str
    drill: bool
    site: str
    status: str
    started_at: datetime
    resolved_at: datetime | None
    targets: list[TargetRow]
    windows: dict[str, timedelta]
    target_titles: dict[str, str]
    channels: dict[str, ChannelStats]
    follow_ups: list[str]
    chain_ok: bool
    chain_reason: str = ""
    head_seq: int = 0
    head_hash: str = ""
    care: Care = field(default_factory=Care)  # callbacks, complaints (service_loop)

    @property
    def missed(self) -> list[TargetRow]:
        return [r for r in self.targets if r.ok is False]


@dataclass(slots=True)
class TargetAgg:
    playbook: str
    playbook_title: str
    target: str
    title: str
    windows: list[timedelta] = field(default_factory=list)
    times: list[timedelta] = field(default_factory=list)
    met: int = 0
    judged: int = 0

    @property
    def rate(self) -> float | None:
        return self.met / self.judged if self.judged else None

    @property
    def median(self) -> timedelta | None:
        return _pct(self.times, 50)

    @property
    def p90(self) -> timedelta | None:
        return _pct(self.times, 90)

    def window_text(self) -> str:
        if not self.windows:
            return "—"
        lo, hi = min(self.windows), max(self.windows)
        return format_duration(lo) if lo == hi else f"{format_duration(lo)}–{format_duration(hi)}"


@dataclass(slots=True)
class Section:
    drill: bool
    incidents: list[Facts]
    by_type: list[tuple[str, int]]
    by_severity: list[tuple[int, int]]
    targets: list[TargetAgg]
    met: int
    judged: int
    channels: list[ChannelStats]

    @property
    def timeliness(self) -> float | None:
        return self.met / self.judged if self.judged else None

    @property
    def missed(self) -> list[Facts]:
        return [f for f in self.incidents if f.missed]

    @property
    def follow_ups(self) -> list[Facts]:
        return [f for f in self.incidents if f.follow_ups]

    @property
    def care(self) -> CareTotals:
        return care_totals([f.care for f in self.incidents])


@dataclass(slots=True)
class Monthly:
    lang: str
    zone: ZoneInfo
    since: datetime
    until: datetime
    site: str | None
    generated_at: datetime
    live: Section
    drills: Section
    chains_ok: int
    total: int
    # Incidents whose log failed verification: listed apart, in no figure.
    tampered: list[Facts] = field(default_factory=list)
    all_facts: list[Facts] = field(default_factory=list)


def _pct(values: list[timedelta], q: float) -> timedelta | None:
    """Percentile with linear interpolation between closest ranks (as numpy's default)."""
    if not values:
        return None
    xs = sorted(v.total_seconds() for v in values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    val = xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
    return timedelta(seconds=round(val, 3))


def facts_of(store: Store, playbooks: PlaybookLibrary, row: IncidentRow, *, now: datetime,
             lang: str, events: list[StoredEvent] | None = None,
             outbox: dict[str, dict[str, int]] | None = None) -> Facts:
    if events is None:
        events = store.events(row.id)
    if outbox is None:
        outbox = store.channel_counts([row.id])[row.id]
    chain = store.check_chain(row.id, events, row.last_seq)
    try:
        pb = playbooks.get(row.playbook_id)
    except KeyError:
        pb = None
    channels: dict[str, ChannelStats] = {}
    for channel, states in outbox.items():
        c = channels.setdefault(channel, ChannelStats(channel))
        for state, n in states.items():
            c.add(state, n)
    follow: list[str] = []
    if not chain.ok:
        follow.append(f"{t('chain_broken_short', lang)}: {chain.reason}")
    if pb is None or not events:
        follow.append(f"playbook '{row.playbook_id}' not loaded")
        return Facts(row.id, row.playbook_id, row.type, pick(row.title, lang, row.playbook_id),
                     row.severity, "", row.drill, row.site, row.status, row.created_at,
                     row.resolved_at, [], {}, {}, channels, follow, chain.ok, chain.reason,
                     chain.head_seq, chain.head_hash)
    st = fold(row.id, pb, events)
    end = st.resolved_at if st.status == "resolved" and st.resolved_at else now
    targets = target_rows(st, end, lang)
    steps = pb.steps()
    if st.status == "open":
        follow.append(t("open_incident", lang))
    unsettled = [s.id for s in st.steps.values() if not s.settled]
    if unsettled:
        titles = [steps[s].title.get(lang) for s in unsettled]
        follow.append(t("open_steps_n", lang, n=len(titles), steps=", ".join(titles[:6])
                        + ("…" if len(titles) > 6 else "")))
    for r in st.reports.values():
        if r.live:  # a clock superseded by a severity change is no follow-up
            follow.append(t("report_not_made", lang, r=pick(r.title, lang, r.id)))
    unacked = st.unacked_pages()
    if unacked:
        follow.append(t("unacked_pages", lang, n=len(unacked)))
    try:
        sev_name = pb.severity(st.severity).name.get(lang)
    except KeyError:
        sev_name = ""
    care = care_of(st, now, lang)
    follow += care.open_items
    return Facts(row.id, pb.id, pb.type, pb.title.get(lang), st.severity, sev_name, st.drill,
                 row.site, st.status, st.started_at, st.resolved_at, targets,
                 {tg.id: tg.due_at - st.started_at for tg in st.targets.values()},
                 {tg.id: tg.title.get(lang) for tg in pb.targets}, channels, follow, chain.ok,
                 chain.reason, chain.head_seq, chain.head_hash, care)


def _section(facts: list[Facts], drill: bool) -> Section:
    mine = [f for f in facts if f.drill == drill]
    by_type = Counter(f.title for f in mine)
    by_sev = Counter(f.severity for f in mine)
    aggs: dict[tuple[str, str], TargetAgg] = {}
    channels: dict[str, ChannelStats] = {}
    met = judged = 0
    for f in mine:
        for r in f.targets:
            key = (f.playbook_id, r.id)
            agg = aggs.get(key)
            if agg is None:
                agg = aggs[key] = TargetAgg(f.playbook_id, f.title, r.id, r.title)
            if r.id in f.windows:
                agg.windows.append(f.windows[r.id])
            if r.took is not None:
                agg.times.append(r.took)
            if r.ok is not None:
                agg.judged += 1
                judged += 1
                if r.ok:
                    agg.met += 1
                    met += 1
        for c in f.channels.values():
            into = channels.setdefault(c.channel, ChannelStats(c.channel))
            for attr in ("total", "sent", "failed", "fell_back", "pending", "cancelled"):
                setattr(into, attr, getattr(into, attr) + getattr(c, attr))
    return Section(drill, mine, by_type.most_common(), sorted(by_sev.items()),
                   sorted(aggs.values(), key=lambda a: (a.playbook_title, a.playbook)),
                   met, judged, sorted(channels.values(), key=lambda c: c.channel))


def build_monthly(store: Store, playbooks: PlaybookLibrary, directory: Directory | None, *,
                  since: datetime, until: datetime, site: str | None = None, now: datetime,
                  lang: str = "en") -> Monthly:
    rows = store.incidents(since=since, until=until, site=site)
    rows.sort(key=lambda r: (r.created_at, r.id))
    ids = [r.id for r in rows]
    events_of, counts = store.events_many(ids), store.channel_counts(ids)
    facts = [facts_of(store, playbooks, r, now=now, lang=lang, events=events_of[r.id],
                      outbox=counts[r.id]) for r in rows]
    good = [f for f in facts if f.chain_ok]
    return Monthly(lang, local_zone(directory), since, until, site, now, _section(good, False),
                   _section(good, True), len(good), len(facts),
                   [f for f in facts if not f.chain_ok], facts)


# ---- dates ------------------------------------------------------------------------------

def parse_day(text: str, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """'2026-01-31', '2026-01' or an ISO datetime, in site-local time.

    As an end bound a date is inclusive (the whole of that day, or that month).
    """
    s = text.strip()
    try:
        if len(s) == 7 and s[4] == "-":
            y, m = int(s[:4]), int(s[5:])
            first = date(y, m, 1)
            if end:
                first = date(y + (m == 12), m % 12 + 1, 1)
            return datetime.combine(first, time(), zone)
        if len(s) == 10:
            d = date.fromisoformat(s)
            if end:
                d += timedelta(days=1)
            return datetime.combine(d, time(), zone)
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"'{text}' is not a date — write 2026-01-31, 2026-01 or "
                         "2026-01-31T08:00") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=zone)


# ---- renderers ----------------------------------------------------------------------------

def _period(m: Monthly) -> str:
    last = (m.until - timedelta(seconds=1)).astimezone(m.zone)
    text = f"{m.since.astimezone(m.zone):%Y-%m-%d} — {last:%Y-%m-%d} ({m.zone.key})"
    if m.site:
        text += f" · {t('site', m.lang)}: {m.site}"
    return text


def _target_rows(sec: Section, lang: str) -> list[list[Any]]:
    return [[a.playbook_title, a.title, a.window_text(), len(a.times), duration_text(a.median),
             duration_text(a.p90), f"{a.met}/{a.judged}", pct(a.rate)] for a in sec.targets]


def _target_head(lang: str) -> list[str]:
    return [t("playbook", lang), t("target", lang), t("due", lang), t("n_measured", lang),
            t("median", lang), t("p90", lang), t("met", lang), t("timeliness", lang)]


def _channel_rows(sec: Section, lang: str) -> list[list[Any]]:
    return [[channel_name(c.channel, lang), c.total, c.sent, c.failed, c.fell_back, c.pending, c.cancelled,
             pct(c.rate)] for c in sec.channels]


def _channel_head(lang: str) -> list[str]:
    return [t(k, lang) for k in ("channel", "messages", "sent", "failed", "fell_back", "pending",
                                 "cancelled", "delivery_rate")]


def _missed_rows(m: Monthly, sec: Section) -> list[list[str]]:
    out = []
    for f in sec.missed:
        what = "; ".join(f"{r.title} ({status_label(r.status, m.lang)}"
                         + (f", {margin_text(r.margin, m.lang)}" if r.margin is not None else "")
                         + ")" for r in f.missed)
        out.append([f.id, f"{f.started_at.astimezone(m.zone):%m-%d %H:%M}", f.title,
                    str(f.severity), what])
    return out


def _follow_rows(m: Monthly, sec: Section) -> list[list[str]]:
    return [[f.id, f"{f.started_at.astimezone(m.zone):%m-%d %H:%M}", f.title,
             status_label(f.status, m.lang), "; ".join(f.follow_ups)] for f in sec.follow_ups]


def _sections(m: Monthly) -> list[tuple[str, Section]]:
    return [(t("live_incidents", m.lang), m.live), (t("drills", m.lang), m.drills)]


def _tampered_head(lang: str) -> list[str]:
    return [t("incident", lang), t("started", lang), t("type", lang), t("reason", lang)]


def _tampered_rows(m: Monthly) -> list[list[str]]:
    return [[f.id, f.started_at.astimezone(m.zone).strftime("%Y-%m-%d %H:%M"), f.title,
             f.chain_reason] for f in m.tampered]


def _heads_head(lang: str) -> list[str]:
    return [t("incident", lang), t("head_seq", lang), t("head_hash", lang),
            t("integrity", lang)]


def _heads_rows(m: Monthly) -> list[list[Any]]:
    return [[f.id, f.head_seq, f.head_hash, "✓" if f.chain_ok else "✗"] for f in m.all_facts]


def monthly_markdown(m: Monthly) -> str:
    lang = m.lang
    out = [f"# {t('monthly_title', lang)}", "", f"**{t('period', lang)}:** {_period(m)}", ""]
    if m.tampered:
        out += [f"> **⚠ {t('tampered_banner', lang, n=len(m.tampered))}**", ""]
    for name, sec in _sections(m):
        out += [f"## {name} ({len(sec.incidents)})", ""]
        if not sec.incidents:
            out += [t("nothing", lang), ""]
            continue
        out += [f"**{t('timeliness_overall', lang)}:** {pct(sec.timeliness)} "
                f"({sec.met}/{sec.judged})", ""]
        out += [f"### {t('by_type', lang)}", ""]
        out += md_table([t("type", lang), t("count", lang)], [list(x) for x in sec.by_type])
        out += ["", f"### {t('by_severity', lang)}", ""]
        out += md_table([t("severity", lang), t("count", lang)],
                        [list(x) for x in sec.by_severity])
        out += ["", f"### {t('targets_time', lang)}", ""]
        out += md_table(_target_head(lang), _target_rows(sec, lang))
        out += ["", f"### {t('delivery_by_channel', lang)}", ""]
        out += md_table(_channel_head(lang), _channel_rows(sec, lang)) if sec.channels \
            else [t("none", lang)]
        out += ["", f"### {t('missed_list', lang)}", ""]
        out += md_table([t("incident", lang), t("started", lang), t("type", lang),
                         t("severity", lang), t("missed_targets", lang)],
                        _missed_rows(m, sec)) if sec.missed else [t("none", lang)]
        out += ["", f"### {t('follow_ups', lang)}", ""]
        out += md_table([t("incident", lang), t("started", lang), t("type", lang),
                         t("status", lang), t("follow_ups", lang)],
                        _follow_rows(m, sec)) if sec.follow_ups else [t("none", lang)]
        if not sec.drill:
            out += ["", f"### {t('loop.service_loop', lang)}", ""]
            out += md_table(["", ""], sec.care.rows(lang))
        out.append("")
    if m.tampered:
        out += [f"## ⚠ {t('tampered_title', lang)}", ""]
        out += md_table(_tampered_head(lang), _tampered_rows(m))
        out.append("")
    if m.all_facts:
        out += [f"### {t('chain_heads', lang)}", ""]
        out += md_table(_heads_head(lang), _heads_rows(m))
        out.append("")
    out += ["---", "", t("integrity_summary", lang, ok=m.chains_ok, n=m.total) + ". "
            + f"{t('generated', lang)}: {m.generated_at.astimezone(m.zone):%Y-%m-%d %H:%M:%S}", ""]
    return "\n".join(out)


def _bars_svg(sec: Section, lang: str) -> str:
    rows = [a for a in sec.targets if a.judged]
    if not rows:
        return ""
    w, row_h, label_w = 1000, 18, 380
    height = 20 + row_h * len(rows) + 10
    parts = []
    for i, a in enumerate(rows):
        y = 20 + i * row_h
        rate = a.rate or 0.0
        bw = round((w - label_w - 80) * rate, 1)
        colour = "#2e7d32" if rate >= 0.9 else ("#ef6c00" if rate >= 0.6 else "#c62828")
        label = f"{a.playbook_title} · {a.title}"
        parts.append(f'<text x="4" y="{y + 12}" font-size="10">{escape(label[:60])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w - label_w - 80}" height="12" '
                     f'fill="#eee"/><rect x="{label_w}" y="{y + 3}" width="{bw}" height="12" '
                     f'fill="{colour}"/><text x="{w - 74}" y="{y + 13}" font-size="10">'
                     f"{escape(pct(a.rate))} ({a.met}/{a.judged})</text>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {height}" width="100%" '
            f'class="chart" role="img" aria-label="{escape(t("timeliness", lang))}">'
            + "".join(parts) + "</svg>")


def monthly_html(m: Monthly) -> str:
    lang = m.lang
    parts = [f"<h1>{h(t('monthly_title', lang))}</h1>",
             f'<div class="sub"><b>{h(t("period", lang))}:</b> {h(_period(m))}</div>']
    if m.tampered:
        parts.append(f'<div class="banner">⚠ {h(t("tampered_banner", lang, n=len(m.tampered)))}'
                     "</div>")
    for name, sec in _sections(m):
        parts.append(f"<h2>{h(name)} ({len(sec.incidents)})</h2>")
        if not sec.incidents:
            parts.append(f"<p>{h(t('nothing', lang))}</p>")
            continue
        parts.append(f"<p><b>{h(t('timeliness_overall', lang))}:</b> {h(pct(sec.timeliness))} "
                     f"({sec.met}/{sec.judged})</p>")
        parts.append(f"<h3>{h(t('by_type', lang))}</h3>")
        parts.append(html_table([t("type", lang), t("count", lang)],
                                [list(x) for x in sec.by_type], classes=["", "num"]))
        parts.append(f"<h3>{h(t('by_severity', lang))}</h3>")
        parts.append(html_table([t("severity", lang), t("count", lang)],
                                [list(x) for x in sec.by_severity], classes=["", "num"]))
        parts.append(f"<h3>{h(t('targets_time', lang))}</h3>")
        parts.append(html_table(_target_head(lang), _target_rows(sec, lang),
                                classes=["", "", "t", "num", "t", "t", "num", "num"]))
        parts.append(f'<div class="figure">{_bars_svg(sec, lang)}</div>')
        parts.append(f"<h3>{h(t('delivery_by_channel', lang))}</h3>")
        parts.append(html_table(_channel_head(lang), _channel_rows(sec, lang),
                                classes=["", "num", "num", "num", "num", "num", "num", "num"])
                     if sec.channels else f"<p>{h(t('none', lang))}</p>")
        parts.append(f"<h3>{h(t('missed_list', lang))}</h3>")
        parts.append(html_table([t("incident", lang), t("started", lang), t("type", lang),
                                 t("severity", lang), t("missed_targets", lang)],
                                _missed_rows(m, sec)) if sec.missed
                     else f"<p>{h(t('none', lang))}</p>")
        parts.append(f"<h3>{h(t('follow_ups', lang))}</h3>")
        parts.append(html_table([t("incident", lang), t("started", lang), t("type", lang),
                                 t("status", lang), t("follow_ups", lang)],
                                _follow_rows(m, sec)) if sec.follow_ups
                     else f"<p>{h(t('none', lang))}</p>")
        if not sec.drill:
            parts.append(f"<h3>{h(t('loop.service_loop', lang))}</h3>")
            parts.append(html_table(["", ""], sec.care.rows(lang), classes=["", "num"]))
    if m.tampered:
        parts.append(f"<h2>⚠ {h(t('tampered_title', lang))}</h2>")
        parts.append(html_table(_tampered_head(lang), _tampered_rows(m)))
    if m.all_facts:
        parts.append(f"<h3>{h(t('chain_heads', lang))}</h3>")
        parts.append(html_table(_heads_head(lang), _heads_rows(m)))
    cls = "ok" if m.chains_ok == m.total else "banner"
    parts.append(f'<footer><div class="{cls}">{h(t("integrity_summary", lang, ok=m.chains_ok, n=m.total))}'
                 f'</div><p class="muted">{h(t("generated", lang))}: '
                 f"{m.generated_at.astimezone(m.zone):%Y-%m-%d %H:%M:%S} ({h(m.zone.key)})</p>"
                 "</footer>")
    return html_page(t("monthly_title", lang), lang, "".join(parts))


MONTHLY_CSV = ["id", "mode", "playbook", "type", "title", "severity", "site", "status",
               "started_local", "resolved_local", "duration_s", "targets_met", "targets_judged",
               "missed_targets", "messages", "messages_sent", "chain_ok", "follow_ups",
               "in_figures", "chain_head_seq", "chain_head_hash"]


def monthly_csv(m: Monthly) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MONTHLY_CSV)
    fmt = "%Y-%m-%d %H:%M:%S"
    for sec in (m.live, m.drills, m.tampered):
        for f in (sec.incidents if isinstance(sec, Section) else sec):
            judged = [r for r in f.targets if r.ok is not None]
            w.writerow(csv_row([
                f.id, "drill" if f.drill else "live", f.playbook_id, f.type, f.title, f.severity,
                f.site, f.status, f.started_at.astimezone(m.zone).strftime(fmt),
                f.resolved_at.astimezone(m.zone).strftime(fmt) if f.resolved_at else "",
                int((f.resolved_at - f.started_at).total_seconds()) if f.resolved_at else "",
                sum(1 for r in judged if r.ok), len(judged), "; ".join(r.id for r in f.missed),
                sum(c.total for c in f.channels.values()),
                sum(c.sent for c in f.channels.values()), "yes" if f.chain_ok else "NO",
                "; ".join(f.follow_ups), "yes" if f.chain_ok else "no", f.head_seq,
                f.head_hash]))
    return buf.getvalue()


def monthly_json(m: Monthly) -> str:
    def sec(s: Section) -> dict[str, Any]:
        return {
            "incidents": len(s.incidents), "by_type": dict(s.by_type),
            "by_severity": {str(k): v for k, v in s.by_severity},
            "timeliness": s.timeliness, "targets_met": s.met, "targets_judged": s.judged,
            "targets": [{"playbook": a.playbook, "target": a.target, "title": a.title,
                         "measured": len(a.times),
                         "median_s": a.median.total_seconds() if a.median else None,
                         "p90_s": a.p90.total_seconds() if a.p90 else None,
                         "met": a.met, "judged": a.judged, "rate": a.rate} for a in s.targets],
            "channels": {c.channel: {"total": c.total, "sent": c.sent, "failed": c.failed,
                                     "fell_back": c.fell_back, "rate": c.rate}
                         for c in s.channels},
            "missed": [{"id": f.id, "targets": [r.id for r in f.missed]} for f in s.missed],
            "follow_ups": [{"id": f.id, "items": f.follow_ups} for f in s.follow_ups],
            "service_loop": s.care.as_dict(),
        }

    return json.dumps({"since": m.since.isoformat(), "until": m.until.isoformat(),
                       "site": m.site, "live": sec(m.live), "drills": sec(m.drills),
                       "chains_ok": m.chains_ok, "total": m.total,
                       "tampered": [{"id": f.id, "reason": f.chain_reason} for f in m.tampered],
                       "chain_heads": [{"id": f.id, "ok": f.chain_ok, "head_seq": f.head_seq,
                                        "head_hash": f.head_hash} for f in m.all_facts]},
                      ensure_ascii=False, indent=2)


def render_monthly(m: Monthly, fmt: str) -> str:
    renderers = {"md": monthly_markdown, "html": monthly_html, "csv": monthly_csv,
                 "json": monthly_json}
    if fmt not in renderers:
        raise ValueError(f"the monthly report comes as {', '.join(renderers)}, not '{fmt}'")
    return renderers[fmt](m)
