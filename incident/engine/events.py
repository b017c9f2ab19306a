"""Event kinds: the vocabulary of the incident log.

Each is an immutable row (time, actor, kind, payload). Reports, the console and
drills read these names, so they are defined once here.
"""

INCIDENT_STARTED = "incident.started"
INCIDENT_RESOLVED = "incident.resolved"
INCIDENT_REOPENED = "incident.reopened"
SEVERITY_CHANGED = "severity.changed"
OWNER_CHANGED = "owner.changed"
NOTE_ADDED = "note.added"
STEP_STARTED = "step.started"          # taken on / dispatched
STEP_DONE = "step.done"
STEP_SKIPPED = "step.skipped"
STEP_AWAITING = "step.awaiting_confirmation"  # gate: first person done, second must confirm
STEP_CONFIRMED = "step.confirmed"
REPORT_DONE = "report.done"            # a severity report clock was honoured
TIMER_FIRED = "timer.fired"
NOTIFY_QUEUED = "notify.queued"
NOTIFY_RETRIED = "notify.retried"      # messages that failed for good, queued again
DELIVERY_PROGRESS = "delivery.progress"
PAGE_SENT = "page.sent"
PAGE_ACKED = "page.acked"
REPLY_RECEIVED = "reply.received"     # a person's reply to a page or a question
ROLLCALL_KNOCK = "rollcall.knock"      # a roll call's door-knock list sent to a team
ESCALATION_RAISED = "escalation.raised"
ESCALATION_SKIPPED = "escalation.skipped"
DRILL_INJECT = "drill.inject"          # a scripted inject reached the players
DRILL_SCENARIO = "drill.scenario"      # which scenario runs (snapshot), at which speed
DRILL_RATED = "drill.rated"            # an evaluator's rating of one objective
DRILL_EVALUATION = "drill.evaluation"  # strength, improvement, plan item or counts

SYSTEM = "system"

STEP_EVENTS = frozenset({STEP_STARTED, STEP_DONE, STEP_SKIPPED, STEP_AWAITING, STEP_CONFIRMED})

LABELS: dict[str, tuple[str, str]] = {
    INCIDENT_STARTED: ("Incident started", "事件开始"),
    INCIDENT_RESOLVED: ("Incident resolved", "事件结束"),
    INCIDENT_REOPENED: ("Incident reopened", "事件重开"),
    SEVERITY_CHANGED: ("Severity changed", "级别变更"),
    OWNER_CHANGED: ("Ownership handed over", "负责人交接"),
    NOTE_ADDED: ("Note", "备注"),
    STEP_STARTED: ("Step started", "步骤开始"),
    STEP_DONE: ("Step done", "步骤完成"),
    STEP_SKIPPED: ("Step skipped", "步骤跳过"),
    STEP_AWAITING: ("Awaiting second-person confirmation", "等待第二人确认"),
    STEP_CONFIRMED: ("Confirmed by second person", "第二人已确认"),
    REPORT_DONE: ("Report made", "已上报"),
    TIMER_FIRED: ("Timer", "计时提醒"),
    NOTIFY_QUEUED: ("Notifications queued", "通知已排队"),
    NOTIFY_RETRIED: ("Failed notifications sent again", "失败通知已重发"),
    DELIVERY_PROGRESS: ("Delivery progress", "送达进度"),
    PAGE_SENT: ("Paged", "已呼叫"),
    PAGE_ACKED: ("Page acknowledged", "呼叫已确认"),
    REPLY_RECEIVED: ("Reply received", "收到回复"),
    ROLLCALL_KNOCK: ("Door-knock list sent", "敲门名单已发送"),
    ESCALATION_RAISED: ("Escalated", "已升级"),
    ESCALATION_SKIPPED: ("Escalation step skipped", "升级步骤跳过"),
    DRILL_INJECT: ("Drill inject", "演练注入"),
    DRILL_SCENARIO: ("Drill scenario", "演练脚本"),
    DRILL_RATED: ("Drill rating", "演练评分"),
    DRILL_EVALUATION: ("Drill evaluation", "演练评估"),
}


def _aftercare_labels() -> None:
    from incident.engine.aftercare import LABELS as AFTERCARE

    LABELS.update(AFTERCARE)


_aftercare_labels()


def label(kind: str, lang: str = "en") -> str:
    en, zh = LABELS.get(kind, (kind, kind))
    return zh if lang == "zh" else en
