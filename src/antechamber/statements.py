"""Lean execution of the hot paths' pre-built Core statements (docs/performance.md).

SQLAlchemy's Connection.execute spends several times the driver's own `execute` per
statement: a cache key generated from the statement, an execution context, the parameters
constructed and processed, a result's metadata. The login and session paths run 25-40
statements built once at import, so `Connection.execute` here compiles each once per dialect
(and per set of parameter names, which decides an INSERT's columns) into a `_Plan`: the SQL
text, where each parameter comes from and its bind processor, the Python-side column
defaults, and on first use the result columns' processors. Each call then runs that plan on
the unit of work's own DBAPI connection, in its transaction.

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

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection as SAConnection
from sqlalchemy import Engine, event, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, UpdateBase, ValuesBase
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

# Off, every statement runs through SQLAlchemy's Connection.execute (bench comparisons). The
# plans read SQLAlchemy 2.1's private compiler and connection internals: a SQLAlchemy without
# the two read at run time turns the lean path off, one without those read while planning
# leaves each statement unplanned (AttributeError below), so an upgrade degrades to
# SQLAlchemy's own path instead of failing; tests/test_statements.py fails if that happens.
LEAN = hasattr(SAConnection, "_handle_dbapi_exception") and hasattr(
    TypeEngine, "_cached_result_processor"
)

_Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_UNPLANNED: Any = object()
_PLANS = "_antechamber_plans"

# One bound parameter's source: (kind, what, processor) where kind is _KEY (what = the
# caller's key), _OR (what = the caller's key and the value without it), _CONST (what = the
# value), _DEFAULT (what = the column default's callable), _ITEM (what = the caller's key of
# an expanding IN's list and the index in it).
_KEY, _OR, _CONST, _DEFAULT, _ITEM = 0, 1, 2, 3, 4


class Rows:
    """A statement's rows, all fetched (what the hot paths' callers ask of a Result)."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise exc.NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


