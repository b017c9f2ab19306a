"""Benchmark: load and validate all playbooks plus a 5,000-unit estate directory.

    .venv/bin/python bench/bench_directory.py [--runs 7]

Builds a temporary contacts folder (the shipped staff and vendors, an estate of
25 buildings x 25 floors x 8 units = 5,000 units, and a generated roster), then
times the loaders and a few selector resolutions and prints the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incident.directory import load_directory, read_roster  # noqa: E402
from incident.directory.demo import generate_roster, write_roster  # noqa: E402
from incident.playbook import load_library  # noqa: E402

CONTACTS = ROOT / "contacts"
PLAYBOOKS = ROOT / "playbooks"


def build_estate(folder: Path, buildings: int = 25, floors: int = 25, units: int = 8) -> int:
    """Write a large estate next to the shipped staff and vendors; returns the unit count."""
    estate = yaml.safe_load((CONTACTS / "estate.yaml").read_text(encoding="utf-8"))
    estate["buildings"] = {
        f"B{i}": {"name": {"en": f"Building {i}", "zh": f"{i}号楼"}, "floors": f"1-{floors}",
                  "units": f"01-{units:02d}", "basements": 2}
        for i in range(1, buildings + 1)
    }
    for point in estate.get("assembly_points", {}).values():
        point["serves"] = [b for b in point.get("serves", []) if b in estate["buildings"]]
    (folder / "estate.yaml").write_text(yaml.safe_dump(estate, allow_unicode=True,
                                                       sort_keys=False), encoding="utf-8")
    for name in ("staff.yaml", "vendors.yaml"):
        shutil.copy(CONTACTS / name, folder / name)
    unit_ids = [f"B{b}-{f}{u:02d}" for b in range(1, buildings + 1)
                for f in range(1, floors + 1) for u in range(1, units + 1)]
    write_roster(folder / "owners.csv", generate_roster(unit_ids, seed=5000))
    return len(unit_ids)


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up (imports, caches)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rows: list[tuple[str, int, float, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n_units = build_estate(folder)
        directory = load_directory(folder)
        n_owners = len(directory.owners)
        n_playbooks = len(load_library(PLAYBOOKS, directory))

        def everything() -> None:
            load_library(PLAYBOOKS, load_directory(folder))

        rows.append((f"all {n_playbooks} playbooks + directory of {n_units} units", args.runs,
                     timed(everything, args.runs), 500.0))
        rows.append((f"load_library: {n_playbooks} playbooks, cross-checked", args.runs,
                     timed(lambda: load_library(PLAYBOOKS, directory), args.runs), None))
        rows.append((f"load_directory: {n_units} units, {n_owners} owners", args.runs,
                     timed(lambda: load_directory(folder), args.runs), 500.0))
        rows.append(("read_roster only (5,000-unit roster)", args.runs,
                     timed(lambda: read_roster(folder / "owners.csv", units=directory.units),
                           args.runs), None))
        rows.append(("load_directory: shipped demo estate", args.runs,
                     timed(lambda: load_directory(CONTACTS), args.runs), 500.0))
        at = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
        where = directory.locate("B12-1201")
        for selector in ("owners building:@ floors:@-1..@+1", "owners | staff",
                         "vulnerable | on_duty:security"):
            rows.append((f"resolve '{selector}'", args.runs * 3,
                         timed(lambda s=selector: directory.resolve(s, where, at), args.runs * 3),
                         None))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'runs':>4}  {'median ms':>9}  {'target':>8}  ok?")
    print("-" * (width + 34))
    failed = False
    for what, runs, median, target in rows:
        ok = "" if target is None else ("yes" if median <= target else "NO")
        failed |= ok == "NO"
        target_text = "" if target is None else f"{target:.0f} ms"
        print(f"{what:<{width}}  {runs:>4}  {median:>9.1f}  {target_text:>8}  {ok}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
