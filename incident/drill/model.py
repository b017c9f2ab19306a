"""Typed drill scenario model (``playbooks/drills/*.yaml``).

A scenario names a playbook, a location and the people taking part; scripted
injects arrive at times after the start (a report from a resident, a channel
fault); objectives say what is judged and by which time; ``responses`` script
how a headless rehearsal (``--auto``) answers each step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from incident.i18n import N_
from incident.playbook.model import Duration, Ident, Text

RATINGS = ("P", "S", "M", "U")
RATING_TEXT: dict[str, str] = {  # HSEEP ratings: catalogue keys (incident.i18n)
    "P": N_("rating.P"), "S": N_("rating.S"), "M": N_("rating.M"), "U": N_("rating.U")}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Participant(Strict):
    """Someone taking part: a staff id and the role they play in this drill."""

    person: str = Field(description="staff id from contacts/staff.yaml")
    role: Ident = Field(description="the role they play (a directory role)")


class Fault(Strict):
    """A fault injected into a sandboxed channel: messages on it fail while it lasts."""

    channel: Ident = Field(description="channel that fails, e.g. sms")
    duration: Duration | None = Field(
        default=None, alias="for",
        description="how long the fault lasts (default: until the drill ends)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Inject(Strict):
    """A scripted event at T+at: what the exercise controller tells the players."""

    id: Ident
    at: Duration = Field(description="time after the start, e.g. '4m'")
    title: Text
    detail: Text | None = None
    expect: Text | None = Field(default=None,
                                description="what the players are expected to do (evaluators)")
    fault: Fault | None = None
    after: Ident | None = Field(
        default=None, description="a playbook step this inject follows from (the brigade "
                                  "arrives after 119 is called): validate checks the script "
                                  "has it done by the inject's time")


class ScriptedReply(Strict):
    """An owner's answer to a roll call, scripted so the board and the door-knock list
    are rehearsed: recorded on the drill's clock at T(question sent)+at through the
    engine, never through a gateway. Units without a scripted reply stay silent."""

    at: Duration = Field(description="time after the roll-call question was sent, e.g. '1m'")
    unit: str = Field(description="the unit that answers, e.g. B3-1301")
    person: str | None = Field(default=None, description="owner id (default: the first "
                                                         "owner of the unit who was asked)")
    text: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="what they reply: '1' safe, '2' need help, '3' not at home, or words")
    step: Ident | None = Field(default=None, description="the roll-call step (default: the "
                                                         "playbook's first roll_call step)")


class Objective(Strict):
    """What the drill is judged by: a playbook step done, or a playbook target met, in time."""

    id: Ident
    title: Text
    step: Ident | None = Field(default=None, description="the playbook step whose completion counts")
    target: Ident | None = Field(default=None, description="a playbook target (its met_by counts)")
    within: Duration | None = Field(
        default=None, description="the time allowed (default for a target: the playbook's)")
    after: Ident | None = Field(
        default=None, description="measure from this step's completion instead of the start")
    capability: str | None = Field(
        default=None, description="the HSEEP core capability it tests, e.g. "
                                  "'Operational Communications' (the AAR groups by it)")

    @model_validator(mode="after")
    def _one_reference(self) -> Objective:
        if (self.step is None) == (self.target is None):
            raise PydanticCustomError("val.drill.objective_one",
                                      "an objective needs exactly one of 'step' or 'target'")
        if self.step is not None and self.within is None:
            raise PydanticCustomError("val.drill.objective_within",
                                      "an objective on a step needs 'within' (e.g. within: 2m)")
        return self


class Response(Strict):
    """How the headless rehearsal answers one step (times from when the step is ready)."""

    after: Duration | None = Field(default=None, description="done this long after it is ready")
    start: Duration | None = Field(default=None,
                                   description="dispatch steps: sent this long after ready")
    confirm: Duration | None = Field(default=None,
                                     description="gated steps: confirmed this long after done")
    option: Ident | None = None
    value: Any = None
    skip: str | None = Field(default=None, description="skip the step with this reason")
    never: bool = Field(default=False, description="never done (the objective becomes U)")
    by: str | None = Field(default=None, description="staff id who acts (default: by role)")
    at: Duration | None = Field(default=None, description="done at this time after the "
                                "drill's start (T+), as the last tabletop recorded it")
    on: Ident | None = Field(default=None, description="the inject this step answers: not "
                             "done before that inject arrives")

    @model_validator(mode="after")
    def _one_time(self) -> Response:
        if self.at is not None and self.after is not None:
            raise PydanticCustomError("val.drill.after_or_at",
                                      "give either 'after' (from when the step is ready) or "
                                      "'at' (from the drill's start), not both")
        return self


def _response(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        if str(value).strip().lower() == "never":
            return {"never": True}
        return {"after": value}
    return value


class Responses(Strict):
    default: Duration = Field(default=timedelta(seconds=30),
                              description="delay for steps not listed")
    steps: dict[Ident, Response] = {}

    @field_validator("steps", mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: _response(x) for k, x in v.items()}
        return v


class Rating(Strict):
    slack: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.25, description="S when late by at most this share of the time allowed")


class Scenario(Strict):
    id: Ident
    version: Annotated[int, Field(ge=1)] = 1
    title: Text
    description: Text
    playbook: Ident
    location: str = Field(description="where the drill incident is started, e.g. B3-1302")
    severity: int | None = None
    inputs: dict[Ident, str] = {}
    speed: Annotated[float, Field(gt=0, le=3600)] = 1.0
    duration: Duration = Field(description="length of the exercise; --auto stops here")
    lead: str = Field(description="staff id of the duty officer who runs the drill")
    scope: Text | None = Field(default=None, description="exercise scope (HSEEP AAR): what "
                                                         "is played, what is simulated")
    mission_areas: list[str] = Field(default=[], description="HSEEP mission areas, e.g. "
                                                             "Response")
    point_of_contact: str | None = Field(default=None, description="staff id of the "
                                                                   "exercise point of contact")
    participants: list[Participant] = []
    evaluators: list[str] = []
    occupants: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="expected occupants (for the counts in the report)")
    injects: list[Inject] = []
    replies: list[ScriptedReply] = Field(
        default=[], description="owners' scripted answers to the roll call (some safe, "
                                "some needing help; the rest stay silent)")
    objectives: Annotated[list[Objective], Field(min_length=1)]
    rating: Rating = Rating()
    responses: Responses = Responses()

    def inject(self, inject_id: str) -> Inject:
        for i in self.injects:
            if i.id == inject_id:
                return i
        raise KeyError(inject_id)

    def objective(self, objective_id: str) -> Objective:
        for o in self.objectives:
            if o.id == objective_id:
                return o
        raise KeyError(objective_id)

    def people(self) -> list[str]:
        out = [self.lead, *(p.person for p in self.participants), *self.evaluators]
        return list(dict.fromkeys(out))

    def player_for(self, role: str | None) -> str | None:
        for p in self.participants:
            if p.role == role:
                return p.person
        return None
