"""Live escalation on the engine's clock.

How a page moves (all of it is events on the incident's timeline):

- An incident starts → the graph's entry node is paged (PAGE_SENT, one outbox row
  per person: their first paging channel, the others as fallback_channels).
- Each page plans its out-edges that apply (severity, incident type, time of day,
  repeat budget). An edge with wait 0 is followed at once; the others become
  timers ``escalate:<page>:<edge>`` (kind ``escalation_due``) on the engine's clock.
- When such a timer fires and the page is still unacknowledged, the edge is
  followed: ESCALATION_RAISED + PAGE_SENT for the next node. A node that resolves to
  nobody (rota gap without fallback, nobody with a working channel) is skipped at
  once (ESCALATION_SKIPPED saying why) and its own out-edges are followed at once.
- Paging a node again (a repeat) supersedes its earlier page: only the newest page
  of a node keeps timers, so the wait counts from the last page.
- An acknowledgement (PAGE_ACKED) stops the acknowledged pages' timers.
- A step going overdue pages the current target: a reminder if that page is still
  waiting, else a fresh page whose wait starts now. Overdue pages are batched: a
  person gets at most one per ``reminder_interval`` (escalation.yaml, default 5 min);
  steps going overdue meanwhile wait for the timer ``overdue_digest:<page>`` and are
  then listed together in one page, with every step still overdue.
- ESCALATION_RAISED written by a playbook's escalate step (no 'page' in its
  payload) pages that role; `raise_escalation` does the same by hand with a reason.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident import i18n
from incident.engine import events as ev
from incident.engine.context import local_zone
from incident.engine.state import Timer
from incident.errors import Refused, known, suggest
from incident.escalation.graph import Edge, EscalationGraph
from incident.escalation.resolve import Resolution, local_time, resolve, resolve_players
from incident.i18n import data_lang, join_list
from incident.names import Names
from incident.store import NewEvent, NewOutbox

if TYPE_CHECKING:
    from incident.directory import Directory
    from incident.engine import Engine, IncidentState

log = logging.getLogger(__name__)

Players = Callable[[str], "tuple[str, list[tuple[str, str]]] | None"]

MAX_PAGES = 200  # per incident: a safety net under the graph's own repeat limits
TIMER_KIND = "escalation_due"
DIGEST_KIND = "overdue_digest"  # the batched overdue page of steps that went overdue since
DEFAULT_REMINDER_INTERVAL = timedelta(minutes=5)
STEP_ID = "escalation"


@dataclass(slots=True)
class Facts:
    """What paging needs to know about an incident (live state or a simulation)."""

    id: str
    severity: int
    type: str
    drill: bool
    title: dict[str, str]
    location: str
    pages: list[dict[str, Any]]
    started_at: datetime | None = None
    severity_names: dict[str, str] = field(default_factory=dict)  # "一级" / "Level 1"

    @classmethod
    def of(cls, st: IncidentState) -> Facts:
        try:
            names = dict(st.playbook.severity(st.severity).name.model_dump())
        except (KeyError, AttributeError):
            names = {}
        return cls(st.id, st.severity, st.playbook.type, st.drill, st.title, st.location,
                   st.pages, st.started_at, names)


@dataclass(slots=True)
class Start:
    node: str
    trigger: str  # start, no_ack, skipped, at_once, step_overdue, playbook, manual, severity
    reason: str
    edge: Edge | None = None
    edge_id: str | None = None
    from_page: str | None = None
    via: list[str] = field(default_factory=list)
    announce: bool = False  # write ESCALATION_RAISED before the page
    reminder: bool = False
    cause: int | None = None
    steps: list[str] | None = None  # an overdue page: the steps it lists
    # why this person is paged, in words, per language (the page they read); `reason`
    # stays the English line the log and the timeline have always shown
    why: dict[str, str] | None = None
    # what the log's sentence needs to say why (incident.narrate): the overdue or
    # escalating step, the level raised to, the wait that ran out unacknowledged
    about_step: str | None = None
    level: int | None = None
    wait_s: int | None = None


@dataclass(slots=True)
class Made:
    """Events (kind, payload) and outbox rows (with the index of their event)."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rows: list[tuple[int, NewOutbox]] = field(default_factory=list)


