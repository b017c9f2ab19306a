"""What a drill adds to the incident log.

Injects use the engine's ``drill.inject`` kind. The scenario snapshot and the
evaluation (ratings, strengths, areas for improvement, the improvement plan,
counts) have kinds of their own so timelines read right; every one is an
ordinary event row in the same hash chain.
"""

from __future__ import annotations

from typing import Any

from incident.engine import events as ev
from incident.i18n import bilingual

DRILL_INJECT = ev.DRILL_INJECT
DRILL_SCENARIO = ev.DRILL_SCENARIO
DRILL_RATED = ev.DRILL_RATED
DRILL_EVALUATION = ev.DRILL_EVALUATION

TIMER_KIND = "drill_inject"             # engine timer kind of a scheduled inject

KINDS = (DRILL_SCENARIO, DRILL_INJECT, DRILL_RATED, DRILL_EVALUATION)
label = ev.label


def inject_payload(scenario_id: str, inj: dict[str, Any]) -> dict[str, Any]:
    """The payload of a drill.inject event. `text` is what one-line timelines show."""
    title = inj.get("title") or {}
    detail = inj.get("detail") or {}
    en = title.get("en", "") + (f" — {detail['en']}" if detail.get("en") else "")
    zh = title.get("zh", "") + (f"——{detail['zh']}" if detail.get("zh") else "")
    payload: dict[str, Any] = {
        "scenario": scenario_id, "inject": inj["id"], "at": str(inj.get("at", "")),
        "headline": title, "detail": detail,
        "text": bilingual("drill.mark.inject", text={"en": en, "zh": zh}),
    }
    if inj.get("expect"):
        payload["expect"] = inj["expect"]
    if inj.get("fault"):
        payload["fault"] = inj["fault"]
    return payload
