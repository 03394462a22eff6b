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
from collections.abc import Callable

from limits import RateLimitItem
from limits.util import WindowStats

#: How often keys untouched for their whole window are forgotten.
SWEEP_SECONDS = 60.0


class MemoryWindows:
    """Moving windows: an event counts for `item`'s expiry after it was hit, then not at all."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        # key → (the window's length in seconds, the times of its events, oldest first)
        self._windows: dict[str, tuple[float, deque[float]]] = {}
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
                self._windows[item.key_for(*identifiers)] = (item.get_expiry(), events)
            events.append(now)
            if now >= self._next_sweep:
                self._sweep(now)
            return True

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
            self._windows.pop(item.key_for(*identifiers), None)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def __len__(self) -> int:
        """Keys held (for tests of the sweep)."""
        return len(self._windows)

    def _events(
        self, item: RateLimitItem, identifiers: tuple[str, ...], now: float
    ) -> deque[float]:
        held = self._windows.get(item.key_for(*identifiers))
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
