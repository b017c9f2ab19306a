"""The forms gateways post replies in, read into one Message, and each one's credential.

- generic: JSON ``{"from": ADDRESS, "text": TEXT, "id": PROVIDER_ID}``; the secret in
  the ``X-Incident-Secret`` header (or ``Authorization: Bearer``).
- smseagle: SMSEagle's Callback URL (GET or POST form): ``sender``, ``text``, ``msgid``,
  ``timestamp``; the secret is the rule's "API key", sent as ``apikey``.
- kannel: a Kannel ``sms-service`` get-url such as
  ``…/inbound/sms?from=%p&text=%a&id=%I&key=SECRET`` (also POSTed as a form); a
  post-url body with the ``X-Kannel-From`` header works too (``key`` in the URL).
- mattermost: an outgoing webhook (form or JSON): ``token``, ``user_name``, ``text``,
  ``post_id``, ``trigger_word``; the secret is the webhook's token.
- matrix: not posted — the bot reads its rooms (incident.inbound.matrix).

Every value is checked: a missing field is a 400 naming it, a missing or wrong secret
401/403. Secrets are compared in constant time and never echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from incident.inbound.config import InboundChannel

MAX_BODY = 64 * 1024
MAX_TEXT = 2000


class InboundError(Exception):
    """A request refused: the HTTP status and why (safe to show the caller)."""

    def __init__(self, status: int, reason: str, outcome: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.outcome = outcome  # the counter it adds to


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Message:
    sender: str
    text: str
    provider_id: str
    sent_at: float | None = None  # provider's time (epoch seconds) when it says so


def _form(req: Request) -> dict[str, str]:
    """Query and body fields as one flat dict (body wins); JSON or form bodies."""
    out = {k: v[-1] for k, v in parse_qs(req.query, keep_blank_values=True).items()}
    ctype = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if not req.body:
        return out
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InboundError(400, "the body is not UTF-8", "malformed") from None
    if ctype == "application/json" or (not ctype and text.lstrip().startswith("{")):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InboundError(400, f"the body is not JSON ({exc.msg}, line {exc.lineno} "
                               f"column {exc.colno})", "malformed") from None
        if not isinstance(doc, dict):
            raise InboundError(400, "the JSON body must be an object", "malformed")
        for k, v in doc.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                out[str(k)] = str(v)
        return out
    if ctype in ("application/x-www-form-urlencoded", ""):
        out.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    return out  # text/plain: a Kannel post-url body, read by its adapter


def _need(fields: Mapping[str, str], *names: str) -> str:
    for n in names:
        v = fields.get(n)
        if v is not None and str(v).strip():
            return str(v)
    raise InboundError(400, f"field '{names[0]}' is missing or empty", "malformed")


def _check(given: str | None, ch: InboundChannel) -> None:
    if not ch.secret:
        raise InboundError(403, f"channel '{ch.name}' has no secret set (${{{ch.secret_name}}})"
                           " — it takes no replies until it does", "unauthenticated")
    if not given:
        raise InboundError(401, "no credential: send the channel's secret", "unauthenticated")
    if not hmac.compare_digest(given.encode("utf-8"), ch.secret.encode("utf-8")):
        raise InboundError(403, "wrong credential", "unauthenticated")


def _bearer(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise InboundError(413, f"the text is longer than {MAX_TEXT} characters", "malformed")
    return value


def read(ch: InboundChannel, req: Request) -> Message:
    """The message in `req`, after checking its credential (InboundError otherwise)."""
    if ch.format == "matrix":
        raise InboundError(405, f"channel '{ch.name}' is read from Matrix, not posted to",
                           "malformed")
    fields = _form(req)
    if ch.format == "generic":
        _check(req.headers.get("x-incident-secret") or _bearer(req.headers), ch)
        return Message(_need(fields, "from"), _text(_need(fields, "text")),
                       _need(fields, "id"))
    if ch.format == "smseagle":
        _check(fields.get("apikey"), ch)
        return Message(_need(fields, "sender"), _text(_need(fields, "text")),
                       _need(fields, "msgid"))
    if ch.format == "kannel":
        _check(fields.get("key") or req.headers.get("x-incident-secret"), ch)
        sender = fields.get("from") or req.headers.get("x-kannel-from") or ""
        if not sender.strip():
            raise InboundError(400, "field 'from' is missing (get-url: from=%p)", "malformed")
        text = fields.get("text")
        if text is None and req.body and "x-kannel-from" in req.headers:
            text = req.body.decode("utf-8", "replace")
        if not (text or "").strip():
            raise InboundError(400, "field 'text' is missing (get-url: text=%a)", "malformed")
        pid = fields.get("id") or ""
        if not pid.strip():  # no %I: the same sender, text and minute is the same message
            stamp = fields.get("time") or req.headers.get("x-kannel-time") or ""
            if not stamp:
                raise InboundError(400, "field 'id' is missing (get-url: id=%I, or time=%t)",
                                   "malformed")
            pid = "h:" + hashlib.sha256(f"{sender}\n{text}\n{stamp}".encode()).hexdigest()[:32]
        return Message(sender.strip(), _text(str(text)), pid)
    if ch.format == "mattermost":
        _check(fields.get("token"), ch)
        text = _need(fields, "text")
        trigger = fields.get("trigger_word") or ch.trigger or ""
        if trigger and text.lstrip().lower().startswith(trigger.lower()):
            text = text.lstrip()[len(trigger):].strip()
        return Message(_need(fields, "user_name"), _text(text), _need(fields, "post_id"))
    raise InboundError(500, f"unknown format {ch.format}", "malformed")  # pragma: no cover