class _Plan:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = (
        "binds",
        "fast",
        "named",
        "processors",
        "returns_rows",
        "row_type",
        "sql",
        "types",
    )

    def __init__(self, compiled: SQLCompiler, params: Mapping[str, Any]) -> None:
        self.sql = compiled.string
        self.named = not compiled.positional
        processors: Mapping[str, Any] = compiled._bind_processors
        escaped = compiled.escaped_bind_names
        defaults: dict[str, tuple[Any, ...]] = {}
        prefetch = compiled.insert_prefetch or compiled.update_prefetch
        key_of = compiled._within_exec_param_key_getter if prefetch else None
        for column in prefetch:
            assert key_of is not None
            arg, is_scalar, is_callable, is_sentinel = (
                column._default_description_tuple
                if compiled.insert_prefetch
                else column._onupdate_description_tuple
            )
            if is_sentinel or not (is_scalar or is_callable):
                raise _Unplannable(column)
            defaults[key_of(column)] = (_CONST, arg) if is_scalar else (_DEFAULT, arg)
        names = (compiled.positiontup if compiled.positional else list(compiled.binds)) or []
        if compiled.post_compile_params:
            # An expanding IN: the SQL for these lengths of its lists, each item a parameter.
            state = compiled.construct_expanded_state(params)
            self.sql = state.statement
            names = list(state.positiontup or ()) if compiled.positional else list(state.parameters)
            processors = {**processors, **state.processors}  # the latter: the items' only
            for name, items in state.parameter_expansion.items():
                key = compiled.binds[name].key
                if len(items) != len(params[key]):
                    raise _Unplannable(name)  # tuples IN: not on the hot paths
                for i, item in enumerate(items):
                    defaults[item] = (_ITEM, (key, i))
        binds: list[tuple[str, int, Any, Any]] = []
        for name in names:
            if name in defaults:
                kind, what = defaults[name]
            else:
                param = compiled.binds[name]
                if param.callable is not None:
                    raise _Unplannable(param)
                # A value given at execution wins over the statement's own (as SQLAlchemy).
                kind, what = (
                    (_KEY, param.key) if param.required else (_OR, (param.key, param.value))
                )
            binds.append((escaped.get(name, name), kind, what, processors.get(name)))
        self.binds = binds
        self.returns_rows = bool(compiled._result_columns)
        keys = [entry[0] for entry in compiled._result_columns]
        self.row_type: Any = namedtuple("Row", keys, rename=True) if keys else None
        self.processors: list[tuple[int, Callable[[Any], Any]]] | None = None
        self.types = [entry[3] for entry in compiled._result_columns]
        self.fast: Callable[[Mapping[str, Any]], tuple[str, Any]] = _straight(self)

    def fast_args(self, params: Any, many: bool) -> tuple[str, Any]:
        """The SQL and the driver's arguments for one execution (`many`: a list of them)."""
        if many:
            fast = self.fast
            return self.sql, [fast(p)[1] for p in params]
        return self.fast(params or {})

    def values(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The processed values for one execution, in the driver's shape (what `fast`, the
        same made straight-line, returns)."""
        out = []
        for _name, kind, what, processor in self.binds:
            if kind == _KEY:
                value = params[what]
            elif kind == _OR:
                value = params[what[0]] if what[0] in params else what[1]
            elif kind == _CONST:
                value = what
            elif kind == _DEFAULT:
                value = what(None)
            else:
                value = params[what[0]][what[1]]
            out.append(value if processor is None else processor(value))
        if self.named:
            return self.sql, {b[0]: v for b, v in zip(self.binds, out, strict=True)}
        return self.sql, tuple(out)


def _straight(plan: _Plan) -> Callable[[Mapping[str, Any]], tuple[str, Any]]:
    """`plan.values` as one expression per parameter, no loop and no branch on its kind: a
    statement binds 5-17 parameters and the loop cost 2.5 times this. Built from the plan's
    own binds (keys written by `repr`, everything else passed in by name), the values taken and
    the defaults called in the same order; `plan.values` if a key is not a string."""
    scope: dict[str, Any] = {"sql": plan.sql}
    items = []
    for i, (name, kind, what, processor) in enumerate(plan.binds):
        key = what if kind == _KEY else what[0] if kind in (_OR, _ITEM) else ""
        if not isinstance(name, str) or not isinstance(key, str):
            return plan.values
        # A str subclass (an anonymous bind's label) hashes and compares as its plain text.
        key, name = str(key), str(name)
        if kind == _KEY:
            expr = f"p[{key!r}]"
        elif kind == _OR:
            scope[f"c{i}"] = what[1]
            expr = f"(p[{key!r}] if {key!r} in p else c{i})"
        elif kind == _CONST:
            scope[f"c{i}"] = what
            expr = f"c{i}"
        elif kind == _DEFAULT:
            scope[f"c{i}"] = what
            expr = f"c{i}(None)"
        else:
            expr = f"p[{key!r}][{int(what[1])}]"
        if processor is not None:
            scope[f"f{i}"] = processor
            expr = f"f{i}({expr})"
        items.append(f"{name!r}: {expr}" if plan.named else expr)
    body = (
        "{" + ", ".join(items) + "}" if plan.named else "(" + "".join(f"{e}, " for e in items) + ")"
    )
    exec(f"def values(p):\n    return sql, {body}\n", scope)  # noqa: S102
    fast: Callable[[Mapping[str, Any]], tuple[str, Any]] = scope["values"]
    return fast


class _Unplannable(Exception):
    pass


def _plan(dialect: Dialect, statement: ClauseElement, params: Mapping[str, Any], many: bool) -> Any:
    plans: dict[Any, Any] | None = dialect.__dict__.get(_PLANS)
    if plans is None:
        plans = {}
        setattr(dialect, _PLANS, plans)
    key: Any = (statement, tuple(params), many) if isinstance(statement, ValuesBase) else statement
    base = key
    plan = plans.get(key)
    if type(plan) is tuple:  # the keys of its expanding INs: a plan per their lists' lengths
        key = (base, tuple(len(params[name]) for name in plan))
        plan = plans.get(key)
    if plan is None:
        plan = _UNPLANNED
        try:
            compiled = statement.compile(
                dialect=dialect, column_keys=list(params), for_executemany=many
            )
            if not isinstance(compiled, SQLCompiler):
                raise _Unplannable(compiled)
            expanding = tuple(p.key for p in compiled.post_compile_params)
            if (
                not compiled.literal_execute_params
                and all(p.expanding and not p.literal_execute for p in compiled.post_compile_params)
                and not (expanding and many)
                and not getattr(compiled, "_insertmanyvalues", None)
            ):
                if expanding:
                    plans[base] = expanding
                    key = (base, tuple(len(params[name]) for name in expanding))
                plan = _Plan(compiled, params)
        except (_Unplannable, exc.CompileError, KeyError, TypeError, AttributeError):
            plan = _UNPLANNED
        plans[key] = plan
    return plan


#: Dialects whose executemany runs lean: SQLite's; PostgreSQL's (psycopg), whose executemany
#: SQLAlchemy hands to `cursor.executemany` as here, except a list of one row, which it runs as
#: one INSERT with `RETURNING` of the new key (a result to wait for, which no caller reads; in
#: a pipeline, `db._before_commit_and_commit`, there is none to read yet).
_LEAN_MANY = ("sqlite", "postgresql")


class Connection:
    """The unit of work's connection (`db.connection`): `execute` runs a pre-built statement
    lean when it can, through SQLAlchemy otherwise; `sa` is SQLAlchemy's Connection.

    On PostgreSQL a writing unit's connection is `piped` (`db._Unit`): its BEGIN goes in one
    libpq pipeline with the unit's first lean statement, and the INSERTs it is given through
    `insert_unread` wait for the unit's next statement, or its COMMIT, and go in that
    statement's pipeline, ahead of it (`pipeline`): one round trip for them all.
    """

    __slots__ = ("begin", "deferred", "dialect", "sa")

    def __init__(self, connection: SAConnection) -> None:
        self.sa = connection
        self.dialect = connection.dialect
        # `piped`: the unit's BEGIN is still to be sent (psycopg would send it as a round trip
        # of its own); the INSERTs waiting for the next statement (None: not piped).
        self.begin = False
        self.deferred: list[tuple[_Plan, Any, bool]] | None = None

    def execute(self, statement: Executable, params: _Params = None) -> Any:
        """As `sqlalchemy.Connection.execute`; the result offers `all`, `first`, `one`,
        `one_or_none`, `scalar`, `scalar_one`, `scalar_one_or_none`, iteration, `rowcount`."""
        plan, many = self._plan(statement, params)
        if plan is _UNPLANNED:
            self.flush()  # what is due goes first (as on SQLAlchemy's path: `due_first`)
            return self.sa.execute(statement, params)
        if (self.begin or self.deferred) and self._due():
            return self._piped(plan, params, many)
        return _run(self.sa, plan, params, many)

    def _plan(self, statement: Executable, params: _Params) -> tuple[Any, bool]:
        """The statement's plan, or `_UNPLANNED` if SQLAlchemy must run it."""
        many = isinstance(params, Sequence)
        if not LEAN or (many and (self.dialect.name not in _LEAN_MANY or not params)):
            # An executemany elsewhere is batched by the dialect (insertmanyvalues).
            return _UNPLANNED, many
        first: Mapping[str, Any] = params[0] if many else (params or {})  # type: ignore[index,assignment]
        if not isinstance(statement, Select | UpdateBase):  # text(), DDL ...: SQLAlchemy's
            return _UNPLANNED, many
        return _plan(self.dialect, statement, first, many), many

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
        if self.deferred is None:
            self.execute(statement, params)
            return
        plan, many = self._plan(statement, params)
        if plan is _UNPLANNED:
            self.execute(statement, params)
            return
        self.deferred.append((plan, params, many))

    def flush(self) -> None:
        """Send what is due now (the BEGIN, the waiting INSERTs), in one round trip."""
        if (self.begin or self.deferred) and self._due():
            with self.pipeline("(what was due)"):
                pass

    def _due(self) -> bool:
        """Whether a BEGIN or an INSERT waits (no BEGIN if psycopg has sent its own: a
        statement of SQLAlchemy's ran first)."""
        raw: Any = self.sa.connection.dbapi_connection
        if self.begin and raw.pgconn.transaction_status != _PG_IDLE:
            self.begin = False
        return self.begin or bool(self.deferred)

    def _piped(self, plan: _Plan, params: Any, many: bool) -> Rows:
        sql, args = plan.fast_args(params, many)
        with self.pipeline(sql):
            raw: Any = self.sa.connection.dbapi_connection
            cursor = raw.cursor()
            sql, args = _send(self.sa, cursor, sql, args, many)
        return _collect(self.sa, plan, cursor, sql, args, many)

    @contextmanager
    def pipeline(self, label: str) -> Iterator[None]:
        """A libpq pipeline on the unit's connection for the block's statements, opened with
        what is due first: the unit's BEGIN if PostgreSQL is idle yet, then the waiting
        INSERTs; all sent at once, and their results (and errors) read once, when the block
        ends (one round trip). A driver error is raised as SQLAlchemy's (`IntegrityError`
        ...), with the failing statement's SQL if known (else `label`); PostgreSQL then
        holds the transaction failed, for the caller's rollback.

        The BEGIN is psycopg's own text (its isolation options), sent in autocommit for the
        length of the pipeline so that psycopg sends none of its own ahead of it (that one
        would be a round trip: psycopg waits for its result); psycopg then finds the
        transaction open, as if it had begun it. Within a pipeline already open, just the
        waiting INSERTs."""
        raw: Any = self.sa.connection.dbapi_connection
        queued = self.deferred
        if queued:
            self.deferred = []
        begin = self.begin and raw.pgconn.transaction_status == _PG_IDLE
        self.begin = False
        if raw.pgconn.pipeline_status:  # in one already (a statement of the COMMIT's)
            for plan, params, many in queued or ():
                _send(self.sa, raw.cursor(), *plan.fast_args(params, many), many)
            yield
            return
        sent: list[tuple[Any, str, Any]] = []
        try:
            if begin:
                raw._autocommit = True
            try:
                with raw.pipeline():
                    if begin:
                        queue_command(raw, raw._get_tx_start_command())
                    for plan, params, many in queued or ():
                        cursor = raw.cursor()
                        sql, args = _send(self.sa, cursor, *plan.fast_args(params, many), many)
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
#: `psycopg.pq.TransactionStatus.IDLE` (psycopg is imported only where PostgreSQL is used).
_PG_IDLE = 0
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
    with the waiting INSERTs, one round trip), so it never runs ahead of an INSERT given
    earlier (`Connection.insert_unread`)."""
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


def _send(conn: SAConnection, cursor: Any, sql: str, args: Any, many: bool) -> tuple[str, Any]:
    """Run a statement on `cursor` (in a pipeline: queue it), through the engine's
    `before_cursor_execute` listeners; the SQL and arguments they leave."""
    for fn in conn.dispatch.before_cursor_execute:
        sql, args = fn(conn, cursor, sql, args, None, many)
    if many:
        cursor.executemany(sql, args)
    else:
        cursor.execute(sql, args)
    return sql, args


def _run(conn: SAConnection, plan: _Plan, params: Any, many: bool) -> Rows:
    sql, args = plan.fast_args(params, many)
    raw: Any = conn.connection.dbapi_connection
    assert raw is not None
    # PostgreSQL's connection keeps a cursor per SELECT (`pg_loop.LoopConnection.lean_cursor`),
    # outside a pipeline (whose results are read later).
    kept = (
        plan.returns_rows
        and not many
        and hasattr(raw, "lean_cursor")
        and not raw.pgconn.pipeline_status
    )
    cursor = raw.lean_cursor(plan) if kept else raw.cursor()
    try:
        sql, args = _send(conn, cursor, sql, args, many)
    except BaseException as e:
        # Wrapped as SQLAlchemy does (IntegrityError ...), the connection invalidated if lost.
        conn._handle_dbapi_exception(e, sql, args, cursor, None)
    return _collect(conn, plan, cursor, sql, args, many, kept)


def _collect(
    conn: SAConnection,
    plan: _Plan,
    cursor: Any,
    sql: str,
    args: Any,
    many: bool,
    kept: bool = False,
) -> Rows:
    """The statement's rows, once `cursor` has run it (its pipeline ended); the cursor closed
    unless the connection keeps it (`kept`)."""
    try:
        for fn in conn.dispatch.after_cursor_execute:
            fn(conn, cursor, sql, args, None, many)
        rows = cursor.fetchall() if plan.returns_rows else []
        rowcount = cursor.rowcount
        description = cursor.description  # psycopg's is gone once the cursor is closed
        if not kept:
            cursor.close()
    except BaseException as e:
        conn._handle_dbapi_exception(e, sql, args, cursor, None)
    if not rows:
        return Rows([], rowcount)
    processors = plan.processors
    if processors is None:
        processors = plan.processors = _result_processors(conn.dialect, plan, description)
    make = plan.row_type._make
    if processors:
        out = []
        for row in rows:
            values = list(row)
            for i, processor in processors:
                values[i] = processor(values[i])
            out.append(make(values))
        return Rows(out, rowcount)
    return Rows([make(row) for row in rows], rowcount)


def _result_processors(
    dialect: Dialect, plan: _Plan, description: Any
) -> list[tuple[int, Callable[[Any], Any]]]:
    """The result columns' processors, as SQLAlchemy's result metadata finds them for a
    compiled statement whose columns match the cursor's by position."""
    if len(description) != len(plan.types):
        raise RuntimeError(f"result columns do not match the statement: {plan.sql}")
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, (type_, col) in enumerate(zip(plan.types, description, strict=True)):
        processor = type_._cached_result_processor(dialect, col[1])
        if processor is not None:
            found.append((i, processor))
    return found