class Escalation:
    """The escalation graph bound to a directory: plans pages, gives timers."""

    def __init__(self, graph: EscalationGraph | None, directory: Directory | None,
                 reply_source: Callable[[], set[str]] | None = None):
        self.graph = graph
        self.directory = directory
        # which channels take replies (contacts/inbound.yaml), asked of the runtime that
        # wires us: the inbound package sits above escalation
        self.reply_source = reply_source
        self._replies: set[str] | None = None
        self.edge_by_id: dict[str, Edge] = {e.id: e for e in graph.edges} if graph else {}
        # incident id -> (scenario id, [(person, role)]) of a scenario drill, else None;
        # set by the drill module (set_players) so drill pages go to the players
        self.players: Players | None = None

    # ---- planning ---------------------------------------------------------------------
    def out_edges(self, node: str, facts: Facts, at: datetime) -> list[Edge]:
        if self.graph is None:
            return []
        local = local_time(self.directory, at)
        return [e for e in self.graph.out_edges(node)
                if e.matches(facts.severity, facts.type, local)]

    def replies_on(self, channel: str) -> bool:
        """Does a reply on this channel reach us (contacts/inbound.yaml)? Read once, on
        the first page: commands that never page never read it."""
        if self._replies is None:
            self._replies = set(self.reply_source()) if self.reply_source else set()
        return channel in self._replies

    def resolve(self, node: str, at: datetime, facts: Facts | None = None) -> Resolution:
        """The people `node` pages at `at`; in a scenario drill, the scenario's players."""
        if facts is not None and facts.drill and self.players is not None:
            cast = self.players(facts.id)
            if cast is not None:
                scenario, players = cast
                return resolve_players(self.graph, self.directory, node, players, scenario)
        return resolve(self.graph, self.directory, node, at)

    def cascade(self, facts: Facts, now: datetime, starts: list[Start],
                made: Made | None = None) -> Made:
        """Pages (and skips) for `starts`, following wait-0 edges and empty nodes at once."""
        made = made or Made()
        n_pages = len(facts.pages) + sum(1 for k, _ in made.events if k == ev.PAGE_SENT)
        follows: Counter[str] = Counter(e for p in facts.pages for e in p.get("via") or ())
        queue = deque(starts)
        seen_at_once: set[str] = set()
        paged_now: dict[str, dict[str, Any]] = {}
        while queue:
            s = queue.popleft()
            edge = s.edge
            eid = edge.id if edge else s.edge_id
            limit = edge.repeat if edge else None
            if eid and limit is not None and follows[eid] >= limit:
                made.events.append((ev.ESCALATION_SKIPPED, {
                    "to": s.node, "edge": eid, "from_page": s.from_page, "page": None,
                    "cause": "repeat", "times": follows[eid],
                    "reason": f"{edge.src} → {edge.dst} was already followed {follows[eid]} "
                              f"time(s) (repeat: {limit})"}))
                continue
            if eid:
                follows[eid] += 1
            merged = paged_now.get(s.node)
            if merged is not None and not s.reminder:
                # two branches reach one node at the same moment: one page, both routes
                if eid and eid not in merged["via"]:
                    merged["via"].append(eid)
                    merged.setdefault("also", []).append(
                        {"edge": eid, "from_page": s.from_page, "reason": s.reason})
                continue
            if s.trigger in ("skipped", "at_once"):
                if s.node in seen_at_once:
                    continue  # a loop of empty or instant steps: each node once per cascade
                seen_at_once.add(s.node)
            if n_pages >= MAX_PAGES:
                made.events.append((ev.ESCALATION_SKIPPED, {
                    "to": s.node, "edge": eid, "from_page": s.from_page, "page": None,
                    "cause": "max_pages", "pages": MAX_PAGES,
                    "reason": f"{MAX_PAGES} pages already sent for this incident"}))
                continue
            res = self.resolve(s.node, now, facts)
            outs = [] if s.reminder else self.out_edges(s.node, facts, now)
            if not res.targets:
                made.events.append((ev.ESCALATION_SKIPPED, {
                    "to": s.node, "node": s.node, "edge": eid, "from_page": s.from_page,
                    "page": None, "trigger": s.trigger, "reason": res.why_empty,
                    "unreachable": res.unreachable}))
                for e in outs:
                    if e.dst == e.src:
                        continue
                    queue.append(Start(e.dst, "skipped",
                                       f"{s.node} was skipped ({res.why_empty})", e,
                                       from_page=s.from_page, via=[*s.via, e.id],
                                       announce=True, cause=s.cause,
                                       why=self._why_skipped(s.node)))
                continue
            n_pages += 1
            page_id = f"P{n_pages}"
            if s.announce:
                made.events.append((ev.ESCALATION_RAISED, {
                    "to": s.node, "from": edge.src if edge else None, "edge": eid,
                    "page": page_id, "from_page": s.from_page, "reason": s.reason,
                    "auto": True, **({"why": s.why} if s.why else {})}))
            plan = []
            for e in outs:
                if e.repeat is not None and follows[e.id] >= e.repeat:
                    continue
                if e.wait <= timedelta(0) and e.dst != e.src:
                    queue.append(Start(e.dst, "at_once",
                                       f"paged together with {s.node}"
                                       + (f" ({e.conditions()})" if e.conditions() else ""),
                                       e, from_page=page_id, via=[e.id], announce=True,
                                       cause=s.cause, why=self._why_together(s.node, e, facts)))
                elif e.wait > timedelta(0):
                    plan.append({"to": e.dst, "edge": e.id,
                                 "wait_s": int(e.wait.total_seconds())})
            payload: dict[str, Any] = {
                "page": page_id, "node": s.node,
                "role": s.node if self.directory and s.node in self.directory.roles else None,
                "to": res.people,
                "names": {t.person.id: {"en": t.person.display_name("en"),
                                         "zh": t.person.display_name("zh")}
                          for t in res.targets},
                "channels": {t.person.id: [t.channel, *t.fallbacks] for t in res.targets},
                "fallback_person": res.via_fallback, "unreachable": res.unreachable,
                "trigger": s.trigger, "reason": s.reason, "edge": eid,
                "from_page": s.from_page, "via": list(s.via), "next": plan,
                "reminder": s.reminder, "cause": s.cause,
                **({"why": s.why} if s.why else {}),  # the reason in words, both languages
            }
            payload.update({k: v for k, v in (("about_step", s.about_step), ("raised_to", s.level),
                                              ("wait_s", s.wait_s)) if v is not None})
            if s.steps is not None:
                payload["steps"] = list(s.steps)
            made.events.append((ev.PAGE_SENT, payload))
            if not s.reminder:
                paged_now[s.node] = payload
            index = len(made.events) - 1
            for t in res.targets:
                subject, body = page_text(facts, s, page_id, t.person.lang, t.person.id,
                                          self.graph.title(s.node, t.person.lang)
                                          if self.graph else s.node, self.directory,
                                          reply=self.replies_on(t.channel))
                step_id = f"{STEP_ID}:{page_id}"  # per page: the dispatcher's fallback
                made.rows.append((index, NewOutbox(  # keys are incident:step:person:channel
                    idempotency_key=f"{facts.id}:{step_id}:{t.person.id}:{t.channel}",
                    step_id=step_id,
                    person_id=t.person.id, channel=t.channel, address=t.address,
                    lang=t.person.lang, subject=subject, body=body, drill=facts.drill,
                    fallback_channels=list(t.fallbacks))))
        return made

    # ---- why a page, in words ---------------------------------------------------------
    def _title(self, node: str, lang: str) -> str:
        return self.graph.title(node, lang) if self.graph else node

    def _why_skipped(self, node: str) -> dict[str, str]:
        return {lang: i18n.t("page.why.skipped", lang, role=self._title(node, lang))
                for lang in LANGS}

    def _why_no_ack(self, page: dict[str, Any], wait: timedelta) -> dict[str, str]:
        node = page.get("node") or ""
        names = page.get("names") or {}
        out = {}
        for lang in LANGS:
            who = join_list([n.get(lang, "") for n in names.values()], lang)
            out[lang] = i18n.t("page.why.no_ack", lang, role=self._title(node, lang),
                          who=i18n.t("page.who", lang, who=who) if who else "",
                          wait=_minutes_words(wait, lang))
        return out

    def _why_together(self, node: str, edge: Edge, facts: Facts) -> dict[str, str]:
        out = {}
        for lang in LANGS:
            level = _level(facts, lang) if edge.severity else ""
            what = _lower(facts.title.get(lang) or facts.type, lang) if edge.types else ""
            kind = (i18n.t("page.kind_both", lang, level=level, type=what) if level and what
                    else level or what or i18n.t("page.kind_any", lang))
            out[lang] = i18n.t("page.why.together", lang, kind=kind, role=self._title(node, lang))
        return out

    # ---- reacting to events -------------------------------------------------------------
    def starts_for(self, facts: Facts, stored: list[Any], st: IncidentState | None,
                   now: datetime) -> list[Start]:
        starts: list[Start] = []
        causes = {p.get("cause") for p in facts.pages}
        pages = {p["id"]: p for p in facts.pages}
        overdue_cause: int | None = None
        overdue_hint: list[str] = []
        for e in stored:
            k, p = e.kind, e.payload
            if e.seq in causes:
                continue  # already answered (a retried append)
            if (k == ev.INCIDENT_STARTED or (k == ev.TIMER_FIRED
                                             and p.get("kind") == ENTRY_KIND)) \
                    and self.graph is not None and not facts.pages:
                starts.append(Start(self.graph.entry, "start", "incident started", cause=e.seq,
                                    why=dict(WHY_START)))
            elif k == ev.TIMER_FIRED and p.get("kind") == TIMER_KIND:
                page = pages.get(p.get("page"))
                if page is None or page.get("acked_at"):
                    continue
                wait = timedelta(seconds=p.get("wait_s", 0))
                edge = self.edge_by_id.get(p.get("edge", ""))
                who = page.get("node")
                starts.append(Start(p["to"], "no_ack",
                                    f"no acknowledgement from {who} within "
                                    f"{_minutes(wait)}", edge, p.get("edge"),
                                    from_page=page["id"], via=[p.get("edge")],
                                    announce=True, cause=e.seq,
                                    why=self._why_no_ack(page, wait),
                                    wait_s=int(wait.total_seconds())))
            elif k == ev.TIMER_FIRED and p.get("kind") in ("step_overdue", DIGEST_KIND):
                # every step going overdue in this tick (and those batched since the last
                # overdue page) goes into one page, after the loop
                overdue_cause = e.seq
                if p.get("step"):
                    overdue_hint.append(p["step"])
            elif k == ev.ESCALATION_RAISED and "page" not in p and p.get("to"):
                starts.append(Start(p["to"], "playbook", str(p.get("reason") or
                                                             "raised by the playbook"),
                                    cause=e.seq, why=_why_playbook(st, p),
                                    about_step=p.get("step")))
            elif k == ev.SEVERITY_CHANGED and self.graph is not None \
                    and int(p.get("to", 99)) < int(p.get("from", 0)):
                entry = self.graph.entry
                old = Facts(facts.id, int(p["from"]), facts.type, facts.drill, facts.title,
                            facts.location, facts.pages)
                before = {x.id for x in self.out_edges(entry, old, now)}
                for x in self.out_edges(entry, facts, now):
                    if x.id not in before and x.wait <= timedelta(0):
                        starts.append(Start(x.dst, "severity",
                                            f"severity raised to {p['to']}", x,
                                            via=[x.id], announce=True, cause=e.seq,
                                            why=_why_raised(facts), level=int(p["to"])))
        if overdue_cause is not None:
            start = self.overdue_start(facts, st, now, overdue_cause, overdue_hint)
            if start is not None:
                starts.append(start)
        return starts

    @property
    def reminder_interval(self) -> timedelta:
        graph = self.graph
        return graph.reminder_interval if graph is not None else DEFAULT_REMINDER_INTERVAL

    def overdue_start(self, facts: Facts, st: IncidentState | None, now: datetime,
                      seq: int, hint: list[str]) -> Start | None:
        """One overdue page listing every step overdue now, unless the people it would
        reach had one less than `reminder_interval` ago: then nothing now, and the
        digest timer (see `timers`) pages them once the interval is over."""
        items = overdue_items(st) if st is not None else list(dict.fromkeys(hint))
        if not items:
            return None  # done meanwhile: nothing to remind anyone of
        start = self.current_target(facts, st, items, seq)
        people = set(self.resolve(start.node, now).people)
        last = [p["ts"] for p in facts.pages
                if p.get("trigger") == "step_overdue" and people & set(_paged(p))]
        if last and now - max(last) < self.reminder_interval:
            return None  # batched: the digest page lists it
        return start

    def current_target(self, facts: Facts, st: IncidentState | None, items: list[str],
                       seq: int) -> Start:
        """Who an overdue page goes to: the one the ladder waits on (a reminder), else
        the current level again (a fresh page whose wait starts now)."""
        reason, why = overdue_words(st, items)
        start = self._current_target(facts, st, reason, why, seq,
                                     items[0] if len(items) == 1 else None)
        start.steps = list(items)
        return start

    def _current_target(self, facts: Facts, st: IncidentState | None, reason: str,
                        why: dict[str, str], seq: int, step: str | None) -> Start:
        normal = [x for x in facts.pages if not x.get("reminder")]
        if not normal:
            entry = self.graph.entry if self.graph else ""
            return Start(entry, "step_overdue", reason, cause=seq, why=why, about_step=step)
        fired = st.fired if st is not None else set()
        latest = {x.get("node"): x["id"] for x in normal}
        live = [x for x in normal if not x.get("acked_at") and latest[x.get("node")] == x["id"]
                and any(f"escalate:{x['id']}:{n['edge']}" not in fired
                        for n in x.get("next") or ())]
        if live:  # the ladder is still climbing: remind whoever it waits on
            return Start(live[-1]["node"], "step_overdue", reason, reminder=True, cause=seq,
                         why=why, about_step=step)
        # nobody is waited on (acknowledged, or the ladder ran out): page the current
        # level again and let its wait start now
        ladder = [x for x in normal if x.get("next")] or normal
        return Start(ladder[-1]["node"], "step_overdue", reason, cause=seq, why=why,
                     about_step=step)

    def react(self, st: IncidentState, events: list[Any],
              now: datetime) -> tuple[list[NewEvent], list[NewOutbox]]:
        """Engine reactor: pages go out in the same transaction as their cause."""
        if st.status != "open":
            return [], []
        interesting = [e for e in events if e.kind in (
            ev.INCIDENT_STARTED, ev.TIMER_FIRED, ev.ESCALATION_RAISED, ev.SEVERITY_CHANGED)]
        if not interesting:
            return [], []
        facts = Facts.of(st)
        starts = self.starts_for(facts, interesting, st, now)
        if not starts:
            return [], []
        return to_append(self.cascade(facts, now, starts), ev.SYSTEM, now)

    def timers(self, st: IncidentState) -> list[Timer]:
        out = page_timers(st.pages, self.graph)
        digest = digest_timer(st, self.reminder_interval)
        if digest is not None:
            out.append(digest)
        if self.graph is not None and not st.pages:
            # The first page is written right after the incident row; if the process
            # died in between, this fires on the next tick and pages the entry role.
            out.append(Timer(ENTRY_TIMER, ENTRY_KIND, st.started_at,
                             i18n.bilingual("timer.escalation_entry")))
        return out


