"""One message to one recipient through one single-URL Apprise plugin.

Apprise is used the way a high-volume sender needs it: a fresh plugin instance
per message (``Apprise.instantiate``; its 5.5 s per-instance throttle never
applies), called directly from the dispatcher's own bounded pool rather than
through ``Apprise.notify()``. That wrapper adds nothing for one URL but costs
about 0.8 ms of CPU per message and, worse, attaches and detaches two log
handlers per call under ``logging``'s one process-wide lock — with a hundred
sending threads that lock is where they queue. We keep one handler on the
``apprise`` logger for the whole process instead and give each thread its own
list of what was logged during its send (the error text), plus the servers' own
answers (HTTP status and Retry-After, the SMTP reply code and text, a TLS
certificate failure), which Apprise otherwise keeps in debug lines only.
``cto``/``rto`` bound the sockets and each send has a deadline (see send_one);
there are no Apprise-side retries (ours are recorded and backed off on the
injected clock).

Connections are reused (reuse.py): during our sends each thread keeps one
keep-alive HTTP session and one SMTP session per mail server, so a burst opens
about as many connections as there are sending threads, not one per message. A
plugin instance is still made per message (cheap next to the connection it no
longer opens), which keeps every message its own request or SMTP transaction with
its own result.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import apprise
from apprise.common import NotifyFormat
from apprise.exception import AppriseImproperlyConfigured
from apprise.plugins import GET_SCHEMA_RE, N_MGR

from incident.clock import monotonic
from incident.notify import (
    reuse,
    sink,  # noqa: F401  (registers sink://)
)

ASSET = apprise.AppriseAsset(service_timeout=0, async_mode=False)

SENT = "sent"
TEMPORARY = "failed_temporary"
PERMANENT = "failed_permanent"

_HTTP_CODE = re.compile(r"(?:error=|HTTP )(\d{3})")
_SMTP_CODE = re.compile(r"(?:\(|SMTP )(\d{3})[, ]")
_RETRYABLE_HTTP = {408, 425, 429}
DEFAULT_DEADLINE = 30.0  # seconds, when the caller names none


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str          # sent | failed_temporary | failed_permanent
    elapsed_ms: float
    error: str | None = None
    # seconds the service asked us to wait before trying again (HTTP 429
    # Retry-After, Matrix retry_after_ms); None when it said nothing
    retry_after: float | None = None


def classify(text: str) -> str:
    """Temporary unless the gateway said no for good.

    Permanent: HTTP 4xx other than 408/425/429, any SMTP 5xx (535 bad login,
    550 unknown mailbox, 554 refused), a login refused, a TLS certificate that
    does not verify (a configuration fault: retrying cannot fix it). Temporary:
    SMTP 4xx, HTTP 5xx and 429, timeouts, refused connections.
    """
    for m in _HTTP_CODE.finditer(text):
        code = int(m.group(1))
        if 400 <= code < 500 and code not in _RETRYABLE_HTTP:
            return PERMANENT
    for m in _SMTP_CODE.finditer(text):
        if m.group(1).startswith("5"):
            return PERMANENT
    low = text.lower()
    if "invalid login" in low or "unauthorized" in low or "authentication" in low \
            or "certificate verify failed" in low:
        return PERMANENT
    return TEMPORARY


# ---- what happened during one send (per thread) ----------------------------------------------

class _RetryLater(BaseException):
    """Raised inside a plugin when it would sleep past the send's deadline.

    A BaseException so that plugins' ``except Exception`` blocks let it through:
    the send ends at once and becomes a temporary failure with the wait the
    service asked for, recorded and waited out by the dispatcher's back-off on
    its clock — never a sleep inside ``notify()`` that outlives the lease.
    """

    def __init__(self, wait: float, why: str):
        super().__init__(why)
        self.wait = wait
        self.why = why


class _Trace:
    """Log lines and the servers' own answers seen by one send."""

    __slots__ = ("deadline", "lines", "replies", "retry_after")

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.lines: list[str] = []
        self.replies: list[str] = []
        self.retry_after: float | None = None

    def left(self) -> float:
        return self.deadline - monotonic()


_LOCAL = threading.local()


def _trace() -> _Trace | None:
    return getattr(_LOCAL, "trace", None)


