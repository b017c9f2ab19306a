"""Connection reuse for our sends: keep-alive HTTP and pooled SMTP sessions.

Apprise 2.x plugins have no hook for a shared HTTP session: they call
``requests.post(...)`` directly, and ``requests``' module-level functions build a
throw-away ``Session`` per call (a new TCP — and TLS — connection per message).
With a gateway that answers in 200 ms and thousands of messages, the connect
cost and, worse, our CPU for it, is what a burst waits on. Likewise Apprise's
e-mail plugin opens, EHLOs, (STARTTLS,) logs in and QUITs an SMTP session for
every message.

Both are changed here, in this one module, and **only while one of our sends is
running** (``active()``: the caller's per-thread send trace, see send.py) — any
other use of requests or Apprise in the process is left exactly as it was:

* HTTP: ``requests.api.request`` (which ``requests.post/get/…`` all call) uses one
  ``requests.Session`` per sending thread instead of a new one per call. urllib3
  keeps its connections per scheme/host/port (and TLS settings) inside that
  session, so each worker thread holds one keep-alive connection per gateway.
  The session keeps no cookies (a gateway's cookie never travels to the next
  message) and takes environment settings (proxies, CA bundle) per request as
  before. A connection the server has closed is noticed by urllib3 before reuse
  and replaced.
* SMTP: ``smtp_session(key, connect)`` hands the controller (send.py) the thread's
  open, authenticated session for the same host, port, TLS mode, login and
  certificate policy, or connects a new one. A session is used for at most
  ``SMTP_MAX_MESSAGES`` messages and not after ``SMTP_IDLE_S`` of silence (servers
  drop idle clients); a session that failed in any way other than a refused
  recipient is closed and never reused. Every message is still its own
  MAIL/RCPT/DATA transaction, so results stay per recipient.

``close_all()`` ends every pooled SMTP session politely (QUIT); send processes
call it when they leave.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import smtplib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

SMTP_MAX_MESSAGES = 100   # then QUIT and open a fresh session (servers cap sessions)
SMTP_IDLE_S = 20.0        # an SMTP session idle longer is not trusted (servers time out)

_LOCAL = threading.local()
_active: Callable[[], bool] = lambda: False  # noqa: E731 - set by install()
# every open pooled session, for close_all(); weak, so that a session whose thread has
# ended (its thread-local pool gone) is collected and its socket closed, not leaked
_all_smtp: weakref.WeakSet[_Pooled] = weakref.WeakSet()
_all_lock = threading.Lock()


def active() -> bool:
    return _active()


# ---- HTTP ------------------------------------------------------------------------------------

class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


def _session() -> Any:
    s = getattr(_LOCAL, "http", None)
    if s is None:
        import requests

        s = requests.Session()
        s.cookies.set_policy(_NoCookies())
        _LOCAL.http = s
    return s


def _install_http() -> None:
    import requests.api

    original = requests.api.request
    if getattr(original, "_incident_reuse", False):
        return

    def request(method: str, url: str, **kwargs: Any) -> Any:
        if not _active():
            return original(method, url, **kwargs)
        return _session().request(method=method, url=url, **kwargs)

    request._incident_reuse = True  # type: ignore[attr-defined]
    request.__wrapped__ = original  # type: ignore[attr-defined]
    requests.api.request = request


def http_session_reused() -> bool:
    """True when requests.post & co. go through our per-thread session (for tests)."""
    import requests.api

    return getattr(requests.api.request, "_incident_reuse", False)


# ---- SMTP ------------------------------------------------------------------------------------

class _Pooled:
    __slots__ = ("__weakref__", "key", "last", "smtp", "used")

    def __init__(self, key: tuple, smtp: smtplib.SMTP):
        self.key = key
        self.smtp = smtp
        self.used = 0
        self.last = time.monotonic()


def _pool() -> dict[tuple, _Pooled]:
    p = getattr(_LOCAL, "smtp", None)
    if p is None:
        p = _LOCAL.smtp = {}
    return p


def _quit(entry: _Pooled) -> None:
    with _all_lock:
        _all_smtp.discard(entry)
    with contextlib.suppress(Exception):
        entry.smtp.quit()
    with contextlib.suppress(Exception):
        entry.smtp.close()


def smtp_take(key: tuple) -> _Pooled | None:
    """The thread's open session for `key`, taken out of the pool (None: connect anew)."""
    entry = _pool().pop(key, None)
    if entry is None:
        return None
    if entry.used >= SMTP_MAX_MESSAGES or time.monotonic() - entry.last > SMTP_IDLE_S \
            or entry.smtp.sock is None:
        _quit(entry)
        return None
    return entry


def smtp_new(key: tuple, smtp: smtplib.SMTP) -> _Pooled:
    entry = _Pooled(key, smtp)
    with _all_lock:
        _all_smtp.add(entry)
    return entry


def smtp_give_back(entry: _Pooled, healthy: bool) -> None:
    """Back into the thread's pool after a send, or closed when it is not healthy."""
    entry.last = time.monotonic()
    if not healthy or entry.used >= SMTP_MAX_MESSAGES:
        _quit(entry)
        return
    old = _pool().pop(entry.key, None)
    if old is not None and old is not entry:  # pragma: no cover - one send per thread
        _quit(old)
    _pool()[entry.key] = entry


def close_all() -> None:
    """QUIT every pooled SMTP session of every thread."""
    with _all_lock:
        entries = list(_all_smtp)
    for e in entries:
        _quit(e)


def install(is_active: Callable[[], bool]) -> None:
    """Reuse connections while `is_active()` says one of our sends is running."""
    global _active
    _active = is_active
    _install_http()
