"""Time, injected: domain code asks a `Clock`, never `datetime.now()`, so tests can freeze it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._now += delta or timedelta(**kwargs)
            return self._now


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: Times formatted before, and their text: a login's answers show the same member's and
#: organization's times again and again, and every check of a session its own. Looking one up
#: costs a sixth of formatting it. Naive times (SQLite's) and aware ones at offset zero
#: (PostgreSQL's, in the connection's zone: `Etc/UTC` is a `ZoneInfo`, not `UTC`) share it: an
#: aware time never equals a naive one, and two aware times are equal when they are the same
#: instant, whose text is the same. Emptied when full.
_formatted: dict[datetime, str] = {}
_FORMATTED_KEPT = 4096


def rfc3339(value: datetime | None) -> str | None:
    """Stytch's timestamp format: `2021-12-29T12:33:09Z` (a naive `value` is UTC)."""
    if value is None:
        return None
    tz = value.tzinfo
    if tz is not None and tz is not UTC and value.utcoffset():
        # Another offset: the same instant in UTC (its fields are the text's).
        value = value.astimezone(UTC)
    text = _formatted.get(value)
    if text is None:
        if len(_formatted) >= _FORMATTED_KEPT:
            _formatted.clear()
        # Exactly `YYYY-MM-DDTHH:MM:SS` without microseconds or an offset: isoformat is C,
        # then an aware value's offset cut off (strftime cost twice as much as fields
        # formatted by hand, and those 1.7 times this).
        text = _formatted[value] = value.isoformat("T", "seconds")[:19] + "Z"
    return text
