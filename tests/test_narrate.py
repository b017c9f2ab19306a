"""Every event told once, as a sentence in the reader's language (incident.narrate).

A kind added to the log without a sentence fails here; so does internal text
(`step=confirm_alarm`) in English or an English word in the Chinese log.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from incident import i18n
from incident.cli import main
from incident.directory import load_directory
from incident.engine import aftercare as ac
from incident.engine import events as ev
from incident.names import Names
from incident.narrate import KINDS, describe, duration
from incident.playbook import load_library

REPO = Path(__file__).resolve().parent.parent
KEY_VALUE = re.compile(r"\b\w+=\S")


def all_kinds() -> set[str]:
    """Every event kind constant: the engine's, the drills' (same module) and aftercare's."""
    found = {v for k, v in vars(ev).items()
             if k.isupper() and isinstance(v, str) and "." in v}
    found |= {v for k, v in vars(ac).items()
              if k.isupper() and isinstance(v, str) and "." in v and v in ac.EVENTS}
    return found


# One typical payload per kind, as the code that appends it writes it.
SAMPLES: dict[str, tuple[str, dict]] = {
    ev.INCIDENT_STARTED: ("chen.jie", {
        "playbook_id": "fire", "location": "B3-1201", "severity": 2, "drill": True,
        "reporter": "chen.jie", "first_receiver": "liu.yang", "received_at":
        "2026-01-05T02:57:00+00:00", "channel": "hotline", "inputs": {}}),
    ev.INCIDENT_RESOLVED: ("chen.jie", {"summary": "", "open_steps": ["call_119"]}),
    ev.INCIDENT_REOPENED: ("chen.jie", {"reason": "复燃"}),
    ev.SEVERITY_CHANGED: ("chen.jie", {"from": 3, "to": 2, "reason": ""}),
    ev.OWNER_CHANGED: ("chen.jie", {"from": "chen.jie", "to": "liu.yang", "reason": ""}),
    ev.NOTE_ADDED: ("chen.jie", {"text": "烟雾", "step": "call_119"}),
    ev.STEP_STARTED: ("chen.jie", {"step": "send_fire_team", "track": "response",
                                   "to": "security_supervisor",
                                   "arrive_by": "2026-01-05T03:05:00+00:00"}),
    ev.STEP_DONE: ("chen.jie", {"step": "confirm_alarm", "option": "real_fire"}),
    ev.STEP_SKIPPED: ("chen.jie", {"step": "call_119", "reason": "已报"}),
    ev.STEP_AWAITING: ("chen.jie", {"step": "confirm_alarm", "option": "false_alarm"}),
    ev.STEP_CONFIRMED: ("liu.yang", {"step": "confirm_alarm"}),
    ev.REPORT_DONE: ("chen.jie", {"report": "l2_manager_phone", "note": ""}),
    ev.TIMER_FIRED: ("system", {"timer": "step_overdue:call_119", "kind": "step_overdue",
                                "label": {"en": "Call 119 now is overdue",
                                          "zh": "立即拨打119报警已超时"},
                                "late": True, "late_by_s": 3720, "step": "call_119"}),
    ev.NOTIFY_QUEUED: ("chen.jie", {"step": "start_internal_plan", "recipients": 12,
                                    "messages": 13, "channels": {"sms": 12, "email": 1},
                                    "unreachable": 1, "unreachable_ids": ["x"]}),
    ev.NOTIFY_RETRIED: ("chen.jie", {"step": "start_internal_plan", "channel": "sms",
                                     "recipients": 2, "messages": 2}),
    ev.DELIVERY_PROGRESS: ("system", {"step": "start_internal_plan", "recipients": 12,
                                      "delivered": 9, "waiting": 2, "failed": 1}),
    ev.PAGE_SENT: ("system", {"page": "P2", "node": "cs_supervisor", "role": "cs_supervisor",
                              "to": ["song.hui"], "trigger": "no_ack", "from_page": "P1",
                              "wait_s": 300, "reason": "no acknowledgement from duty_officer"}),
    ev.PAGE_ACKED: ("song.hui", {"page": "P2", "pages": ["P2"]}),
    ev.ROLLCALL_KNOCK: ("chen.jie", {"team": "security", "to": ["liu.yang"],
                                      "units": ["B3-1304", "B3-1305"]}),
    ev.REPLY_RECEIVED: ("song.hui", {"channel": "sms", "text": "1", "person_id": "song.hui",
                                     "purpose": "page", "answer": "ack", "acknowledged": "P2"}),
    ev.ESCALATION_RAISED: ("system", {"to": "cs_supervisor", "from": "duty_officer",
                                      "page": "P2", "auto": True}),
    ev.ESCALATION_SKIPPED: ("system", {"to": "branch_gm", "trigger": "no_ack",
                                       "reason": "nobody is rostered", "unreachable": []}),
    ev.DRILL_INJECT: ("system", {"inject": "i1", "headline": {"en": "Smoke on 12F",
                                                              "zh": "12层冒烟"},
                                 "fault": {"channel": "sms"}}),
    ev.DRILL_SCENARIO: ("chen.jie", {"scenario": "s1", "title": {"en": "Night fire",
                                                                 "zh": "夜间火警"},
                                     "speed": 2.0}),
    ev.DRILL_RATED: ("chen.jie", {"objective": "O1", "rating": "S", "comment": ""}),
    ev.DRILL_EVALUATION: ("chen.jie", {"type": "plan", "issue": "广播慢", "action": "培训",
                                       "owner": "liu.yang", "due": "2026-02-01"}),
    ac.FOLLOWUP_SCHEDULED: ("system", {"people": [{"who": "liu.yang", "name": "刘洋"}],
                                       "within_s": 86400}),
    ac.FOLLOWUP_RECORDED: ("chen.jie", {"who": "liu.yang", "reached": True,
                                        "satisfaction": 5, "note": ""}),
    ac.COMPLAINT_OPENED: ("chen.jie", {"complaint": "C1", "from": "liu.yang", "text": "太慢"}),
    ac.COMPLAINT_STEP: ("chen.jie", {"complaint": "C1", "step": "supervisor_told", "note": ""}),
    ac.COMPLAINT_CLOSED: ("chen.jie", {"complaint": "C1", "satisfaction": 4, "note": ""}),
    ac.PROMISE_MADE: ("system", {"due_at": "2026-01-05T05:00:00+00:00", "via": "sms"}),
    ac.REPORTED_BACK: ("chen.jie", {"via": "call", "note": ""}),
    ac.INCIDENT_CLOSED: ("chen.jie", {"reason": "callbacks and complaints done"}),
}