ENTRY_TIMER = "escalation_entry"
ENTRY_KIND = "escalation_entry"


def overdue_items(st: IncidentState) -> list[str]:
    """The open steps whose overdue timer has fired, in playbook order."""
    return [sid for sid, s in st.steps.items() if s.open and s.overdue_fired]


def overdue_words(st: IncidentState | None, items: list[str]) -> tuple[str, dict[str, str]]:
    """(the English log line, why per language) for an overdue page listing `items`."""
    steps = st.playbook.steps() if st is not None else {}
    names = [dict(steps[i].title.model_dump()) if i in steps else {"en": i, "zh": i}
             for i in items]
    why = {code: [i18n.t("overdue.quoted", code, title=n[code]) for n in names]
           for code in i18n.LOCALES.values()}
    if len(names) == 1:
        return (f"step '{names[0]['en']}' is overdue",
                {code: i18n.t("overdue.one", code, step=quoted[0])
                 for code, quoted in why.items()})
    en = ", ".join(f"'{n['en']}'" for n in names)
    return (f"{len(names)} steps are overdue: {en}",
            {code: i18n.t("overdue.many", code, n=len(names), steps=join_list(quoted, code))
             for code, quoted in why.items()})


def digest_timer(st: IncidentState, interval: timedelta) -> Timer | None:
    """The batched overdue page: due `interval` after the last overdue page while steps
    went overdue since that are not listed in any overdue page yet."""
    od = [p for p in st.pages if p.get("trigger") == "step_overdue"]
    if not od or st.status != "open":
        return None  # the first overdue step pages at once
    covered = {sid for p in od for sid in p.get("steps") or ()}
    waiting = [sid for sid in overdue_items(st) if sid not in covered]
    if not waiting:
        return None
    last = max(od, key=lambda p: p["ts"])
    return Timer(f"{DIGEST_KIND}:{last['id']}", DIGEST_KIND, last["ts"] + interval,
                 {code: i18n.nt("timer.digest", len(waiting), code)
                  for code in i18n.LOCALES.values()})


