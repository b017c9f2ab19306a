"""Overdue steps page a person at most once per reminder interval, listing every step.

A real fire nobody works on: the shipped fire playbook puts a step due every minute or
two after the alarm is confirmed. Before batching, each one re-paged the duty officer
(about one page a minute); now each person gets one page per interval (escalation.yaml
`reminder_interval`, default 5 min) that lists all their overdue steps. Counted in the
outbox: the rows the dispatcher would send.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from incident.clock import ManualClock
from incident.directory import load_directory
from incident.engine import Engine
from incident.escalation import install, load_escalation
from incident.escalation.live import DIGEST_KIND
from incident.playbook import PlaybookLibrary, load_playbook
from incident.store import open_store

REPO = Path(__file__).resolve().parent.parent
CONTACTS = REPO / "contacts"
MON_0300 = datetime(2026, 1, 4, 19, 0, tzinfo=UTC)  # Monday 03:00 in Shanghai


@pytest.fixture(scope="module")
def contacts():
    directory = load_directory(CONTACTS)
    return directory, load_escalation(CONTACTS / "escalation.yaml", directory)


def make_engine(db_url: str, contacts, clock: ManualClock, graph=None) -> Engine:
    directory, shipped = contacts
    pb = load_playbook(REPO / "playbooks" / "fire.yaml")
    engine = Engine(open_store(db_url), PlaybookLibrary({pb.id: pb}, {pb.id: REPO}),
                    directory, clock)
    install(engine, graph=graph or shipped)
    return engine


def overdue_rows(engine: Engine, iid: str) -> dict[str, list[tuple[datetime, str]]]:
    """Per person: (when, body) of each overdue page's outbox row (one per person)."""
    st = engine.state(iid)
    overdue = {f"escalation:{p['id']}": p for p in st.pages if p["trigger"] == "step_overdue"}
    out: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in engine.store.outbox_rows(iid):
        page = overdue.get(row.step_id)
        if page is not None:
            out[row.person_id].append((page["ts"], row.body))
    return out


def walk(engine: Engine, clock: ManualClock, iid: str, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance("1m")
        engine.tick(iid)


def test_many_overdue_steps_page_each_person_once_per_interval(db_url, contacts):
    clock = ManualClock(MON_0300)
    eng = make_engine(db_url, contacts, clock)
    iid = eng.start("fire", "B3-1201", actor="chen.jie").id
    eng.act(iid, "confirm_alarm", actor="chen.jie", option="real_fire")
    walk(eng, clock, iid, 31)  # nobody works on anything for half an hour

    st = eng.state(iid)
    went_overdue = [sid for sid, s in st.steps.items() if s.overdue_fired]
    assert len(went_overdue) >= 10  # the scenario: many steps, due a minute or two apart
    rows = overdue_rows(eng, iid)
    assert rows, "overdue steps paged nobody"
    interval = timedelta(minutes=5)
    for person, got in rows.items():
        times = sorted(ts for ts, _ in got)
        gaps = [b - a for a, b in pairwise(times)]
        assert all(g >= interval for g in gaps), (person, times)
        # at most one page per interval: 31 minutes hold at most 7
        assert len(times) <= 7, (person, len(times))
    # nothing is lost: every step that went overdue is listed in some overdue page
    listed = {sid for p in st.pages if p["trigger"] == "step_overdue"
              for sid in p.get("steps") or ()}
    assert set(went_overdue) <= listed
    # a batched page lists its steps by name, in the reader's language
    directory = contacts[0]
    bodies = [(person, body) for person, got in rows.items() for _, body in got]
    many = [(person, body) for person, body in bodies
            if "steps are overdue" in body or "个步骤已超时未完成" in body]
    assert many, bodies
    for person, body in many:
        if directory.staff[person].lang == "zh":
            assert "“" in body and "请督促处置" in body
        else:
            assert "please see that they get done" in body


def test_the_interval_comes_from_the_escalation_file(db_url, contacts, tmp_path):
    directory, _ = contacts
    text = (CONTACTS / "escalation.yaml").read_text(encoding="utf-8")
    path = tmp_path / "escalation.yaml"
    assert "reminder_interval: 5\n" in text  # shipped, documented
    path.write_text(text.replace("reminder_interval: 5\n", "reminder_interval: 10\n"),
                    encoding="utf-8")
    graph = load_escalation(path, directory)
    assert graph.reminder_interval == timedelta(minutes=10)
    clock = ManualClock(MON_0300)
    eng = make_engine(db_url, contacts, clock, graph)
    iid = eng.start("fire", "B3-1201", actor="chen.jie").id
    eng.act(iid, "confirm_alarm", actor="chen.jie", option="real_fire")
    walk(eng, clock, iid, 25)
    for person, got in overdue_rows(eng, iid).items():
        times = sorted(ts for ts, _ in got)
        assert all(b - a >= timedelta(minutes=10) for a, b in pairwise(times)), person
    # the digest is a timer on the incident's clock, shown like any other
    st = eng.state(iid)
    if any(s.open and s.overdue_fired for s in st.steps.values()):
        kinds = {t.kind for t in eng.timers(st)}
        assert DIGEST_KIND in kinds or all(
            sid in {x for p in st.pages for x in p.get("steps") or ()}
            for sid, s in st.steps.items() if s.open and s.overdue_fired)


def test_a_bad_interval_is_refused_with_its_line(contacts, tmp_path):
    from incident.errors import ValidationFailed

    directory, _ = contacts
    text = (CONTACTS / "escalation.yaml").read_text(encoding="utf-8")
    path = tmp_path / "escalation.yaml"
    line = text[:text.index("reminder_interval:")].count("\n") + 1
    path.write_text(text.replace("reminder_interval: 5\n", "reminder_interval: 0\n"),
                    encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_escalation(path, directory)
    assert "reminder interval" in str(exc.value) and f"escalation.yaml:{line}" in str(exc.value)
