"""One message to one recipient through one single-URL Apprise plugin.

Apprise is used the way a high-volume sender needs it: a fresh plugin instance
per message (``Apprise.instantiate``; its 5.5 s per-instance throttle never
applies), called directly from the dispatcher's own bounded pool rather than
through ``Apprise.notify()``. That wrapper adds nothing for one URL but costs
about 0.8 ms of CPU per message and, worse, attaches and detaches two log
handlers per call under ``logging``'s one process-wide lock — with a hundred
sending threads that lock is where they queue. We keep one handler on the
``apprise`` logger for the whole process instead and give each thread its own
list of what was logged during its send (the error text). ``cto``/``rto`` bound
the sockets; there are no Apprise-side retries (ours are recorded and backed off
on the injected clock).
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from dataclasses import dataclass
from typing import Any

import apprise
from apprise.exception import AppriseImproperlyConfigured

from incident.clock import monotonic
from incident.notify import sink  # noqa: F401  (registers sink://)

ASSET = apprise.AppriseAsset(service_timeout=0, async_mode=False)

SENT = "sent"
TEMPORARY = "failed_temporary"
PERMANENT = "failed_permanent"

_HTTP_CODE = re.compile(r"error=(\d{3})")
_SMTP_CODE = re.compile(r"\((\d{3}),")
_RETRYABLE_HTTP = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str          # sent | failed_temporary | failed_permanent
    elapsed_ms: float
    error: str | None = None


def classify(text: str) -> str:
    """Temporary unless the gateway said no for good (HTTP 4xx, SMTP 5xx, bad login)."""
    for m in _HTTP_CODE.finditer(text):
        code = int(m.group(1))
        if 400 <= code < 500 and code not in _RETRYABLE_HTTP:
            return PERMANENT
    for m in _SMTP_CODE.finditer(text):
        if m.group(1).startswith("5"):
            return PERMANENT
    low = text.lower()
    if "invalid login" in low or "unauthorized" in low or "authentication" in low:
        return PERMANENT
    return TEMPORARY


class _ThreadLog(logging.Handler):
    """WARNING and worse from Apprise, kept for the thread that is sending."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    def createLock(self) -> None:  # logging calls it from __init__
        self.lock = None  # emit only touches this thread's own list


_LOG = _ThreadLog()
logging.getLogger("apprise").addHandler(_LOG)


def send_one(url: str, title: str, body: str, masker: Any = None) -> Outcome:
    """Send and report; never raises. Error text is masked with `masker`."""
    mask = masker or (lambda s: s)
    t0 = monotonic()
    try:
        plugin = apprise.Apprise.instantiate(url, asset=ASSET)
    except Exception as exc:  # pragma: no cover - instantiate suppresses by default
        plugin = None
        err = str(exc)
    else:
        err = ""
    if plugin is None:
        return Outcome(PERMANENT, (monotonic() - t0) * 1000,
                       mask(f"Apprise cannot use the URL {url}{': ' + err if err else ''} — "
                            "check the channel's url (scheme, host, token)"))
    lines: list[str] = []
    _LOG.local.lines = lines
    try:
        ok = plugin.notify(body=body, title=title)
    except AppriseImproperlyConfigured as exc:  # e.g. a disabled service
        return Outcome(PERMANENT, (monotonic() - t0) * 1000, mask(str(exc)))
    except Exception as exc:  # a plugin bug must not kill the dispatcher
        return Outcome(TEMPORARY, (monotonic() - t0) * 1000,
                       mask(f"{type(exc).__name__}: {exc}"))
    finally:
        _LOG.local.lines = None
    elapsed = (monotonic() - t0) * 1000
    if ok:
        return Outcome(SENT, elapsed)
    text = "; ".join(dict.fromkeys(m.replace("\r", " ").replace("\n", " ") for m in lines))
    text = text or "the service refused the message (no detail)"
    return Outcome(classify(text), elapsed, mask(text[:600]))


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