class _ThreadLog(logging.Handler):
    """WARNING and worse from Apprise, kept for the thread that is sending."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        t = _trace()
        if t is not None:
            t.lines.append(record.getMessage())

    def handle(self, record: logging.LogRecord) -> bool:
        """Without the handler lock: emit only appends to this thread's own list, and a
        hundred sending threads would otherwise queue on it (logging.Handler.handle
        takes ``self.lock`` around emit)."""
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # 3.12+: a filter may return a record
            record = rv
        if rv:
            self.emit(record)
        return bool(rv)


_LOG = _ThreadLog()
logging.getLogger("apprise").addHandler(_LOG)


def _reply_text(text: str, limit: int = 200) -> str:
    return " ".join(str(text).split())[:limit]


def _smtp_reply(exc: BaseException) -> str:
    """'SMTP 535 5.7.8 Authentication failed' from an smtplib error, or what it says."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"SMTP {code} {_reply_text(_decode(msg))} ({rcpt})"
                 for rcpt, (code, msg) in exc.recipients.items()]
        return "; ".join(parts) or "SMTP recipients refused"
    code = getattr(exc, "smtp_code", None)
    if code is not None and code != -1:
        return f"SMTP {code} {_reply_text(_decode(getattr(exc, 'smtp_error', b'')))}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verify failed: {_reply_text(exc.verify_message or exc)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {_reply_text(exc.reason or exc)}"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "no answer from the mail server in time (timeout)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused by the mail server"
    return _reply_text(f"{type(exc).__name__}: {exc}")


def _decode(msg: Any) -> str:
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "replace")
    return str(msg)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, at.timestamp() - time.time())


# ---- one send ---------------------------------------------------------------------------------

def send_one(url: str, title: str, body: str, masker: Any = None,
             deadline: float | None = None) -> Outcome:
    """Send and report; never raises. Error text is masked with `masker`.

    `deadline`: seconds this send may take at most (the dispatcher gives less than
    the lease). Every socket is bounded by the URL's cto/rto; on top of that, no new
    HTTP request is started once the deadline has passed and a plugin that wants
    to sleep out a server's retry-after beyond it is stopped: the send is a
    temporary failure carrying the wait the server asked for.
    The body is plain text (``body_format`` text): e-mail goes out as text/plain,
    HTML-based services get it escaped.
    """
    mask = masker or (lambda s: s)
    t0 = monotonic()
    try:
        plugin = _plugin(url)
    except Exception as exc:  # pragma: no cover - instantiate suppresses by default
        plugin = None
        err = str(exc)
    else:
        err = ""
    if plugin is None:
        return Outcome(PERMANENT, (monotonic() - t0) * 1000,
                       mask(f"Apprise cannot use the URL {url}{': ' + err if err else ''} — "
                            "check the channel's url (scheme, host, token)"))
    trace = _Trace(t0 + (deadline if deadline is not None else DEFAULT_DEADLINE))
    _LOCAL.trace = trace
    try:
        ok = plugin.notify(body=body, title=title, body_format=NotifyFormat.TEXT)
    except _RetryLater as stop:
        return Outcome(TEMPORARY, (monotonic() - t0) * 1000, mask(_reply_text(
            "; ".join([*trace.replies, stop.why]), 600)), stop.wait or trace.retry_after)
    except AppriseImproperlyConfigured as exc:  # e.g. a disabled service
        return Outcome(PERMANENT, (monotonic() - t0) * 1000, mask(str(exc)))
    except Exception as exc:  # a plugin bug must not kill the dispatcher
        return Outcome(TEMPORARY, (monotonic() - t0) * 1000,
                       mask(f"{type(exc).__name__}: {exc}"))
    finally:
        _LOCAL.trace = None
    elapsed = (monotonic() - t0) * 1000
    if ok:
        return Outcome(SENT, elapsed)
    said = [m.replace("\r", " ").replace("\n", " ") for m in trace.lines]
    # the server's own answer first (what the officer must read), Apprise's summary after
    text = "; ".join(dict.fromkeys([*trace.replies, *said]))
    text = text or "the service refused the message (no detail)"
    return Outcome(classify(text), elapsed, mask(text[:600]), trace.retry_after)


def _plugin(url: str) -> Any:
    """The plugin instance for one message's URL — one per message and recipient, as
    before. The channel's plugin class parses it directly: Apprise.instantiate (through
    url_to_dict) also formats two log lines per message, eagerly, whatever the log
    level — about 0.5 ms of CPU, most of a send's set-up cost in a 4,000-message burst.
    Anything else (a native URL without its own scheme, a disabled service, a URL the
    plugin cannot parse or build) goes through Apprise.instantiate exactly as before."""
    url_ = url.replace("/#", "/%23")  # as url_to_dict
    match = GET_SCHEMA_RE.match(url_)
    schema = match.group("schema").lower() if match else ""
    if schema in N_MGR:
        cls = N_MGR[schema]
        if cls.enabled:
            try:
                results = cls.parse_url(url_)
                if results:
                    results["tag"] = set()
                    results["asset"] = ASSET
                    return cls(**results)
            except Exception:  # Apprise's own path below reports it
                pass
    return apprise.Apprise.instantiate(url, asset=ASSET)


