"""Writing anchors: signed checkpoints of every incident's chain head, outside the database.

`incident anchor` calls write_anchor(runtime) once; `incident service` calls it on a
period, so what an insider could still cut or re-hash without being caught is
bounded by the anchoring interval. Only incidents whose head moved since their
last anchor get a new line, and only after their chain verifies: a tampered log
is reported, never anchored (that would bless the edit).

Optionally each run's checkpoints are posted to the branch through an Apprise URL
(setting ``anchor_url``, e.g. a mailbox or chat room the operators do not
administer), so a copy exists out of reach of whoever can edit this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from incident.store import VerifyReport
from incident.store.anchors import Anchor

if TYPE_CHECKING:
    from incident.runtime import Runtime


@dataclass(slots=True)
class AnchorRun:
    written: list[Anchor] = field(default_factory=list)
    unchanged: int = 0
    refused: dict[str, VerifyReport] = field(default_factory=dict)
    posted: bool | None = None  # None: no anchor_url; False: the post failed
    post_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused and self.posted is not False


def write_anchor(runtime: Runtime, incident_ids: list[str] | None = None, *,
                 full: bool = False) -> AnchorRun:
    """Anchor every incident (or the given ones) whose chain head moved since its last
    anchor; refuse the ones whose chain no longer verifies. Safe to call periodically
    and from several processes (the anchor file is appended under a lock).

    ``full`` also re-verifies incidents that did not move (``incident anchor`` does, so
    cron hears of an edit at once); the service's periodic call skips them, as any
    edit to them is caught against their anchor whenever they are verified or reported.
    """
    store, log = runtime.store, runtime.anchor_log
    run = AnchorRun()
    scan = log.scan()
    if scan.problem:
        from incident.store.keys import ChainKeyProblem

        raise ChainKeyProblem(f"not anchoring: {scan.problem}")
    rows = ([store.incident(i) for i in incident_ids] if incident_ids is not None
            else store.incidents())
    heads: list[tuple[str, int, str]] = []
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        last = scan.latest.get(row.id)
        unchanged = last is not None and last.seq == row.last_seq
        if unchanged and not full:
            # Anchored as it stands: any later edit is caught against that anchor.
            run.unchanged += 1
            continue
        v = store.verify(row.id)
        if not v.ok:
            run.refused[row.id] = v
            continue
        if unchanged:
            run.unchanged += 1
            continue
        heads.append((row.id, v.head_seq, v.head_hash))
    run.written = log.append(heads, runtime.clock.now())
    url = runtime.settings.anchor_url
    if url and run.written:
        run.posted, run.post_error = _post(url, run.written)
    return run


def _post(url: str, anchors: list[Anchor]) -> tuple[bool, str]:
    """Send the new checkpoint lines to the branch (one message per run)."""
    try:
        import apprise
    except ImportError:  # pragma: no cover - apprise is a dependency
        return False, "apprise is not installed"
    lines = [f"{a.incident_id} seq={a.seq} head={a.head} at={a.at.isoformat()} "
             f"key={a.key_id} mac={a.mac}" for a in anchors]
    body = ("incident chain anchors — keep this message; it lets a later check prove the "
            "event logs were not cut or rewritten.\n\n" + "\n".join(lines))
    try:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            return False, "the anchor_url is not a URL Apprise understands"
        ok = bool(plugin.notify(body=body, title=f"incident anchors ({len(anchors)})",
                                body_format="text"))
    except Exception as exc:  # a channel failure must not lose the file anchor
        return False, f"{type(exc).__name__}: {exc}"
    return ok, "" if ok else "the channel refused the message"
