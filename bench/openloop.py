"""Open-loop load: flows start at a fixed arrival rate, whether or not earlier ones finished.

A closed loop (each virtual user starts its next flow when the last one ends) slows down with
the server: when the server stalls, fewer requests are sent, and the latency of the requests
that were never sent is never measured ("coordinated omission"). Here the k-th flow is due at
`start + k / rate`, fixed in advance. It runs on a free virtual user (each holds one connection
and its own members, so at most `users` flows are in flight); when all are busy, due arrivals
wait for one, and a flow's latency is counted from the instant it was *due*, so time spent
queueing in the client shows in the percentiles as it would for a real caller.

`Arrivals` is the schedule alone (no clock of its own: every method takes `now`), so it is
tested without waiting; `drive` runs it on asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

U = TypeVar("U")


class Arrivals:
    """The arrival instants of an open-loop load: the k-th is due at `start + k / rate`.

    The schedule never shifts: a flow that starts late (every user busy) does not delay the
    next arrival, so when the server falls behind, due arrivals pile up (`backlog`) instead
    of the offered rate quietly going down. `rate=None` is a closed loop: every arrival is
    due at once and counts from the instant it is taken (used to find the maximum rate)."""

    def __init__(self, rate: float | None, start: float) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError("the arrival rate must be a positive number")
        self.rate = rate
        self.start = start
        self.taken = 0  # arrivals handed out so far (0, 1, … k-1)

    def instant(self, k: int) -> float:
        """When the k-th arrival is due."""
        return self.start if self.rate is None else self.start + k / self.rate

    def due(self, now: float) -> int:
        """How many arrivals are due by `now` (taken or not): those at or before it."""
        return self._count(now, strict=False)

    def due_before(self, instant: float) -> int:
        """How many arrivals are due strictly before `instant` (a window [from, to) holds
        `due_before(to) - due_before(from)` of them)."""
        return self._count(instant, strict=True)

    def _count(self, now: float, *, strict: bool) -> int:
        if self.rate is None:  # closed loop: nothing waits, an arrival is made when taken
            return self.taken
        k = math.floor((now - self.start) * self.rate)  # a guess; float error is fixed below
        while k >= 0 and not self._before(self.instant(k), now, strict):
            k -= 1
        while self._before(self.instant(k + 1), now, strict):
            k += 1
        return max(0, k + 1)

    @staticmethod
    def _before(instant: float, now: float, strict: bool) -> bool:
        return instant < now if strict else instant <= now

    def backlog(self, now: float) -> int:
        """Arrivals due before `now` and not taken yet: flows waiting for a free user (always
        0 in a closed loop, where nothing is due before a user is free)."""
        if self.rate is None:
            return 0
        return max(0, self.due_before(now) - self.taken)

    def wait(self, now: float) -> float:
        """Seconds until the next arrival is due (0 when one is due already)."""
        return max(0.0, self.instant(self.taken) - now)

    def take(self, now: float) -> tuple[int, float]:
        """The next arrival's number and the instant its latency counts from."""
        k = self.taken
        self.taken += 1
        return k, (now if self.rate is None else self.instant(k))


async def drive(
    arrivals: Arrivals,
    users: Sequence[U],
    run_flow: Callable[[U, int, float], Awaitable[None]],
    stop_at: float,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Start arrival after arrival on free users until `stop_at` (in `clock`'s time).

    `run_flow(user, k, due)` runs the k-th flow, due at `due`, and records it; it must not
    raise for a failed flow. Flows still running at `stop_at` are cancelled (they complete
    outside the window, so nothing of theirs is recorded). Returns the backlog at `stop_at`:
    arrivals that were due and never started because every user was busy. `clock` and
    `sleep` are injectable, so the schedule can be run on virtual time."""
    free: asyncio.Queue[U] = asyncio.Queue()
    for user in users:
        free.put_nowait(user)
    running: set[asyncio.Task[None]] = set()

    async def one(user: U, k: int, due: float) -> None:
        try:
            await run_flow(user, k, due)
        finally:
            free.put_nowait(user)

    try:
        while True:
            now = clock()
            if now >= stop_at:
                break
            wait = arrivals.wait(now)
            if wait > 0:
                await sleep(min(wait, stop_at - now))
                continue
            if free.empty():
                # Every user is busy: the due arrival waits (its latency already counts).
                try:
                    async with asyncio.timeout(stop_at - now):
                        user = await free.get()
                except TimeoutError:
                    break
            else:
                user = free.get_nowait()
            k, due = arrivals.take(clock())
            task = asyncio.create_task(one(user, k, due))
            running.add(task)
            task.add_done_callback(running.discard)
        return arrivals.backlog(min(clock(), stop_at))
    finally:
        for task in list(running):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*running, return_exceptions=True)


def mix_sequence(weights: dict[str, int]) -> list[str]:
    """One period of a fixed mix, spread evenly: {a: 1, c: 3} → [c, a, c, c]-like orders
    in which each key appears `weight` times and no key bunches up."""
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) == 0:
        raise ValueError("a mix needs at least one positive weight")
    slots = [((i + 0.5) / w, key) for key, w in weights.items() for i in range(w)]
    return [key for _, key in sorted(slots)]


def parse_mix(spec: str) -> dict[str, int]:
    """`a=1,b=1,c=4,d=4` → {"a": 1, …}."""
    weights: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not key:
            raise ValueError(f"a mix is key=weight,…; got {part!r}")
        weights[key.strip()] = int(value)
    mix_sequence(weights)  # validates
    return weights
