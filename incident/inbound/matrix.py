"""A Matrix bot that reads replies from its rooms with the client-server sync API.

Long-polls ``GET /_matrix/client/v3/sync?since=…&timeout=…`` with the bot's access
token (``Authorization: Bearer``), and hands every ``m.room.message`` text in the
joined rooms' timelines (``rooms.join.<room>.timeline.events``) to the inbox as a
message from its ``sender`` (a Matrix id such as ``@wang.qiang:estate.lan``, matched
against people's chat addresses) with the ``event_id`` as provider id. The homeserver
authenticates senders; the bot's own messages, edits and non-text events are skipped.
``next_batch`` is the next ``since``; on errors it backs off (5 s doubling to 60 s).
An invitation (``rooms.invite``) from a person of the directory — someone opening a
direct chat with the bot — is accepted (``POST /join/{roomId}``); others are ignored.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from incident.i18n import t
from incident.inbound.adapters import Message
from incident.inbound.config import InboundChannel

FILTER = json.dumps({
    "presence": {"types": []}, "account_data": {"types": []},
    "room": {"timeline": {"limit": 50, "types": ["m.room.message"]},
             "ephemeral": {"types": []}, "account_data": {"types": []}},
}, separators=(",", ":"))


class MatrixReader:
    def __init__(self, channel: InboundChannel, take: Callable[[str, Message], Any],
                 say: Callable[[str], None], *, poll_ms: int = 30_000,
                 knows: Callable[[str, str], bool] | None = None, lang: str = "en"):
        self.ch = channel
        self.lang = lang  # of the lines said to the staff running the listener
        self.take = take
        self.knows = knows or (lambda _channel, _sender: False)
        self.say = say
        self.poll_ms = poll_ms
        self.base = (channel.homeserver or "").rstrip("/")
        self.since: str | None = None
        self.me: str | None = None
        self._ignored: set[str] = set()
        self.stopping = threading.Event()
        self.synced = threading.Event()  # set after the first successful sync (tests)
        self._thread = threading.Thread(target=self.run, name=f"matrix-{channel.name}",
                                        daemon=True)

    def _get(self, path: str, params: dict[str, Any] | None = None,
             timeout: float = 10.0, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.base + path + ("?" + urlencode(params) if params else "")
        req = urllib.request.Request(url, headers={
            "Authorization": f"Bearer {self.ch.secret}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if body is not None else {})},
            data=json.dumps(body).encode() if body is not None else None,
            method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        backoff = 5.0
        while not self.stopping.is_set():
            try:
                if self.me is None:
                    self.me = str(self._get("/_matrix/client/v3/account/whoami")["user_id"])
                    self.say(t("refused.inbound.matrix_reading", self.lang,
                               channel=self.ch.name, me=self.me))
                self.sync_once()
                backoff = 5.0
            except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
                why = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) \
                    else type(exc).__name__
                self.say(t("refused.inbound.matrix_sync_failed", self.lang,
                           channel=self.ch.name, why=why, seconds=f"{backoff:g}"))
                self.stopping.wait(backoff)
                backoff = min(60.0, backoff * 2)

    def sync_once(self) -> int:
        """One /sync; the messages it carried are handed over. Returns how many."""
        params: dict[str, Any] = {"filter": FILTER,
                                  "timeout": self.poll_ms if self.since else 0}
        if self.since:
            params["since"] = self.since
        doc = self._get("/_matrix/client/v3/sync", params,
                        timeout=self.poll_ms / 1000 + 30)
        n = 0
        rooms = doc.get("rooms") or {}
        for room_id, room in (rooms.get("invite") or {}).items():
            self.invited(str(room_id), room)
        for room in (rooms.get("join") or {}).values():
            for e in ((room or {}).get("timeline") or {}).get("events") or ():
                msg = self.message(e)
                if msg is not None:
                    self.take(self.ch.name, msg)
                    n += 1
        self.since = str(doc["next_batch"])
        self.synced.set()
        return n

    def invited(self, room_id: str, room: Any) -> None:
        """Join a room a person of the directory invited the bot to (their direct chat
        with it); an invitation from anyone else is left unanswered."""
        events = ((room or {}).get("invite_state") or {}).get("events") or ()
        inviter = next((e.get("sender") for e in events if isinstance(e, dict)
                        and e.get("type") == "m.room.member" and e.get("state_key") == self.me
                        and (e.get("content") or {}).get("membership") == "invite"), None)
        if not isinstance(inviter, str) or not self.knows(self.ch.name, inviter):
            if room_id not in self._ignored:
                self._ignored.add(room_id)
                self.say(t("refused.inbound.matrix_not_joining", self.lang,
                           channel=self.ch.name, room=room_id))
            return
        try:
            self._get("/_matrix/client/v3/join/" + quote(room_id, safe=""), body={})
            self.say(t("refused.inbound.matrix_joined", self.lang, channel=self.ch.name,
                       room=room_id))
        except (OSError, ValueError) as exc:
            self.say(t("refused.inbound.matrix_join_failed", self.lang, channel=self.ch.name,
                       room=room_id, error=type(exc).__name__))

    def message(self, e: Any) -> Message | None:
        if not isinstance(e, dict) or e.get("type") != "m.room.message":
            return None
        content = e.get("content") or {}
        if e.get("sender") == self.me or not isinstance(content, dict):
            return None
        if content.get("msgtype") != "m.text" or "m.new_content" in content:
            return None  # images, notices, edits of an earlier message
        body, sender, eid = content.get("body"), e.get("sender"), e.get("event_id")
        if not (isinstance(body, str) and isinstance(sender, str) and isinstance(eid, str)):
            return None
        ts = e.get("origin_server_ts")
        return Message(sender, body[:2000], eid,
                       ts / 1000 if isinstance(ts, (int, float)) else None)

