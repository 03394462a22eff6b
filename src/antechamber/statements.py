"""Lean execution of the hot paths' pre-built Core statements (docs/performance.md).

SQLAlchemy's Connection.execute spends several times the driver's own `execute` per
statement: a cache key generated from the statement, an execution context, the parameters
constructed and processed, a result's metadata. The login and session paths run 25-40
statements built once at import, so `Connection.execute` here compiles each once per dialect
(and per set of parameter names, which decides an INSERT's columns) into a `Plan`
(`statement_plans`): the SQL text, where each parameter comes from and its bind processor,
the Python-side column defaults, and on first use the result columns' processors. Each call
then runs that plan on the unit of work's own DBAPI connection, in its transaction; on
PostgreSQL a writing unit's connection is piped (`Connection.pipeline`, below).

Contract, the same as SQLAlchemy's for these statements: the same values in and out (bind
and result processors are the dialect's own: datetimes, JSON, booleans, enums, None); a
driver error raised as SQLAlchemy's wrapped exception (`IntegrityError` ...), through the
connection's own handling (a lost connection invalidates the pool as before); the engine's
`before_cursor_execute` / `after_cursor_execute` listeners see every statement, with
`context=None` (statement counts, tests/perf/test_round_trips.py).

A statement this does not plan (anything but a Core SELECT, INSERT, UPDATE or DELETE;
literal-execute parameters, SQL-side defaults, an executemany the dialect batches itself) runs
through SQLAlchemy as before; `LEAN` off runs everything so (for comparisons).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection as SAConnection
from sqlalchemy import Engine, event
from sqlalchemy.sql.dml import Insert, Update, UpdateBase
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

from antechamber.statement_plans import (
    LEAN_MANY,
    UNPLANNED,
    Params,
    Plan,
    Rows,
    collect,
    cursor_for,
    plan_of,
    run,
    send,
)

# Off, every statement runs through SQLAlchemy's Connection.execute (bench comparisons). The
# plans read SQLAlchemy 2.1's private compiler and connection internals: a SQLAlchemy without
# the two read at run time turns the lean path off, one without those read while planning
# leaves each statement unplanned (AttributeError below), so an upgrade degrades to
# SQLAlchemy's own path instead of failing; tests/test_statements.py fails if that happens.
LEAN = hasattr(SAConnection, "_handle_dbapi_exception") and hasattr(
    TypeEngine, "_cached_result_processor"
)


class Connection:
    """The unit of work's connection (`db.connection`): `execute` runs a pre-built statement
    lean when it can, through SQLAlchemy otherwise; `sa` is SQLAlchemy's Connection.

    On PostgreSQL a writing unit's connection is `piped` (`units.Unit`): its BEGIN goes in one
    libpq pipeline with the unit's first lean statement, and the statements it is given
    through `insert_unread` and `update_unread` wait for the unit's next statement, or its
    COMMIT, and go in that statement's pipeline, ahead of it (`pipeline`): one round trip for
    them all.
    """

    __slots__ = ("begin", "deferred", "dialect", "sa")

    def __init__(self, connection: SAConnection) -> None:
        self.sa = connection
        self.dialect = connection.dialect
        # `piped`: the unit's BEGIN is still to be sent (psycopg would send it as a round trip
        # of its own); the statements waiting for the next one (None: not piped).
        self.begin = False
        self.deferred: list[tuple[Plan, Any, bool]] | None = None

    def execute(self, statement: Executable, params: Params = None) -> Any:
        """As `sqlalchemy.Connection.execute`; the result offers `all`, `first`, `one`,
        `one_or_none`, `scalar`, `scalar_one`, `scalar_one_or_none`, iteration, `rowcount`."""
        plan, many = self._plan(statement, params)
        if plan is UNPLANNED:
            self.flush()  # what is due goes first (as on SQLAlchemy's path: `due_first`)
            return self.sa.execute(statement, params)
        if (self.begin or self.deferred) and self._due():
            return self._piped(plan, params, many)
        return run(self.sa, plan, params, many)

    def _plan(self, statement: Executable, params: Params) -> tuple[Any, bool]:
        """The statement's plan, or `UNPLANNED` if SQLAlchemy must run it."""
        many = isinstance(params, Sequence)
        if not LEAN or (many and (self.dialect.name not in LEAN_MANY or not params)):
            # An executemany elsewhere is batched by the dialect (insertmanyvalues).
            return UNPLANNED, many
        first: Mapping[str, Any] = params[0] if many else (params or {})  # type: ignore[index,assignment]
        if not isinstance(statement, Select | UpdateBase):  # text(), DDL ...: SQLAlchemy's
            return UNPLANNED, many
        return plan_of(self.dialect, statement, first, many), many

    def insert_unread(self, statement: Insert, params: Mapping[str, Any]) -> None:
        """Run an INSERT (or upsert) that returns nothing, of a row nothing in the unit needs
        before its next statement: on a `piped` connection (PostgreSQL's writing units) it is
        sent with the unit's next statement, whichever way that statement runs (this lean
        path, SQLAlchemy's, the ORM's, a savepoint's), or else with the COMMIT, in the order
        given and ahead of the rest, in that statement's round trip; elsewhere (SQLite, a
        Session of its own) at once.

        The contract for the caller: the INSERT's outcome is known only at that later
        statement: its error (a unique violation ...) is raised there, as SQLAlchemy's
        exception of the same type (`IntegrityError` ...), and the transaction is failed, so
        the unit rolls back whole; so use it only where no one handles the INSERT's own error
        (a caller that catches `IntegrityError` to retry or merge must `execute` instead).
        A rollback of the unit drops what is still waiting."""
        if not isinstance(statement, Insert) or statement._returning:
            raise TypeError("insert_unread takes an INSERT without RETURNING")
        self._unread(statement, params)

    def update_unread(self, statement: Update, params: Mapping[str, Any]) -> None:
        """Run an UPDATE without RETURNING whose outcome nothing reads (not its rowcount), as
        `insert_unread` runs an INSERT, under the same contract: on a `piped` connection it
        waits for the unit's next statement or its COMMIT and goes in that round trip, in the
        order given; its error is raised there and the unit rolls back whole; elsewhere it
        runs at once. The rows it changes are changed before any later statement of the unit
        reads them, and it takes its row locks later in the transaction than `execute` would
        (still before the COMMIT)."""
        if not isinstance(statement, Update) or statement._returning:
            raise TypeError("update_unread takes an UPDATE without RETURNING")
        self._unread(statement, params)

    def _unread(self, statement: Insert | Update, params: Mapping[str, Any]) -> None:
        if self.deferred is None:
            self.execute(statement, params)
            return
        plan, many = self._plan(statement, params)
        if plan is UNPLANNED:
            self.execute(statement, params)
            return
        self.deferred.append((plan, params, many))

    def flush(self) -> None:
        """Send what is due now (the BEGIN, the waiting statements), in one round trip."""
        if (self.begin or self.deferred) and self._due():
            with self.pipeline("(what was due)"):
                pass

    def _due(self) -> bool:
        """Whether a BEGIN or a statement waits (no BEGIN if psycopg has sent its own: a
        statement of SQLAlchemy's ran first)."""
        raw: Any = self.sa.connection.dbapi_connection
        if self.begin and raw.pgconn.transaction_status != PG_IDLE:
            self.begin = False
        return self.begin or bool(self.deferred)

    def _piped(self, plan: Plan, params: Any, many: bool) -> Rows:
        sql, args = plan.fast_args(params, many)
        with self.pipeline(sql):
            cursor, kept = cursor_for(self.sa.connection.dbapi_connection, plan)
            sql, args = send(self.sa, cursor, sql, args, many)
        return collect(self.sa, plan, cursor, sql, args, many, kept)

    @contextmanager
    def pipeline(self, label: str) -> Iterator[None]:
        """A libpq pipeline on the unit's connection for the block's statements, opened with
        what is due first: the unit's BEGIN if PostgreSQL is idle yet, then the waiting
        statements; all sent at once, and their results (and errors) read once, when the block
        ends (one round trip). A driver error is raised as SQLAlchemy's (`IntegrityError`
        ...), with the failing statement's SQL if known (else `label`); PostgreSQL then
        holds the transaction failed, for the caller's rollback.

        The BEGIN is psycopg's own text (its isolation options), sent in autocommit for the
        length of the pipeline so that psycopg sends none of its own ahead of it (that one
        would be a round trip: psycopg waits for its result); psycopg then finds the
        transaction open, as if it had begun it. Within a pipeline already open, just the
        waiting statements."""
        raw: Any = self.sa.connection.dbapi_connection
        queued = self.deferred
        if queued:
            self.deferred = []
        begin = self.begin and raw.pgconn.transaction_status == PG_IDLE
        self.begin = False
        if raw.pgconn.pipeline_status:  # in one already (a statement of the COMMIT's)
            for plan, params, many in queued or ():
                send(self.sa, cursor_for(raw, plan)[0], *plan.fast_args(params, many), many)
            yield
            return
        sent: list[tuple[Any, str, Any]] = []
        try:
            if begin:
                raw._autocommit = True
            try:
                batched = BATCHED and hasattr(raw, "batched_pipeline")  # the engine's class
                with raw.batched_pipeline() if batched else raw.pipeline():
                    if begin:
                        queue_command(raw, raw._get_tx_start_command())
                    for plan, params, many in queued or ():
                        cursor = cursor_for(raw, plan)[0]
                        sql, args = send(self.sa, cursor, *plan.fast_args(params, many), many)
                        sent.append((cursor, sql, args))
                    yield
            finally:
                if begin:
                    raw._autocommit = False
        except self.dialect.loaded_dbapi.Error as e:
            # The first statement with no result is the one that failed (PostgreSQL skipped
            # those after it); a failure of the block's own is wrapped where it was run.
            failed = next((s for s in sent if s[0].pgresult is None), None)
            sql, args = (label, ()) if failed is None else (failed[1], failed[2])
            cause = _cause(e, self.dialect.loaded_dbapi.Error)
            self.sa._handle_dbapi_exception(cause, sql, args, None, None)

    def piped(self) -> None:
        """Pipe this connection (a writing unit's, on PostgreSQL, before its first statement,
        of an engine `pipe_engine` set up): its BEGIN goes with the first statement,
        `insert_unread` waits. Unless `PIPED` is off or this psycopg lacks what `pipeline`
        reads of it (then everything runs as before)."""
        raw: Any = self.sa.connection.dbapi_connection
        if (
            not PIPED
            or getattr(raw, "_autocommit", True) is not False  # autocommit, or no such flag
            or not hasattr(raw, "_get_tx_start_command")
            or not hasattr(raw, "_exec_command")
        ):
            return
        self.begin = True
        self.deferred = []
        self.sa.__dict__[_PIPED_LEAN] = self

    def unpiped(self) -> None:
        """The unit ended (or rolled back): drop what waits, and pipe no more."""
        self.begin = False
        self.deferred = None
        self.sa.__dict__.pop(_PIPED_LEAN, None)


