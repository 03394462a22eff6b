"""psycopg's connection and SQLAlchemy's pool for units of work on the event loop
(`loop_units`): in a `loop_units.LoopUnit` they hand their waits to the loop; anywhere else
they are psycopg's and SQLAlchemy's, unchanged. Imported only where psycopg is (the
PostgreSQL engine).
"""

from __future__ import annotations

import select
import time
from typing import Any

from psycopg import Connection, errors
from psycopg.abc import PQGen
from sqlalchemy import exc
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.util import queue as sqla_queue
from sqlalchemy.util import safe_reraise

from antechamber import loop_units, statements

#: How long a wait of a unit on the loop blocks the thread before the loop takes it over: a
#: round trip waited for through the loop costs about 25 µs more CPU than a blocking one
#: (psycopg's own async connection too), about what a local round trip takes in all; so an
#: ordinary round trip is waited for here, and the loop is held up at most this long a wait.
BLOCK_FIRST_SECONDS = 0.001

#: How long a checkout on the loop lets the loop run between looks at an exhausted pool.
POOL_RETRY_SECONDS = 0.002

#: PostgreSQL's other names of UTC (`pg_timezone_names`), whose zone is UTC's in every respect
#: (offset zero, no daylight time, abbreviation "UTC"). A server's default is often one of them
#: (`Etc/UTC`: Debian's and the official image's).
UTC_ALIASES = frozenset(
    {b"Etc/UTC", b"Etc/UCT", b"UCT", b"Etc/Universal", b"Universal", b"Etc/Zulu", b"Zulu"}
)


class LoopConnection(Connection[Any]):
    """A `psycopg.Connection` whose waits, in a `loop_units.LoopUnit`, are the loop's.

    psycopg runs every operation of a connection (a statement, a pipeline's sync, COMMIT) as a
    generator that yields whenever the socket would block, and `wait` consumes it; this `wait`
    waits for the socket itself up to `BLOCK_FIRST_SECONDS`, then hands the wait to the loop.
    A wait with a `timeout` (psycopg's `notifies`, which nothing here calls) waits as psycopg
    does.
    """

    __slots__ = ()

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> LoopConnection:
        """psycopg's `connect`; then, if the session's time zone is another name of UTC
        (`UTC_ALIASES`), it is set to `UTC` itself (one round trip, once a connection).

        Why: psycopg loads a `timestamptz` in the session's zone, and for `Etc/UTC` that is a
        `ZoneInfo`, not `datetime.UTC`: each value is converted (`astimezone`) as it is
        loaded, and every later offset, hash and comparison of it asks the `ZoneInfo`, about
        4% of a session check's instructions. With `UTC` psycopg builds the values in UTC
        directly. Nothing else differs: the same zone for every SQL expression, the same
        instants, offsets, `isoformat` and `tzname` in Python. Another zone is left as it is.
        """
        conn = super().connect(conninfo, **kwargs)
        pgconn = conn.pgconn
        if pgconn.parameter_status(b"TimeZone") in UTC_ALIASES:
            # libpq's own call on the idle connection: no transaction for psycopg to track.
            pgconn.exec_(b"SET TimeZone TO 'UTC'")
        return conn

    def commit(self) -> None:
        """psycopg's `commit`. With nothing to commit (PostgreSQL idle: a read-only unit runs in
        autocommit, and SQLAlchemy commits its transaction all the same) it returns at once, as
        psycopg's does, without first taking the lock and running psycopg's generator through
        `wait`; errors as psycopg's (inside `transaction()` or a two-phase one: psycopg's)."""
        if (
            not getattr(self, "_num_transactions", 1)
            and getattr(self, "_tpc", True) is None
            and self.pgconn.transaction_status == statements.PG_IDLE
        ):
            return
        super().commit()

    def lean_cursor(self, plan: object) -> Any:
        """The cursor this connection keeps for `plan`, a lean statement returning rows
        (`statement_plans.run`), made on its first use here: a cursor made and closed per
        statement cost its construction and psycopg's `Transformer` (which it makes again
        whenever a cursor runs another query than its last), about a fifth of psycopg's work
        for a one-row SELECT. Reusing one is what psycopg does for a cursor's next `execute`:
        it resets the cursor's results and keeps its adapters. The caller fetches the rows
        before the connection's next statement (one unit holds a connection at a time, and
        runs a statement to its rows before the next), and leaves the cursor open."""
        try:
            cursors: dict[object, Any] = self.__dict__["_lean_cursors"]
        except KeyError:
            cursors = self.__dict__["_lean_cursors"] = {}
        cursor = cursors.get(plan)
        if cursor is None or cursor.closed:
            cursor = cursors[plan] = self.cursor()
        return cursor

    def wait(
        self,
        gen: PQGen[Any],
        interval: float = 0.1,  # psycopg's _WAIT_INTERVAL
        timeout: float | None = None,
    ) -> Any:
        unit = loop_units.current()
        if unit is None or unit.blocking or timeout is not None:
            return super().wait(gen, interval, timeout)
        fileno = self.pgconn.socket
        try:
            state = next(gen)
            while True:
                # Blocking first, briefly: an ordinary round trip is over sooner than the
                # loop's wait would cost (performance.md, item 57); a longer one (a row
                # lock, a slow fsync at COMMIT) goes to the loop.
                readable, writable, _ = select.select(
                    (fileno,) if state & loop_units.WAIT_R else (),
                    (fileno,) if state & loop_units.WAIT_W else (),
                    (),
                    BLOCK_FIRST_SECONDS,
                )
                if readable or writable:
                    ready = (loop_units.WAIT_R if readable else 0) | (
                        loop_units.WAIT_W if writable else 0
                    )
                    state = gen.send(ready)
                else:
                    state = gen.send(unit.wait_for(fileno, state))
        except StopIteration as ended:
            return ended.value
        except OSError as ex:  # as psycopg's waits: the socket was closed under it
            raise errors.OperationalError("connection socket closed") from ex


