"""The open-loop schedule behind `bench run --rate` and `bench soak`: arrivals are due at fixed
instants whatever the server does, and a flow's latency counts from the instant it was due.
All on injected clocks: nothing here waits or times anything."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest
from bench.openloop import Arrivals, drive, mix_sequence, parse_mix


def test_arrivals_are_due_at_fixed_instants_however_late_they_are_taken() -> None:
    arrivals = Arrivals(10.0, start=100.0)
    assert arrivals.wait(now=99.5) == pytest.approx(0.5)
    assert arrivals.due(now=99.9) == 0
    # One second late (every user was busy): the first arrival still counts from 100.0,
    # and the ones due in the meantime are waiting, not skipped or shifted.
    assert arrivals.due(now=101.0) == 11
    assert arrivals.take(now=101.0) == (0, 100.0)
    assert arrivals.take(now=101.0) == (1, pytest.approx(100.1))
    assert arrivals.backlog(now=101.0) == 8  # 0.2 … 0.9 (1.0 is due at, not before, 101.0)
    assert arrivals.wait(now=101.0) == 0.0
    # Taken in time, the next one waits for its instant.
    for _ in range(9):
        arrivals.take(now=101.0)
    assert arrivals.backlog(now=101.0) == 0
    assert arrivals.wait(now=101.0) == pytest.approx(0.1)


def test_a_window_holds_rate_times_its_length_of_arrivals() -> None:
    arrivals = Arrivals(3.0, start=0.0)  # 1/3 is not exact in binary floating point
    for t0 in (0.0, 1.0, 2.5, 7.0):
        assert arrivals.due_before(t0 + 2.0) - arrivals.due_before(t0) == 6
    assert arrivals.due_before(1.0) == 3  # 0, 1/3, 2/3: the one at 1.0 is not before it


def test_a_closed_loop_counts_each_flow_from_when_it_was_taken() -> None:
    arrivals = Arrivals(None, start=5.0)
    assert arrivals.wait(now=5.0) == 0.0
    assert arrivals.take(now=7.25) == (0, 7.25)
    assert arrivals.backlog(now=100.0) == 0


def test_the_rate_must_be_positive() -> None:
    for rate in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="positive"):
            Arrivals(rate, start=0.0)


class VirtualTime:
    """A clock and a sleep on virtual time: sleepers wake in order of their instants, and
    time jumps to the next one once every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def run(self, main: asyncio.Task[int]) -> int:
        while not main.done():
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if self._sleepers and not main.done():
                at, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                if not future.done():
                    future.set_result(None)
        return main.result()


def _simulate(users: int, rate: float, flow_s: float, stop_at: float) -> tuple[list[float], int]:
    """Latencies (from each flow's due instant) and the backlog at `stop_at`, with every flow
    taking `flow_s` of virtual time."""
    vt = VirtualTime()
    latencies: list[float] = []

    async def flow(_user: int, _k: int, due: float) -> None:
        await vt.sleep(flow_s)
        latencies.append(vt.clock() - due)

    async def main() -> int:
        task = asyncio.create_task(
            drive(
                Arrivals(rate, start=0.0),
                list(range(users)),
                flow,
                stop_at,
                clock=vt.clock,
                sleep=vt.sleep,
            )
        )
        return await vt.run(task)

    backlog = asyncio.run(main())
    return latencies, backlog


def test_with_users_to_spare_every_flow_starts_on_time() -> None:
    latencies, backlog = _simulate(users=4, rate=10.0, flow_s=0.05, stop_at=2.0)
    assert len(latencies) == 20  # due at 0.0 … 1.9; each finished within the window
    assert latencies == [pytest.approx(0.05)] * 20
    assert backlog == 0


def test_when_the_server_is_slow_the_queueing_shows_in_the_latency() -> None:
    # One user, flows of 0.3 s, an arrival every 0.1 s: a closed loop would report 0.3 s
    # per flow at a third of the rate; here each flow also counts the time it waited, and
    # the arrivals not started by the end are reported.
    latencies, backlog = _simulate(users=1, rate=10.0, flow_s=0.3, stop_at=3.0)
    assert latencies[0] == pytest.approx(0.3)
    assert latencies == sorted(latencies)
    assert latencies[-1] > 1.0
    assert len(latencies) + backlog < 30
    assert backlog >= 15


def test_a_mix_is_spread_evenly_in_its_proportions() -> None:
    sequence = mix_sequence(parse_mix("a=1,b=1,c=4,d=4"))
    assert len(sequence) == 10
    assert {k: sequence.count(k) for k in "abcd"} == {"a": 1, "b": 1, "c": 4, "d": 4}
    # no scenario twice in a row more than its share needs
    assert "cccc" not in "".join(sequence)
    assert "dddd" not in "".join(sequence)
    with pytest.raises(ValueError, match="key=weight"):
        parse_mix("a")
    with pytest.raises(ValueError, match="positive weight"):
        parse_mix("a=0")
