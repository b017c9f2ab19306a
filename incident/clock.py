"""The one source of time for the core.

Live incidents use the system clock, drills a scaled clock, tests a manual clock.
Nothing else in the core may call datetime.now() or sleep().
"""

from __future__ import annotations

import math
import re
import threading
import time as _time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # pydantic only on the error path: every command reads the clock
    from pydantic_core import PydanticCustomError


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    """Runs `speed` times faster than real time from `start` (drills, tabletop)."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None,
                 source: Clock | None = None):
        self._source = source or SystemClock()
        self._real0 = self._source.now()
        self.start = start or self._real0
        self.speed = float(speed)

    def now(self) -> datetime:
        return self.start + (self._source.now() - self._real0) * self.speed


class ManualClock:
    """Moves only when told to: for tests and headless rehearsals."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float | str) -> datetime:
        """Move forward by a timedelta, seconds, or a duration like '5m'."""
        if isinstance(delta, str):
            delta = parse_duration(delta)
        elif not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


def monotonic() -> float:
    """Elapsed-time measurement (attempt durations), never wall time."""
    return _time.perf_counter()


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


# Every wait, deadline and offset in an incident is within this; anything longer is a typo
# (and '99999999999h' would overflow Python's timedelta in the middle of a command).
MAX_DURATION = timedelta(days=30)


#: the finding of a well-formed duration that is longer than MAX_DURATION
TOO_LONG = "val.clock.too_long"


def _invalid(key: str, hint: str = "", **fields: object) -> PydanticCustomError:
    from incident.validation import invalid  # a catalogue message pydantic reports as is

    return invalid(key, hint, **fields)


def parse_duration(text: str | int | float) -> timedelta:
    """'90s', '5m', '1h30m', '2h', or a number of minutes; from 0 up to MAX_DURATION."""
    if isinstance(text, bool):
        raise _invalid("val.clock.duration_expected")
    if isinstance(text, int | float):
        try:
            minutes = float(text)
        except OverflowError:
            minutes = math.inf
        if math.isnan(minutes) or minutes < 0:
            raise _invalid("val.clock.not_duration_number", "val.clock.duration.hint",
                           value=repr(text))
        return _bounded(minutes * 60, text)
    m = _DURATION.match(str(text))
    if not m or not any(m.groups()):
        raise _invalid("val.clock.not_duration", "val.clock.duration.hint", value=text)
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return _bounded(h * 3600 + mi * 60 + s, text)


def _bounded(seconds: float, text: object) -> timedelta:
    if not seconds <= MAX_DURATION.total_seconds():  # also catches inf
        shown = str(text) if len(str(text)) <= 24 else str(text)[:20] + "…"
        raise _invalid(TOO_LONG, "val.clock.too_long.hint", value=shown,
                       days=MAX_DURATION.days)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Compact human form: '4m05s', '1h02m', '-0m30s' for overdue."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{sign}{h}h{m:02d}m"
    return f"{sign}{m}m{s:02d}s"


def clock_from_setting(text: str) -> Clock:
    """'system', or 'fixed:ISO-8601' for a process that must act at a given moment."""
    text = (text or "system").strip()
    if text == "system":
        return SystemClock()
    if text.startswith("fixed:"):
        when = datetime.fromisoformat(text[6:].strip())
        if when.tzinfo is None:
            raise _invalid("val.clock.no_timezone", value=text)
        return ManualClock(when.astimezone(UTC))
    raise _invalid("val.clock.setting", value=text)