@pytest.fixture(scope="module")
def names() -> Names:
    directory = load_directory(REPO / "contacts")
    library = load_library(REPO / "playbooks", directory)
    return Names(directory, library.get("fire"))


def event(kind: str, actor: str, payload: dict) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, actor=actor, payload=payload)


def english_words(text: str) -> list[str]:
    """Latin words in a Chinese sentence, ids and codes aside (P2, C1, O1, 119)."""
    return [w for w in re.findall(r"[A-Za-z][A-Za-z-]+", text)
            if not re.fullmatch(r"[A-Z]+\d*", w)]


def test_every_event_kind_has_a_sentence():
    kinds = all_kinds()
    assert len(kinds) >= 32
    assert kinds <= KINDS, f"no sentence for {sorted(kinds - KINDS)}"
    assert kinds <= set(SAMPLES), f"add a sample for {sorted(kinds - set(SAMPLES))}"


def test_the_sentence_table_has_both_languages_with_the_same_fields():
    fmt = string.Formatter()
    catalogue = i18n.translations("en")._catalog  # the sentences are catalogue entries
    keys = [k for k in catalogue if isinstance(k, str)
            and k.split(".")[0] in ("event", "why", "skip", "count")]
    assert len(keys) > 90
    for key in keys:
        en, zh = i18n.t(key, "en"), i18n.t(key, "zh")
        assert en and zh and en != key and zh != key, key
        fields = [{f for _, f, _, _ in fmt.parse(text) if f} for text in (en, zh)]
        assert fields[0] == fields[1], key
        assert not english_words(zh.format(**{f: "" for f in fields[1]})), key


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_reads_as_a_sentence_in_both_languages(kind, names):
    actor, payload = SAMPLES[kind]
    en = describe(event(kind, actor, payload), names, "en")
    zh = describe(event(kind, actor, payload), names, "zh")
    assert en and zh and "\n" not in en + zh
    assert not KEY_VALUE.search(en), en
    assert en[0].isupper() or en[0] in "“", en
    assert not english_words(zh), zh


