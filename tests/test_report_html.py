"""The HTML report renders in a real browser (headless Chromium) and prints on A4."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from test_report_walker import make_runtime, walk

from incident.report import build_incident_report, build_monthly, parse_day, render, render_monthly

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install -y "
                             "chromium; .ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium(tmp_path: Path, *args: str) -> None:
    profile = tmp_path / "profile"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], check=True,
                   capture_output=True, timeout=120)


def read_png(path: Path) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw pixels) of an 8-bit RGB/RGBA PNG (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = bpp = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), f"unsupported PNG: depth {depth} {colour}"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, bpp, bytes(out)


def ink(path: Path) -> tuple[float, int]:
    """Share of non-white pixels, and how many distinct colours (coarse) there are."""
    w, h, bpp, px = read_png(path)
    dark = 0
    colours = set()
    for i in range(0, len(px), bpp * 3):  # every third pixel is plenty
        r, g, b = px[i], px[i + 1], px[i + 2]
        if r < 235 or g < 235 or b < 235:
            dark += 1
            colours.add((r >> 5, g >> 5, b >> 5))
    return dark / (w * h / 3), len(colours)


@pytest.fixture(scope="module")
def html_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("html")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        rt = make_runtime(f"sqlite:///{base / 'h.db'}")
        iid = walk(rt, "fire")
        files = {}
        for lang in ("en", "zh"):
            rep = build_incident_report(rt.store, rt.playbooks, rt.directory, iid,
                                        now=rt.clock.now(), lang=lang)
            files[lang] = base / f"report_{lang}.html"
            files[lang].write_text(render(rep, "html"), encoding="utf-8")
        m = build_monthly(rt.store, rt.playbooks, rt.directory,
                          since=parse_day("2026-01", rt.directory.timezone),
                          until=parse_day("2026-01", rt.directory.timezone, end=True),
                          now=rt.clock.now())
        files["monthly"] = base / "monthly.html"
        files["monthly"].write_text(render_monthly(m, "html"), encoding="utf-8")
        rt.close()
        yield files


def test_html_is_one_self_contained_file(html_files):
    html = html_files["en"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "@page { size: A4" in html and "@media print" in html
    assert html.count("<svg") >= 1 and "<script" not in html
    # no external assets: no src/href pointing anywhere, no @import, no url(...)
    assert not re.search(r'\s(src|href)=', html) and "@import" not in html and "url(" not in html


@needs_chromium
@pytest.mark.parametrize("which", ["en", "zh", "monthly"])
def test_renders_in_headless_chromium_and_is_not_blank(html_files, tmp_path, which):
    shot = tmp_path / f"{which}.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600",
              html_files[which].as_uri())
    share, colours = ink(shot)
    assert 0.02 < share < 0.9, f"{which}: {share:.1%} of the page has ink"
    assert colours >= 4, f"{which}: only {colours} colours — the charts did not draw"


@needs_chromium
def test_prints_on_a4(html_files, tmp_path):
    pdf = tmp_path / "report.pdf"
    _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
              html_files["en"].as_uri())
    data = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert boxes, "no pages in the PDF"
    for w, h in boxes:  # A4 is 595 × 842 points
        assert abs(float(w) - 595) < 2 and abs(float(h) - 842) < 2
