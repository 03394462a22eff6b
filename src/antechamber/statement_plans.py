"""The lean path's plans (`statements`): a pre-built Core statement compiled once per dialect
(and per set of parameter names) into a `Plan`, and a plan run on a DBAPI cursor.

A `Plan` holds the SQL text, where each parameter comes from and its bind processor, the
Python-side column defaults, and on first use the result columns' processors (the dialect's
own: the same values in and out as SQLAlchemy's). `run` and `send`/`collect` (the same in two
halves, for a pipeline) run one on the connection's DBAPI connection, through the engine's
`before_cursor_execute` / `after_cursor_execute` listeners, a driver error raised as
SQLAlchemy's wrapped exception through the connection's own handling. `statements.Connection`
decides when and where (docs/performance.md).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection as SAConnection
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import ValuesBase
from sqlalchemy.sql.elements import ClauseElement

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
UNPLANNED: Any = object()
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


class Plan:
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


def _straight(plan: Plan) -> Callable[[Mapping[str, Any]], tuple[str, Any]]:
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


def plan_of(
    dialect: Dialect, statement: ClauseElement, params: Mapping[str, Any], many: bool
) -> Any:
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
        plan = UNPLANNED
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
                plan = Plan(compiled, params)
        except (_Unplannable, exc.CompileError, KeyError, TypeError, AttributeError):
            plan = UNPLANNED
        plans[key] = plan
    return plan


#: Dialects whose executemany runs lean: SQLite's; PostgreSQL's (psycopg), whose executemany
#: SQLAlchemy hands to `cursor.executemany` as here, except a list of one row, which it runs as
#: one INSERT with `RETURNING` of the new key (a result to wait for, which no caller reads; in
#: a pipeline, `units._before_commit_and_commit`, there is none to read yet).
LEAN_MANY = ("sqlite", "postgresql")


def send(conn: SAConnection, cursor: Any, sql: str, args: Any, many: bool) -> tuple[str, Any]:
    """Run a statement on `cursor` (in a pipeline: queue it), through the engine's
    `before_cursor_execute` listeners; the SQL and arguments they leave."""
    for fn in conn.dispatch.before_cursor_execute:
        sql, args = fn(conn, cursor, sql, args, None, many)
    if many:
        cursor.executemany(sql, args)
    else:
        cursor.execute(sql, args)
    return sql, args


#: Off, every lean statement runs on a cursor of its own (bench comparisons).
KEEP_CURSORS = True


def cursor_for(raw: Any, plan: Plan) -> tuple[Any, bool]:
    """A cursor of the DBAPI connection `raw` for `plan`, and whether the connection keeps it
    (PostgreSQL's, one a plan: `pg_loop.LoopConnection.lean_cursor`), else a new one."""
    lean = getattr(raw, "lean_cursor", None) if KEEP_CURSORS else None
    return (raw.cursor(), False) if lean is None else (lean(plan), True)


def run(conn: SAConnection, plan: Plan, params: Any, many: bool) -> Rows:
    sql, args = plan.fast_args(params, many)
    raw: Any = conn.connection.dbapi_connection
    assert raw is not None
    cursor, kept = cursor_for(raw, plan)
    try:
        sql, args = send(conn, cursor, sql, args, many)
    except BaseException as e:
        # Wrapped as SQLAlchemy does (IntegrityError ...), the connection invalidated if lost.
        conn._handle_dbapi_exception(e, sql, args, cursor, None)
    return collect(conn, plan, cursor, sql, args, many, kept)


def collect(
    conn: SAConnection,
    plan: Plan,
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
        # Read only while the plan has no processors yet (its first rows): building it costs
        # psycopg's cursor a lookup of the encoding and an object or two a statement, and
        # psycopg's is gone once the cursor is closed.
        description = cursor.description if plan.processors is None else None
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
    dialect: Dialect, plan: Plan, description: Any
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
