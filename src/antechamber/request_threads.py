"""Worker threads for the writing units of work a request hands off the event loop
(`api.auth.run_write` on PostgreSQL), with the least work per hand-off.

AnyIO's `to_thread.run_sync` (Starlette's `run_in_threadpool`) costs about 60 µs of CPU a call
under uvloop and 85-95 µs under asyncio's loop (performance.md, item 65): a capacity limiter
with its per-task bookkeeping, a cancel scope, a queue whose `Condition` wakes the worker, and
its run-time variables looked up on every call. Here each worker waits on a lock of its own:
the loop hands it the call and releases that lock (one wake-up, of that thread), and the
worker hands the outcome back with `call_soon_threadsafe`; 24 µs a call under uvloop.

What a caller of `run_in_threadpool` relied on is kept:
- the call runs in a copy of the caller's context (`contextvars`), as AnyIO's does;
- at most `size` calls run at once (the pool's size on PostgreSQL: `Services.request_threads`,
  so no unit opens an overflow connection); the rest wait on the loop, first come first served;
- a cancellation (a client gone, a shutdown) does not abandon a call that has started: the
  caller waits for it to end, so a unit of work is never left half-way on its connection, and
  the cancellation is raised then (AnyIO's default, `abandon_on_cancel=False`). A call still
  waiting for a thread is dropped and the cancellation raised at once.
Threads are daemons, made as needed up to `size` and kept idle for the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _Call:
    """One call handed to a worker, and how it ended (set on the loop's thread)."""

    __slots__ = ("args", "call", "context", "ended", "error", "kwargs", "loop", "value", "waiter")

    def __init__(
        self,
        call: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.call = call
        self.args = args
        self.kwargs = kwargs
        self.context = contextvars.copy_context()
        self.loop = loop
        self.waiter: asyncio.Future[None] = loop.create_future()
        self.ended = False
        self.value: Any = None
        self.error: BaseException | None = None


def _finish(job: _Call, value: Any, error: BaseException | None) -> None:
    """On the loop's thread: record the outcome and wake the caller (whichever future it
    awaits now)."""
    job.ended = True
    job.value = value
    job.error = error
    if not job.waiter.done():
        job.waiter.set_result(None)


#: Idle workers, shared by every pool of the process (list.append and pop are atomic): a
#: process makes at most as many threads as it ever runs calls at once.
_idle: list[_Worker] = []


class _Worker:
    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.job: _Call | None = None
        self.wake = threading.Lock()
        self.wake.acquire()
        threading.Thread(target=self._serve, name="request-thread", daemon=True).start()

    def _serve(self) -> None:
        wake = self.wake
        while True:
            wake.acquire()
            job = self.job
            self.job = None
            assert job is not None
            value: Any = None
            error: BaseException | None = None
            try:
                value = job.context.run(job.call, *job.args, **job.kwargs)
            except BaseException as exc:  # handed to the caller, which raises it
                error = exc
            # Idle again before the caller hears of it: its next call may take this thread.
            _idle.append(self)
            with contextlib.suppress(RuntimeError):  # a closed loop: no one waits any more
                job.loop.call_soon_threadsafe(_finish, job, value, error)
            del job, value, error


class RequestThreads:
    """At most `size` calls at once in worker threads; `run` hands one a call and awaits its
    outcome. Used from one event loop's thread (a server process's)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a pool of request threads needs at least one")
        self.size = size
        self._busy = 0
        self._queued: deque[asyncio.Future[None]] = deque()

    async def run(self, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`call(*args, **kwargs)` in a worker thread; its value, or its exception raised."""
        loop = asyncio.get_running_loop()
        if self._busy >= self.size or self._queued:
            await self._turn(loop)  # counted in `_busy` by `_next`, which let it go
        else:
            self._busy += 1
        try:
            worker = _idle.pop()
        except IndexError:
            worker = _Worker()
        job = _Call(call, args, kwargs, loop)
        worker.job = job
        worker.wake.release()
        cancelled = False
        while not job.ended:
            try:
                await job.waiter
            except asyncio.CancelledError:
                # The call has started: wait for its end all the same (see module doc).
                cancelled = True
                if not job.ended:
                    job.waiter = loop.create_future()
        self._busy -= 1
        self._next()
        if cancelled:
            raise asyncio.CancelledError()
        error = job.error
        if error is not None:
            try:
                raise error
            finally:
                del error, job
        value: T = job.value
        return value

    async def _turn(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait, in order, until fewer than `size` calls run."""
        turn: asyncio.Future[None] = loop.create_future()
        self._queued.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._busy -= 1  # the place it was given goes to the next in line
            elif turn in self._queued:  # `_next` may have dropped it already
                self._queued.remove(turn)
            # A place freed while this cancelled turn stood first may wait for a caller.
            self._next()
            raise

    def _next(self) -> None:
        """A call has ended: let the first caller in line go if a place is free."""
        while self._queued and self._busy < self.size:
            turn = self._queued[0]
            if turn.done():
                self._queued.popleft()
                continue
            self._queued.popleft()
            turn.set_result(None)
            # Counted now, so that callers woken together never exceed `size`.
            self._busy += 1
            return
