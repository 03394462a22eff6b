"""The connections units of work keep between them (`units.Unit`): SQLite's writers' one, kept
with the writer lock (`Writer`); on SQLite and PostgreSQL, one per event loop thread for its
reads (`LoopReads`); on PostgreSQL, a few for the writing units of any thread
(`LoopReads.writes`).

A kept connection is taken (`take`) by the next unit instead of a pool checkout, and given
back (`keep`) instead of a checkin, only if it is still this process's, of the engine's pool of
the moment, not invalidated (nor older than the pool's last invalidation, a disconnect it
saw), out of any transaction and younger than its engine's recycle age.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from typing import Any

from sqlalchemy import Connection, Engine

from antechamber import statements
from antechamber.writer_lock import WriterLock

# This process's id, as kept connections are marked with it: `os.getpid()` is a system call
# each time (glibc caches nothing), twice a unit; a forked child learns its own at the fork.
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


class LoopReads:
    """The read-only units on each event loop's thread (`api.auth.run_read`, the session
    check) keep their connections in a slot of that thread's (`slot`), up to `keeps`: on
    SQLite they run one after another, so one connection serves them all with no pool
    checkout; on PostgreSQL as many run at once as wait on the loop (`loop_units`: a
    gathering's units each hold theirs), and a read on the loop never waits for a connection
    a worker thread holds.

    A thread's slot goes with the thread (and its connection back to the pool); `drop` closes
    every slot's connection of this process (the engine was disposed).

    With `writes` (PostgreSQL), the writing units of every thread share one more slot of at
    most that many connections: a unit takes one there if one is left, else checks one out,
    and keeps it there at its end if there is room, else checks it in. A pool checkout and
    checkin, the pool's reset (a ROLLBACK call) and a new Session cost an empty write about
    half of its 87 µs (docs/performance.md, thirteenth round). Units take from the slot first,
    so its connections idle only while fewer writes run than it keeps; the bound
    (`engines.PG_WRITES_KEPT`, a quarter of the pool at most) is what the pool lends it. Two
    threads keeping at once may both find room (`len` then `append`): the slot is then one
    over its bound until a unit takes one, and a unit ending then checks its connection in.
    """

    def __init__(self, keeps: int = 1, writes: int = 0) -> None:
        # How many connections a slot keeps: one where the thread's reads run one after
        # another; more where they interleave (`loop_units`: each of those in flight at once
        # holds its own connection).
        self.keeps = keeps
        self._local = threading.local()
        self._all: weakref.WeakSet[Slot] = weakref.WeakSet()
        self.writes: Slot = Slot(writes)

    def slot(self, read_only: bool) -> list[Kept] | None:
        """A read-only unit's slot on an event loop's thread (one per process when serving),
        the thread's own; none for a read elsewhere (forty worker threads keeping one each
        would keep the pool's every connection); a writer's, the writers' (`writes`), if
        they keep any."""
        if not read_only:
            return self.writes if self.writes.keeps else None
        if asyncio._get_running_loop() is None:
            return None
        try:
            slot: list[Kept] = self._local.slot
        except AttributeError:  # the thread's first
            slot = self._local.slot = Slot(self.keeps)
            self._all.add(slot)
        return slot

    def drop(self, _engine: Engine) -> None:
        """The engine was disposed: close the kept connections now (this process's)."""
        _drop([*self._all, self.writes])


def _drop(slots: list[list[Kept]]) -> None:
    for slot in slots:
        while True:
            try:
                connection, _lean, _pool, pid, _since = slot.pop()
            except IndexError:
                break
            if pid == _pid:
                connection.invalidate()  # closes the driver's connection, which no pool keeps
                connection.close()


class Writer(WriterLock):
    """SQLite's writer lock (`WriterLock`), and the connection the units of work of its holder
    reuse: every writing unit holds the lock (or runs inside a hold of its thread), so one
    connection kept here serves every writer of the process, one after another, without a pool
    checkout and checkin each (a tenth of an empty write's cost). A unit takes it, and keeps it
    again only if its transaction ended cleanly (committed, or rolled back without error) on a
    connection that is not invalidated, from the engine's pool of the moment (a transaction
    SQLite still has open after a failed COMMIT is rolled back first); anything else is
    closed. A unit opened while another holds it (one inside another's hold) checks one out.

    Never shared with a forked child (the process id is kept with it), and dropped when the
    engine is disposed (`drop`): a connection of a disposed pool is never reused.

    The read-only units on an event loop's thread (`api.auth.run_read`) keep one the same way,
    in a slot of that thread's (`LoopReads`).
    """

    def __init__(self, database_path: str | None) -> None:
        super().__init__(database_path)
        # Each slot holds at most one `Kept`; list.pop is atomic, so `drop` (any thread, no
        # lock) and `take` (the lock's holder, or the loop's thread) never both get it.
        self._kept: list[Kept] = []  # the writers'
        self.reads = LoopReads()

    def slot(self, read_only: bool) -> list[Kept] | None:
        """Where a unit keeps its connection: the writers' slot; a read's on an event loop's
        thread, the thread's own (`LoopReads`); none for a read elsewhere."""
        if not read_only:
            return self._kept
        return self.reads.slot(read_only)

    def drop(self, _engine: Engine) -> None:
        """The engine was disposed: close the kept connections now (this process's)."""
        _drop([self._kept])
        self.reads.drop(_engine)


#: A kept connection: SQLAlchemy's, its `statements.Connection`, its pool, the process's id,
#: and when it was first kept (`time.monotonic`).
Kept = tuple[Connection, statements.Connection, Any, int, float]


class Slot(list[Kept]):
    """An event loop thread's slot: a list that a WeakSet can hold (by identity), of at most
    `keeps` connections."""

    def __init__(self, keeps: int = 1) -> None:
        super().__init__()
        self.keeps = keeps

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return self is other


def take(
    engine: Engine, slot: list[Kept]
) -> tuple[Connection, statements.Connection, Any, float] | None:
    try:
        connection, lean, pool, pid, since = slot.pop()
    except IndexError:
        return None
    if pid != _pid:  # a fork's copy: the parent's connection, never ours to use
        return None
    if (
        pool is not engine.pool
        or connection.invalidated
        or connection.closed
        # The pool saw a disconnect since this one connected (PostgreSQL restarted): it
        # retires its own of before then at their checkout, and so does this.
        or _connected_before(connection, pool._invalidate_time)
        # The pool's `pool_recycle` (PostgreSQL's: an idle timeout between here and there)
        # would have retired it by now: back to the pool, which does.
        or 0 <= pool._recycle < time.monotonic() - since
    ):
        connection.close()
        return None
    return connection, lean, pool, since


def _connected_before(connection: Connection, when: float) -> bool:
    if not when:  # never
        return False
    record = getattr(connection.connection, "_connection_record", None)
    return record is None or record.starttime < when


def keep(
    connection: Connection,
    lean: statements.Connection,
    pool: Any,
    slot: list[Kept],
    since: float | None = None,
) -> bool:
    """Keep a unit's `connection` (`lean` over it, taken from `pool`; kept first at `since`,
    None: now) in `slot` for the next unit (True), or leave it to the caller (False: the slot
    is taken, the connection is invalidated or in a transaction, or its pool disposed)."""
    if connection.invalidated or connection.in_transaction():
        return False
    driver = connection.connection.driver_connection
    if driver is None:
        return False
    pgconn = getattr(driver, "pgconn", None)  # psycopg's; sqlite3's has none
    if pgconn is not None:
        # PostgreSQL: a read-only unit runs in autocommit, so the connection is idle unless
        # something went wrong; anything else goes back to the pool, which resets it. (libpq's
        # status, not `info.transaction_status`: that builds an object and an enum each time.)
        if pgconn.transaction_status != statements.PG_IDLE:
            return False
    elif driver.in_transaction:
        # A COMMIT that failed (a deferred foreign key) leaves SQLite's transaction open,
        # though SQLAlchemy's has ended: the next unit's BEGIN would fail (or, on the
        # pool's connection, the pool's checkin leaves it so too).
        driver.rollback()
    if len(slot) >= getattr(slot, "keeps", 1) or pool is not connection.engine.pool:
        return False
    slot.append((connection, lean, pool, _pid, time.monotonic() if since is None else since))
    return True
