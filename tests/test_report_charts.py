"""Charts people can read: the first 30 minutes get room on a long incident's Gantt,
the legend carries every colour a bar uses, and ticks fall on round values."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from test_report_ics214 import _settle
from test_report_walker import make_runtime, walk

from incident.report import build_incident_report
from incident.report.model import DeliveryPoint
from incident.report.svg import LABEL_W, WIDTH, delivery_svg, gantt_svg, nice_count_step


@pytest.fixture
def rt(sqlite_url):
    runtime = make_runtime(sqlite_url)
    yield runtime
    runtime.close()


def _ticks(svg: str) -> dict[str, float]:
    return {m.group(2): float(m.group(1))
            for m in re.finditer(r'<text x="([\d.]+)" y="[\d.]+" class="tick"[^>]*>T\+([^<]+)<',
                                 svg)}


def test_a_long_incident_gives_the_first_half_hour_most_of_the_width(rt):
    iid = rt.engine.start("fire", "B3-1201", actor="chen.jie").id
    _settle(rt, iid, 20)
    rt.clock.advance(timedelta(hours=8))
    _settle(rt, iid)
    rt.engine.resolve(iid, actor="chen.jie", summary="out")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    svg = gantt_svg(rep)
    ticks = _ticks(svg)
    right = WIDTH - 10
    # T+30m sits at 60% of the plot, past a marked break
    assert ticks["30m00s"] == pytest.approx(LABEL_W + 0.6 * (right - LABEL_W), abs=0.2)
    assert 'class="brk"' in svg
    for label in ("0m00s", "5m00s", "10m00s", "15m00s", "20m00s", "25m00s"):
        assert label in ticks
    # after the break: round hours only, left to right
    later = [k for k in ticks if k.endswith("m") and "h" in k]
    assert later and all(re.fullmatch(r"\d+h00m", k) for k in later)
    xs = [ticks[k] for k in ticks]
    assert xs == sorted(xs)
    # every colour a bar or target marker is drawn in is in the legend
    legend = set(re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="12" height="8" '
                            r'fill="(#[0-9a-f]{6})"', svg))
    used = set(re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="10" rx="2" '
                          r'fill="(#[0-9a-f]{6})"', svg))
    used |= set(re.findall(r'<path d="M[^"]+" fill="(#[0-9a-f]{6})"', svg))
    assert used and used <= legend


def test_a_short_incident_keeps_a_linear_axis(rt):
    iid = walk(rt, "fire")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    svg = gantt_svg(rep)
    assert 'class="brk"' not in svg
    assert all(re.fullmatch(r"\d+m00s|\d+m30s", k) for k in _ticks(svg))


def test_delivery_curve_counts_on_round_numbers(rt):
    iid = walk(rt, "fire")
    rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
    rep.deliveries = [DeliveryPoint(rep.started_at + timedelta(seconds=20 * i), "sms")
                      for i in range(37)]
    svg = delivery_svg(rep)
    counts = [int(n) for n in re.findall(r'class="tick" text-anchor="end">(\d+)</text>', svg)]
    assert counts == [0, 10, 20, 30, 40]
    assert [nice_count_step(n) for n in (3, 7, 13, 37, 120, 999)] == [1, 2, 5, 10, 50, 200]
