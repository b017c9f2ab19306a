"""Typed playbook model.

A playbook is what a duty officer follows: tracks of steps that run in parallel,
each step of one kind (check, decision, dispatch, notify, record, escalate, wait).
Field names are chosen to read well in hand-written YAML.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from incident.clock import parse_duration
from incident.playbook.readform import PlaybookLookups, TextLookups

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
LANGS = ("en", "zh")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(value)
    raise PydanticCustomError("val.pb.duration",
                              "a duration like '90s', '5m' or '1h30m' is expected")


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    WithJsonSchema({"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*h)?\s*(\d+(\.\d+)?\s*m)?\s*(\d+(\.\d+)?\s*s)?\s*$",
                    "description": "a duration such as '90s', '5m', '1h30m'"}),
]
Ident = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case id: letters, digits, _")]


def _percent(value: Any) -> float:
    text = str(value).strip() if isinstance(value, str | int | float) \
        and not isinstance(value, bool) else ""
    try:
        pct = float(text[:-1] if text.endswith("%") else text)
    except ValueError:
        raise PydanticCustomError("val.pb.percent", "a share like '95%' is expected") from None
    if not 0 < pct <= 100:
        raise PydanticCustomError("val.pb.percent_range",
                                  "'{value}' is not a share between 0% (excluded) and 100%",
                                  {"value": str(value)})
    return pct


Percent = Annotated[
    float,
    BeforeValidator(_percent),
    WithJsonSchema({"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$",
                    "description": "a share of recipients such as '95%'"}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Text(TextLookups, Strict):
    """Bilingual text: English and Simplified Chinese are both required."""

    en: Annotated[str, Field(min_length=1)]
    zh: Annotated[str, Field(min_length=1)]


class Input(Strict):
    """A value the officer fills in when starting (e.g. expected restoration time)."""

    label: Text
    default: str | None = None
    required: bool = False


class ReportClock(Strict):
    """Who must be told, how, and by when, for a severity level."""

    id: Ident
    title: Text
    to: Ident = Field(description="role that must be told")
    by: Literal["phone", "written", "chat", "sms", "email", "in_person"]
    within: Duration


class Severity(Strict):
    level: Annotated[int, Field(ge=1, le=9, description="1 is the most severe")]
    name: Text
    criteria: Text
    report: list[ReportClock] = []
    targets: dict[str, Duration] = Field(
        default={}, description="per-target time overrides for this level: {target_id: duration}")


class Target(Strict):
    """A named time target, measured from the incident start."""

    id: Ident
    title: Text
    within: Duration
    met_by: str = Field(description="step id whose completion meets it, 'resolved' (emergency "
                        "over) or 'closed' (callbacks and complaints done); on a notify step, "
                        "the target is met when its messages are delivered")
    delivered: Percent | None = Field(
        default=None,
        description="notify steps only: met once this share of the reachable recipients has a "
                    "message delivered (default: every reachable recipient, 100%)")


class Gate(Strict):
    """A safety gate: a second person confirms before the step counts as done."""

    role: Ident | None = Field(default=None, description="role the confirming person must hold")
    text: Text


class Option(Strict):
    id: Ident
    title: Text
    next: list[Ident] = Field(default=[], description="steps that only run if this option is chosen")
    severity: Annotated[int, Field(ge=1, le=9)] | None = Field(
        default=None, description="the severity level this option proposes (the console asks "
                                  "once to raise to it; the CLI prints the proposal)")


class DueAfter(Strict):
    within: Duration
    after: Ident


class Dispatch(Strict):
    role: Ident | None = None
    vendor: Ident | None = None
    arrive_within: Duration | None = None


class Message(Strict):
    subject: Text
    body: Text


class Notify(Strict):
    audience: str | list[str] = Field(description="a named audience of this playbook or a selector")
    channels: Annotated[list[Ident], Field(min_length=1)] = ["sms", "email", "chat"]
    message: Message


class Record(Strict):
    name: Ident
    type: Literal["int", "number", "text", "list"] = "text"
    unit: str | None = None
    label: Text | None = None
    from_roll_call: Literal["safe_count", "missing"] | None = Field(
        default=None, description="offer a value from the roll call board: the number "
                                  "of people who answered safe, or the units still "
                                  "missing (needs help, no answer)")


class RollCall(Strict):
    """A roll call (点名): owners in the audience are asked, each in their language, to
    answer with a number — 1 safe, 2 need help, 3 not at home (the answers are fixed so
    every reply parser and board reads them alike). Replies fill a live board per floor;
    "needs help", silence after `no_answer_after` and vulnerable residents who have not
    answered make the door-knock list for `team`."""

    audience: str | list[str] = Field(description="a named audience of this playbook or a "
                                                  "selector, as for notify steps")
    channels: Annotated[list[Ident], Field(min_length=1)] = ["sms", "chat"]
    question: Text = Field(description="what is asked; the numbered answers are added "
                                       "after it in the owner's language")
    no_answer_after: Duration | None = Field(
        default=None, description="a unit that has not answered this long after the "
                                  "question was sent counts as 'no answer' (e.g. '10m'); "
                                  "without it, at once")
    team: Ident | None = Field(default=None, description="role that knocks on the doors "
                                                          "of the door-knock list")


class Escalate(Strict):
    to: Ident
    reason: Text | None = None


StepKind = Literal["check", "decision", "dispatch", "notify", "record", "escalate", "wait",
                   "roll_call"]
KIND_FIELDS: dict[str, str | None] = {
    "check": None, "decision": "options", "dispatch": "dispatch", "notify": "notify",
    "record": "record", "escalate": "escalate", "wait": "wait", "roll_call": "roll_call",
}


class Promise(Strict):
    """首问负责制: doing this step records the handling time promised to the reporter
    (its value: a duration such as '2h' from now); the promise becomes a timer until
    the first receiver reports back (`incident report-back`)."""

    report_back: Literal["sms", "call"] = Field(
        default="call", description="how the reporter hears back: an SMS, or a call to make")
    default: Duration | None = Field(default=None, description="promised time if none is given")


class Callbacks(Strict):
    """回访 after resolution: who is called back and by when."""

    within: Duration = Field(default=timedelta(hours=24),
                             description="due time after resolution (manuals: 24h)")
    to: list[Literal["reporter", "location_owners", "notified_vulnerable", "notified"]] = Field(
        default=["reporter", "location_owners", "notified_vulnerable"],
        description="who is owed a callback")
    by: Ident = Field(default="cs_specialist", description="role that makes the callbacks")
    vulnerable_by: Ident = Field(default="project_manager",
                                 description="role that calls vulnerable residents back")
    units_from: list[Ident] = Field(
        default=[], description="recorded values listing units (e.g. damaged_units): "
                                "their owners are called back too")
    instructions: Text | None = Field(default=None, description="what a callback covers")


class Complaints(Strict):
    """The clocks of a complaint an incident raised (manuals: apologise and record at
    once, supervisor told within minutes, investigation within 3 working days)."""

    supervisor_role: Ident = "cs_supervisor"
    supervisor_within: Duration = timedelta(minutes=30)
    investigate_working_days: Annotated[int, Field(ge=1, le=30)] = 3


class Step(Strict):
    id: Ident
    kind: StepKind
    title: Text
    instructions: Text | None = None
    assignee: Ident | None = Field(default=None, description="role expected to do this step")
    after: list[Ident] = Field(default=[], description="steps that must be settled first")
    join: list[Ident] = Field(default=[], description="branches to wait for: whichever of them ran")
    due: Duration | DueAfter | None = Field(
        default=None, description="due time from the incident start, or {within, after: step}")
    gate: Gate | None = None
    call: Ident | None = Field(default=None, description="external number to call (directory)")
    options: list[Option] | None = None
    dispatch: Dispatch | None = None
    notify: Notify | None = None
    roll_call: RollCall | None = None
    record: Record | None = None
    escalate: Escalate | None = None
    wait: Duration | None = None
    promise: Promise | None = Field(
        default=None, description="this step promises the reporter a handling time")


class Track(Strict):
    id: Ident
    title: Text
    steps: Annotated[list[Step], Field(min_length=1)]


class Playbook(PlaybookLookups, Strict):
    id: Ident
    version: Annotated[int, Field(ge=1)] = 1
    type: Ident = Field(description="incident type, e.g. fire, flooding, elevator_entrapment")
    title: Text
    description: Text
    keywords: list[str] = Field(default=[], description="extra words the picker matches")
    default_severity: int
    severities: Annotated[list[Severity], Field(min_length=1)]
    inputs: dict[Ident, Input] = {}
    audiences: dict[Ident, str | list[str]] = {}
    targets: list[Target] = []
    tracks: Annotated[list[Track], Field(min_length=1)]
    callbacks: Callbacks = Callbacks()
    complaints: Complaints = Complaints()

    @field_validator("keywords")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [k.lower() for k in v]

    # the lookups the engine uses (steps(), severity(), conditional()…) come from
    # PlaybookLookups, shared with the read form (incident/playbook/readform.py)
