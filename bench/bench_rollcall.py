"""Roll call at estate scale: every owner of the demo estate (~2,150) is asked, then
answers (70% safe, 5% need help, 5% not at home, 20% silent). Measures:

- recording each reply through Engine.record_reply (one transaction each, as the
  inbound listener does) — 2,000 answers within a minute need ≥ 34 replies/s;
- computing the board and the door-knock list from the state (what the console does
  every second while the board is open) — must stay well under the 2 s budget;
- rendering the board text and the CSV.

    .venv/bin/python bench/bench_rollcall.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from incident.clock import ManualClock  # noqa: E402
from incident.config import load_settings  # noqa: E402
from incident.engine import rollcall  # noqa: E402
from incident.engine import rollcall_text as rtx  # noqa: E402
from incident.runtime import Runtime  # noqa: E402

PLAYBOOK = """\
id: estate_roll_call
type: evacuation
title: {en: Estate roll call, zh: 全小区点名}
description: {en: Everybody is asked, zh: 全体业主点名}
default_severity: 1
severities:
  - {level: 1, name: {en: L1, zh: 一级}, criteria: {en: any, zh: 任意}}
tracks:
  - id: t
    title: {en: T, zh: T}
    steps:
      - id: ask
        kind: roll_call
        title: {en: Are you safe?, zh: 您是否安全？}
        roll_call:
          audience: owners
          channels: [sms, chat, email]
          question: {en: "Are you safe?", zh: "您是否安全？"}
          no_answer_after: 5m
          team: security
"""


def _median_ms(fn, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        books = tmp / "playbooks"
        books.mkdir()
        (books / "estate_roll_call.yaml").write_text(PLAYBOOK, encoding="utf-8")
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        clock = ManualClock()
        rt = Runtime(load_settings(database_url=url, playbooks_dir=books,
                                   contacts_dir=ROOT / "contacts"), clock=clock)
        e = rt.engine
        st = e.start("estate_roll_call", "lhy", actor="chen.jie")
        t0 = time.perf_counter()
        st = e.act(st.id, "ask", actor="chen.jie")
        plan_s = time.perf_counter() - t0
        rows = rt.store.outbox_rows(st.id, "ask")
        rng = random.Random(19)
        answers = rng.choices(["1", "2", "3", None], [70, 5, 5, 20], k=len(rows))
        replies = [(r, a) for r, a in zip(rows, answers, strict=True) if a is not None]
        t0 = time.perf_counter()
        for r, text in replies:
            e.record_reply(st.id, channel=r.channel, address=r.address, text=text,
                           person_id=r.person_id, unit=None, provider_id=f"b{r.id}",
                           outbox_id=r.id, step_id="ask", purpose="roll_call",
                           answer=rollcall.parse_answer(text))
        rec_s = time.perf_counter() - t0
        clock.advance(timedelta(minutes=6))
        st = e.state(st.id)
        now = clock.now()
        board_ms = _median_ms(lambda: rollcall.board(st, now).knock_list())
        state_ms = _median_ms(lambda: e.state(st.id))
        b = rollcall.board(st, now)
        text_ms = _median_ms(lambda: rtx.board_text(b, rt.directory, "zh"))
        csv_ms = _median_ms(lambda: rtx.knock_csv(b.knock_list(), rt.directory, "zh"))
        c = b.counts()
        print(f"asked {len(rows)} owners in {plan_s * 1000:.0f} ms "
              f"({len(b.units)} units, {c['vulnerable']} vulnerable)")
        print(f"recorded {len(replies)} replies in {rec_s:.1f} s "
              f"= {len(replies) / rec_s:.0f} replies/s (need 34/s for 2,000 in a minute)")
        print(f"board + door-knock list: {board_ms:.1f} ms; state read {state_ms:.1f} ms; "
              f"board text {text_ms:.1f} ms; CSV {csv_ms:.1f} ms")
        print(f"board: safe {c['safe']} · help {c['help']} · away {c['away']} · "
              f"no answer {c['no_answer']} · knock list {len(b.knock_list())}")
        rt.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
