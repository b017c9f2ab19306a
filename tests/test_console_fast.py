"""The console at 3 a.m., driven by Pilot: keys sent in a burst (faster than any screen
appears) land where they were meant; the start line; the duplicate guard; the next-due
key; one state once resolved; a checkbox that reads right."""

from __future__ import annotations

from typing import Any

from test_console import build, goto, make_runtime, poke, run, settle, state, text_of
from textual import events

CHARS = {"enter": "\r", "ctrl+j": "\n", "minus": "-", "space": " "}


def key_event(k: str) -> events.Key:
    return events.Key(k, CHARS.get(k, k if len(k) == 1 else None))


async def burst(pilot: Any, keys: list[str]) -> None:
    """Post every key at once, as a barcode-style paste or a practised officer does:
    nothing waits for the screens the keys bring up."""
    for k in keys:
        pilot.app.post_message(key_event(k))
    await settle(pilot)
    await pilot.pause(0.3)
    await settle(pilot)


def keys_of(text: str) -> list[str]:
    return ["minus" if c == "-" else "space" if c == " " else c for c in text]


README_KEYS = ["n", *keys_of("fire"), "enter", *keys_of("B3-1201"), "enter", "enter"]


async def type_at_30ms(pilot: Any, keys: list[str]) -> None:
    """Keys as a terminal sends them, 30 ms apart (an officer who knows the keys)."""
    for k in keys:
        key = key_event(k)
        key.set_sender(pilot.app)
        pilot.app.post_message(key)
        await pilot.pause(0.03)


