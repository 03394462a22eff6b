"""Moving-window counters in this process's memory, for `RateLimiter` without Redis.

Why not the `limits` package's memory storage: it expires entries from a timer thread that walks
every key it holds every 10 ms while there is traffic. Each distinct recipient, phone prefix and
client address is a key kept for its longest window (an hour, a day), so that walk grows with
the day's traffic: at 30,000 keys it took more than a whole core, holding the GIL the request
threads need. Here a key's old entries are dropped when the key is used, and keys nobody used
for their whole window are swept at most once a minute, on the caller's thread.

Memory is bounded per window whatever its limit: a window holds at most `STEPS` + 1 steps, each
the time of its latest event and how many events it coalesces (see `MemoryWindows`), so a
generous limit (a billion an hour) costs a few kilobytes, not a float per event for an hour.

Same contract as `limits.strategies.MovingWindowRateLimiter` for the calls `RateLimiter` makes:
`test`, `hit`, `get_window_stats`, `clear`, and `reset` (which the Redis path finds on its storage).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from limits import RateLimitItem
from limits.util import WindowStats

#: How often keys untouched for their whole window are forgotten.
SWEEP_SECONDS = 60.0

#: Steps a window with a limit above this keeps (at most one more): an event counts up to
#: 1/STEPS of its window longer than the window (36 s of an hour), never shorter.
STEPS = 100


def _key(item: RateLimitItem, identifiers: tuple[str, ...]) -> tuple[object, ...]:
    """A window's key: the limit's amount and length, and the identifiers. A tuple, not
    `item.key_for`'s string (which escapes and joins every part on each call): the keys never
    leave this process."""
    return (item.amount, item.multiples, item.GRANULARITY.seconds, *identifiers)


class _Window:
    """One key's events in one window, oldest first, as steps: `[latest, count]`, the time of
    the step's latest event and how many events it holds."""

    __slots__ = ("cell", "expiry", "steps", "total", "width")

    def __init__(self, item: RateLimitItem, steps: int) -> None:
        self.expiry = expiry = float(item.get_expiry())
        # Seconds of a step (events in one `now // width` cell share a step), or 0: exact,
        # only events at the same instant share one.
        self.width = expiry / steps if item.amount > steps else 0.0
        # A list, not a deque: at most STEPS + 1 entries, so dropping the oldest is a short
        # move, and an empty list is 56 bytes where a deque is 760 (most keys hold one event).
        self.steps: list[list[float]] = []
        self.total = 0  # the events of every step
        self.cell = 0.0  # the cell of the last step

    def expire(self, now: float) -> None:
        """Drop the steps whose latest event has left the window."""
        steps = self.steps
        oldest = now - self.expiry
        while steps and steps[0][0] <= oldest:
            self.total -= int(steps.pop(0)[1])


class MemoryWindows:
    """Moving windows: an event counts for `item`'s expiry after it was hit, then not at all.

    Memory: a window whose limit is at most `steps` never holds more than its limit's events
    and keeps each one exactly (events at the same instant share a step), as a log of events
    would. A window with a larger limit coalesces: its length is cut into `steps` cells of
    time (`now // (expiry / steps)`), and the events of one cell share a step that lives until
    its latest event leaves the window, so such a window holds at most `steps` + 1 steps
    whatever its traffic (with a clock that does not step back).

    Counting never under-counts: each event counts at least for its whole window, and at most
    `expiry / steps` longer (the rest of its cell), so a window never lets through an event a
    moving-window log would refuse; it may refuse one the log would allow, for at most that
    long. A single event, and events further apart than a cell, count exactly.
    """

    def __init__(self, now: Callable[[], float] = time.time, *, steps: int = STEPS) -> None:
        self._now = now
        self._steps = steps
        self._lock = threading.Lock()
        self._windows: dict[tuple[object, ...], _Window] = {}
        self._next_sweep = now() + SWEEP_SECONDS

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more event would be allowed now; counts nothing."""
        with self._lock:
            window = self._window(item, identifiers, self._now())
            return (window.total if window is not None else 0) < item.amount

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one event if the window has room for it; False (and nothing counted) if not."""
        return self.hit_all([(item, identifiers)]) < 0

    def hit_all(self, planned: Sequence[tuple[RateLimitItem, tuple[str, ...]]]) -> int:
        """Count one event in every window of `planned` if each has room, all under one lock.

        Returns -1 when every event was counted, else the index of the first window without
        room (and nothing is counted). Exact: no other caller slips in between the test and the
        hit, so concurrent callers never overshoot any of the windows.
        """
        now = self._now()
        with self._lock:
            # Inlined (`_window` and `_key`, then counting): this runs on every send.
            windows = self._windows
            found: list[tuple[tuple[object, ...], _Window | None]] = []
            for item, identifiers in planned:
                key = (item.amount, item.multiples, item.GRANULARITY.seconds, *identifiers)
                window = windows.get(key)
                if window is not None:
                    steps = window.steps
                    if steps and steps[0][0] <= now - window.expiry:
                        window.expire(now)
                    if window.total >= item.amount:
                        return len(found)  # nothing counted yet
                found.append((key, window))
            for (item, _), (key, window) in zip(planned, found, strict=True):
                if window is None:
                    # A window not held: a new one, or (a check listed twice) the one the
                    # previous step stored.
                    window = windows.setdefault(key, _Window(item, self._steps))
                # One event at `now`: into the last step if `now` falls in its cell (its
                # latest event moves to `now`), else a new step.
                width = window.width
                cell = now // width if width else now
                steps = window.steps
                if steps and cell == window.cell:
                    last = steps[-1]
                    if now > last[0]:  # a clock stepped back never shortens the step's life
                        last[0] = now
                    last[1] += 1
                else:
                    steps.append([now, 1])
                    window.cell = cell
                window.total += 1
            if now >= self._next_sweep:
                self._sweep(now)
            return -1

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """When the oldest counted step leaves the window (room frees), and how many events
        remain."""
        now = self._now()
        with self._lock:
            window = self._window(item, identifiers, now)
            if window is None or not window.steps:
                return WindowStats(now + item.get_expiry(), item.amount)
            oldest = window.steps[0][0]
            return WindowStats(oldest + window.expiry, max(0, item.amount - window.total))

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

    def steps_held(self, item: RateLimitItem, *identifiers: str) -> int:
        """Steps one window holds (for tests of its memory)."""
        with self._lock:
            window = self._windows.get(_key(item, identifiers))
            return len(window.steps) if window is not None else 0

    def _window(
        self, item: RateLimitItem, identifiers: tuple[str, ...], now: float
    ) -> _Window | None:
        window = self._windows.get(_key(item, identifiers))
        if window is not None:
            window.expire(now)
        return window

    def _sweep(self, now: float) -> None:
        self._windows = {
            key: window
            for key, window in self._windows.items()
            if window.steps and window.steps[-1][0] > now - window.expiry
        }
        self._next_sweep = now + SWEEP_SECONDS
