"""The fields an incident offers to message templates (see playbook.templates)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from incident.i18n import join_list
from incident.names import Names

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.engine.state import IncidentState


def local_zone(directory: Directory | None) -> ZoneInfo:
    tz = getattr(getattr(directory, "site", None), "timezone", None) or "Asia/Shanghai"
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def location_label(st: IncidentState, directory: Directory | None, lang: str) -> str:
    """The incident's place as the estate calls it (incident.names)."""
    return Names(directory).place(st.location, lang)


def message_context(st: IncidentState, directory: Directory | None, lang: str,
                    recipient: Any = None) -> dict[str, Any]:
    detail = st.location_detail
    site = getattr(directory, "site", None)
    building_id = detail.get("building")
    building = ""
    if directory is not None and building_id in getattr(directory, "buildings", {}):
        names = directory.buildings[building_id].name
        building = names.get(lang) or names.get("en") or building_id
    elif building_id:
        building = building_id
    floor = detail.get("floor")
    floors = st.inputs.get("floors") or _floors_around(directory, building_id, floor)
    zone = local_zone(directory)
    started = st.started_at.astimezone(zone)
    try:
        sev_name = st.playbook.severity(st.severity).name.get(lang)
    except KeyError:
        sev_name = str(st.severity)
    ctx: dict[str, Any] = {
        "incident_id": st.id,
        "site": (site.name.get(lang) or site.name.get("en")) if site is not None else "",
        "building": building,
        "floor": floor if floor is not None else "",
        "floors": floors,
        "unit": detail.get("unit") or "",
        "location": location_label(st, directory, lang),
        "time": started.strftime("%H:%M"),
        "date": started.strftime("%Y-%m-%d"),
        "hotline": getattr(site, "hotline", "") if site is not None else "",
        "assembly_point": assembly_point(directory, building_id, lang),
        "sign_off": _in(getattr(site, "sign_off", None) or {}, lang),
        "severity": st.severity,
        "severity_name": sev_name,
        "playbook": st.playbook.title.get(lang),
        "name": getattr(recipient, "name", "") if recipient is not None else "",
        "recipient_unit": (getattr(recipient, "unit", "") or "") if recipient is not None else "",
    }
    for key, spec in st.playbook.inputs.items():
        ctx[key] = st.inputs.get(key, spec.default or "")
    for step in st.playbook.steps().values():
        if step.record is not None:
            ctx.setdefault(step.record.name, st.values.get(step.record.name, ""))
    return ctx


def _in(names: dict[str, str], lang: str) -> str:
    return names.get(lang) or names.get("en") or ""


def assembly_point(directory: Directory | None, building_id: str | None, lang: str) -> str:
    """The named assembly point a building gathers at (estate.yaml `assembly_points`);
    for an incident not in one building, every assembly point of the site."""
    points = getattr(directory, "assembly_points", None) if directory is not None else None
    if not points:
        return ""
    if building_id:
        for p in points.values():
            if building_id in p.serves:
                return _in(p.name, lang)
        return ""
    return join_list([_in(p.name, lang) for p in points.values()], lang)


def signed(body: str, directory: Directory | None, lang: str) -> str:
    """A message as owners get it: the estate's 【signature】 first (carriers require it
    at the start), the sign-off line last. Unchanged when estate.yaml sets neither."""
    site = getattr(directory, "site", None)
    if site is None:
        return body
    sig = _in(getattr(site, "sms_signature", None) or {}, lang)
    off = _in(getattr(site, "sign_off", None) or {}, lang)
    if sig and not body.startswith(sig):
        body = sig + (" " if sig[-1].isascii() else "") + body
    if off and not body.rstrip().endswith(off):
        body = f"{body}\n{off}"
    return body


def _floors_around(directory: Directory | None, building_id: str | None,
                   floor: int | None) -> str:
    """'11-13' for floor 12: the fire floor and its neighbours that exist."""
    if not isinstance(floor, int):
        return ""
    levels: list[int] = []
    if directory is not None and building_id in getattr(directory, "buildings", {}):
        levels = directory.buildings[building_id].all_floors
    if levels:
        i = levels.index(floor) if floor in levels else None
        if i is not None:
            near = levels[max(0, i - 1): i + 2]
            return _floor_text(near[0]) + ("" if len(near) == 1 else "-" + _floor_text(near[-1]))
    return f"{floor - 1}-{floor + 1}"


def _floor_text(level: int) -> str:
    return f"B{-level}" if level < 0 else str(level)