def page_timers(pages: list[dict[str, Any]], graph: EscalationGraph | None = None) -> list[Timer]:
    """The escalation waits still running: one per planned edge of each page that is
    unacknowledged and the newest (non-reminder) page of its node."""
    latest: dict[str, str] = {}
    for p in pages:
        if not p.get("reminder"):
            latest[p.get("node") or ""] = p["id"]
    out: list[Timer] = []
    for p in pages:
        if p.get("acked_at") or p.get("reminder") or latest.get(p.get("node") or "") != p["id"]:
            continue
        for n in p.get("next") or ():
            wait = timedelta(seconds=n["wait_s"])
            to = {code: graph.title(n["to"], code) if graph else n["to"]
                  for code in i18n.LOCALES.values()}
            out.append(Timer(
                f"escalate:{p['id']}:{n['edge']}", TIMER_KIND, p["ts"] + wait,
                i18n.bilingual("timer.escalate", to=to, node=p["node"], page=p["id"]),
                data={"page": p["id"], "to": n["to"], "edge": n["edge"], "from": p["node"],
                      "wait_s": n["wait_s"]}))
    return out


def to_append(made: Made, actor: str, now: datetime,
              prefix: list[NewEvent] | None = None) -> tuple[list[NewEvent], list[NewOutbox]]:
    events = list(prefix or [])
    shift = len(events)
    events += [NewEvent(kind, ev.SYSTEM if kind != ev.PAGE_SENT or actor == ev.SYSTEM
                        else actor, payload, now) for kind, payload in made.events]
    rows = [_with_index(r, i + shift) for i, r in made.rows]
    return events, rows


