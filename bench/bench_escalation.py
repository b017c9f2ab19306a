"""Benchmark: pre-flight check of a generated 500-role, 5,000-person organisation.

    .venv/bin/python bench/bench_escalation.py [--runs 7]

The organisation: one control room (the entry) that pages 399 front-line roles by
incident type (10 types), 80 supervisors with re-page loops, 15 managers (some only
at severity 1-2, some night shortcuts), 4 directors and a branch GM with a loop back
down the ladder. 5,000 people (10 per role, 1 % without a paging channel), a weekly
day/night rota with night gaps — most covered by a fallback, some not. Prints the
median of each measurement against its target.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incident.directory import Directory, Person, Role, Site  # noqa: E402
from incident.directory.rota import Rota, Shift  # noqa: E402
from incident.escalation import Escalation, build_graph, check, simulate  # noqa: E402
from incident.yamlsrc import parse_text  # noqa: E402

TYPES = [f"type{i}" for i in range(10)]


def build_org(seed: int = 500) -> tuple[Directory, str]:
    rnd = random.Random(seed)
    tiers = [("control", 1, 0), ("front", 399, 0), ("sup", 80, 1), ("mgr", 15, 2),
             ("dir", 4, 3), ("gm", 1, 3)]
    roles: dict[str, Role] = {}
    staff: dict[str, Person] = {}
    by_tier: dict[str, list[str]] = {}
    day = Shift("day", {"en": "Day", "zh": "白班"}, 8 * 60, 20 * 60)
    night = Shift("night", {"en": "Night", "zh": "夜班"}, 20 * 60, 8 * 60)
    rota = Rota()
    n = 0
    for tier, count, level in tiers:
        for i in range(count):
            rid = f"{tier}{i:03d}"
            by_tier.setdefault(tier, []).append(rid)
            people = []
            for _ in range(10 if tier != "gm" else 5):
                pid = f"p{n:05d}"
                n += 1
                no_channel = rnd.random() < 0.01
                staff[pid] = Person(
                    id=pid, name=f"员工{n}", name_en=f"Staff {n}", kind="staff", roles=(rid,),
                    phone=None if no_channel else f"+86138{n:08d}",
                    email=f"{pid}@example.com", chat=None if no_channel else f"U{pid}")
                people.append(pid)
            gap_kind = rnd.random()
            fallback = None if gap_kind < 0.05 else people[0]
            roles[rid] = Role(rid, {"en": f"Role {rid}", "zh": f"岗位{rid}"}, level, fallback)
            for d in range(7):
                rota.add(rid, day, d, tuple(people[:4]))
                if gap_kind > 0.3 or d < 5:  # some roles have nobody on weekend nights
                    rota.add(rid, night, d, tuple(people[4:6]))
    while n < 5000:  # top up to 5,000 people (extra front-line staff)
        rid = rnd.choice(by_tier["front"])
        pid = f"p{n:05d}"
        n += 1
        staff[pid] = Person(id=pid, name=f"员工{n}", kind="staff", roles=(rid,),
                            phone=f"+86139{n:08d}", chat=f"U{pid}")
    site = Site("gen", {"en": "Generated", "zh": "生成"}, "Asia/Shanghai", "021-00000000")
    directory = Directory(site, {}, {}, roles, staff, [], {}, {},
                          shifts={"day": day, "night": night}, rota=rota)

    lines = ["entry: control000", "top: gm000", "severities: [1, 2, 3]",
             "decision_makers: [" + ", ".join(by_tier["mgr"] + by_tier["dir"] + ["gm000"])
             + "]", "edges:"]

    def edge(src: str, dst: str, wait: int, when: str = "", repeat: int | None = None):
        lines.append(f"  - {{from: {src}, to: {dst}, wait: {wait}"
                     + (f", when: {{{when}}}" if when else "")
                     + (f", repeat: {repeat}" if repeat else "") + "}")

    for i, f in enumerate(by_tier["front"]):
        edge("control000", f, 0, f"types: [{TYPES[i % 10]}]")
        edge(f, by_tier["sup"][i % 80], 5)
    for i, s in enumerate(by_tier["sup"]):
        edge(s, s, 3, repeat=1)
        edge(s, by_tier["mgr"][i % 15], 10)
        if i % 4 == 0:
            edge(s, by_tier["mgr"][(i + 1) % 15], 5, "severity: [1, 2], hours: '22:00-06:00'")
    for i, m in enumerate(by_tier["mgr"]):
        edge(m, by_tier["dir"][i % 4], 15, "severity: [1, 2]" if i % 3 else "")
        edge(m, "gm000", 30, "days: 'sat,sun'")
    for d in by_tier["dir"]:
        edge(d, "gm000", 15)
    edge("control000", "gm000", 0, "severity: [1]")
    edge("gm000", by_tier["sup"][0], 15, repeat=2)
    return directory, "\n".join(lines) + "\n"


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    directory, text = build_org()
    built = time.perf_counter() - t0
    graph = build_graph(parse_text(text, "escalation.yaml"), directory)
    report = check(graph, directory)
    esc = Escalation(graph, directory)
    start = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    print(f"organisation: {len(directory.roles)} roles, {len(directory.staff)} people, "
          f"{len(graph.edges)} edges (generated in {built:.2f} s)")
    print(f"check: {len(report.errors)} error(s), {len(report.warnings)} warning(s), "
          f"{len(report.gaps)} roles with rota gaps, {len(report.spofs)} single points; "
          + "; ".join(f"sev {r.severity} best {r.best} worst {r.worst} min"
                      for r in report.reach))
    rows = [
        ("load + validate escalation.yaml", lambda: build_graph(
            parse_text(text, "escalation.yaml"), directory), 1.0),
        ("pre-flight check (500 roles, 5,000 people)", lambda: check(graph, directory), 1.0),
        ("dry run of one chain (show)", lambda: simulate(esc, 1, "type3", start), 0.5),
    ]
    print()
    print(f"{'what':<44} {'runs':>4} {'median':>9} {'target':>8}  ok")
    for what, fn, target in rows:
        median = timed(fn, args.runs)
        ok = "yes" if median < target else "NO"
        print(f"{what:<44} {args.runs:>4} {median * 1000:>7.0f}ms {target * 1000:>6.0f}ms  {ok}")


if __name__ == "__main__":
    main()