def test_readme_start_keys_in_one_burst_start_the_right_incident(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await burst(pilot, README_KEYS)
            from incident.console.screens.incident import IncidentScreen

            assert isinstance(app.screen, IncidentScreen), app.screen
            st = state(pilot)
            assert (st.playbook.id, st.location) == ("fire", "B3-1201")
            # it opens on the most urgent step: the fire team, due in a minute
            assert app.screen.current_step == "send_fire_team"
            assert "Due now" in str(app.screen.query_one("#steps").get_option("head:now").prompt)

    try:
        run(go())
    finally:
        rt.close()


def test_one_line_starts_in_chinese_and_keys_after_the_start_reach_the_incident(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot, 2)
            app.screen.query_one("#start-line").insert_text_at_cursor("火警 3号楼12层")
            await pilot.pause()
            assert "Building 3, 12F" in text_of(app, "#proposal")
            # Enter checks, Enter starts; `w` and a note typed at once go to the note,
            # not to the step list (a "d" in the note must not mark a step done)
            await burst(pilot, ["enter", "enter", "w", *keys_of("brigade on road"), "enter"])
            st = state(pilot)
            assert st.location == "B3 12F"
            assert [n["text"] for n in st.notes] == ["brigade on road"]
            assert all(not s.settled for s in st.steps.values() if s.status != "pending"
                       and s.status != "excluded")

    try:
        run(go())
    finally:
        rt.close()


def test_a_second_start_in_the_same_building_offers_to_join(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")
    first = rt.engine.start("fire", "B3-1201", actor="liu.yang").id

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await burst(pilot, ["n", *keys_of("fire B3-1505"), "enter", "enter"])
            from incident.console.screens.dialogs import JoinModal
            from incident.console.screens.incident import IncidentScreen

            assert isinstance(app.screen, JoinModal)
            text = str(app.screen.query_one("#join-text").content)
            assert first in text and "Liu Yang" in text  # who owns the open one
            await pilot.press("enter")  # join: the default
            await settle(pilot)
            assert isinstance(app.screen, IncidentScreen) and app.screen.incident_id == first
            assert len(rt.store.incidents()) == 1
            # a separate one when the officer says so
            await burst(pilot, ["n", *keys_of("fire B3-1505"), "enter", "enter"])
            assert isinstance(app.screen, JoinModal)
            await pilot.press("s")
            await settle(pilot)
            rows = rt.store.incidents()
            assert len(rows) == 2 and app.screen.incident_id != first

    try:
        run(go())
    finally:
        rt.close()


def test_next_due_key_goes_to_the_overdue_step_and_resolved_stops_the_clocks(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            iid = rt.engine.start("fire", "B3-1201", actor=app.user).id
            app.open_incident(iid)
            await settle(pilot)
            rt.clock.advance("2m")  # the fire team (1 min) is overdue, the alarm (3 min) not
            await poke(pilot)
            await goto(pilot, "confirm_alarm")
            await pilot.press("u")
            await pilot.pause()
            assert app.screen.current_step == "send_fire_team"
            steps = app.screen.query_one("#steps")
            # overdue shows as a badge; the title keeps the row's colours (no red on blue)
            overdue = str(steps.get_option("send_fire_team").prompt)
            assert "#000000 on $error" in overdue and "!!" in overdue  # black on red
            assert not overdue.startswith("[$error]")
            assert steps.highlighted <= 2  # at the top, under "Due now"
            # resolve: the header shows one state, and the countdowns stop
            await pilot.press("r")
            await pilot.pause()
            box = app.screen.query_one("#f-force")
            assert not box.value and "✔" not in str(box.render())  # off reads as off
            await pilot.press("tab", "space")
            assert box.value and "✔" in str(box.render())
            app.screen.query_one("#f-summary").value = "out"
            await pilot.press("ctrl+s")
            await settle(pilot)
            header = text_of(app, "#inc-header")
            assert "RESOLVED" in header and "LIVE" not in header
            prompt = str(steps.get_option("send_fire_team").prompt)
            rt.clock.advance("5m")
            app.screen.tick_clock()
            assert str(steps.get_option("send_fire_team").prompt) == prompt
            assert "!!" not in prompt

    try:
        run(go())
    finally:
        rt.close()


def test_n_means_new_incident_on_every_screen_and_help_lists_every_key(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            iid = rt.engine.start("fire", "B3-1201", actor=app.user).id
            app.open_incident(iid)
            await settle(pilot)
            shown = {b.binding.key for b in app.screen.active_bindings.values()
                     if b.binding.show}
            assert {"u", "d", "w", "a", "E", "r", "f2", "question_mark"} <= shown
            assert "s" not in shown and "h" not in shown  # in the help overlay instead
            await pilot.press("question_mark")
            await pilot.pause()
            listed = str(app.screen.query_one("#help-keys").content)
            assert "Hand over" in listed and "Skip" in listed and "Next due" in listed
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("n")
            await settle(pilot)
            assert app.screen.id == "start"

    try:
        run(go())
    finally:
        rt.close()


def test_home_columns_adapt_to_the_width(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")
    rt.engine.start("elevator_entrapment", "B5", actor="chen.jie", drill=True)

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#active")
            keys = [c.value for c in table.columns]
            assert {"owner", "overdue", "pages"} <= set(keys) and "mode" not in keys
            width = sum(c.get_render_width(table) for c in table.columns.values())
            assert width <= 78  # nothing cut off at 80 columns
            assert "DRILL" in str(table.get_row_at(0)[1])
        async with build(rt, tmp_path, dispatcher=False).run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            keys = [c.value for c in pilot.app.screen.query_one("#active").columns]
            assert "mode" in keys and "location" in keys

    try:
        run(go())
    finally:
        rt.close()


def test_quick_start_key_a_fire_in_three_keys_besides_the_unit(tmp_path):
    rt = make_runtime(tmp_path / "incident.db")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "f Fire" in text_of(app, "#home-status")
            await burst(pilot, ["f", *keys_of("B3-1201"), "enter", "enter"])
            st = state(pilot)
            assert (st.playbook.id, st.location) == ("fire", "B3-1201")

    try:
        run(go())
    finally:
        rt.close()
