"""The report's charts as a reader sees them: rendered by headless Chromium and compared
with reference PNGs (tests/data/charts/) within a tolerance, plus the readable-chart
properties asserted on the SVG itself.

The report is a walked fire on the test's manual clock (deliveries finished at fixed
offsets, resolved two hours in, so the Gantt's axis is broken after T+30m): the same
SVG on every run. A change to the charts that is meant re-renders the references with

    .venv/bin/pytest tests/test_report_chart_pixels.py --update-charts

and the new PNGs are committed after a look. On a mismatch the render and a diff image
(differing pixels in red over a faded render) are written to tests/data/charts/failed/
and the failure names them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from test_report_walker import make_runtime, walk

from incident.report import build_incident_report
from incident.report.svg import LABEL_W, LEGEND, PALETTE, WIDTH, delivery_svg, gantt_svg

Image = pytest.importorskip("PIL.Image", reason="Pillow is in the test extras: pip install "
                                                "-e '.[test]'")
ImageChops = pytest.importorskip("PIL.ImageChops")

HERE = Path(__file__).resolve().parent
REFS = HERE / "data" / "charts"
FAILED = REFS / "failed"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--font-render-hinting=none",
         "--default-background-color=ffffffff"]
MEAN_DIFF = 1.0      # mean absolute difference per channel, on 0-255
DIFF_SHARE = 0.003   # share of pixels differing by more than PIXEL_DIFF on some channel
PIXEL_DIFF = 64
WORKER = "chart-test"
# the report's own font stack (report/render.py): the charts inherit it in the report
REPORT_FONTS = ('"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",'
                '"Helvetica Neue",Arial,sans-serif')


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    db = tmp_path_factory.mktemp("charts") / "charts.db"
    rt = make_runtime(f"sqlite:///{db}")
    try:
        if rt.engine.planner is None:
            pytest.skip("incident.notify has no planner in this tree: no deliveries to chart")
        iid = walk(rt, "fire", resolve=False)
        t0 = rt.engine.state(iid).started_at
        rows = rt.store.claim_outbox(WORKER, rt.clock.now(), 100_000, timedelta(hours=1),
                                     incident_id=iid)
        for i, row in enumerate(sorted(rows, key=lambda r: r.idempotency_key)):
            at = t0 + timedelta(minutes=2, seconds=7 * i)
            assert rt.store.finish_attempt(row.id, worker=WORKER, status="sent", started_at=at,
                                           elapsed_ms=10.0, error=None, now=at)
        rt.clock.advance(timedelta(hours=2))
        rt.engine.resolve(iid, actor="chen.jie", summary="out; handed back to the residents")
        yield build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                    now=rt.clock.now(), lang="en")
    finally:
        rt.close()


def _height(svg: str) -> int:
    w, h = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups()
    return round(float(h) * WIDTH / float(w))


def _render(svg: str, out: Path, tmp: Path) -> None:
    page = tmp / f"{out.stem}.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
                    'html,body{margin:0;padding:0;background:#fff;'
                    f'font-family:{REPORT_FONTS}}}'
                    f'div{{width:{WIDTH}px}}</style></head><body><div>{svg}</div></body></html>',
                    encoding="utf-8")
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}",
                    f"--screenshot={out}", f"--window-size={WIDTH},{_height(svg)}",
                    page.as_uri()], check=True, capture_output=True, timeout=120)


def _compare(name: str, svg: str, tmp: Path, update: bool, failed: Path = FAILED) -> None:
    actual = tmp / f"{name}.png"
    _render(svg, actual, tmp)
    ref = REFS / f"{name}.png"
    if update:
        REFS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(actual, ref)
        return
    assert ref.exists(), (f"no reference {ref}: run pytest {Path(__file__).name} "
                          "--update-charts, look at the PNGs and commit them")
    a = Image.open(actual).convert("RGB")
    b = Image.open(ref).convert("RGB")
    problem = ""
    if a.size != b.size:
        problem = f"size {a.size} differs from the reference's {b.size}"
    else:
        diff = ImageChops.difference(a, b)
        hist = diff.histogram()  # 3 × 256 bins
        total = a.size[0] * a.size[1]
        mean = sum(i % 256 * n for i, n in enumerate(hist)) / (3 * total)
        bands = diff.split()
        over = [band.point(lambda v: 255 if v > PIXEL_DIFF else 0) for band in bands]
        mask = ImageChops.lighter(ImageChops.lighter(over[0], over[1]), over[2])
        share = mask.histogram()[255] / total
        if mean > MEAN_DIFF or share > DIFF_SHARE:
            problem = (f"mean difference {mean:.2f} (limit {MEAN_DIFF}), "
                       f"{share:.2%} of pixels differ (limit {DIFF_SHARE:.2%})")
            failed.mkdir(parents=True, exist_ok=True)
            faded = Image.blend(a, Image.new("RGB", a.size, "white"), 0.75)
            faded.paste(Image.new("RGB", a.size, (255, 0, 0)), mask=mask)
            faded.save(failed / f"{name}-diff.png")
    if problem:
        failed.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(actual, failed / f"{name}-actual.png")
        pytest.fail(f"{name} chart: {problem}. The render is {failed / (name + '-actual.png')}"
                    + (f", the diff {failed / (name + '-diff.png')}"
                       if (failed / f"{name}-diff.png").exists() else "")
                    + f"; the reference {ref}. If the change is meant: --update-charts")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: "
                                             "apt-get install -y chromium; .ci/run installs it)")
@pytest.mark.parametrize("name", ["gantt", "delivery"])
def test_chart_renders_like_its_reference(report, name, tmp_path, request):
    svg = gantt_svg(report) if name == "gantt" else delivery_svg(report)
    assert svg, f"the walked fire has no {name} chart"
    _compare(name, svg, tmp_path, request.config.getoption("--update-charts"))


NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not "
                                    "installed (Debian: apt-get install -y chromium)")


@NEEDS_CHROMIUM
def test_a_changed_chart_fails_and_leaves_a_diff_image(report, tmp_path, request):
    """The tolerance lets font anti-aliasing through, not a chart that changed: bars drawn
    in the wrong colour fail, and the diff image is written where the failure says."""
    if request.config.getoption("--update-charts"):
        pytest.skip("updating the references")
    svg = gantt_svg(report).replace(PALETTE["done"], "#ff00ff")
    with pytest.raises(pytest.fail.Exception) as exc:
        _compare("gantt", svg, tmp_path, False, failed=tmp_path / "failed")
    assert f"the diff {tmp_path / 'failed' / 'gantt-diff.png'}" in str(exc.value)
    assert (tmp_path / "failed" / "gantt-diff.png").exists()
    assert (tmp_path / "failed" / "gantt-actual.png").exists()


def _ticks(svg: str) -> dict[str, float]:
    return {m.group(2): float(m.group(1)) for m in re.finditer(
        r'<text x="([\d.]+)" y="[\d.]+" class="tick"[^>]*>T\+([^<]+)<', svg)}


def test_the_charts_read_well(report):
    gantt = gantt_svg(report)
    ticks = _ticks(gantt)
    right = WIDTH - 10
    # the first 30 minutes of a two-hour fire get more than half of the time axis
    assert (ticks["30m00s"] - LABEL_W) / (right - LABEL_W) >= 0.5
    # round ticks: every 5 minutes to T+30m, then whole quarter hours
    for label in ticks:
        m = re.fullmatch(r"(?:(\d+)h)?(\d+)m(?:(\d+)s)?", label)
        assert m, label
        h, mins, secs = int(m.group(1) or 0), int(m.group(2)), int(m.group(3) or 0)
        total = h * 60 + mins
        assert secs == 0 and total % (5 if total <= 30 else 15) == 0, label
    # the legend's colours are the bars' colours, each key once
    legend = dict(re.findall(r'fill="(#[0-9a-f]{6})" data-key="(\w+)"', gantt))
    assert {v: k for k, v in legend.items()} == {k: PALETTE[k] for k, _ in LEGEND}
    bars = set(re.findall(r'height="10" rx="2" fill="(#[0-9a-f]{6})"', gantt))
    marks = set(re.findall(r'<path d="M[^"]+" fill="(#[0-9a-f]{6})"', gantt))
    assert bars and bars | marks <= set(legend)
    # the delivery curve counts on round numbers
    curve = delivery_svg(report)
    counts = [int(n) for n in re.findall(r'class="tick" text-anchor="end">(\d+)</text>', curve)]
    step = counts[1] - counts[0]
    assert counts[0] == 0 and str(step)[0] in "125" and set(str(step)[1:]) <= {"0"}
    assert counts == list(range(0, counts[-1] + 1, step)) and counts[-1] >= len(
        report.deliveries)

