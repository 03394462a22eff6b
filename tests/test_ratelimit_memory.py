"""In-memory moving windows: the counts, the window's movement, and the cost of idle keys."""

from __future__ import annotations

import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import limits
from hypothesis import given, settings
from hypothesis import strategies as st

from antechamber.ratelimit_memory import STEPS, SWEEP_SECONDS, MemoryWindows

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


A_BILLION_AN_HOUR = limits.parse("1000000000/hour")


def test_a_window_holds_at_most_steps_plus_one_whatever_its_limit() -> None:
    """A billion an hour, hit 100,000 times over more than an hour: the window holds at most
    STEPS + 1 steps (a log would hold up to 72,000 times), and still counts every event."""
    time = FakeTime()
    windows = MemoryWindows(now=time)
    for _ in range(100_000):
        assert windows.hit(A_BILLION_AN_HOUR, "project")
        assert windows.steps_held(A_BILLION_AN_HOUR, "project") <= STEPS + 1
        time.now += 0.05
    counted = (
        A_BILLION_AN_HOUR.amount - windows.get_window_stats(A_BILLION_AN_HOUR, "project").remaining
    )
    exact = 3600 / 0.05  # the events of the last hour, as a log would count them
    assert exact <= counted <= exact + 3600 / STEPS / 0.05


def test_the_memory_of_a_busy_window_does_not_grow_with_its_events() -> None:
    time = FakeTime()
    windows = MemoryWindows(now=time)

    def held_after(hits: int) -> int:
        windows.reset()
        tracemalloc.start()
        for _ in range(hits):
            windows.hit(A_BILLION_AN_HOUR, "project")
            time.now += 0.01
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return size

    assert held_after(100_000) < 50_000  # bytes; a log of floats held 3.2 MB
    assert held_after(100_000) <= held_after(10_000) + 5_000


def test_coalesced_events_count_until_the_latest_of_their_step_leaves() -> None:
    time = FakeTime()  # 1,000,000: a cell of 15 s starts at 999,990
    windows = MemoryWindows(now=time, steps=4)
    ten = limits.parse("10/minute")  # above 4: coalesced, 15 s a step
    assert windows.hit(ten, "k")
    time.now += 4
    assert windows.hit(ten, "k")  # same cell: one step, its latest event at 1,000,004
    assert windows.steps_held(ten, "k") == 1
    time.now = 1_000_062  # the first event's minute is over, but not its step's
    assert windows.get_window_stats(ten, "k") == (1_000_064, 8)
    time.now = 1_000_064
    assert windows.get_window_stats(ten, "k").remaining == 10


@settings(max_examples=300, deadline=None)
@given(
    steps=st.sampled_from([1, 2, 3, 4, 5, 6, 10, 12]),
    amount=st.integers(1, 15),
    gaps=st.lists(st.integers(0, 80), min_size=1, max_size=120),
)
def test_coalescing_never_lets_through_an_event_a_moving_window_log_would_refuse(
    steps: int, amount: int, gaps: list[int]
) -> None:
    """Against a log of the accepted events' times: the windows count at least the log's
    events of the last minute (so never allow more), and at most those of the last minute and
    a step (so refuse only for as long as a step). Times on a half-second grid and steps that
    divide the minute keep the arithmetic exact."""
    item = limits.parse(f"{amount}/minute")
    width = 60 / steps if amount > steps else 0.0
    time = FakeTime()
    windows = MemoryWindows(now=time, steps=steps)
    accepted: list[float] = []
    for gap in gaps:
        time.now += gap / 2
        t = time.now
        allowed = windows.test(item, "k")
        assert windows.hit(item, "k") is allowed
        if allowed:
            accepted.append(t)
        in_window = sum(1 for a in accepted if a > t - 60)
        in_window_and_a_step = sum(1 for a in accepted if a > t - 60 - width)
        assert in_window <= amount  # never more than the limit in any minute
        counted = amount - windows.get_window_stats(item, "k").remaining
        assert in_window <= counted <= in_window_and_a_step
        if not allowed:
            assert in_window_and_a_step >= amount
        assert windows.steps_held(item, "k") <= min(amount, steps + 1)
