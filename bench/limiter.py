"""`python -m bench limiter`: what an in-memory rate limiter costs as the keys it holds grow.

Each distinct recipient, phone prefix and client address is a key held for its longest window
(an hour, a day), so a server without Redis holds as many keys as it saw distinct addresses in
that time. For each key count: fill the limiter with that many keys, then hit it 200 times a
second for `--seconds` (about the rate of a busy login route) and report the process's CPU
over those seconds, as % of one core. Both implementations are measured: the `limits`
package's memory storage (a timer thread walks every key every 10 ms) and ours
(`antechamber.ratelimit_memory`, idle keys swept once a minute).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from antechamber.ratelimit_memory import MemoryWindows

RATE = 200


def _measure(hit: Callable[[str], object], keys: int, seconds: float) -> tuple[float, float]:
    started = time.process_time()
    for i in range(keys):
        hit(f"fill-{i}")
    per_hit_us = 1e6 * (time.process_time() - started) / keys
    started = time.process_time()
    for i in range(int(RATE * seconds)):
        hit(f"busy-{i % 7}")
        time.sleep(1 / RATE)
    return per_hit_us, 100 * (time.process_time() - started) / seconds


def run(key_counts: list[int], seconds: float) -> None:
    item = limits.parse("5/hour")
    print(f"{'keys':>8}  {'limiter':<26} {'µs per hit':>10}  {'CPU at 200 hits/s':>18}")
    for keys in key_counts:
        storage = MemoryStorage()
        theirs = MovingWindowRateLimiter(storage)
        ours = MemoryWindows()
        pair = (("limits MemoryStorage", theirs), ("antechamber MemoryWindows", ours))
        for name, limiter in pair:
            per_hit, cpu = _measure(partial(limiter.hit, item, "bench"), keys, seconds)
            print(f"{keys:>8,}  {name:<26} {per_hit:>10.1f}  {cpu:>16.0f} %")
        storage.timer.cancel()
