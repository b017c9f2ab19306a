"""The printable lobby notice (告示) of a notify step: one A4 page, Chinese first then
English, the estate's sign-off and the date, ready to post in the lobby or by the lifts.

Owners trust a notice on paper more than a text; the manuals want a written notice for
any water or power cut over an hour. The page is self-contained (CSS inline, no
scripts, no fonts or images fetched), and every value from the incident is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from incident.engine.context import local_zone, message_context
from incident.i18n import N_, bilingual, t
from incident.playbook.templates import render

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.engine.state import IncidentState
    from incident.playbook.model import Step

HEADING = bilingual("notice.heading")
DRILL = bilingual("notice.drill")

_CSS = """
@page { size: A4; margin: 20mm 18mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
       "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif; color: #000;
       margin: 0 auto; max-width: 174mm; line-height: 1.6; }
h1 { text-align: center; font-size: 30pt; letter-spacing: 0.5em; margin: 0 0 6mm; }
section { margin: 0 0 8mm; }
section h2 { font-size: 16pt; margin: 0 0 3mm; }
section p { font-size: 13pt; margin: 0 0 2mm; white-space: pre-line; }
section[lang=zh] p { text-indent: 2em; }
section p.sign { text-align: right; text-indent: 0; margin-top: 4mm; }
hr { border: none; border-top: 1px solid #000; margin: 6mm 0; }
.drill { border: 2px solid #000; text-align: center; font-weight: bold; padding: 2mm; }
@media screen { body { padding: 12mm; background: #fff; } }
@media print { .drill { break-inside: avoid; } section { break-inside: avoid; } }
"""


# the month as a date is written in each language ("March" / "3" in 2026年3月1日)
MONTHS = (N_("month.1"), N_("month.2"), N_("month.3"), N_("month.4"), N_("month.5"),
          N_("month.6"), N_("month.7"), N_("month.8"), N_("month.9"), N_("month.10"),
          N_("month.11"), N_("month.12"))


def _date(now: datetime, directory: Directory | None, lang: str) -> str:
    d = now.astimezone(local_zone(directory))
    return t("notice.date", lang, day=d.day, month=t(MONTHS[d.month - 1], lang), year=d.year)


def notice_texts(state: IncidentState, step: Step, directory: Directory | None,
                 lang: str) -> tuple[str, str, str]:
    """(title, body, sign-off) of the step's message in one language, as printed."""
    assert step.notify is not None
    ctx = message_context(state, directory, lang)
    msg = step.notify.message
    site = getattr(directory, "site", None)
    names = getattr(site, "sign_off", None) or {}
    sign = names.get(lang) or names.get("en") or ""
    if not sign and site is not None:
        sign = site.name.get(lang) or site.name.get("en") or ""
    return render(msg.subject.get(lang), ctx), render(msg.body.get(lang), ctx), sign


def notice_html(state: IncidentState, step: Step, directory: Directory | None,
                now: datetime) -> str:
    """The bilingual notice as one HTML page (A4 print CSS, nothing fetched)."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="zh-Hans"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
             'style-src \'unsafe-inline\'">',
             f"<title>{e(HEADING['zh'])} {e(state.id)}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{e(HEADING['zh'])}<br><small>{e(HEADING['en'])}</small></h1>"]
    if state.drill:
        parts.append(f'<p class="drill">{e(DRILL["zh"])} / {e(DRILL["en"])}</p>')
    for i, lang in enumerate(("zh", "en")):
        title, body, sign = notice_texts(state, step, directory, lang)
        if i:
            parts.append("<hr>")
        parts.append(f'<section lang="{lang}"><h2>{e(title)}</h2>')
        parts.extend(f"<p>{e(p)}</p>" for p in body.split("\n") if p.strip())
        parts.append(f'<p class="sign">{e(sign)}<br>{e(_date(now, directory, lang))}</p>'
                     "</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


__all__ = ["notice_html", "notice_texts"]
