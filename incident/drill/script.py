"""When a scenario's script has each step done, worked out without running it.

``--auto`` counts each scripted response from the moment the step becomes ready,
so the drill's timeline is fixed by the script and the playbook's dependency
graph. Working it out statically lets ``incident validate`` say, before anyone
plays it, that a step is scripted before what it waits for, or that the brigade
is met at the gate before the inject that brings it there.

The rules mirror :class:`incident.drill.auto.Responder`: a step is ready when its
``after`` steps are settled, its ``join`` branches that run are settled, and the
decision that switches it on chose its option; it is done ``after`` (default:
``responses.default``) later, or at T+``at``; a gated step settles ``confirm``
after that; ``never`` leaves it (and what waits for it) unsettled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from incident.drill.model import Scenario
    from incident.playbook import Playbook

DEFAULT_CONFIRM = timedelta(seconds=30)  # the same as incident.drill.auto


@dataclass(frozen=True, slots=True)
class Timing:
    """One step's scripted times from the drill's start (None: never happens)."""

    ready: timedelta | None
    done: timedelta | None
    settled: timedelta | None
    waits_for: str | None = None  # the prerequisite that made it ready last
    excluded: bool = False


def scripted_times(sc: Scenario, pb: Playbook) -> dict[str, Timing]:
    """Each step's ready/done/settled time as the script plays it."""
    steps = pb.steps()
    cond = pb.conditional()
    injects = {i.id: i.at for i in sc.injects}
    out: dict[str, Timing] = {}

    def chosen(dec: str) -> str | None:
        r = sc.responses.steps.get(dec)
        step = steps[dec]
        if r is not None and r.option:
            return r.option
        return step.options[0].id if step.options else None

    def visit(sid: str, trail: tuple[str, ...] = ()) -> Timing:
        if sid in out:
            return out[sid]
        if sid in trail:  # a cycle: the playbook check reports it
            return Timing(None, None, None)
        step = steps[sid]
        trail = (*trail, sid)
        ready, waits = timedelta(0), None
        never = False

        def need(dep: str) -> bool:
            nonlocal ready, waits, never
            t = visit(dep, trail)
            if t.excluded:
                return False
            if t.settled is None:
                never = True
            elif t.settled >= ready:
                ready, waits = t.settled, dep
            return True

        for dep in step.after:
            if dep in steps and not need(dep):
                out[sid] = Timing(None, None, None, dep, excluded=True)
                return out[sid]
        joined = [d for d in step.join if d in steps]
        if joined and not [d for d in joined if need(d)]:
            out[sid] = Timing(None, None, None, None, excluded=True)
            return out[sid]
        if sid in cond:
            on = [(dec, opt) for dec, opt in cond[sid] if dec in steps]
            hits = [dec for dec, opt in on
                    if not visit(dec, trail).excluded and chosen(dec) == opt]
            if not hits:
                out[sid] = Timing(None, None, None, on[0][0] if on else None, excluded=True)
                return out[sid]
            for dec in hits:
                need(dec)
        r = sc.responses.steps.get(sid)
        if never or (r is not None and r.never):
            out[sid] = Timing(None if never else ready, None, None, waits)
            return out[sid]
        after = r.after if r is not None and r.after is not None else sc.responses.default
        done = ready + after
        if r is not None and r.at is not None:
            done = max(ready, r.at)
        if r is not None and r.on is not None and r.on in injects:
            done = max(done, injects[r.on])
        settled = done
        if step.gate is not None and (r is None or r.skip is None):
            settled = done + (r.confirm if r is not None and r.confirm is not None
                              else DEFAULT_CONFIRM)
        out[sid] = Timing(ready, done, settled, waits)
        return out[sid]

    for sid in steps:
        visit(sid)
    return out


def follows(pb: Playbook, first: str, then: str) -> bool:
    """True when `then` waits, directly or through other steps, for `first`."""
    steps = pb.steps()
    cond = pb.conditional()
    seen: set[str] = set()
    stack = [then]
    while stack:
        sid = stack.pop()
        if sid in seen or sid not in steps:
            continue
        seen.add(sid)
        step = steps[sid]
        deps = [*step.after, *step.join, *(d for d, _ in cond.get(sid, []))]
        if first in deps:
            return True
        stack += deps
    return False
