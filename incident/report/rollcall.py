"""The roll-call section of the post-incident report: how owners answered each roll
call (as the board stood at the end), the door-knock lists sent to teams, and the
units still not accounted for — the list handed to the brigade."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident.engine import rollcall
from incident.report.labels import t

if TYPE_CHECKING:
    from incident.report.model import IncidentReport


def sections(rep: IncidentReport) -> list[dict[str, Any]]:
    """Per roll call sent: title, counts line, knock lists sent, units still open."""
    st = rep.state
    out = []
    lang = rep.lang
    names = rep.names
    for sid in rollcall.roll_call_steps(st):
        b = rollcall.board(st, rep.end, sid)
        c = b.counts()
        counts = " · ".join(f"{rollcall.label(s, lang)} {c[s]}" for s in
                            ("safe", "help", "no_answer", "waiting", "away", "unclear") if c[s])
        counts = f"{c['units']} {t('rc_units', lang)}: {counts}" + \
            f" · {t('rc_vulnerable_open', lang)} {c['vulnerable_open']}/{c['vulnerable']}" + \
            f" · {t('rc_replies', lang)} {c['replies']}"
        sent = [[rep.local(k["ts"]), str(k.get("team", "")), str(len(k.get("units") or [])),
                 ", ".join(names.who(p) if names else p for p in k.get("to") or []),
                 str(k.get("by", ""))]
                for k in st.knocks if k.get("step") == sid]
        still = [[k.unit, " + ".join(rollcall.label(r, lang) for r in k.reasons),
                  " / ".join(rollcall.person_name(getattr(names, "directory", None), p, lang)
                             for p in k.people if not p.startswith("unit:")),
                  k.last_text]
                 for k in b.knock_list()]
        title = st.playbook.steps()[sid].title.get(lang)
        out.append({"step": sid, "title": title, "counts": counts, "sent": sent,
                    "still": still})
    return out


def sent_head(lang: str) -> list[str]:
    return [t("time", lang), t("rc_team", lang), t("rc_units", lang), t("rc_to", lang),
            t("by", lang)]


def still_head(lang: str) -> list[str]:
    return [t("rc_unit", lang), t("reason", lang), t("person", lang), t("rc_last_reply", lang)]
