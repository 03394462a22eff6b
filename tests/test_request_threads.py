"""`request_threads.RequestThreads`: the worker threads `api.auth.run_write` hands PostgreSQL's
writing units to. What a caller of `run_in_threadpool` relied on must hold: the value or the
very exception, the caller's context, at most `size` calls at once (first come, first served),
and a cancelled caller waits for a call that has started."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from antechamber.request_threads import RequestThreads

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_the_value_or_the_exception_comes_back_from_another_thread() -> None:
    threads = RequestThreads(2)
    boom = ValueError("boom")

    def fail() -> None:
        raise boom

    async def main() -> None:
        here = threading.get_ident()
        assert await threads.run(threading.get_ident) != here
        assert await threads.run(lambda a, *, b: a + b, 1, b=2) == 3
        with pytest.raises(ValueError, match="boom") as raised:
            await threads.run(fail)
        assert raised.value is boom
        # The thread is idle again and serves the next call.
        assert await threads.run(lambda: "again") == "again"

    asyncio.run(main())


def test_a_call_runs_in_a_copy_of_the_callers_context() -> None:
    threads = RequestThreads(1)

    def read_and_change() -> str:
        seen = who.get()
        who.set("the thread")
        return seen

    async def main() -> None:
        who.set("the caller")
        assert await threads.run(read_and_change) == "the caller"
        assert who.get() == "the caller"

    asyncio.run(main())


def test_at_most_size_calls_run_at_once_and_the_rest_go_in_order() -> None:
    threads = RequestThreads(2)
    lock = threading.Lock()
    running = 0
    most = 0
    started: list[int] = []
    release = threading.Event()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            started.append(n)
        release.wait(5)
        time.sleep(0.01)
        with lock:
            running -= 1
        return n

    async def main() -> list[int]:
        tasks = []
        for n in range(6):
            tasks.append(asyncio.ensure_future(threads.run(work, n)))
            await asyncio.sleep(0)  # each in turn reaches the pool
        await asyncio.sleep(0.1)
        assert sorted(started) == [0, 1]  # the others wait on the loop
        release.set()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(main()) == [0, 1, 2, 3, 4, 5]
    assert most == 2


def test_callers_waiting_for_a_place_get_it_first_come_first_served() -> None:
    threads = RequestThreads(1)
    started: list[int] = []

    def work(n: int) -> None:
        started.append(n)
        time.sleep(0.005)

    async def main() -> None:
        tasks = []
        for n in range(6):
            tasks.append(asyncio.ensure_future(threads.run(work, n)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert started == [0, 1, 2, 3, 4, 5]


def test_a_cancelled_caller_waits_for_its_started_call_to_end() -> None:
    threads = RequestThreads(1)
    entered = threading.Event()
    ended = threading.Event()

    def slow() -> None:
        entered.set()
        time.sleep(0.2)
        ended.set()

    async def main() -> None:
        task = asyncio.ensure_future(threads.run(slow))
        while not entered.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Raised only once the call had ended: its unit of work never left half-way.
        assert ended.is_set()
        # And the place it held is free again.
        assert await threads.run(lambda: "next") == "next"

    asyncio.run(main())


def test_a_caller_cancelled_while_waiting_for_a_place_never_runs_and_loses_no_place() -> None:
    threads = RequestThreads(1)
    release = threading.Event()
    ran: list[str] = []

    def hold() -> str:
        release.wait(5)
        ran.append("first")
        return "first"

    def never() -> None:
        ran.append("cancelled one")

    async def main() -> None:
        first = asyncio.ensure_future(threads.run(hold))
        await asyncio.sleep(0.02)
        waiting = asyncio.ensure_future(threads.run(never))
        third = asyncio.ensure_future(threads.run(lambda: "third"))
        await asyncio.sleep(0.02)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await first == "first"
        assert await asyncio.wait_for(third, 5) == "third"

    asyncio.run(main())
    assert ran == ["first"]


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RequestThreads(0)


def test_a_turn_dropped_by_a_calls_end_before_its_cancellation_is_handled() -> None:
    """A call's end (`_next`) and a waiting caller's cancellation in the same loop iteration:
    `_next` drops the cancelled turn first; the caller then still raises CancelledError (not
    the ValueError of removing it twice) and the place stays counted right."""
    threads = RequestThreads(1)
    release = threading.Event()

    def hold() -> str:
        release.wait(5)
        return "held"

    async def main() -> None:
        first = asyncio.ensure_future(threads.run(hold))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(threads.run(lambda: "second"))
        await asyncio.sleep(0)  # in line
        second.cancel()  # its turn is cancelled now; its handler runs at its next step
        threads._busy -= 1  # as a call's end would, before that step:
        threads._next()  # drops the cancelled turn
        threads._busy += 1  # (the first call still holds its place)
        with pytest.raises(asyncio.CancelledError):
            await second
        release.set()
        assert await first == "held"
        assert threads._busy == 0
        assert await asyncio.wait_for(threads.run(lambda: "third"), 5) == "third"

    asyncio.run(main())