def test_sentences_a_reader_sees(names):
    def say(kind: str, lang: str) -> str:
        return describe(event(kind, *SAMPLES[kind]), names, lang)

    assert say(ev.STEP_DONE, "en") == \
        "Chen Jie marked “Confirm the alarm by the fastest means” done: Real fire or smoke"
    assert say(ev.STEP_DONE, "zh") == "陈杰完成“以最快方式确认火警”：真实火情（明火或烟雾）"
    assert say(ev.PAGE_SENT, "en") == ("Sent page P2 to Song Hui as Customer-service "
                                       "supervisor: page P1 was not acknowledged within "
                                       "5 minutes")
    assert say(ev.TIMER_FIRED, "en") == ("“Call 119 now” is overdue; fired 1 hour "
                                         "2 minutes late because no program was running")
    assert say(ev.TIMER_FIRED, "zh") == "“立即拨打119报警”已超时未完成；因程序当时未运行，晚1小时2分钟触发"
    assert say(ev.NOTIFY_QUEUED, "en").endswith(
        "to 12 recipients: 13 messages (SMS 12, email 1); 1 person without a usable channel")
    assert say(ev.NOTIFY_QUEUED, "zh").endswith("给12位收件人：13条消息（短信 12、邮件 1）；1人无可用渠道")
    assert say(ev.ESCALATION_SKIPPED, "zh") == "未呼叫分公司总经理：该岗位当前无人在岗"
    assert say(ac.INCIDENT_CLOSED, "en") == \
        "Chen Jie closed the incident: every callback and complaint is done"


def test_durations_and_counts_are_plural_in_english():
    assert duration(60, "en") == "1 minute" and duration(61, "en") == "1 minute 1 second"
    assert duration(7200, "en") == "2 hours" and duration(7200, "zh") == "2小时"
    assert duration(0, "en") == "0 seconds"


def test_an_unknown_kind_says_who_and_what_never_the_payload(names):
    text = describe(event("robot.arrived", "chen.jie", {"secret": "x=1"}), names, "en")
    assert text == "Chen Jie: robot.arrived" and "x=1" not in text


# ---- a walked fire, as `incident log` prints it ---------------------------------------------

def cli(base: tuple[str, ...], *args: str, user: str = "chen.jie") -> str:
    # a weekday morning: the day shift (Chen Jie, Liu Yang) holds duty_officer
    r = CliRunner().invoke(main, [*base, *args], catch_exceptions=False, env={
        "INCIDENT_USER": user, "INCIDENT_CLOCK": "fixed:2026-12-01T10:00:00+08:00"})
    assert r.exit_code == 0, r.output
    return r.output


def sentences(out: str) -> list[str]:
    """The sentence of each log line (after seq, clock and offset)."""
    return [re.split(r"\s{2,}|\s+T\+\S+\s+", line.strip(), maxsplit=3)[-1]
            for line in out.splitlines() if line.strip()]


@pytest.fixture
def walked(tmp_path) -> tuple[tuple[str, ...], str]:
    db = tmp_path / "w.db"
    base = ("--db", f"sqlite:///{db}", "--contacts", str(REPO / "contacts"),
            "--playbooks", str(REPO / "playbooks"))
    cli(base, "db", "upgrade")
    iid = cli(base, "start", "fire", "--at", "B3-1201", "--severity", "2").strip()
    cli(base, "act", iid, "confirm_alarm", "--option", "real_fire")
    cli(base, "act", iid, "call_119")
    cli(base, "note", iid, "12楼楼梯间有烟")
    cli(base, "ack", iid)
    cli(base, "severity", iid, "1", "--reason", "两人被困")
    cli(base, "handover", iid, "liu.yang", "--reason", "交班")
    cli(base, "resolve", iid, "--force", "--summary", "明火已灭", user="liu.yang")
    return base, iid


def test_the_walked_fire_in_both_languages(walked):
    check_english(*walked)
    check_chinese(*walked)


def check_english(base: tuple[str, ...], iid: str) -> None:
    out = cli(base, "log", iid)
    said = sentences(out)
    assert said[0] == "Chen Jie started “Fire” at Building 3, 12F, unit 1201, Level 2"
    assert "Sent page P1 to Chen Jie and Liu Yang as Duty officer (control room): " \
           "the incident started" in said
    for line in (
        "Chen Jie marked “Confirm the alarm by the fastest means” done: Real fire or smoke",
        "Chen Jie marked “Call 119 now” done",
        "Chen Jie noted: 12楼楼梯间有烟",
        "Chen Jie acknowledged page P1",
        "Chen Jie changed the severity from Level 2 to Level 1: 两人被困",
        "Sent page P4 to Feng Guoqiang as Duty manager: the severity was raised to Level 1",
        "Chen Jie handed the incident over from Chen Jie to Liu Yang: 交班",
    ):
        assert line in said, out
    resolved = next(s for s in said if "resolved the incident" in s)
    assert resolved.startswith("Liu Yang resolved the incident: 明火已灭; 32 steps left open: "
                               "“Fire linkage to automatic”, ")
    assert resolved.endswith(", 27 more")
    assert not KEY_VALUE.search(out), out
    for internal in ("step '", "paged together with", "confirm_alarm", "real_fire",
                     "duty_officer", "Step done", "system"):
        assert internal not in out


