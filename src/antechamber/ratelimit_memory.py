"""Moving-window counters in this process's memory, for `RateLimiter` without Redis.

Why not the `limits` package's memory storage: it expires entries from a timer thread that walks
every key it holds every 10 ms while there is traffic. Each distinct recipient, phone prefix and
client address is a key kept for its longest window (an hour, a day), so that walk grows with
the day's traffic: at 30,000 keys it took more than a whole core, holding the GIL the request
threads need. Here a key's old entries are dropped when the key is used, and keys nobody used
for their whole window are swept at most once a minute, on the caller's thread.

Same contract as `limits.strategies.MovingWindowRateLimiter` for the calls `RateLimiter` makes:
`test`, `hit`, `get_window_stats`, `clear`, and `reset` (which the Redis path finds on its storage).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from limits import RateLimitItem
from limits.util import WindowStats

#: How often keys untouched for their whole window are forgotten.
SWEEP_SECONDS = 60.0


def _key(item: RateLimitItem, identifiers: tuple[str, ...]) -> tuple[object, ...]:
    """A window's key: the limit's amount and length, and the identifiers. A tuple, not
    `item.key_for`'s string (which escapes and joins every part on each call): the keys never
    leave this process."""
    return (item.amount, item.multiples, item.GRANULARITY.seconds, *identifiers)


class MemoryWindows:
    """Moving windows: an event counts for `item`'s expiry after it was hit, then not at all."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        # key → (the window's length in seconds, the times of its events, oldest first)
        self._windows: dict[tuple[object, ...], tuple[float, deque[float]]] = {}
        self._next_sweep = now() + SWEEP_SECONDS

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more event would be allowed now; counts nothing."""
        with self._lock:
            return len(self._events(item, identifiers, self._now())) < item.amount

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one event if the window has room for it; False (and nothing counted) if not."""
        now = self._now()
        with self._lock:
            events = self._events(item, identifiers, now)
            if len(events) >= item.amount:
                return False
            if not events:
                self._windows[_key(item, identifiers)] = (item.get_expiry(), events)
            events.append(now)
            if now >= self._next_sweep:
                self._sweep(now)
            return True

    def hit_all(self, planned: Sequence[tuple[RateLimitItem, tuple[str, ...]]]) -> int:
        """Count one event in every window of `planned` if each has room, all under one lock.

        Returns -1 when every event was counted, else the index of the first window without
        room (and nothing is counted). Exact: no other caller slips in between the test and the
        hit, so concurrent callers never overshoot any of the windows.
        """
        now = self._now()
        with self._lock:
            found = [self._events(item, identifiers, now) for item, identifiers in planned]
            for index, ((item, _), events) in enumerate(zip(planned, found, strict=True)):
                if len(events) >= item.amount:
                    return index
            for (item, identifiers), events in zip(planned, found, strict=True):
                if not events:
                    # A window seen empty: a new one, or (a check listed twice) the one the
                    # previous step stored.
                    key = _key(item, identifiers)
                    events = self._windows.setdefault(key, (item.get_expiry(), events))[1]
                events.append(now)
            if now >= self._next_sweep:
                self._sweep(now)
            return -1

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """When the oldest counted event leaves the window, and how many events remain."""
        now = self._now()
        with self._lock:
            events = self._events(item, identifiers, now)
            oldest = events[0] if events else now
            return WindowStats(oldest + item.get_expiry(), max(0, item.amount - len(events)))

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        """Forget the events of one window."""
        with self._lock:
            self._windows.pop(_key(item, identifiers), None)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def __len__(self) -> int:
        """Keys held (for tests of the sweep)."""
        return len(self._windows)

    def _events(
        self, item: RateLimitItem, identifiers: tuple[str, ...], now: float
    ) -> deque[float]:
        held = self._windows.get(_key(item, identifiers))
        if held is None:
            return deque()
        expiry, events = held
        while events and events[0] <= now - expiry:
            events.popleft()
        return events

    def _sweep(self, now: float) -> None:
        self._windows = {
            key: (expiry, events)
            for key, (expiry, events) in self._windows.items()
            if events and events[-1] > now - expiry
        }
        self._next_sweep = now + SWEEP_SECONDS