# ---- hooks: the servers' answers and the deadline ----------------------------------------------

def _install_throttle_guard() -> None:
    """Apprise plugins sleep out a server's retry-after (``URLBase.throttle(wait=…)``)
    inside ``notify()``. During our sends a wait that would pass the deadline ends the
    send instead (see _RetryLater)."""
    from apprise.url import URLBase

    original = URLBase.throttle
    if getattr(original, "_incident_guard", False):
        return

    def throttle(self: Any, last_io: Any = None, wait: float | None = None) -> None:
        t = _trace()
        if t is not None and wait:
            if t.retry_after is None or wait > t.retry_after:
                t.retry_after = float(wait)
            if wait >= t.left():
                raise _RetryLater(float(wait), f"the service asked to wait {wait:g} s "
                                  "before trying again (rate limited)")
        return original(self, last_io=last_io, wait=wait)

    throttle._incident_guard = True  # type: ignore[attr-defined]
    URLBase.throttle = throttle  # type: ignore[method-assign]


def _install_http_trace() -> None:
    """Keep each HTTP error answer (status, reason, Retry-After, start of the body) for
    the sending thread, and start no request once its deadline has passed."""
    import requests
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.send
    if getattr(original, "_incident_trace", False):
        return

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        t = _trace()
        if t is None:
            return original(self, request, *args, **kwargs)
        if t.left() <= 0:
            raise _RetryLater(0.0, "the send ran out of its time limit before the next "
                              "request (deadline)")
        try:
            resp = original(self, request, *args, **kwargs)
        except requests.exceptions.SSLError as exc:
            text = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                t.replies.append("TLS certificate verify failed: "
                                 + _reply_text(text.rsplit("certificate verify failed", 1)[-1]
                                               .strip(" :()'\""), 120))
            else:
                t.replies.append("TLS error: " + _reply_text(text, 160))
            raise
        except requests.exceptions.ConnectTimeout:
            t.replies.append("no answer from the gateway in time (connect timeout)")
            raise
        except requests.exceptions.ReadTimeout:
            t.replies.append("no answer from the gateway in time (read timeout)")
            raise
        except requests.exceptions.ConnectionError as exc:
            low = str(exc).lower()
            t.replies.append("connection refused by the gateway" if "refused" in low
                             else "connection failed: " + _reply_text(exc, 160))
            raise
        if resp.status_code >= 400:
            retry = _parse_retry_after(resp.headers.get("Retry-After"))
            if retry is not None:
                t.retry_after = retry if t.retry_after is None else max(t.retry_after, retry)
            snippet = ""
            if not kwargs.get("stream"):
                try:
                    snippet = _reply_text(resp.text, 160)
                except Exception:  # pragma: no cover - undecodable body
                    snippet = ""
            text = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
            if retry is not None:
                text += f" (Retry-After {retry:g} s)"
            if snippet:
                text += f": {snippet}"
            t.replies.append(text)
        return resp

    send._incident_trace = True  # type: ignore[attr-defined]
    HTTPAdapter.send = send  # type: ignore[method-assign]


