"""One resolver from ids to the names people read, in the reader's language.

Every face (the console, `incident log`, reports, the after-action report, the brief,
error messages) turns ids into names here: people, vendors, roles, channels, places,
and from the playbook steps, options, tracks, targets, report clocks and severities.
Bilingual data (`{"en": …, "zh": …}` in YAML) is picked by language once, here.

A `Names` is built once from the runtime's directory and an incident's playbook; it
has a default language (`names.who(pid)`) and every method takes another one
(`names.who(pid, "zh")`), so one object serves a report and a bilingual timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident import i18n

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.playbook import Playbook

SYSTEM = "system"  # the engine's own entries (incident.engine.events.SYSTEM)

# Channel ids a person reads: the notify channels and the ways a report or a
# callback is made (playbook `by:`, a promise's `report_back`).
CHANNELS: dict[str, str] = {  # id -> catalogue key
    "sms": i18n.N_("via.sms"),
    "email": i18n.N_("via.email"),
    "chat": i18n.N_("via.chat"),
    "voice": i18n.N_("via.voice"),
    "phone": i18n.N_("via.phone"),
    "call": i18n.N_("via.call"),
    "written": i18n.N_("via.written"),
    "in_person": i18n.N_("via.in_person"),
    "console": i18n.N_("via.console"),
    "hotline": i18n.N_("via.hotline"),
    "panel": i18n.N_("via.panel"),
    "patrol": i18n.N_("via.patrol"),
    "walk_in": i18n.N_("via.walk_in"),
    "app": i18n.N_("via.app"),
}


def pick(texts: Any, lang: str, fallback: str = "") -> str:
    """Bilingual data in the wanted language: a dict or a string (i18n.pick, the one
    language rule), or a playbook Text."""
    if texts is None or isinstance(texts, str | dict):
        return str(i18n.pick(texts, lang, fallback))
    get = getattr(texts, "get", None)
    return str(get(lang)) if get is not None else str(texts)


def join(items: list[str], lang: str) -> str:
    """A list read aloud: "A, B" / "A、B"."""
    return i18n.t("list.sep", lang).join(i for i in items if i)


class Names:
    """People, roles, channels, places and playbook parts by id, in one language by default.

    Lookups are cached (a report of 10,000 events asks for the same few people)."""

    def __init__(self, directory: Directory | None = None, playbook: Playbook | None = None,
                 lang: str = "en"):
        self.directory = directory
        self.playbook = playbook
        self.lang = lang
        self._cache: dict[tuple[str, str, str], str] = {}
        self._reports: dict[str, Any] = {}
        if playbook is not None:
            for sev in playbook.severities:
                for r in sev.report:
                    self._reports.setdefault(r.id, r.title)

    def in_lang(self, lang: str) -> Names:
        """The same names, read in another language (shares the cache)."""
        other = Names.__new__(Names)
        other.directory, other.playbook, other.lang = self.directory, self.playbook, lang
        other._cache, other._reports = self._cache, self._reports
        return other

    def _lang(self, lang: str | None) -> str:
        return lang or self.lang

    # ---- people ------------------------------------------------------------------
    def who(self, pid: Any, lang: str | None = None) -> str:
        """A person, vendor, role or outside party; "the system" for the engine itself;
        a list of them joined; the id when nobody knows it."""
        lang = self._lang(lang)
        if isinstance(pid, list | tuple):
            return join([self.who(p, lang) for p in pid], lang) or "—"
        if not pid:
            return "—"
        pid = str(pid)
        key = ("who", lang, pid)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        name = pid
        d = self.directory
        if pid == SYSTEM:
            name = i18n.t("who.system", lang)
        elif d is not None:
            person = d.people.get(pid)
            vendor = d.vendors.get(pid[7:] if pid.startswith("vendor:") else pid)
            if person is not None:
                name = person.display_name(lang)
            elif vendor is not None:
                name = pick(vendor.name, lang, pid)
            elif pid in d.roles:
                name = pick(d.roles[pid].title, lang, pid)
            elif pid in d.externals:
                name = pick(d.externals[pid].name, lang, pid)
        self._cache[key] = name
        return name

    def who_with_id(self, pid: str | None) -> str:
        """'Chen Jie (chen.jie)' in English, for error messages that name the id to type."""
        if not pid:
            return "someone"
        name = self.who(pid, "en")
        return pid if name == pid else f"{name} ({pid})"

    def role(self, rid: str | None, lang: str | None = None) -> str:
        if not rid:
            return ""
        d = self.directory
        if d is not None and rid in d.roles:
            return pick(d.roles[rid].title, self._lang(lang), rid)
        return rid

    def roles_of(self, pid: str | None) -> tuple[str, ...]:
        d = self.directory
        if not pid or d is None:
            return ()
        person = d.staff.get(pid)
        return person.roles if person is not None else ()

    def role_for(self, pid: str | None, wanted: str | None = None,
                 lang: str | None = None) -> str:
        """The role a person acted in: the step's assignee role if they hold it."""
        if pid == SYSTEM:
            return ""
        lang = self._lang(lang)
        key = ("role_for", lang, f"{pid}\0{wanted}")
        hit = self._cache.get(key)
        if hit is None:
            roles = self.roles_of(pid)
            hit = self.role(wanted if wanted in roles else (roles[0] if roles else ""), lang)
            self._cache[key] = hit
        return hit

    # ---- channels and places -------------------------------------------------------
    def channel(self, ch: str | None, lang: str | None = None) -> str:
        if not ch:
            return ""
        key = CHANNELS.get(str(ch))
        return i18n.t(key, self._lang(lang)) if key else str(ch)

    def place(self, location: str | None, lang: str | None = None) -> str:
        """A location string ('A-12-1203') as the estate calls it in the language."""
        if not location:
            return ""
        lang = self._lang(lang)
        key = ("place", lang, location)
        hit = self._cache.get(key)
        if hit is None:
            hit = location
            if self.directory is not None:
                try:
                    hit = self.directory.locate(location).label(lang)
                except Exception:  # a place the directory no longer knows: keep what was logged
                    hit = location
            self._cache[key] = hit
        return hit

    def site(self, site: str | None = None, lang: str | None = None) -> str:
        d = self.directory
        if d is None:
            return site or ""
        return pick(d.site.name, self._lang(lang), site or "")

    # ---- the playbook ----------------------------------------------------------------
    def title(self, lang: str | None = None) -> str:
        """The playbook's title."""
        return self.playbook.title.get(self._lang(lang)) if self.playbook else ""

    def step(self, sid: str | None, lang: str | None = None) -> str:
        if not sid:
            return ""
        step = self.playbook.steps().get(sid) if self.playbook else None
        if step is None and str(sid).startswith("escalation:"):  # a page's own messages
            return i18n.t("names.page", self._lang(lang), page=str(sid)[len("escalation:"):])
        return step.title.get(self._lang(lang)) if step is not None else str(sid)

    def option(self, sid: str | None, oid: str | None, lang: str | None = None) -> str:
        if not oid:
            return ""
        step = self.playbook.steps().get(sid or "") if self.playbook else None
        for o in (step.options or []) if step is not None else []:
            if o.id == oid:
                return o.title.get(self._lang(lang))
        return str(oid)

    def escalate_reason(self, sid: str | None, lang: str | None = None) -> str:
        """Why a playbook step escalates, as the playbook says it."""
        step = self.playbook.steps().get(sid or "") if self.playbook else None
        if step is None or step.escalate is None or step.escalate.reason is None:
            return ""
        return step.escalate.reason.get(self._lang(lang))

    def track(self, tid: str | None, lang: str | None = None) -> str:
        if not tid or self.playbook is None:
            return tid or ""
        for tr in self.playbook.tracks:
            if tr.id == tid:
                return tr.title.get(self._lang(lang))
        return tid

    def track_of(self, sid: str | None, lang: str | None = None) -> str:
        if not sid or self.playbook is None:
            return ""
        return self.track(self.playbook.track_of().get(sid, ""), lang)

    def target(self, tid: str | None, lang: str | None = None) -> str:
        if not tid or self.playbook is None:
            return tid or ""
        for tg in self.playbook.targets:
            if tg.id == tid:
                return tg.title.get(self._lang(lang))
        return tid

    def report(self, rid: str | None, lang: str | None = None) -> str:
        if not rid:
            return ""
        title = self._reports.get(rid)
        return title.get(self._lang(lang)) if title is not None else str(rid)

    def severity(self, level: Any, lang: str | None = None) -> str:
        """'Level 2 · major' as the playbook names it, else the level number."""
        lang = self._lang(lang)
        if self.playbook is not None:
            try:
                return self.playbook.severity(int(level)).name.get(lang)
            except (KeyError, TypeError, ValueError):
                pass
        return str(level)

    def input_label(self, key: str, lang: str | None = None) -> str:
        spec = self.playbook.inputs.get(key) if self.playbook else None
        return spec.label.get(self._lang(lang)) if spec is not None else key
