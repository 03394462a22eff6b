"""psycopg's connection and SQLAlchemy's pool for units of work on the event loop
(`loop_units`): in a `loop_units.LoopUnit` they hand their waits to the loop; anywhere else
they are psycopg's and SQLAlchemy's, unchanged. Imported only where psycopg is (the
PostgreSQL engine).
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Connection, Pipeline, errors, generators
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

    @contextmanager
    def batched_pipeline(self) -> Iterator[Pipeline]:
        """psycopg's `pipeline()`, but a new pipeline is a `BatchedPipeline`: its statements
        go to the server together when it syncs or ends, not each as it is queued. Within a
        pipeline already open (of either kind), that one, as psycopg's."""
        with self.lock:
            self._check_connection_ok()
            pipeline = self._pipeline
            if pipeline is None:
                pipeline = self._pipeline = BatchedPipeline(self)
        try:
            with pipeline:
                yield pipeline
        finally:
            if pipeline.level == 0:
                with self.lock:
                    assert pipeline is self._pipeline
                    self._pipeline = None

    def lean_cursor(self, plan: object) -> Any:
        """The cursor this connection keeps for `plan`, a lean statement
        (`statement_plans.cursor_for`), made on its first use here: a cursor made per
        statement cost its construction and psycopg's `Transformer` with its adapters looked
        up again for each parameter (psycopg keeps both while a cursor runs the same query),
        about 17 µs of a pipelined INSERT's 26 here (docs/performance.md, thirteenth round).
        Reusing one is what psycopg does for a cursor's next `execute`: it resets the
        cursor's results and keeps its adapters.

        Never two statements on one cursor at a time: while the kept cursor's statement waits
        in this connection's open pipeline for its result (a second statement of the same
        plan in one pipeline), a new cursor, for that statement alone. Outside a pipeline
        psycopg reads a statement's results before `execute` returns, and a pipeline's are
        all read when it syncs or ends; the caller reads what it needs of a statement's
        results before the connection's next statement or pipeline (one unit holds a
        connection at a time), and leaves the cursor open."""
        try:
            cursors: dict[object, Any] = self.__dict__["_lean_cursors"]
        except KeyError:
            cursors = self.__dict__["_lean_cursors"] = {}
        cursor = cursors.get(plan)
        if cursor is None or cursor.closed:
            cursor = cursors[plan] = self.cursor()
        elif (pipeline := self._pipeline) is not None and _awaits(pipeline, cursor):
            return self.cursor()
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


def _awaits(pipeline: Pipeline, cursor: Any) -> bool:
    """Whether `cursor` has a statement in `pipeline` whose result has not come yet."""
    return any(pending is not None and pending[0] is cursor for pending in pipeline.result_queue)


class BatchedPipeline(Pipeline):
    """psycopg's `Pipeline`, but what is queued in it goes to libpq, and to the server, only
    when the pipeline syncs, ends, or a result is fetched from it: then every queued command
    at once (libpq's own buffer) and one `send` (a write, no wait if the socket takes it).

    psycopg's communicates after each statement it queues: a wait for the socket (a `poll`
    or `select`) and a write of that statement alone, two or three system calls a statement,
    about 9 µs each here for nothing: the results are read only at the sync anyway
    (docs/performance.md, thirteenth round). The server gets the same messages in the same
    order, and the results are matched to their cursors as psycopg's do (`_fetch_gen`); only
    when they reach the socket differs. No deadlock of full buffers: libpq keeps what the
    socket does not take, and psycopg's `send` reads the server's answers while it writes.
    """

    def _communicate_gen(self) -> PQGen[None]:
        # What a cursor runs after queueing a statement: nothing, until the sync.
        return
        yield

    def _send_queued_gen(self) -> PQGen[None]:
        """Hand libpq every queued command, in order, then flush its buffer to the server."""
        commands = self.command_queue
        while commands:
            commands.popleft()()
        yield from generators.send(self.pgconn)

    def _sync_gen(self) -> PQGen[None]:
        self._enqueue_sync()
        yield from self._send_queued_gen()
        yield from Pipeline._fetch_gen(self, flush=False)

    def _exit_gen(self) -> PQGen[None]:
        try:
            self._enqueue_sync()
            yield from self._send_queued_gen()
        finally:
            yield from Pipeline._fetch_gen(self, flush=True)

    def _fetch_gen(self, *, flush: bool) -> PQGen[None]:
        # A result asked for before the sync (a cursor's fetch, a returning executemany):
        # what it waits for must be sent first.
        if self.command_queue:
            yield from self._send_queued_gen()
        yield from Pipeline._fetch_gen(self, flush=flush)


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