def _with_index(row: NewOutbox, index: int) -> NewOutbox:
    from dataclasses import replace

    return replace(row, event_index=index)


def _minutes(delta: timedelta) -> str:
    secs = int(delta.total_seconds())
    if secs % 60:
        return f"{secs}s"
    return f"{secs // 60}m"


LANGS = ("zh", "en")  # a page's reasons are kept in both languages in the event
WHY_START = {lang: i18n.t("page.why.start", lang) for lang in LANGS}


def _minutes_words(delta: timedelta, lang: str) -> str:
    secs = int(delta.total_seconds())
    if secs % 60:
        return i18n.nt("dur.seconds", secs, lang)
    return i18n.nt("dur.minutes", secs // 60, lang)


def _level(facts: Facts, lang: str) -> str:
    return facts.severity_names.get(lang) or i18n.t("page.level", lang, n=facts.severity)


_lower = i18n.in_sentence


def _why_playbook(st: IncidentState | None, p: dict[str, Any]) -> dict[str, str] | None:
    step = st.playbook.steps().get(p.get("step") or "") if st is not None else None
    if step is None or step.escalate is None or step.escalate.reason is None:
        return None
    return dict(step.escalate.reason.model_dump())


def _why_raised(facts: Facts) -> dict[str, str]:
    return {lang: i18n.t("page.why.raised", lang, level=_level(facts, lang)) for lang in LANGS}


def _where(directory: Directory | None, location: str, lang: str) -> str:
    if directory is not None:
        try:
            return directory.locate(location).label(lang)
        except Exception:  # a location the directory no longer knows: as logged
            pass
    return location


def page_text(facts: Facts, s: Start, page_id: str, lang: str, person: str,
              role_title: str, directory: Directory | None = None,
              reply: bool = False) -> tuple[str, str]:
    """A page written for the person who reads it: the estate, what and where in words,
    when it came in, why *they* are paged, and what to do — no command lines, no codes.
    On a channel that takes replies it says first how to acknowledge by replying."""
    lang = data_lang(lang)
    title = facts.title.get(lang) or facts.title.get("en", "")
    site = getattr(directory, "site", None)
    tag = ""
    if site is not None:
        tag = (site.sms_signature.get(lang) or "") if site.sms_signature else ""
        if not tag:
            name = site.name.get(lang) or site.name.get("en") or ""
            tag = i18n.t("page.tag", lang, name=name)
        elif tag[-1].isascii():
            tag += " "
    where = _where(directory, facts.location, lang)
    sev = _level(facts, lang)
    when = ""
    if facts.started_at is not None:
        local = facts.started_at.astimezone(local_zone(directory))
        when = local.strftime("%H:%M")
    why = (s.why or {}).get(lang) or s.reason
    phone = getattr(site, "hotline", "") if site is not None else ""
    ack = i18n.t("page.ack_reply" if reply else "page.ack", lang, page=page_id,
            phone=i18n.t("page.ack_phone", lang, phone=phone) if phone else "")
    drill = i18n.t("page.drill", lang) if facts.drill else ""
    what = _lower(title, lang)
    subject = i18n.t("page.subject", lang, drill=drill, level=sev, what=what, where=where)
    body = i18n.t("page.body", lang, tag=tag, drill=drill, level=sev, what=what, where=where,
             when=i18n.t("page.when", lang, at=when) if when else "", id=facts.id, role=role_title,
             why=why, ack=ack)
    return subject, body


# ---- installing and the public operations ----------------------------------------------

_INSTALLED: weakref.WeakKeyDictionary[Any, Escalation] = weakref.WeakKeyDictionary()


def install(engine: Engine, runtime: Any = None, *, graph: EscalationGraph | None = None,
            directory: Directory | None = None) -> Escalation:
    """Add the escalation hook and timer source to an engine.

    The graph comes from `graph`, else from the runtime's contacts folder
    (escalation.yaml). A missing file means no automatic ladder (pages by hand and by
    playbook still go out). A broken file raises ValidationFailed naming file:line:field,
    like a broken playbook: every face then refuses to run on it instead of showing an
    escalation that is silently off.
    """
    directory = directory or engine.directory
    if graph is None and runtime is not None and directory is not None:
        path = runtime.settings.contacts_dir / "escalation.yaml"
        if path.exists():
            compiled = getattr(runtime, "escalation_graph", None)  # Runtime's cache
            if compiled is not None:
                graph = compiled(directory)
            else:
                from incident.escalation.model import load_escalation

                graph = load_escalation(path, directory)
    esc = Escalation(graph, directory, getattr(runtime, "reply_channels", None))
    esc.players = _PLAYERS.get(engine)
    _INSTALLED[engine] = esc
    engine.reactors.append(esc.react)
    engine.timer_sources.append(esc.timers)
    return esc


_PLAYERS: weakref.WeakKeyDictionary[Any, Players] = weakref.WeakKeyDictionary()


def set_players(engine: Engine, players: Players) -> None:
    """Who plays which role in an incident (the drill module's cast of a scenario drill):
    escalation pages on this engine go to them instead of the rota, whichever of the two
    was installed first."""
    _PLAYERS[engine] = players
    esc = _INSTALLED.get(engine)
    if esc is not None:
        esc.players = players


def installed(engine: Engine) -> Escalation:
    esc = _INSTALLED.get(engine)
    if esc is None:
        esc = Escalation(None, engine.directory)
    return esc


def _require_open(st: IncidentState) -> None:
    if st.status != "open":
        raise Refused("refused.esc.resolved", incident=st.id)


def _both(say: Callable[[str], str]) -> dict[str, str]:
    """Text for a refusal in each language ({'en': …, 'zh': …}), told to its reader."""
    return {code: say(code) for code in i18n.LOCALES.values()}


def _who(directory: Directory | None, person: str | None) -> dict[str, str]:
    """'Chen Jie (chen.jie)' / '陈杰（chen.jie）': a name with the id to type."""
    names = Names(directory)

    def say(lang: str) -> str:
        if not person:
            return i18n.t("refused.esc.someone", lang)
        name = names.who(person, lang)
        return person if name == person else i18n.t("refused.esc.name_id", lang, name=name,
                                                      id=person)
    return _both(say)


def acknowledge(engine: Engine, incident_id: str, actor: str,
                page: str | None = None, all_pages: bool = False) -> IncidentState:
    """Acknowledge the actor's own waiting pages (or one of them with ``page``).

    Each page is acknowledged by the person it reached, so "time to acknowledge" is
    theirs. The incident's commander (its current owner) may acknowledge every waiting
    page with ``all_pages``; the event then says so (``for_all``)."""
    engine.check_actor(actor)
    directory = engine.directory

    def make(st: IncidentState, now: datetime):
        _require_open(st)
        if not st.pages:
            raise Refused("refused.esc.nobody_paged", incident=st.id)
        if all_pages and actor != st.owner:
            raise Refused("refused.esc.commander_only", commander=_who(directory, st.owner))
        mine = [p for p in st.pages if actor in _paged(p)]
        if page is not None:
            found = next((p for p in st.pages if p["id"] == page), None)
            if found is None:
                ids = [p["id"] for p in st.pages]
                raise Refused("refused.esc.no_page", page=page, incident=st.id,
                              hint=suggest(page, ids) or known(ids))
            if found["acked_at"] is not None:
                when = found["acked_at"].astimezone(local_zone(directory)).strftime("%H:%M:%S")
                raise Refused("refused.esc.page_acked", page=page,
                              who=_who(directory, found["acked_by"]), when=when)
            if found not in mine and not all_pages:
                raise Refused("refused.esc.not_your_page", page=page,
                              to=_names(directory, _paged(found)), who=_who(directory, actor))
            waiting = [found]
        else:
            waiting = st.unacked_pages() if all_pages else [p for p in mine
                                                            if p["acked_at"] is None]
            if not waiting:
                done = [p for p in (st.pages if all_pages else mine) if p["acked_at"]]
                if done:
                    last = max(done, key=lambda p: p["acked_at"])
                    when = last["acked_at"].astimezone(local_zone(directory)).strftime(
                        "%H:%M:%S")
                    raise Refused("refused.esc.already_acked", incident=st.id,
                                  who=_who(directory, last["acked_by"]), when=when)
                unacked = st.unacked_pages()
                others = _both(lambda lang: join_list([i18n.t(
                    "refused.esc.page_to", lang, page=p["id"],
                    to=_names(directory, _paged(p))[lang]) for p in unacked], lang)
                    or i18n.t("refused.esc.none", lang))
                raise Refused("refused.esc.no_page_for", who=_who(directory, actor),
                              incident=st.id, waiting=others)
        payload: dict[str, Any] = {"page": page, "pages": [p["id"] for p in waiting],
                                   "nodes": sorted({p.get("node") or "" for p in waiting})}
        if all_pages:
            payload["for_all"] = True
        return [NewEvent(ev.PAGE_ACKED, actor, payload, now)]

    return engine.append_events(incident_id, make)


def _paged(p: dict[str, Any]) -> list[str]:
    """The people a page went to."""
    to = p.get("to")
    return [str(x) for x in to] if isinstance(to, list) else ([str(to)] if to else [])


def _names(directory: Directory | None, people: list[str]) -> dict[str, str]:
    said = [_who(directory, x) for x in people]
    return _both(lambda lang: join_list([w[lang] for w in said], lang)
                 or i18n.t("refused.esc.nobody", lang))


def acknowledge_waiting(engine: Engine, incident_id: str, actor: str) -> IncidentState:
    """One key, one rule: acknowledge the actor's own waiting pages; the commander (the
    owner) with none of their own answers for every waiting page. The console's "ack"
    key calls this, so the rule lives here and not in a face."""
    st = engine.state(incident_id)
    mine = [p for p in st.unacked_pages() if actor in (p.get("to") or [])]
    return acknowledge(engine, incident_id, actor, all_pages=not mine and actor == st.owner)


def ladder_levels(engine: Engine, playbook_levels: Iterable[int] = ()) -> list[int]:
    """The severity levels the escalation ladder covers; without escalation.yaml, the
    levels the playbooks use (so a chain can still be shown per level)."""
    graph = installed(engine).graph
    if graph is not None:
        return sorted(graph.severities)
    return sorted(set(playbook_levels))


def raise_escalation(engine: Engine, incident_id: str, role: str, actor: str,
                     reason: str) -> IncidentState:
    """Escalate to a role (or named person) now, by hand, saying why."""
    engine.check_actor(actor)
    esc = installed(engine)
    directory = engine.directory
    if not (reason or "").strip():
        raise Refused("refused.esc.reason_required")
    pool: set[str] = set(esc.graph.nodes) if esc.graph else set()
    if directory is not None:
        pool |= set(directory.roles) | set(directory.staff)
    if role not in pool:
        raise Refused("refused.esc.unknown_role", role=role, hint=suggest(role, pool) or known(pool))

    def make(st: IncidentState, now: datetime):
        _require_open(st)
        facts = Facts.of(st)
        raised = NewEvent(ev.ESCALATION_RAISED, actor,
                          {"to": role, "reason": reason.strip(), "manual": True, "page": None},
                          now)
        made = esc.cascade(facts, now, [Start(role, "manual", reason.strip())])
        first = next((p for k, p in made.events if k == ev.PAGE_SENT and p["node"] == role),
                     None)
        raised.payload["page"] = first["page"] if first else None
        return to_append(made, actor, now, prefix=[raised])

    return engine.append_events(incident_id, make)
