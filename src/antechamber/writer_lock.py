"""SQLite's writer lock: one per engine (`db.make_engine`), taken by every writing unit of work
before it touches the database, so writers queue here rather than in SQLite's busy handler.
Threads of a process queue on a lock, processes on the same file on a `flock` beside it."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from types import TracebackType

from antechamber.errors import ServiceUnavailable

log = logging.getLogger("antechamber.db")

#: Seconds a writer waits for the lock (and SQLite's own busy timeout) before `DatabaseBusy`.
BUSY_TIMEOUT_SECONDS = 30


class DatabaseBusy(ServiceUnavailable):
    error_type = "database_busy"
    default_message = "The database stayed busy with other writes for too long; try again."


class WriterLock:
    """One per SQLite engine, taken by every writing unit of work before it touches the database.

    SQLite admits one writer at a time; without this, writers compete for the file lock through
    SQLite's busy handler, which polls with sleeps of up to 100 ms (the seconds-long p99 of
    docs/performance.md). Here the threads of a process queue on a lock, and the processes on
    the same database file (`serve --workers N`) on an exclusive `flock` of a file beside it,
    so the next writer wakes as soon as the last one commits. A plain lock, not an RLock, and
    a `flock`, which belongs to the open file rather than a thread: FastAPI enters a dependency
    in one worker thread and leaves it in another.

    The thread lock gives up after `BUSY_TIMEOUT_SECONDS` (`DatabaseBusy`); the `flock` waits
    without a bound, as it is held only by a unit of work that is running (SQLite's own busy
    timeout ends a stuck one) and the kernel releases it when its process dies.

    `held_if_free` takes both without waiting, or neither; `held_when_free` waits for the
    thread lock without blocking the event loop, for a unit of work that runs on the loop
    (`db.writer_held_on_the_loop`).

    The lock file stays open while the lock lives (one descriptor per process, closed with the
    lock), and is flocked and unlocked per unit of work: opening it per unit was a tenth of an
    empty write's cost. A forked child never uses the descriptor it inherited (its `flock` is
    the parent's: the child's unlock would free the parent's hold), but opens its own.
    """

    def __init__(self, database_path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._path = f"{database_path}-writer.lock" if database_path else None
        self._held = False  # the file is flocked; one holder at a time (the lock above)
        # The open lock file, the process that opened it, and what closes it with the lock.
        self._fd: int | None = None
        self._fd_pid = 0
        self._fd_closer: weakref.finalize[[int], WriterLock] | None = None
        # The thread holding the lock through `held_if_free`; its units of work pass through.
        self._owner: int | None = None
        # How to wake each event loop's `held_when_free` waiting for the lock: one release
        # wakes all, and each tries again (one takes it, runs to its commit, releases: the
        # next one of the same loop then takes it in turn).
        self._waiters: list[Callable[[], object]] = []

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise DatabaseBusy()
        try:
            self._held = self._lock_file()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        held, self._held = self._held, False
        try:
            if held:
                assert self._fd is not None
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()
            while self._waiters:  # the event loop's (`held_when_free`); pop() is atomic
                with suppress(IndexError, RuntimeError):  # taken meanwhile; a closed loop
                    self._waiters.pop()()

    @contextmanager
    def held_if_free(self) -> Iterator[bool]:
        """Yield True, holding the lock for the block, if both the thread lock and the `flock`
        could be taken without waiting; else yield False, holding nothing.

        While the block holds it, units of work this thread opens do not take it again
        (`db._writer_lock`): they run one after another inside the hold, as a unit of work and the
        writes it leaves to run after its commit or rollback (`after_commit`, `on_rollback`)
        do. Any other thread or process queues as it would behind any other unit of work.
        """
        taken = self._try_take()
        with self._holding(taken == _TAKEN):
            yield taken == _TAKEN

    def held_when_free(self) -> HeldOnTheLoop:
        """`held_if_free` for the event loop, which waits (without blocking) while a thread of
        this process holds the lock: `async with` it gives True, holding it, once it is free;
        False, holding nothing, at once if another process holds the `flock` (no wake-up comes
        from there: the caller queues a thread for it instead). `DatabaseBusy` after
        `BUSY_TIMEOUT_SECONDS`, as for a thread. The block must not await."""
        return HeldOnTheLoop(self)

    async def _take_when_free(self) -> str:
        """`_try_take` until the lock is not busy in this process (`held_when_free`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_TIMEOUT_SECONDS
        while True:
            woken: asyncio.Future[None] = loop.create_future()
            wake = partial(loop.call_soon_threadsafe, _resolve, woken)
            self._waiters.append(wake)  # before trying: a release after the try wakes us
            try:
                taken = self._try_take()
                if taken != _BUSY_HERE:
                    return taken
                async with asyncio.timeout_at(deadline):
                    await woken
            except TimeoutError:
                raise DatabaseBusy() from None
            finally:
                with suppress(ValueError):
                    self._waiters.remove(wake)

    def held_here(self) -> bool:
        """Whether the calling thread holds the lock through `held_if_free`."""
        return self._owner == threading.get_ident()

    def _try_take(self) -> str:
        if not self._lock.acquire(blocking=False):
            return _BUSY_HERE
        try:
            self._held = self._lock_file(wait=False)
        except BlockingIOError:
            self._lock.release()
            return _BUSY_ELSEWHERE
        except BaseException:
            self._lock.release()
            raise
        return _TAKEN

    @contextmanager
    def _holding(self, taken: bool) -> Iterator[None]:
        if not taken:
            yield
            return
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None
            self.__exit__()

    def _lock_file(self, *, wait: bool = True) -> bool:
        """flock the lock file (True), or nothing if there is none (False). BlockingIOError if
        another process holds it and not `wait`."""
        fd = self._fd
        if fd is None or self._fd_pid != os.getpid():
            fd = self._open()
            if fd is None:
                return False
        # BlockingIOError: another process holds it (not `wait`)
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True

    def _open(self) -> int | None:
        """Open the lock file for this process; a descriptor inherited through a fork is
        closed, not unlocked (the parent's `flock` is on it), and never used."""
        if self._fd_closer is not None:
            self._fd_closer()  # closes the old descriptor (this process's copy of it)
        self._fd = self._fd_closer = None
        if self._path is None:
            return None
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            # SQLite's file lock still keeps writers apart; they just queue less well.
            log.warning("cannot open %s (%s); writers queue in SQLite", self._path, exc)
            self._path = None
            return None
        self._fd, self._fd_pid = fd, os.getpid()
        self._fd_closer = weakref.finalize(self, os.close, fd)
        return fd


class HeldOnTheLoop:
    """`WriterLock.held_when_free`: a class, not a generator, as it is entered by every write
    on the event loop. A fresh one per `async with`."""

    __slots__ = ("_lock", "_taken")

    def __init__(self, lock: WriterLock) -> None:
        self._lock = lock
        self._taken = False

    async def __aenter__(self) -> bool:
        lock = self._lock
        taken = lock._try_take()  # free: no future, no waiter to register and remove
        if taken == _BUSY_HERE:
            taken = await lock._take_when_free()
        if taken != _TAKEN:
            return False
        self._taken = True
        lock._owner = threading.get_ident()
        return True

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self._taken:
            self._taken = False
            lock = self._lock
            lock._owner = None
            lock.__exit__()


_TAKEN, _BUSY_HERE, _BUSY_ELSEWHERE = "taken", "busy here", "busy elsewhere"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