class LoopPool(QueuePool):
    """SQLAlchemy's `QueuePool`, but a checkout in a `loop_units.LoopUnit` never blocks the
    thread: while the pool is exhausted, it lets the loop run (`POOL_RETRY_SECONDS` at a
    time) until a connection comes back, up to the pool's timeout as any checkout.

    Blocking there would be a deadlock, not just a stall: the connections the loop's other
    units hold come back only when the loop runs them, and a worker thread's unit may wait
    for a row lock one of those holds. `api.auth` keeps the loop's units to fewer than the
    pool holds (`Services.loop_units`), so this is the rare case.
    """

    #: What `Services.loop_units` looks for: an engine of `db.make_engine`.
    units_on_loop = True

    def _do_get(self) -> ConnectionPoolEntry:
        unit = loop_units.current()
        if unit is None:
            return super()._do_get()
        deadline: float | None = None
        while True:
            try:
                return self._pool.get(False)
            except sqla_queue.Empty:
                pass
            if self._inc_overflow():
                # A new connection blocks the loop while it connects and, the engine's first,
                # while SQLAlchemy's `first_connect` (the dialect's first queries) runs under
                # a thread lock: had its waits gone to the loop, another unit connecting
                # meanwhile would block the thread on that lock for good. The pool keeps its
                # connections, so this is rare.
                unit.blocking = True
                try:
                    return self._create_connection()
                except BaseException:
                    with safe_reraise():
                        self._dec_overflow()
                    raise
                finally:
                    unit.blocking = False
            now = time.monotonic()
            if deadline is None:
                deadline = now + self._timeout
            elif now >= deadline:
                raise exc.TimeoutError(
                    f"QueuePool limit of size {self.size()} overflow {self.overflow()} "
                    f"reached, connection timed out, timeout {self._timeout:0.2f}",
                    code="3o7r",
                )
            unit.sleep(POOL_RETRY_SECONDS)