#: Off, no connection is piped: psycopg's BEGIN, each INSERT at once (bench comparisons).
PIPED = True
#: Off, a piped unit's pipelines are psycopg's own, each statement sent as it is queued, not
#: all at the sync (`pg_loop.BatchedPipeline`; bench comparisons).
BATCHED = True
#: `psycopg.pq.TransactionStatus.IDLE` (psycopg is imported only where PostgreSQL is used).
PG_IDLE = 0
_PIPED_LEAN = "_antechamber_piped"
_PIPES = "_antechamber_pipes"


def pipe_engine(engine: Engine) -> None:
    """Let `db`'s writing units pipe their connections of `engine` (PostgreSQL's): a statement
    SQLAlchemy runs on one sends what waits first (`due_first`)."""
    event.listen(engine, "before_cursor_execute", due_first, retval=True)
    setattr(engine, _PIPES, True)


def pipes(engine: Engine) -> bool:
    """Whether `pipe_engine` set `engine` up."""
    return _PIPES in engine.__dict__


def due_first(
    conn: SAConnection, _cursor: Any, statement: str, parameters: Any, *_args: Any
) -> tuple[str, Any]:
    """PostgreSQL's engines' `before_cursor_execute` (retval): a statement SQLAlchemy runs on
    a piped unit's connection (the ORM's, a savepoint's) sends what is due first (the BEGIN
    with the waiting statements, one round trip), so it never runs ahead of one given
    earlier (`Connection.insert_unread`, `update_unread`)."""
    lean: Connection | None = conn.__dict__.get(_PIPED_LEAN)
    if lean is not None and lean.deferred:
        lean.flush()
    return statement, parameters


def _cause(error: BaseException, base: type[BaseException]) -> BaseException:
    """The error a pipeline failed with: psycopg raises the first failure among the results
    it reads at once, but if the rest arrive later (a busy machine splits the answer), reading
    them raises `PipelineAborted` for the statements PostgreSQL skipped, over the first (its
    `__context__`, a `base` error): that one is the cause, and decides the exception's type."""
    while type(error).__name__ == "PipelineAborted" and isinstance(error.__context__, base):
        error = error.__context__
    return error


def queue_command(raw: Any, command: bytes) -> None:
    """Queue `command` (BEGIN, COMMIT: no parameters, no rows) in `raw`'s open pipeline as
    psycopg queues its own: no cursor, and nothing sent until the pipeline's next statement or
    its end (a cursor's `execute` would send it at once, a system call of its own)."""
    if hasattr(raw, "_exec_command"):
        raw.wait(raw._exec_command(command))
    else:
        raw.cursor().execute(command, prepare=False)
