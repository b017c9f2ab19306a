

def test_a_playbook_promise_step_becomes_a_timer_until_reported_back(db_url, tmp_path):
    import shutil

    from incident.clock import format_duration  # noqa: F401 — keeps the import honest

    src = Path(__file__).parent / "data" / "playbooks" / "mini.yaml"
    text = src.read_text("utf-8").replace(
        "      - id: call_119\n",
        "      - id: promise\n"
        "        kind: record\n"
        "        title: {en: Promise the reporter a time, zh: 向报事人承诺处理时限}\n"
        "        record: {name: promised, type: text}\n"
        "        promise: {report_back: sms, default: 1h}\n"
        "      - id: call_119\n", 1)
    folder = tmp_path / "pbs"
    folder.mkdir()
    (folder / "mini.yaml").write_text(text, "utf-8")
    shutil.copy(src.parent / "escalation_ladder.yaml", folder / "ladder.yaml") \
        if False else None
    rt = Runtime(load_settings(database_url=db_url, playbooks_dir=folder),
                 clock=ManualClock(FRIDAY_10AM))
    try:
        engine = rt.engine
        st = engine.start("mini", "B3-1201", actor="chen.jie", reporter="Wang Li",
                          reporter_contact={"phone": "13812345678"}, channel="hotline")
        st = engine.act(st.id, "promise", actor="chen.jie", value="2h")
        assert st.promise is not None and st.promise.via == "sms"
        assert st.promise.due_at == FRIDAY_10AM + timedelta(hours=2)
        assert any(t.kind == "promise_due" for t in st.timers())
        rt.clock.advance("2h1m")
        assert any(p["kind"] == "promise_due" for _i, p in engine.tick())
        st = fu.report_back(engine, st.id, actor="chen.jie", text="水管已修好")
        assert st.promise.reported_at == rt.clock.now()
        assert not any(t.kind == "promise_due" for t in st.timers())
        rows = rt.store.outbox_rows(st.id, step_id="report_back")
        assert [r.body for r in rows] == ["水管已修好"] and rows[0].channel == "sms"
    finally:
        rt.close()
