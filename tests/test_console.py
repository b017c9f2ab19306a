"""The duty officer's console, driven with Textual's Pilot.

Each test builds the app with `create_app(runtime)` on a fresh SQLite file, the
shipped playbooks and demo estate, and a ManualClock, then drives it by keys and
asserts on the engine's state and on what the screen shows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from incident.clock import ManualClock
from incident.config import Settings
from incident.credentials import CredentialStore
from incident.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)  # 03:00 in Shanghai
_SHARED: dict[str, Any] = {}


def _shared_core() -> tuple[Any, Any]:
    """The demo estate and shipped playbooks, loaded once for the module (read-only)."""
    if not _SHARED:
        from incident.directory import load_directory
        from incident.playbook import load_library

        directory = load_directory(REPO / "contacts")
        probe = Runtime(Settings(contacts_dir=REPO / "contacts"))
        _SHARED["directory"] = directory
        _SHARED["playbooks"] = load_library(REPO / "playbooks", directory, probe.channel_names)
    return _SHARED["directory"], _SHARED["playbooks"]


def make_runtime(db: Path, user: str = "chen.jie", clock: ManualClock | None = None,
                 lang: str = "en") -> Runtime:
    directory, playbooks = _shared_core()
    rt = Runtime(Settings(database_url=f"sqlite:///{db}", user=user, lang=lang,
                          playbooks_dir=REPO / "playbooks", contacts_dir=REPO / "contacts"),
                 clock or ManualClock(T0))
    rt.__dict__["directory"] = directory
    rt.__dict__["playbooks"] = playbooks
    return rt


@pytest.fixture
def runtime(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")
    yield rt
    rt.close()


def build(rt: Runtime, tmp_path: Path, **kw: Any):
    from incident.console import create_app

    kw.setdefault("heartbeat", 0)
    kw.setdefault("ui_state_path", tmp_path / "ui.json")
    kw.setdefault("keymap", {})
    return create_app(rt, **kw)


def run(coro) -> Any:
    return asyncio.run(coro)


async def settle(pilot, rounds: int = 8) -> None:
    """Let workers finish and their messages land (no sleeping on wall time)."""
    app = pilot.app
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running or w.state.name == "PENDING" for w in app.workers):
            break


async def poke(pilot) -> None:
    """What the heartbeat does every second: tick timers and reload if anything changed."""
    pilot.app.poke()
    await settle(pilot)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


async def type_text(pilot, text: str) -> None:
    """Type into the focused field: key by key for short text, else set it and press End
    (each simulated key waits for the app to go idle, which adds up)."""
    if len(text) <= 3:
        await pilot.press(*list(text))
        return
    field = pilot.app.focused
    field.insert_text_at_cursor(text)
    await pilot.pause()


async def open_new(pilot, playbook: str, location: str, **kw: Any) -> str:
    """Start an incident through the engine (as another console would) and open it."""
    app = pilot.app
    st = app.runtime.engine.start(playbook, location, actor=app.user, **kw)
    app.open_incident(st.id)
    await settle(pilot)
    return st.id


async def start_incident(pilot, query: str, location: str) -> str:
    """The quick path from the home screen: n, query, Enter, location, Enter, Enter."""
    await pilot.press("n")
    await settle(pilot, 2)
    await pilot.press(*query)
    await pilot.press("enter")
    await pilot.press(*location)
    await pilot.press("enter", "enter")
    await settle(pilot)
    from incident.console.screens.incident import IncidentScreen

    assert isinstance(pilot.app.screen, IncidentScreen), pilot.app.screen
    return pilot.app.screen.incident_id


async def goto(pilot, step_id: str) -> None:
    from incident.console.widgets.incident import StepList

    steps = pilot.app.screen.query_one("#steps", StepList)
    steps.focus()
    steps.highlighted = steps.get_option_index(step_id)
    await pilot.pause()


def state(pilot):
    scr = pilot.app.incident_screens()[0]
    return pilot.app.runtime.engine.state(scr.incident_id)


async def skip(pilot, step_id: str, reason: str = "not needed here") -> None:
    await goto(pilot, step_id)
    await pilot.press("s")
    await pilot.pause()
    await type_text(pilot, reason)
    await pilot.press("enter")
    await settle(pilot)


# ---- walks ----------------------------------------------------------------------------------

def test_fire_walk_from_alarm_to_resolution(runtime, tmp_path):
    async def walk():
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.ready
            iid = await start_incident(pilot, "fire", "B3-1201")
            st = state(pilot)
            assert st.playbook.id == "fire" and st.location == "B3-1201"
            assert st.severity == st.playbook.default_severity
            assert st.owner == "chen.jie"
            # the screen opens on the most urgent step (due in 1 minute)
            assert "Send the site fire team" in text_of(app, "#card-body")
            # the card shows the current step with its options
            await goto(pilot, "confirm_alarm")
            assert "Confirm the alarm" in text_of(app, "#card-body")
            assert "Real fire" in text_of(app, "#card-body")
            header = text_of(app, "#inc-header")
            assert iid in header and "unit 1201" in header and "LIVE" in header

            await pilot.press("1")  # real fire
            await settle(pilot)
            assert state(pilot).steps["confirm_alarm"].option == "real_fire"
            # a real fire proposes level 2: asked once, Enter raises
            assert app.screen.id == "severity-ask-modal"
            await pilot.press("enter")
            await settle(pilot)
            assert state(pilot).severity == 2

            await goto(pilot, "call_119")
            assert "119" in text_of(app, "#card-body")
            await pilot.press("d")
            await settle(pilot)
            assert state(pilot).steps["call_119"].status == "done"

            await goto(pilot, "send_fire_team")  # dispatch: start, then arrived
            await pilot.press("d")
            await settle(pilot)
            assert state(pilot).steps["send_fire_team"].status == "in_progress"
            await pilot.press("d")
            await settle(pilot)
            assert state(pilot).steps["send_fire_team"].status == "done"

            # record: a refused value stays in the field; a good one is recorded
            await goto(pilot, "fire_details")
            await pilot.press("d")
            await pilot.pause()
            assert app.focused is not None and app.focused.id == "card-value"
            await type_text(pilot, "kitchen, small flames")
            await pilot.press("enter")
            await settle(pilot)
            assert state(pilot).values["fire_details"] == "kitchen, small flames"

            # notify with preview: message per language, SMS parts, audience per channel
            await goto(pilot, "notify_fire_floors")
            await pilot.press("d")
            await settle(pilot)
            from incident.console.screens.notify import NotifyPreviewScreen

            assert isinstance(app.screen, NotifyPreviewScreen)
            audience = text_of(app, "#pv-audience")
            assert "recipients" in audience and "sms" in audience
            assert "SMS:" in text_of(app, "#pv-messages")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, NotifyPreviewScreen)
            st = state(pilot)
            assert st.steps["notify_fire_floors"].status == "done"
            assert st.notifications["notify_fire_floors"]["messages"] > 0

            # a note is one key away (w: n is "new incident" on every screen)
            await pilot.press("w")
            await type_text(pilot, "brigade arriving from the east gate")
            await pilot.press("enter")
            await settle(pilot)
            assert state(pilot).notes[-1]["text"] == "brigade arriving from the east gate"

            # hand over and back
            await pilot.press("h")
            await pilot.pause()
            await type_text(pilot, "liu.yang")
            await pilot.press("enter", "enter")
            await settle(pilot)
            assert state(pilot).owner == "liu.yang"
            assert "Liu Yang" in text_of(app, "#inc-header")

            # resolving with open steps is refused; the summary stays typed
            await pilot.press("r")
            await pilot.pause()
            await type_text(pilot, "fire out, no injuries")
            await pilot.press("ctrl+s")
            await settle(pilot)
            from incident.console.screens.dialogs import FormModal

            assert isinstance(app.screen, FormModal)
            assert "still open" in text_of(app, "#form-error")
            assert app.screen.query_one("#f-summary").value == "fire out, no injuries"
            await pilot.press("escape")
            await pilot.pause()

            # the gate: done by one, confirmed by a second person
            for sid in ("pa_fire_floors", "meet_brigade", "fire_out"):
                await goto(pilot, sid)
                await pilot.press("d")
                await settle(pilot)
            await goto(pilot, "restore_systems")
            await pilot.press("d")
            await settle(pilot)
            assert state(pilot).steps["restore_systems"].status == "awaiting_confirmation"
            assert "second person" in text_of(app, "#card-body")
            await pilot.press("c")
            await pilot.pause()
            await type_text(pilot, "chen.jie")  # the same person: refused, stays typed
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            assert "second person" in text_of(app, "#form-error")
            who = app.screen.query_one("#f-who")
            assert who.value == "chen.jie"
            gate_role = state(pilot).playbook.steps()["restore_systems"].gate.role
            confirmer = next(p.id for p in runtime.directory.staff.values()
                             if p.id != "chen.jie" and (gate_role is None or gate_role in p.roles))
            who.value = confirmer
            await pilot.press("ctrl+s")  # a typed name alone proves nothing: refused
            await settle(pilot)
            assert isinstance(app.screen, FormModal)
            assert "PIN" in text_of(app, "#form-error")
            CredentialStore(runtime.settings.credentials_path).set(confirmer, "4321")
            app.screen.query_one("#f-pin").value = "1111"  # a wrong PIN: refused
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "wrong PIN" in text_of(app, "#form-error")
            assert state(pilot).steps["restore_systems"].status == "awaiting_confirmation"
            app.screen.query_one("#f-pin").value = "4321"  # their own PIN
            await pilot.press("ctrl+s")
            await settle(pilot)
            st = state(pilot)
            assert st.steps["restore_systems"].status == "done"
            assert st.steps["restore_systems"].confirmed_by == confirmer

            await skip(pilot, "cordon", "brigade set up its own cordon")
            assert state(pilot).steps["cordon"].reason == "brigade set up its own cordon"

            # resolve with open steps: force, the summary already typed is still there
            await pilot.press("r")
            await pilot.pause()
            assert app.screen.query_one("#f-summary").value == "fire out, no injuries"
            app.screen.query_one("#f-force").value = True
            await pilot.press("ctrl+s")
            await settle(pilot)
            st = state(pilot)
            assert st.status == "resolved" and st.summary == "fire out, no injuries"
            assert "RESOLVED" in text_of(app, "#inc-header")
            log = " ".join(line.strip() for line in app.screen.query_one("#timeline-log").lines)
            assert "resolved the incident: fire out, no injuries" in log
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.id == "home"
            assert app.screen.query_one("#closed").row_count == 1
            assert app.screen.query_one("#active").row_count == 0

    run(walk())


def test_power_outage_walk_in_chinese(runtime, tmp_path):
    async def walk():
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("f2")  # 中文
            await pilot.pause()
            assert app.lang == "zh"
            await pilot.press("n")
            await settle(pilot, 2)
            await type_text(pilot, "停电")
            await pilot.press("enter", "B", "5", "enter", "enter")
            await settle(pilot)
            st = state(pilot)
            assert st.playbook.id == "power_outage" and st.location_detail["building"] == "B5"
            assert "停电" in text_of(app, "#inc-header")
            await goto(pilot, "outage_scope")
            await pilot.press("1")  # one building
            await settle(pilot)
            await goto(pilot, "dispatch_electrician")
            await pilot.press("d", "d")
            await settle(pilot)
            await goto(pilot, "cause")
            await pilot.press("1")  # the grid
            await settle(pilot)
            await goto(pilot, "call_utility")
            await pilot.press("d")
            await type_text(pilot, "State Grid ticket 4471")
            await pilot.press("enter")
            await settle(pilot)
            await goto(pilot, "restoration_eta")
            await pilot.press("d")
            await type_text(pilot, "05:30")
            await pilot.press("enter")
            await settle(pilot)
            await goto(pilot, "long_outage")
            await pilot.press("1")  # short
            await settle(pilot)
            await goto(pilot, "short_notice_building")
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert state(pilot).steps["short_notice_building"].status == "done"
            await goto(pilot, "restore_power")
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("c")
            await pilot.pause()
            electrician = runtime.directory.holders("electrician")[0].id
            CredentialStore(runtime.settings.credentials_path).set(electrician, "8642")
            await type_text(pilot, electrician)
            await pilot.press("tab")
            await type_text(pilot, "8642")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert state(pilot).steps["restore_power"].confirmed_by == electrician
            await pilot.press("r")
            await pilot.pause()
            await type_text(pilot, "供电已恢复，后续步骤移交白班")
            await pilot.press("tab", "space")  # force: steps left for the day shift
            await pilot.press("ctrl+s")
            await settle(pilot)
            st = state(pilot)
            assert st.status == "resolved"
            assert st.steps["outage_scope"].option == "one_building"
            assert "已结束" in text_of(app, "#inc-header")

    run(walk())


# ---- behaviour ----------------------------------------------------------------------------------

def test_restart_comes_back_to_the_open_incident_and_step(runtime, tmp_path):
    async def first():
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            iid = await open_new(pilot, "elevator_entrapment", "B2-801")
            await goto(pilot, "call_maintenance")
            await pilot.press("right_square_bracket")  # the messages panel
            await pilot.pause()
            return iid

    iid = run(first())

    async def second():
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            from incident.console.screens.incident import IncidentScreen

            assert isinstance(app.screen, IncidentScreen)
            assert app.screen.incident_id == iid
            assert app.screen.current_step == "call_maintenance"
            assert app.screen.query_one("#panels").active == "messages"
            await pilot.press("escape")
            await settle(pilot)

    run(second())

    async def third():  # left on home: stays on home
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.screen.id == "home"
            assert app.screen.query_one("#active").row_count == 1

    run(third())


def test_keys_pressed_while_an_incident_loads_are_kept(runtime, tmp_path):
    """Open an incident and press 1 at once, before its first snapshot has arrived."""
    import threading

    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            engine = runtime.engine
            iid = engine.start("fire", "B3-1201", actor=app.user).id
            read = engine.state
            gate = threading.Event()

            def slow_read(incident_id):  # a slow database: the first snapshot is late
                gate.wait(10)
                return read(incident_id)

            engine.state = slow_read
            try:
                app.open_incident(iid, "confirm_alarm")  # else it opens on the most urgent
                for _ in range(50):
                    await pilot.pause()
                    if app.incident_screens():
                        break
                scr = app.incident_screens()[0]
                await pilot.press("1")
                assert scr.state is None  # still loading: held, not lost and not yet acted
                assert read(iid).steps["confirm_alarm"].option is None
            finally:
                engine.state = read
                gate.set()
            await settle(pilot)
            st = read(iid)
            assert st.steps["confirm_alarm"].option == "real_fire"
            assert st.steps["confirm_alarm"].done_by == app.user
            assert "✔ Confirm the alarm" in str(scr.query_one("#steps").get_option("confirm_alarm")
                                                .prompt)

    run(go())


def test_a_second_console_sees_the_first_consoles_actions(runtime, tmp_path):
    other = make_runtime(tmp_path / "incident.db", user="liu.yang", clock=runtime.clock)

    async def go():
        app = build(runtime, tmp_path, heartbeat=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            st = other.engine.start("fire", "B3 12F", actor="liu.yang")
            for _ in range(40):  # the heartbeat notices within a beat or two
                await asyncio.sleep(0.05)
                await pilot.pause()
                if app.screen.query_one("#active").row_count:
                    break
            assert app.screen.query_one("#active").row_count == 1
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.incident_id == st.id
            other.engine.act(st.id, "confirm_alarm", actor="liu.yang", option="false_alarm")
            for _ in range(40):
                await asyncio.sleep(0.05)
                await pilot.pause()
                if app.screen.state.steps["confirm_alarm"].status == "done":
                    break
            assert app.screen.state.steps["confirm_alarm"].option == "false_alarm"
            log = " ".join(line.strip() for line in app.screen.query_one("#timeline-log").lines)
            assert "Liu Yang marked “Confirm the alarm by the fastest means” done: False alarm" \
                in log

    try:
        run(go())
    finally:
        other.close()


def test_timers_count_down_turn_amber_then_red_and_fire(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await open_new(pilot, "fire", "B3-1201")
            timers = text_of(app, "#timers-text")
            assert "Alarm confirmed or ruled out" in timers and "03:00" in timers
            runtime.clock.advance("2m30s")
            app.screen.tick_clock()
            assert "[$warning]00:30[/]" in text_of(app, "#timers-text")
            runtime.clock.advance("1m")
            await poke(pilot)  # the heartbeat ticks the engine: the target is missed
            st = state(pilot)
            assert "target_missed:alarm_confirmed" in st.fired
            assert "MISSED" in text_of(app, "#timers-text")
            assert "Overdue" in text_of(app, "#inc-header")
            await pilot.press("escape")
            await settle(pilot)
            table = app.screen.query_one("#active")
            row = table.get_row_at(0)
            overdue = list(table.columns).index("overdue")  # columns adapt to the width
            assert row[overdue] not in ("", "0")

    run(go())


def test_escalation_panel_pages_and_acknowledge(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await open_new(pilot, "fire", "B3-1201")
            st = state(pilot)
            assert app.features["escalation"], "the shipped estate has an escalation ladder"
            assert st.pages, "the fire playbook pages at start"
            pages = text_of(app, "#pages-text")
            assert "NOT ACKNOWLEDGED" in pages
            assert "Escalate" in pages or "escalat" in pages.lower()
            await pilot.press("a")
            await settle(pilot)
            assert not state(pilot).unacked_pages()
            assert "acked by" in text_of(app, "#pages-text")
            await pilot.press("E")
            await pilot.pause()
            await pilot.press("tab")
            await type_text(pilot, "fire spreading")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert any(p.get("reason") == "fire spreading" for p in state(pilot).pages) or \
                state(pilot).pages

    run(go())


def test_delivery_panel_and_recipient_drill_down(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await open_new(pilot, "fire", "B3-1201")
            await goto(pilot, "confirm_alarm")  # it opens on the most urgent step
            await pilot.press("1")
            await settle(pilot)
            await pilot.press("escape")  # keep the level (the proposal is asked once)
            await settle(pilot)
            await goto(pilot, "notify_building")
            st = state(pilot)
            assert st.steps["notify_building"].status == "pending"
            await goto(pilot, "notify_fire_floors")
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            if app.dispatcher is not None:
                app.dispatcher.stop()
                app.dispatcher.run_until_idle(timeout=20)
            await poke(pilot)
            from incident.console.widgets.incident import ChannelRow

            rows = list(app.screen.query(ChannelRow))
            assert rows, "a progress bar per channel"
            bar = rows[0].query_one("ProgressBar")
            assert bar.total >= 1
            if app.features["dispatcher"]:
                assert bar.progress == bar.total
            await pilot.press("m")
            await settle(pilot)
            from incident.console.screens.notify import RecipientsScreen

            assert isinstance(app.screen, RecipientsScreen)
            table = app.screen.query_one("#rc-table")
            assert table.row_count == st.notifications.get("notify_fire_floors", {}).get(
                "messages", table.row_count) or table.row_count > 0
            await pilot.press("escape")

    run(go())


def test_start_screen_refuses_bad_input_clearly_and_keeps_it(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot, 2)
            await type_text(pilot, "fire")
            await pilot.press("enter")
            await type_text(pilot, "B3-9999")
            await pilot.press("enter")
            await pilot.pause()
            assert "unknown unit" in text_of(app, "#proposal")
            assert app.screen.query_one("#start-line").value == "fire B3-9999"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen.id == "start"
            # completion: typing a prefix of the place offers the unit
            line = app.screen.query_one("#start-line")
            line.value = "fire "
            line.cursor_position = len(line.value)
            await type_text(pilot, "b3-120")
            await pilot.pause(0.1)
            assert line._suggestion.upper().startswith("FIRE B3-120")
            await pilot.press("right")  # accept the suggestion
            assert line.value.upper().startswith("FIRE B3-120")
            assert "unit" in text_of(app, "#proposal")
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.id == "home"

    run(go())


def test_language_theme_palette_and_small_terminal(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await open_new(pilot, "fire", "B3-1201")
            # everything that matters is on screen at 80x24
            for sel in ("#inc-header", "#steps", "#card", "#panels"):
                region = app.screen.query_one(sel).region
                assert region.width > 0 and region.height > 0, sel
                assert region.right <= 80 and region.bottom <= 24, sel
            await pilot.press("f2")
            await pilot.pause()
            assert "派微型消防站到报警点" in text_of(app, "#card-body").split("\n")[0]
            footer = {b.binding.description for b in app.screen.active_bindings.values()}
            assert "跳过" in footer
            await pilot.press("f3")
            await pilot.pause()
            assert app.theme == "incident-high-contrast"
            await pilot.press("ctrl+p")
            await pilot.pause()
            await type_text(pilot, "发起事件")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.id == "start"

    run(go())
    ui = (tmp_path / "ui.json").read_text(encoding="utf-8")
    assert "incident-high-contrast" in ui and '"zh"' in ui


def test_keymap_remaps_a_binding(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path, keymap={"home.new": "ctrl+n"}, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await pilot.pause()
            assert app.screen.id == "home"
            await pilot.press("ctrl+n")
            await settle(pilot, 2)
            assert app.screen.id == "start"

    run(go())


def test_failures_become_messages_not_tracebacks(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)

            def boom():
                raise RuntimeError("disk on fire")

            app.run_op(app, "test", boom)
            await settle(pilot)
            assert any("disk on fire" in n.message for n in app._notifications)

    run(go())


def test_broken_core_shows_a_modal(tmp_path):
    bad = tmp_path / "playbooks"
    bad.mkdir()
    (bad / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n", encoding="utf-8")
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", playbooks_dir=bad,
                          contacts_dir=REPO / "contacts"), ManualClock(T0))
    rt.__dict__["directory"] = _shared_core()[0]

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            from incident.console.screens.dialogs import ErrorModal

            assert isinstance(app.screen, ErrorModal)
            assert "broken.yaml" in text_of(app, "#error-message")
            await pilot.press("escape")  # keys are no longer held once loading has failed
            await pilot.pause()
            assert not isinstance(app.screen, ErrorModal)

    try:
        run(go())
    finally:
        rt.close()


def test_directory_screen_on_duty_search_and_chain(runtime, tmp_path):
    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("D")  # d is "done" on the incident screen: D everywhere
            await settle(pilot)
            assert app.screen.id == "directory-screen"
            assert app.screen.query_one("#on-duty").row_count == len(runtime.directory.roles)
            await type_text(pilot, "wei.dong")
            await settle(pilot)
            assert app.screen.query_one("#dir-results").row_count >= 1
            chain = text_of(app, "#dir-chain")
            assert chain.strip()
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.id == "home"

    run(go())


def test_console_never_imports_sqlalchemy_or_apprise():
    import ast

    pkg = REPO / "incident" / "console"
    for path in [*pkg.rglob("*.py"), REPO / "incident" / "cli_console.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in ("sqlalchemy", "apprise"), (path, n)


def test_a_broken_escalation_ladder_shows_a_modal_naming_file_and_line(tmp_path):
    """The console does not show an escalation panel over a ladder that is silently off."""
    import shutil

    contacts = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", contacts)
    path = contacts / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    to: [project_manager, service_manager]",
        "    to: [project_manager, service_manger]"), encoding="utf-8")
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                          playbooks_dir=REPO / "playbooks", contacts_dir=contacts),
                 ManualClock(T0))
    rt.__dict__["directory"] = _shared_core()[0]
    rt.__dict__["playbooks"] = _shared_core()[1]

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            from incident.console.screens.dialogs import ErrorModal

            assert isinstance(app.screen, ErrorModal)
            shown = text_of(app, "#error-message")
            assert "escalation.yaml:42:27" in shown and "edges[2].to[1]" in shown
            assert "service_manger" in shown

    try:
        run(go())
    finally:
        rt.close()


def test_a_warning_while_the_console_runs_shows_in_its_log_panel(runtime, tmp_path):
    """stderr is captured inside the console: a warning goes to the log panel (F4) and
    the rotating file instead of being lost."""
    import logging

    async def go():
        app = build(runtime, tmp_path, dispatcher=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            logging.getLogger("incident.notify").warning("sms gateway slow: 12 s a message")
            await settle(pilot)
            assert any("F4" in n.message and "sms gateway slow" in n.message
                       for n in app._notifications)
            await pilot.press("f4")
            await settle(pilot)
            from incident.console.screens.log import LogScreen

            assert isinstance(app.screen, LogScreen)
            assert "WARNING incident.notify: sms gateway slow" in text_of(app, "#log-lines")
            logging.getLogger("incident.service").error("timer sweep failed")
            await settle(pilot)
            assert "ERROR incident.service: timer sweep failed" in text_of(app, "#log-lines")
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(app.screen, LogScreen)
            path = app.log_path
        assert path is not None and "sms gateway slow" in path.read_text(encoding="utf-8")

    run(go())
