"""``incident drill evaluate ID FILE.yaml``: an evaluator's whole evaluation in one file.

    ratings:
      call_119: {rating: S, comment: "Caller forgot the building number at first"}
    strengths:
      - Broadcast started within a minute, in both languages.
    improvements:
      - Floor wardens on 14-16F did not know the assembly point.
    plan:
      - issue: Wardens unsure of the assembly point
        action: Walk every warden to the North Plaza; add it to the warden card
        owner: cao.zhiyong
        due: 2026-03-31
    counts: {occupants: 186, visitors: 7, missing: 0}

Validated like every user file (line numbers, "did you mean", all errors at
once); written as events in one transaction, or not at all.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from incident.drill import events as dev
from incident.drill.live import drill_run
from incident.drill.model import RATINGS
from incident.drill.score import require_evaluator
from incident.errors import Msg, known, suggest
from incident.store import NewEvent
from incident.validation import pydantic_issues
from incident.yamlsrc import parse_file

if TYPE_CHECKING:
    from incident.engine import Engine


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingEntry(_Strict):
    rating: str
    comment: str = ""

    @field_validator("rating")
    @classmethod
    def _r(cls, v: str) -> str:
        if str(v).strip().upper() not in RATINGS:
            raise PydanticCustomError("val.drill.rating", "rating '{rating}' — use P, S, M or U",
                                      {"rating": str(v)})
        return str(v).strip().upper()


class PlanEntry(_Strict):
    issue: Annotated[str, Field(min_length=1)]
    action: Annotated[str, Field(min_length=1)]
    owner: Annotated[str, Field(min_length=1)]
    due: date
    start: date | None = None
    capability: str = ""


class EvaluationFile(_Strict):
    ratings: dict[str, RatingEntry] = {}
    strengths: list[Annotated[str, Field(min_length=1)]] = []
    improvements: list[Annotated[str, Field(min_length=1)]] = []
    plan: list[PlanEntry] = []
    counts: dict[str, Annotated[int, Field(ge=0)]] = {}

    @field_validator("ratings", mode="before")
    @classmethod
    def _short(cls, v):
        if isinstance(v, dict):
            return {k: ({"rating": x} if isinstance(x, str) else x) for k, x in v.items()}
        return v


def apply_file(engine: Engine, incident_id: str, path: str | Path, *, actor: str) -> dict[str, int]:
    """Validate the file against the drill and record it; returns counts per section."""
    run = drill_run(engine.store, incident_id)
    require_evaluator(engine, incident_id, run, actor)
    doc = parse_file(path)
    issues = doc.issues()
    if not isinstance(doc.data, dict):
        issues.add("val.drill.eval_not_mapping", line=1)
        issues.raise_if_errors()
    try:
        f = EvaluationFile.model_validate(doc.data)
    except ValidationError as exc:
        pydantic_issues(doc, exc, issues, EvaluationFile)
        issues.raise_if_errors()
        raise  # pragma: no cover
    ids = [o.id for o in run.scenario.objectives]
    for oid in f.ratings:
        if oid not in ids:
            doc.add(issues, ("ratings", oid),  # type: ignore[arg-type]
                    Msg("val.drill.no_objective", {"objective": oid,
                                                   "scenario": run.scenario.id}),
                    suggest(oid, ids) or known(ids))
    d = engine.directory
    if d is not None:
        pool = [*d.staff, *d.roles]
        for i, p in enumerate(f.plan):
            if p.owner not in d.staff and p.owner not in d.roles:
                doc.add(issues, ("plan", i, "owner"),  # type: ignore[arg-type]
                        Msg("val.drill.unknown_owner", {"owner": p.owner}),
                        suggest(p.owner, pool) or Msg("val.drill.hint_owner"))
    issues.raise_if_errors()

    def make(_st, now):
        out = []
        for oid, r in f.ratings.items():
            out.append(NewEvent(dev.DRILL_RATED, actor, {
                "objective": oid, "rating": r.rating, "comment": r.comment.strip(),
                "text": f"{oid}: {r.rating}" + (f" — {r.comment.strip()}" if r.comment else "")},
                now))
        for kind, items in (("strength", f.strengths), ("improvement", f.improvements)):
            for text in items:
                out.append(NewEvent(dev.DRILL_EVALUATION, actor,
                                    {"type": kind, "text": text.strip()}, now))
        for p in f.plan:
            out.append(NewEvent(dev.DRILL_EVALUATION, actor, {
                "type": "plan", "issue": p.issue.strip(), "action": p.action.strip(),
                "owner": p.owner, "due": p.due.isoformat(), "capability": p.capability.strip(),
                "start": (p.start or now.astimezone(engine.directory.timezone if
                                                   engine.directory else None).date()
                          ).isoformat(),
                "text": f"{p.issue.strip()} → {p.action.strip()} ({p.owner}, "
                        f"{p.due.isoformat()})"}, now))
        if f.counts:
            out.append(NewEvent(dev.DRILL_EVALUATION, actor, {
                "type": "counts", "counts": dict(f.counts),
                "text": ", ".join(f"{k} {v}" for k, v in f.counts.items())}, now))
        return out

    engine.append_events(incident_id, make)
    return {"ratings": len(f.ratings), "strengths": len(f.strengths),
            "improvements": len(f.improvements), "plan": len(f.plan),
            "counts": len(f.counts)}
