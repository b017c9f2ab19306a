"""Event kinds: the vocabulary of the incident log.

Each is an immutable row (time, actor, kind, payload). Reports, the console and
drills read these names, so they are defined once here.
"""

from incident.i18n import N_, t

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

#: Each kind's short name, as a catalogue key (incident.i18n).
LABELS: dict[str, str] = {
    INCIDENT_STARTED: N_("kind.incident.started"),
    INCIDENT_RESOLVED: N_("kind.incident.resolved"),
    INCIDENT_REOPENED: N_("kind.incident.reopened"),
    SEVERITY_CHANGED: N_("kind.severity.changed"),
    OWNER_CHANGED: N_("kind.owner.changed"),
    NOTE_ADDED: N_("kind.note.added"),
    STEP_STARTED: N_("kind.step.started"),
    STEP_DONE: N_("kind.step.done"),
    STEP_SKIPPED: N_("kind.step.skipped"),
    STEP_AWAITING: N_("kind.step.awaiting_confirmation"),
    STEP_CONFIRMED: N_("kind.step.confirmed"),
    REPORT_DONE: N_("kind.report.done"),
    TIMER_FIRED: N_("kind.timer.fired"),
    NOTIFY_QUEUED: N_("kind.notify.queued"),
    NOTIFY_RETRIED: N_("kind.notify.retried"),
    DELIVERY_PROGRESS: N_("kind.delivery.progress"),
    PAGE_SENT: N_("kind.page.sent"),
    PAGE_ACKED: N_("kind.page.acked"),
    REPLY_RECEIVED: N_("kind.reply.received"),
    ROLLCALL_KNOCK: N_("kind.rollcall.knock"),
    ESCALATION_RAISED: N_("kind.escalation.raised"),
    ESCALATION_SKIPPED: N_("kind.escalation.skipped"),
    DRILL_INJECT: N_("kind.drill.inject"),
    DRILL_SCENARIO: N_("kind.drill.scenario"),
    DRILL_RATED: N_("kind.drill.rated"),
    DRILL_EVALUATION: N_("kind.drill.evaluation"),
}


def _aftercare_labels() -> None:
    from incident.engine.aftercare import LABELS as AFTERCARE

    LABELS.update(AFTERCARE)


_aftercare_labels()


def label(kind: str, lang: str = "en") -> str:
    """An event kind's short name in the reader's words; an unknown kind as itself."""
    return t(LABELS[kind], lang) if kind in LABELS else kind