def _install_smtp_trace() -> None:
    """Keep the SMTP server's reply (535 bad login, 550 unknown mailbox, a TLS
    certificate failure) for the sending thread: Apprise logs only "Connection error
    while submitting email" and puts the reason in a debug line."""
    try:
        from apprise.plugins.email import base as email_base
        from apprise.plugins.email import smtp as email_smtp
    except ImportError:  # pragma: no cover - another Apprise layout
        return
    controller = getattr(email_base, "AppriseSMTPController", None)
    if controller is None or getattr(controller, "_incident_trace", False):
        return
    errors = getattr(email_smtp, "SMTP_EXCEPTIONS", (OSError, smtplib.SMTPException))

    class TracedSMTPController(controller):  # type: ignore[misc, valid-type]
        """Apprise's controller, with the server's replies kept and, during our sends,
        the thread's SMTP session reused (see reuse.py) instead of a new session per
        message. Each message stays its own MAIL/RCPT/DATA transaction: one result per
        recipient, exactly as with a fresh session."""

        _incident_trace = True

        def __enter__(self) -> Any:
            self._entry = None
            self._reused = False
            if _trace() is None:  # not one of our sends: Apprise's own behaviour
                return self._connect()
            self._key = (self.host, self.port, self.secure_mode, self.user, self.password,
                         self.verify_certificate, self.socket_connect_timeout)
            entry = reuse.smtp_take(self._key)
            if entry is not None:
                self._entry, self._reused, self._socket = entry, True, entry.smtp
                return self
            self._connect()
            self._entry = reuse.smtp_new(self._key, self._socket)
            return self

        def _connect(self) -> Any:
            try:
                got = super().__enter__()
            except errors as exc:
                t = _trace()
                if t is not None:
                    t.replies.append(_smtp_reply(exc))
                raise
            _mark_data(self._socket)
            return got

        def sendmail(self, from_addr: str, to_addrs: list, message: str) -> bool:
            t = _trace()
            if t is not None and t.left() <= 0:
                raise _RetryLater(0.0, "the send ran out of its time limit before the "
                                  "message was handed over (deadline)")
            try:
                refused = self._sendmail(from_addr, to_addrs, message)
            except errors as exc:
                if self._entry is not None and not _session_intact(self._socket, exc):
                    self._entry.used = reuse.SMTP_MAX_MESSAGES  # broken: never reused
                if t is not None:
                    t.replies.append(_smtp_reply(exc))
                return False
            if refused:
                if t is not None:
                    t.replies.append(_smtp_reply(smtplib.SMTPRecipientsRefused(refused)))
                return False
            return True

        def _sendmail(self, from_addr: str, to_addrs: list, message: str) -> dict:
            sock = self._socket
            sock._incident_data = False  # type: ignore[union-attr]
            try:
                out = sock.sendmail(from_addr, to_addrs, message)  # type: ignore[union-attr]
            except errors as exc:
                if not (self._reused and _dropped_before_data(sock, exc)):
                    raise
                # The kept session had been closed by the server before this message
                # (idle timeout, restart): nothing of it was handed over, so it goes
                # once on a fresh session.
                reuse.smtp_give_back(self._entry, healthy=False)  # type: ignore[arg-type]
                self._entry, self._reused = None, False
                self._connect()
                self._entry = reuse.smtp_new(self._key, self._socket)
                out = self._socket.sendmail(from_addr, to_addrs, message)  # type: ignore
            if self._entry is not None:
                self._entry.used += 1
            return out

        def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
            entry = self._entry
            if entry is None:
                return super().__exit__(exc_type, exc_val, exc_tb)
            self._entry = None
            reuse.smtp_give_back(entry, healthy=exc_type is None)
            return None

    email_base.AppriseSMTPController = TracedSMTPController


def _mark_data(sock: Any) -> None:
    """Note on the session when DATA is sent: a drop before it handed nothing over."""
    if sock is None or getattr(sock, "_incident_marked", False):
        return
    data = sock.data

    def marked(msg: Any) -> Any:
        sock._incident_data = True
        return data(msg)

    sock.data = marked
    sock._incident_marked = True
    sock._incident_data = False


def _session_intact(sock: Any, exc: BaseException) -> bool:
    """A refusal the server answered in order (550 unknown mailbox, 552 at DATA):
    smtplib has reset the transaction and the session can carry the next message."""
    if getattr(sock, "sock", None) is None:
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code != 421 \
        and not isinstance(exc, smtplib.SMTPServerDisconnected)


def _dropped_before_data(sock: Any, exc: BaseException) -> bool:
    if getattr(sock, "_incident_data", True):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421  # "closing channel" at MAIL/RCPT
    return isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError))


_install_throttle_guard()
_install_http_trace()
_install_smtp_trace()
reuse.install(lambda: _trace() is not None)


# ---- SMTP: reuse SSL contexts --------------------------------------------------------------
# Apprise 2.2 builds ssl.create_default_context() (loading the whole system CA store,
# ~30 ms of CPU under the GIL) for every SMTP connection, even a plain one. At two
# thousand e-mails that is a minute of CPU. We hand its SMTP module a context that is
# materialised only when TLS is really used, and built once per configuration
# (check_hostname / verify_mode), then shared (SSLContext is thread-safe to share).

class _LazyContext:
    def __init__(self) -> None:
        object.__setattr__(self, "_opts", {})

    def __setattr__(self, key: str, value: Any) -> None:
        self._opts[key] = value

    def __getattr__(self, key: str) -> Any:
        return getattr(_context(tuple(self._opts.items())), key)


_contexts: dict[tuple, ssl.SSLContext] = {}
_ctx_lock = threading.Lock()


def _context(key: tuple) -> ssl.SSLContext:
    with _ctx_lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = ssl.create_default_context()
            for k, v in key:
                setattr(ctx, k, v)
            _contexts[key] = ctx
        return ctx


class _SslForSmtp:
    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    def create_default_context(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return ssl.create_default_context(*args, **kwargs)
        return _LazyContext()


def _install_smtp_context_cache() -> None:
    try:
        from apprise.plugins.email import smtp
    except ImportError:  # pragma: no cover - another Apprise layout
        return
    if getattr(smtp, "ssl", None) is ssl and hasattr(smtp, "AppriseSMTPController"):
        smtp.ssl = _SslForSmtp()


_install_smtp_context_cache()
