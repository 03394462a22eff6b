"""In-memory moving windows: the counts, the window's movement, and the cost of idle keys."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import limits

from antechamber.ratelimit_memory import SWEEP_SECONDS, MemoryWindows

TWO_A_MINUTE = limits.parse("2/minute")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_moves_with_its_oldest_event() -> None:
    time = FakeTime()
    windows = MemoryWindows(now=time)
    assert windows.hit(TWO_A_MINUTE, "k")
    time.now += 30
    assert windows.hit(TWO_A_MINUTE, "k")
    assert not windows.test(TWO_A_MINUTE, "k")
    assert not windows.hit(TWO_A_MINUTE, "k")  # refused, and not counted
    stats = windows.get_window_stats(TWO_A_MINUTE, "k")
    assert (stats.reset_time, stats.remaining) == (1_000_060.0, 0)

    time.now += 30  # the first event leaves the window; the second still counts
    assert windows.test(TWO_A_MINUTE, "k")
    assert windows.hit(TWO_A_MINUTE, "k")
    assert not windows.hit(TWO_A_MINUTE, "k")
    assert windows.hit(TWO_A_MINUTE, "other")  # keys are separate


def test_each_item_of_a_key_has_its_own_window() -> None:
    windows = MemoryWindows(now=FakeTime())
    one_an_hour = limits.parse("1/hour")
    assert windows.hit(one_an_hour, "k")
    assert not windows.hit(one_an_hour, "k")
    assert windows.hit(TWO_A_MINUTE, "k")


def test_keys_idle_for_their_whole_window_are_forgotten_without_a_thread() -> None:
    time = FakeTime()
    threads = threading.active_count()
    windows = MemoryWindows(now=time)
    for i in range(30_000):
        windows.hit(TWO_A_MINUTE, "recipient", str(i))
    assert threading.active_count() == threads  # no timer walking the keys
    assert len(windows) == 30_000

    time.now += max(SWEEP_SECONDS, 60) + 1
    windows.hit(TWO_A_MINUTE, "recipient", "new")  # the once-a-minute sweep runs here
    assert len(windows) == 1


def test_concurrent_hits_never_exceed_the_limit() -> None:
    windows = MemoryWindows()
    five = limits.parse("5/minute")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: windows.hit(five, "k"), range(200)))
    assert results.count(True) == 5


def test_reset_forgets_every_count() -> None:
    windows = MemoryWindows(now=FakeTime())
    windows.hit(TWO_A_MINUTE, "k")
    windows.hit(TWO_A_MINUTE, "k")
    windows.reset()
    assert windows.get_window_stats(TWO_A_MINUTE, "k").remaining == 2


def test_hit_all_counts_every_window_or_none() -> None:
    windows = MemoryWindows(now=FakeTime())
    one_an_hour = limits.parse("1/hour")
    assert windows.hit_all([(TWO_A_MINUTE, ("a",)), (one_an_hour, ("b",))]) == -1
    # b's window is full: refused at index 1, and a's event is not counted either.
    assert windows.hit_all([(TWO_A_MINUTE, ("a",)), (one_an_hour, ("b",))]) == 1
    assert windows.get_window_stats(TWO_A_MINUTE, "a").remaining == 1
    assert windows.get_window_stats(one_an_hour, "b").remaining == 0


def test_a_window_listed_twice_counts_twice() -> None:
    windows = MemoryWindows(now=FakeTime())
    assert windows.hit_all([(TWO_A_MINUTE, ("k",)), (TWO_A_MINUTE, ("k",))]) == -1
    assert windows.get_window_stats(TWO_A_MINUTE, "k").remaining == 0


def test_concurrent_hit_alls_never_exceed_any_window() -> None:
    """Test and hit are one step: no caller slips in between (the per-recipient and the
    per-project windows of a send stay exact under concurrency)."""
    windows = MemoryWindows()
    five = limits.parse("5/minute")
    seven = limits.parse("7/minute")

    def send(i: int) -> int:
        return windows.hit_all([(five, ("recipient", str(i % 2))), (seven, ("project",))])

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, range(400)))
    assert results.count(-1) == 7
    assert windows.get_window_stats(seven, "project").remaining == 0
    counted = [5 - windows.get_window_stats(five, "recipient", k).remaining for k in ("0", "1")]
    assert sum(counted) == 7
    assert max(counted) <= 5
