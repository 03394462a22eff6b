"""Engines for SQLite and PostgreSQL, as a server needs them: SQLite's pragmas, its BEGIN and
the writer it keeps; PostgreSQL's pool, prepared statements and keepalives (`make_engine`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from antechamber import json_columns, sqlite_types, statements
from antechamber.kept_connections import LoopReads, Writer
from antechamber.writer_lock import BUSY_TIMEOUT_SECONDS

#: Execution option (and `Session.info` key) marking a read-only unit of work.
READ_ONLY = "antechamber_read_only"

#: PostgreSQL: connections older than this are closed at their next checkout.
PG_RECYCLE_SECONDS = 1800
#: PostgreSQL: connections the writing units of every thread keep between them
#: (`kept_connections.LoopReads.writes`), at most a quarter of the pool.
PG_WRITES_KEPT = 4
#: psycopg prepares a statement on its n-th execution on one connection.
PG_PREPARE_THRESHOLD = 2


#: The engine's attribute holding its `Writer` (SQLite): on the engine, not in a weak mapping
#: keyed by it, as the connection the writer keeps refers to the engine.
_WRITER = "_antechamber_writer"
#: The engine's attribute holding where units keep connections (`Writer` or `LoopReads`).
_KEPT = "_antechamber_kept"


def make_engine(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None, **kwargs: Any
) -> Engine:
    """An engine with the pragmas SQLite needs to be a good server database.

    SQLite: WAL (readers do not block the writer), synchronous=NORMAL (durable at checkpoints,
    the measured sweet spot in design.md), foreign keys on, and a busy timeout so concurrent
    writers queue instead of failing. `pool_size` and `max_overflow` (None: the defaults) are
    PostgreSQL's: SQLite keeps a connection per request thread. JSON columns are encoded and
    decoded by `json_columns` (orjson) on both.
    """
    kwargs.setdefault("json_serializer", json_columns.dumps)
    kwargs.setdefault("json_deserializer", json_columns.loads)
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            # A connection per request thread (AnyIO's pool has 40): SQLite connections are
            # cheap to keep and dear to open (the pragmas below), and reads now run side by
            # side, so a small pool would open and close overflow connections all the time.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 10)
            # The connection returned last is handed out next: a connection that finds the
            # WAL changed since its last transaction drops its page cache and reads the pages
            # again, so handing out each pooled connection in turn (first in, first out) made
            # every unit of work start cold (docs/performance.md, sixth round).
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        # Datetimes bound by `isoformat`, JSON text read in one call (sqlite_types).
        engine.dialect.colspecs = sqlite_types.colspecs(engine.dialect.colspecs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: a read-then-write transaction never
            # fails half way with "database is locked", and single-use checks are serialised.
            # A read-only unit of work reads a snapshot beside the writer (WAL) instead.
            if conn.get_execution_options().get(READ_ONLY):
                # Straight to the driver: a deferred BEGIN takes no lock, so it cannot meet a
                # busy database (whose error the engine's wrapping is for), and skipping the
                # engine's statement machinery is a fifth of an empty read's cost.
                conn.connection.driver_connection.execute("BEGIN")
            else:
                _begin_immediate(conn)

        path = engine.url.database
        writer = Writer(path if path not in (None, "", ":memory:") else None)
        setattr(engine, _WRITER, writer)
        setattr(engine, _KEPT, writer)
        event.listen(engine, "engine_disposed", writer.drop)
        return engine
    # PostgreSQL. A pool that keeps a connection for each request thread likely to want one
    # (`pool_size`, from ANTECHAMBER_DATABASE_POOL_SIZE): an overflow connection is opened
    # for one checkout and closed after it (a backend started and ended per request), and
    # never lives long enough to use prepared statements. psycopg prepares a statement on
    # its `prepare_threshold`-th execution on a connection; the ORM's statements repeat, so
    # a kept connection soon runs them without parsing or planning. Its cursors describe a
    # result only if something reads the description (`pg_cursor`).
    # No ping per checkout (a round trip each): a connection that died (PostgreSQL
    # restarted) fails the statement that meets it, SQLAlchemy then discards every
    # connection the pool held from before, and that request gets 503 database_unavailable
    # with Retry-After; TCP keepalives find peers gone without a word (a failover) and
    # `pool_recycle` retires connections before an idle timeout between here and there.
    kwargs.setdefault("pool_size", pool_size if pool_size is not None else 20)
    kwargs.setdefault("max_overflow", max_overflow if max_overflow is not None else 10)
    kwargs.setdefault("pool_recycle", PG_RECYCLE_SECONDS)
    # psycopg is only installed for PostgreSQL (the `postgres` extra).
    from antechamber.pg_cursor import LazyDescriptionCursor, use_json_columns
    from antechamber.pg_loop import LoopConnection, LoopPool

    # Units of work on the event loop (`loop_units`) hand their waits to the loop: for the
    # socket (the connection's), for a connection back in an exhausted pool (the pool's).
    # Elsewhere both are psycopg's and SQLAlchemy's.
    kwargs.setdefault("poolclass", LoopPool)

    pg_connect_args: dict[str, Any] = {
        "prepare_threshold": PG_PREPARE_THRESHOLD,
        "cursor_factory": LazyDescriptionCursor,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        **kwargs.pop("connect_args", {}),
    }
    pg = create_engine(url, connect_args=pg_connect_args, **kwargs)
    adapters = getattr(pg.dialect, "_psycopg_adapters_map", None)
    if adapters is not None and kwargs["json_deserializer"] is json_columns.loads:
        # JSON columns decoded by psycopg's loader calling ours: ours is the loader.
        use_json_columns(adapters)

    @event.listens_for(pg, "do_connect")
    def _loop_connection(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # The dialect's own connect, but of psycopg's subclass (`psycopg.connect` is
        # `Connection.connect`, a class method).
        return LoopConnection.connect(*cargs, **cparams)

    # Reads on an event loop's thread (`Services.reads_inline`, if set) keep a connection of
    # their own, so such a read never waits for one a worker thread holds.
    # And the writing units of every thread a few between them, taken before the pool's.
    # The reads keep as many as can run at once (`Services.loop_gate`: the pool's size),
    # but for the writers' share: each holds its own while it waits for the others it reads
    # with (`loop_units.gathered`), and one that found none kept paid a pool checkout, an
    # isolation level set and reset (performance.md, item 100).
    pool_size = int(kwargs["pool_size"])
    writes = min(PG_WRITES_KEPT, pool_size // 4)
    reads = LoopReads(keeps=max(1, pool_size - writes), writes=writes)
    setattr(pg, _KEPT, reads)
    event.listen(pg, "engine_disposed", reads.drop)
    # Writing units send their BEGIN and their unread INSERTs with a later statement.
    statements.pipe_engine(pg)
    return pg


def _begin_immediate(conn: Connection) -> None:
    """SQLite's writer BEGIN, straight to the driver: it runs once per unit of work, and the
    engine's statement machinery (`exec_driver_sql`) cost several times the driver's call.
    Its error (a database another program keeps locked past the busy timeout) is wrapped as
    the engine would (`OperationalError`), through the connection's own handling; a
    SQLAlchemy without that private hook takes the engine's path (`statements.LEAN`)."""
    if not statements.LEAN:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    driver = conn.connection.driver_connection
    assert driver is not None  # a checked-out connection's
    try:
        driver.execute("BEGIN IMMEDIATE")
    except Exception as e:
        conn._handle_dbapi_exception(e, "BEGIN IMMEDIATE", (), None, None)


def writer_of(engine: Engine) -> Writer | None:
    """SQLite's writer (the lock and the connection it keeps); None on PostgreSQL."""
    writer: Writer | None = engine.__dict__.get(_WRITER)
    return writer


def kept_of(engine: Engine) -> Writer | LoopReads | None:
    """Where the engine's units of work keep connections between them."""
    kept: Writer | LoopReads | None = engine.__dict__.get(_KEPT)
    return kept