def check_chinese(base: tuple[str, ...], iid: str) -> None:
    out = cli(base, "--lang", "zh", "log", iid)
    said = sentences(out)
    assert said[0] == "陈杰启动“火灾”，地点：3号楼 12层 1201室，级别：二级"
    for line in (
        "向中控室值班员（陈杰、刘洋）发出呼叫P1：事件开始",
        "陈杰完成“以最快方式确认火警”：真实火情（明火或烟雾）",
        "陈杰完成“立即拨打119报警”",
        "陈杰备注：12楼楼梯间有烟",
        "陈杰确认收到呼叫P1",
        "陈杰将级别由二级调整为一级：两人被困",
        "向值班经理（冯国强）发出呼叫P4：级别升至一级",
        "陈杰将事件负责人由陈杰交接给刘洋：交班",
    ):
        assert line in said, out
    assert any(s.startswith("刘洋结束了事件：明火已灭；32个步骤未完成：“联动控制置于自动状态”、")
               for s in said)
    assert not english_words(" ".join(said)), english_words(" ".join(said))


# ---- the console timeline ----------------------------------------------------------------

def test_the_console_timeline_wraps_a_long_sentence_at_80_columns(tmp_path):
    from test_console import build, make_runtime, run, settle
    from textual.widgets import TabbedContent

    from incident.console.widgets.incident import Timeline

    rt = make_runtime(tmp_path / "incident.db")
    note = ("the smoke comes from the cable shaft between the 12th and the 13th floor and "
            "the brigade asks for the shaft plans and the keys to the roof door")

    async def go():
        app = build(rt, tmp_path, dispatcher=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            iid = rt.engine.start("fire", "B3-1201", actor=app.user).id
            rt.engine.note(iid, note, actor="chen.jie")
            app.open_incident(iid)
            await settle(pilot)
            app.screen.query_one("#panels", TabbedContent).active = "timeline"
            await settle(pilot)
            log = app.screen.query_one("#timeline-log", Timeline)
            lines = [str(line) for line in log.lines]
            width = log.scrollable_content_region.width
            assert width <= 80 and all(len(line) <= width for line in lines), lines
            start = next(i for i, line in enumerate(lines) if "Chen Jie noted:" in line)
            said = lines[start]
            for more in lines[start + 1:]:
                if not more.startswith(" "):
                    break
                said += " " + more.strip()
            assert len(lines[start + 1:]) and lines[start + 1].startswith(" " * 20)
            # the whole sentence is there, wrapped under the text, nothing cut off
            assert re.sub(r"^\d\d:\d\d:\d\d T\+\S+\s+", "", said) == f"Chen Jie noted: {note}"

    try:
        run(go())
    finally:
        rt.close()


@pytest.mark.parametrize("payload", [
    {"kind": "arrival_overdue", "step": "send_fire_team"},
    {"kind": "wait_elapsed", "step": "call_119"},
    {"kind": "target_missed", "target": "alarm_confirmed"},
    {"kind": "report_due", "report": "l2_written_report"},
    {"kind": "escalation_due", "page": "P1", "to": "cs_supervisor", "wait_s": 300,
     "label": {"en": "Escalate to X unless duty_officer acknowledges (P1)", "zh": "P1 未确认"}},
    {"kind": "followup_due", "label": {"en": "Callback due: Wang Li", "zh": "回访到期：王丽"}},
])
def test_each_timer_says_what_came_due(payload, names):
    en = describe(event(ev.TIMER_FIRED, "system", payload), names, "en")
    zh = describe(event(ev.TIMER_FIRED, "system", payload), names, "zh")
    assert "_" not in en and not KEY_VALUE.search(en), en
    assert not english_words(zh.replace("Wang Li", "")), zh
    if payload["kind"] == "escalation_due":
        assert en == ("Page P1 was not acknowledged within 5 minutes: the ladder moves up to "
                      "Customer-service supervisor")


@pytest.mark.parametrize("payload", [
    {"to": "branch_gm", "cause": "repeat", "times": 2,
     "reason": "a → b was already followed 2 time(s) (repeat: 2)"},
    {"to": "branch_gm", "cause": "max_pages", "pages": 40,
     "reason": "40 pages already sent for this incident"},
    {"to": "branch_gm", "reason": "40 pages already sent for this incident"},  # older event
])
def test_a_skipped_escalation_tells_its_cause_in_the_readers_words(payload, names):
    en = describe(event(ev.ESCALATION_SKIPPED, "system", payload), names, "en")
    zh = describe(event(ev.ESCALATION_SKIPPED, "system", payload), names, "zh")
    assert "time(s)" not in en and "repeat:" not in en
    assert not any(w in zh for w in ("already", "pages", "time", "repeat")), zh
