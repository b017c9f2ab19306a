"""The console shows what reached people: the notify step's card and the messages panel
count its own messages per recipient, and "R" sends again what failed for good.

The estate's SMS channel points at a real loopback SMSEagle gateway that is down,
then back.
"""

from __future__ import annotations

import shutil

from fixtures_notify import ENV
from test_console import REPO, T0, _shared_core, build, goto, open_new, poke, run, settle, text_of

from incident.clock import ManualClock
from incident.config import Settings
from incident.runtime import Runtime


def _runtime(tmp_path, smseagle, monkeypatch) -> Runtime:
    contacts = tmp_path / "contacts"
    shutil.copytree(REPO / "contacts", contacts)
    (contacts / "channels.yaml").write_text(
        "defaults:\n  retries: 0\n  timeout: 2s\nchannels:\n"
        f'  sms:\n    url: "smseagle://${{SMSEAGLE_TOKEN}}@127.0.0.1:{smseagle.port}/{{phone}}"\n'
        '  email:\n    url: "sink://email/{email}"\n  chat:\n    url: "sink://chat/{chat}"\n',
        encoding="utf-8")
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    directory, playbooks = _shared_core()
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'incident.db'}", user="chen.jie",
                          lang="en", playbooks_dir=REPO / "playbooks", contacts_dir=contacts),
                 ManualClock(T0))
    rt.__dict__["directory"] = directory
    rt.__dict__["playbooks"] = playbooks
    return rt


def test_card_and_panel_show_delivery_and_retry_sends_again(tmp_path, smseagle, monkeypatch):
    rt = _runtime(tmp_path, smseagle, monkeypatch)
    smseagle.refuse()

    async def go():
        app = build(rt, tmp_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            iid = await open_new(pilot, "fire", "B3-1201")
            await goto(pilot, "confirm_alarm")  # it opens on the most urgent step
            await pilot.press("1")  # real fire
            await settle(pilot)
            await pilot.press("escape")  # keep the level (the proposal is asked once)
            await settle(pilot)
            await goto(pilot, "notify_fire_floors")
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.dispatcher is not None
            app.dispatcher.stop()  # deliver on this thread, not on the console's timing
            from incident.notify import build_dispatcher

            with build_dispatcher(rt) as d:
                d.run_until_idle(timeout=20)
            await poke(pilot)
            await goto(pilot, "notify_fire_floors")
            await settle(pilot)
            tl = next(d for d in app.screen.delivery if d.step_id == "notify_fire_floors").tally
            assert tl.recipients > 0 and tl.delivered < tl.recipients and tl.failed > 0
            card = text_of(app, "#card-body")
            assert f"delivered {tl.delivered}/{tl.recipients}" in card
            assert f"failed for good {tl.failed}" in card and "R: retry failed" in card
            assert "Queued:" not in card
            note = text_of(app, "#delivery-note")
            assert f"{tl.failed} recipient(s) not reached on any channel" in note
            # the step's own messages come before any escalation page
            assert app.screen.delivery[0].step_id == "notify_fire_floors"
            st = rt.engine.state(iid)
            assert st.targets["owners_warned"].met_at is None
            assert app.screen.check_action("retry_failed", ()) is True

            smseagle.accept()
            await pilot.press("R")
            await settle(pilot)
            with build_dispatcher(rt) as d:  # the console's own one was stopped above
                d.run_until_idle(timeout=20)
            await poke(pilot)
            await goto(pilot, "notify_fire_floors")
            await settle(pilot)
            tl = next(d for d in app.screen.delivery if d.step_id == "notify_fire_floors").tally
            assert tl.failed == 0 and tl.delivered == tl.recipients
            assert f"delivered {tl.recipients}/{tl.recipients}" in text_of(app, "#card-body")
            assert app.screen.check_action("retry_failed", ()) is False
            st = rt.engine.state(iid)
            assert st.targets["owners_warned"].met_at is not None
            assert st.targets["owners_warned"].reached == (tl.recipients, tl.recipients)
            assert len(smseagle.messages()) == len({m.to for m in smseagle.messages()})

    try:
        run(go())
    finally:
        rt.close()
