"""Kill a process between events: on restart the folded state equals what it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from engine_helpers import mini_engine

from incident.engine import fold

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from engine_helpers import mini_engine
from incident.clock import ManualClock
clock = ManualClock()
engine = mini_engine(sys.argv[1], clock)
st = engine.start("mini", "B3", actor="wang")
iid = st.id
def report(st):
    print(json.dumps({"id": iid, "seq": st.last_seq,
                      "steps": {k: v.status for k, v in st.steps.items()},
                      "notes": len(st.notes)}), flush=True)
report(st)
st = engine.act(iid, "confirm", actor="wang", option="real")
report(st)
i = 0
while True:
    i += 1
    clock.advance(1)
    st = engine.note(iid, f"note {i}", actor="wang")
    report(st)
"""


def test_sigkill_between_events_loses_nothing_committed(db_url, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    tests_dir = str(Path(__file__).parent)
    proc = subprocess.Popen([sys.executable, str(script), db_url, tests_dir],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    lines = []
    try:
        assert proc.stdout is not None
        while len(lines) < 40:
            line = proc.stdout.readline()
            assert line, "the child died before writing enough events"
            lines.append(json.loads(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    # what the child printed before it died, including what sat unread in the pipe;
    # a line cut by the kill is not a report
    for line in proc.stdout.read().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            break
    last = lines[-1]
    engine = mini_engine(db_url)
    events = engine.store.events(last["id"])
    # the child may have committed one more event after its last report, never fewer
    assert last["seq"] <= len(events) <= last["seq"] + 1
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert engine.store.verify(last["id"]).ok
    st = fold(last["id"], engine.playbooks.get("mini"), events[: last["seq"]])
    assert {k: v.status for k, v in st.steps.items()} == last["steps"]
    assert len(st.notes) == last["notes"]
    # and the restarted engine carries on from there
    after = engine.note(last["id"], "after the crash", actor="li")
    assert after.last_seq == len(events) + 1
    engine.store.close()
