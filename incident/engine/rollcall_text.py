"""The roll-call board and door-knock list as text (CLI, console) and CSV (Excel).

Lines fit an 80-column terminal: one line per floor, from the top floor down, with
counts and the units that need someone (needs help, no answer, vulnerable). The
CSV is for printing in Excel or WPS: every cell goes through safetext.csv_cell,
so a reply such as "=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

from incident.engine.context import local_zone
from incident.engine.rollcall import Board, KnockItem, knock_line, label, person_name
from incident.i18n import nt, t
from incident.safetext import csv_row, terminal

if TYPE_CHECKING:
    from incident.directory import Directory

CSV_HEAD = ("priority", "unit", "building", "floor", "reason", "people", "vulnerable",
            "last_reply", "checked")


def _mins(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}m{s % 60:02d}s"


def floor_label(floor: int | None, lang: str) -> str:
    if floor is None:
        return "—"
    if floor < 0:
        return t("roll.basement", lang, f=-floor)
    return t("roll.floor", lang, f=floor)


def _door(unit: str) -> str:
    return unit.split("-", 1)[1] if "-" in unit else unit


def _fit(prefix: str, items: list[str], width: int, lang: str) -> str:
    out = prefix
    for i, item in enumerate(items):
        more = t("roll.more", lang, n=len(items) - i)
        piece = (" " if out != prefix else "") + item
        if len(out) + len(piece) + (len(more) + 1 if i < len(items) - 1 else 0) > width:
            return out + " " + more
        out += piece
    return out


def summary_lines(b: Board, directory: Directory | None, lang: str) -> list[str]:
    zone = local_zone(directory)
    c = b.counts()
    ago = _mins((b.now - b.sent_at).total_seconds())
    sent = t("roll.sent", lang, at=f"{b.sent_at.astimezone(zone):%H:%M}", ago=ago)
    head = f"{t('roll.title', lang)} · {sent}"
    if b.no_answer_after is not None:
        head += " · " + t("roll.silent", lang, n=round(b.no_answer_after.total_seconds() / 60))
    else:
        head += " · " + t("roll.silent_now", lang)
    counts = " · ".join(f"{label(s, lang)} {c[s]}" for s in
                        ("safe", "help", "no_answer", "waiting", "away", "unclear") if
                        c[s] or s in ("safe", "help", "no_answer"))
    lines = [head, f"{nt('roll.units', c['units'], lang)}: {counts}"]
    tail = t("roll.vuln_open", lang, open=c["vulnerable_open"], all=c["vulnerable"])
    lines.append(f"{tail} · {nt('roll.people_safe', c['people_safe'], lang)}")
    if b.unmatched:
        lines.append(nt("roll.unmatched", len(b.unmatched), lang))
    return lines


def floor_lines(b: Board, lang: str, width: int = 80) -> list[str]:
    """One line per floor: ✓safe !help ?silent, then the doors that need someone."""
    out = []
    for building, floor, units in b.floors():
        n = {s: sum(1 for u in units if u.status == s) for s in
             ("safe", "help", "no_answer", "waiting", "away", "unclear")}
        where = f"{building} {floor_label(floor, lang)}".strip()
        prefix = (f"{where:<9}✓{n['safe']:<3}!{n['help']:<3}?{n['no_answer'] + n['waiting']:<3}"
                  f"-{n['away']:<2}")
        doors = []
        for u in sorted(units, key=lambda u: ({"help": 0, "unclear": 1, "no_answer": 2}
                                              .get(u.status, 3), u.unit)):
            if u.status in ("help", "unclear", "no_answer") or (u.vulnerable and
                                                                 not u.accounted):
                mark = {"help": "!", "unclear": "~", "no_answer": "?"}.get(u.status, "…")
                doors.append(f"{mark}{_door(u.unit)}{'*' if u.vulnerable else ''}")
        # a Chinese floor label ("3层") takes more columns on a terminal than characters
        wide = 2 if any(unicodedata.east_asian_width(ch) in "WF" for ch in where) else 0
        out.append(terminal(_fit(prefix, doors, width - wide, lang)))
    return out


def legend(lang: str) -> str:
    return t("roll.legend", lang)


def board_text(b: Board, directory: Directory | None, lang: str, width: int = 80) -> str:
    return "\n".join([*summary_lines(b, directory, lang), legend(lang),
                      *floor_lines(b, lang, width)])


def knock_text(items: list[KnockItem], directory: Directory | None, lang: str,
               team: str) -> str:
    if not items:
        return t("roll.knock_none", lang)
    lines = [nt("roll.knock", len(items), lang, team=team)]
    lines += [terminal(f"{i:>3}. {knock_line(k, directory, lang)}")
              for i, k in enumerate(items, 1)]
    return "\n".join(lines)


def knock_csv(items: list[KnockItem], directory: Directory | None, lang: str) -> str:
    """The door-knock list for a spreadsheet: one row per unit, a blank 'checked' column
    for the team to tick on paper; every cell escaped against formula injection."""
    from incident.directory.models import vulnerable_name

    buf = io.StringIO()
    buf.write("\ufeff")  # spreadsheets (Excel, WPS) then read the Chinese correctly
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEAD)
    for i, k in enumerate(items, 1):
        people = "; ".join(person_name(directory, p, lang) for p in k.people
                           if not p.startswith("unit:"))
        vuln = "; ".join(vulnerable_name(v, lang) for v in k.vulnerable)
        why = " + ".join(label(r, lang) for r in k.reasons)
        w.writerow(csv_row([i, k.unit, k.building, k.floor if k.floor is not None else "",
                            why, people, vuln, k.last_text, ""]))
    return buf.getvalue()


def now_line(now: datetime, directory: Directory | None) -> str:
    return f"{now.astimezone(local_zone(directory)):%H:%M:%S}"
