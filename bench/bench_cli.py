"""CLI start-up benchmark: wall time of `incident --help`, `status`, `start` and `list`
against a bare `python -c "import sqlalchemy.orm"`, run in alternation so that both
see the same machine load. Prints medians and ratios.

    .venv/bin/python bench/bench_cli.py [--runs 7] [--cold]

Every command runs in a fresh process with its own data folder (XDG_DATA_HOME) holding
one incident; the compiled cache (incident/compiled.py) and the byte-code cache are
warmed by one untimed run of each command first, as they are on any installed machine
after the first command. `--cold` also times
`status` with the cache turned off (INCIDENT_NO_CACHE=1), i.e. re-validating every
file. Targets (issue 18): `status` ≤ 1.2 × the bare import, `--help` < 0.25 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from benchenv import child_env  # noqa: E402

BIN = Path(sys.executable).parent
INCIDENT = str(BIN / "incident")


CPU: dict[tuple[str, ...], list[float]] = {}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run; its CPU seconds (user + system) go to CPU — on a loaded
    machine CPU time is the steadier figure (it does not count waiting for a core)."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    CPU.setdefault(tuple(argv), []).append(_children_cpu() - c0)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    ap.add_argument("--cold", action="store_true", help="also time status without the cache")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = child_env(home, XDG_CONFIG_HOME=str(home / "cfg"),
                    INCIDENT_PLAYBOOKS_DIR=str(REPO / "playbooks"),
                    INCIDENT_CONTACTS_DIR=str(REPO / "contacts"), INCIDENT_USER="chen.jie")
    env.pop("INCIDENT_NO_CACHE", None)
    env.pop("INCIDENT_DATABASE_URL", None)
    out = subprocess.run([INCIDENT, "start", "fire", "--at", "B3-1201"], env=env, check=True,
                         capture_output=True, text=True, cwd=home).stdout.split()
    incident_id = out[-1]
    _run([INCIDENT, "status", incident_id], env)  # warms the compiled cache

    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "import sqlalchemy.orm": ([sys.executable, "-c", "import sqlalchemy.orm"], env),
        "incident --help": ([INCIDENT, "--help"], env),
        "incident status ID": ([INCIDENT, "status", incident_id], env),
        "incident start": ([INCIDENT, "start", "gas_leak", "--at", "B3-1201", "--new"], env),
        "incident list": ([INCIDENT, "list"], env),
    }
    if args.cold:
        commands["status, no cache"] = ([INCIDENT, "status", incident_id],
                                        dict(env, INCIDENT_NO_CACHE="1"))
    for argv, e in commands.values():  # untimed: writes the byte-code cache
        _run(argv, e)
    CPU.clear()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (argv, e) in commands.items():  # in alternation: same load for each
            times[name].append(_run(argv, e))

    base = statistics.median(times["import sqlalchemy.orm"])
    cpu = {name: statistics.median(CPU[tuple(argv)]) for name, (argv, _) in commands.items()}
    print(f"CLI start-up, {args.runs} runs each in alternation, Python {sys.version.split()[0]}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'command':<24} {'median s':>9} {'min s':>7} {'× import':>9} {'CPU s':>7} "
          f"{'CPU × import':>13}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<24} {med:>9.3f} {min(ts):>7.3f} {med / base:>9.2f} {cpu[name]:>7.3f} "
              f"{cpu[name] / cpu['import sqlalchemy.orm']:>13.2f}")
    print(f"ratio status / import sqlalchemy.orm: "
          f"{statistics.median(times['incident status ID']) / base:.2f} wall, "
          f"{cpu['incident status ID'] / cpu['import sqlalchemy.orm']:.2f} CPU (target ≤ 1.20)")
    print(f"incident --help: {statistics.median(times['incident --help']):.3f} s "
          "(target < 0.25 s)")


if __name__ == "__main__":
    main()
