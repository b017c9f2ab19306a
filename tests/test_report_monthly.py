"""The monthly analysis over many walked incidents; drills apart from live ones."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from test_report_walker import REPO, make_runtime, walk

from incident.cli import main
from incident.report import build_incident_report, build_monthly, parse_day, render_monthly
from incident.report.monthly import _pct

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """Five incidents in January 2026 (one a drill, one still open), one in February."""
    base = tmp_path_factory.mktemp("monthly")
    url = f"sqlite:///{base / 'm.db'}"
    with pytest.MonkeyPatch.context() as mp:  # module scope: isolate user dirs here too
        mp.setenv("XDG_DATA_HOME", str(base / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        yield from _january(url)


def _january(url):
    rt = make_runtime(url)
    clock = rt.clock
    ids = {}
    clock.set(datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    ids["fast"] = walk(rt, "fire")                                   # 30 s per action
    clock.set(datetime(2026, 1, 9, 14, 0, tzinfo=UTC))
    ids["slow"] = walk(rt, "fire", gap=timedelta(seconds=90))        # 90 s per action
    clock.set(datetime(2026, 1, 12, 1, 0, tzinfo=UTC))
    ids["lift"] = walk(rt, "elevator_entrapment")
    clock.set(datetime(2026, 1, 20, 2, 0, tzinfo=UTC))
    ids["drill"] = walk(rt, "fire", drill=True)
    clock.set(datetime(2026, 1, 30, 8, 0, tzinfo=UTC))
    ids["open"] = rt.engine.start("fire", "B1", actor="chen.jie").id
    clock.advance("45s")
    rt.engine.act(ids["open"], "confirm_alarm", actor="chen.jie", option="real_fire")
    clock.set(datetime(2026, 2, 3, 8, 0, tzinfo=UTC))
    ids["february"] = walk(rt, "fire")
    clock.set(datetime(2026, 2, 10, 0, 0, tzinfo=UTC))
    yield rt, ids, url
    rt.close()


def _monthly(rt, lang="en", site=None):
    return build_monthly(rt.store, rt.playbooks, rt.directory,
                         since=parse_day("2026-01", SH), until=parse_day("2026-01", SH, end=True),
                         site=site, now=rt.clock.now(), lang=lang)


def test_counts_live_and_drills_apart(month):
    rt, ids, _ = month
    m = _monthly(rt)
    assert {f.id for f in m.live.incidents} == {ids["fast"], ids["slow"], ids["lift"], ids["open"]}
    assert [f.id for f in m.drills.incidents] == [ids["drill"]]
    fire = rt.playbooks.get("fire").title.en
    lift = rt.playbooks.get("elevator_entrapment").title.en
    assert dict(m.live.by_type) == {fire: 3, lift: 1}
    assert m.total == 5 and m.chains_ok == 5


def test_median_p90_and_timeliness_against_each_target(month):
    rt, ids, _ = month
    m = _monthly(rt)
    agg = next(a for a in m.live.targets if (a.playbook, a.target) == ("fire", "alarm_confirmed"))
    # confirm_alarm took 30 s, 90 s and 45 s: median 45 s, p90 45 + 0.8 × 45 = 81 s
    assert sorted(agg.times) == [timedelta(seconds=s) for s in (30, 45, 90)]
    assert agg.median == timedelta(seconds=45) and agg.p90 == timedelta(seconds=81)
    assert (agg.met, agg.judged) == (3, 3) and agg.window_text() == "3m00s"
    # the rate is exactly the share of judged targets met, incident by incident
    met = judged = 0
    for iid in (ids["fast"], ids["slow"], ids["lift"], ids["open"]):
        rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid, now=rt.clock.now())
        judged += sum(1 for r in rep.targets if r.ok is not None)
        met += sum(1 for r in rep.targets if r.ok)
    assert (m.live.met, m.live.judged) == (met, judged)
    assert m.live.timeliness == pytest.approx(met / judged)
    md = render_monthly(m, "md")
    assert f"**Timeliness rate (share of targets met):** {met / judged * 100:.1f}% " \
           f"({met}/{judged})" in md
    assert "| Fire | Alarm confirmed or ruled out | 3m00s | 3 | 0m45s | 1m21s | 3/3 | 100.0% |" \
        in md


def test_missed_targets_and_open_follow_ups(month):
    rt, ids, _ = month
    m = _monthly(rt)
    missed = {f.id: f for f in m.live.missed}
    assert ids["slow"] in missed
    slow = missed[ids["slow"]]
    assert all(r.status in ("met_late", "missed", "not_met") for r in slow.missed)
    follow = {f.id: f.follow_ups for f in m.live.follow_ups}
    assert "incident still open" in follow[ids["open"]]
    assert any(x.startswith("report not made") for x in follow[ids["open"]])
    md = render_monthly(m, "md")
    assert "## Drills (1)" in md and "## Live incidents (4)" in md
    assert ids["slow"] in md.split("### Incidents that missed targets")[1]
    assert ids["february"] not in md
    zh = render_monthly(_monthly(rt, "zh"), "md")
    assert "## 演练 (1)" in zh and "事件仍在处理中" in zh and "处置及时率" in zh


def test_csv_json_html_and_site_filter(month):
    rt, ids, _ = month
    m = _monthly(rt)
    rows = list(csv.DictReader(io.StringIO(render_monthly(m, "csv").lstrip("\ufeff"))))
    assert len(rows) == 5
    assert {r["id"]: r["mode"] for r in rows}[ids["drill"]] == "drill"
    assert all(r["chain_ok"] == "yes" for r in rows)
    data = json.loads(render_monthly(m, "json"))
    assert data["live"]["incidents"] == 4 and data["drills"]["incidents"] == 1
    html = render_monthly(m, "html")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "@page" in html
    assert _monthly(rt, site=rt.directory.site.id).total == 5
    assert _monthly(rt, site="elsewhere").total == 0


def test_cli_monthly(month, monkeypatch):
    _rt, ids, url = month
    monkeypatch.setenv("INCIDENT_CHAIN_KEY_FILE", _rt.keyring.source)  # the fixture's key
    flags = ["--db", url, "--playbooks", str(REPO / "playbooks"), "--contacts",
             str(REPO / "contacts")]
    out = CliRunner().invoke(main, [*flags, "report", "--since", "2026-01-01", "--until",
                                    "2026-01-31"])
    assert out.exit_code == 0, out.output
    assert "## Live incidents (4)" in out.output and ids["february"] not in out.output
    out = CliRunner().invoke(main, [*flags, "report", "--since", "2026-01-01", "--until",
                                    "2026-01-31", "--format", "csv", "--site", "nowhere"])
    assert out.output.strip().lstrip("\ufeff").startswith("id,mode") and \
        len(out.output.strip().splitlines()) == 1


def test_percentile_and_dates():
    s = [timedelta(seconds=x) for x in (10, 20, 30, 40)]
    assert _pct(s, 50) == timedelta(seconds=25) and _pct(s, 90) == timedelta(seconds=37)
    assert _pct([], 50) is None and _pct(s[:1], 90) == timedelta(seconds=10)
    assert parse_day("2026-12", SH, end=True) == datetime(2027, 1, 1, tzinfo=SH)
    assert parse_day("2026-01-31", SH, end=True) == datetime(2026, 2, 1, tzinfo=SH)
    assert parse_day("2026-01-31T08:00", SH) == datetime(2026, 1, 31, 8, tzinfo=SH)
    with pytest.raises(ValueError, match="is not a date"):
        parse_day("last week", SH)
