"""Storage plumbing: the declarative base, engines, and the unit of work.

Domain functions receive a `Session` and never commit; the caller (a request, a CLI command,
the delivery worker) opens a unit of work with `transaction()` and commits once.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from antechamber import json_columns, sqlite_types, statements
from antechamber.writer_lock import BUSY_TIMEOUT_SECONDS, WriterLock

log = logging.getLogger("antechamber.db")
_ON_ROLLBACK = "antechamber.on_rollback"
_AFTER_COMMIT = "antechamber.after_commit"
_ON_COMMIT = "antechamber.on_commit"
#: Execution option (and `Session.info` key) marking a read-only unit of work.
READ_ONLY = "antechamber_read_only"

#: SQLite: the commit that takes the WAL past this many pages runs a checkpoint (copies the
#: pages to the database file and syncs it). SQLite's default is 1,000; a page that many commits
#: change (an index's newest leaf) is copied once per checkpoint, so fewer, larger checkpoints
#: copy less per commit. Under 4,062 frames the WAL's index stays one hash table, which every
#: read of a page searches. Durability is unchanged in kind (synchronous=NORMAL: every commit
#: survives a crash of the process; a power loss may take those since the last checkpoint).
WAL_AUTOCHECKPOINT_PAGES = 4000
#: PostgreSQL: connections older than this are closed at their next checkout.
PG_RECYCLE_SECONDS = 1800
#: psycopg prepares a statement on its n-th execution on one connection.
PG_PREPARE_THRESHOLD = 2


class ReadOnlyViolation(RuntimeError):
    """A read-only unit of work tried to write: a programming error, never a client's."""


_writer_locks: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[dict[str, Any]]: JSON,
    }


def make_engine(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None, **kwargs: Any
) -> Engine:
    """An engine with the pragmas SQLite needs to be a good server database.

    SQLite: WAL (readers do not block the writer), synchronous=NORMAL (durable at checkpoints,
    the measured sweet spot in design.md), a checkpoint every `WAL_AUTOCHECKPOINT_PAGES`,
    foreign keys on, and a busy timeout so concurrent
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
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
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
        _writer_locks[engine] = WriterLock(path if path not in (None, "", ":memory:") else None)
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
    from antechamber.pg_cursor import LazyDescriptionCursor

    pg_connect_args: dict[str, Any] = {
        "prepare_threshold": PG_PREPARE_THRESHOLD,
        "cursor_factory": LazyDescriptionCursor,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        **kwargs.pop("connect_args", {}),
    }
    return create_engine(url, connect_args=pg_connect_args, **kwargs)


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


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `engine`. A unit of work (`transaction`) hands its Session the connection it
    began instead (`bind=`): the Session then joins that transaction, leaves its commit to the
    unit, and rolls it back with its own rollback (`join_transaction_mode="rollback_only"`)."""
    return sessionmaker(
        bind=engine,
        expire_on_commit=False,
        autoflush=True,
        join_transaction_mode="rollback_only",
    )


#: How a unit of work hands on its `after_commit` writes when it must not make them itself.
Defer = Callable[[Callable[[], None]], None]


@contextmanager
def transaction(
    factory: sessionmaker[Session], *, read_only: bool = False, defer: Defer | None = None
) -> Iterator[Session]:
    """One unit of work: commit if the block returns, roll back if it raises.

    Two ways for a failure to leave a trace: an `AntechamberError(keep_changes=True)` commits
    the transaction as it stands (for a transaction that holds nothing but the failure's own
    record, such as a counted wrong code); writes registered with `on_rollback` run in a new
    transaction after a rollback (for a refusal inside a larger change that must not land).

    `read_only=True` is for units that only read (a session check): on SQLite it reads a
    snapshot without taking the write lock, so it neither waits for writers nor holds them up;
    a flush of any change in it raises `ReadOnlyViolation`. Writes it must still make, such as
    a last-used time, go through `after_commit`: they run in a new transaction once this one
    commits, or, if `defer` is given, are handed to it as one job (a caller on the event loop
    must never wait for the write lock, and passes a background task).
    """
    engine = _engine_of(factory)
    unit: _Unit | None = None
    rolled_back = False
    try:
        with _writer_lock(engine, read_only):
            unit = _Unit(factory, engine, read_only)
            try:
                yield unit.session
                unit.commit()
            except BaseException as exc:
                if getattr(exc, "keep_changes", False):
                    unit.commit()
                else:
                    unit.rollback()
                    rolled_back = True
                raise
            finally:
                unit.close()
        info = unit.session.info
        for callback in info.pop(_ON_COMMIT, []):
            callback()
        writes = info.pop(_AFTER_COMMIT, [])
        if writes:
            job = partial(_write_apart, factory, writes, "after the commit")
            (defer or _now)(job)
    except BaseException:
        if rolled_back and unit is not None:
            _write_apart(factory, unit.session.info.pop(_ON_ROLLBACK, []), "after the rollback")
        raise
    finally:
        if unit is not None:
            for key in (_ON_ROLLBACK, _AFTER_COMMIT, _ON_COMMIT):
                unit.session.info.pop(key, None)


class _Unit:
    """A unit of work's connection, its transaction and its Session (`transaction`).

    The unit checks a connection out and begins it itself, and hands the Session that
    connection (the Session joins its transaction: `session_factory`). The hot paths run
    their Core statements on it (`connection`) and leave the Session untouched, so a Session
    that holds no ORM state at the end (`_orm_free`: never began, nothing added) is committed
    by running its `before_commit` listeners (the audit's rows) and committing the connection:
    SQLAlchemy's Session transaction (begun, joined, prepared, committed, closed, with its
    events) runs only in units that use the ORM, and then ahead of the same commit.
    """

    __slots__ = ("lean", "session", "transaction")

    def __init__(self, factory: sessionmaker[Session], engine: Engine, read_only: bool) -> None:
        connection = engine.connect()
        try:
            if read_only:  # on the connection itself (2.x: in place), before its BEGIN
                connection.execution_options(**_read_only_options(engine))
            self.transaction = connection.begin()
        except BaseException:
            connection.close()
            raise
        self.session = factory(bind=connection)
        self.lean = statements.Connection(connection)
        self.session.info[_UNIT] = self
        if read_only:
            self.session.info[READ_ONLY] = True

    def commit(self) -> None:
        session = self.session
        if _orm_free(session):
            # What Session.commit would run first; the audit's rows go out on `self.lean`.
            session.dispatch.before_commit(session)
        if not _orm_free(session):
            session.commit()  # flush, before_commit; the joined transaction stays open
        self.transaction.commit()

    def rollback(self) -> None:
        try:
            if self.session.in_transaction():
                self.session.rollback()  # "rollback_only": rolls the connection's back too
        finally:
            if self.transaction.is_active:
                self.transaction.rollback()

    def close(self) -> None:
        """Return the connection to the pool (rolling back a transaction still open); the
        Session, detached from it, is closed too if it ever held ORM state."""
        info = self.session.info
        info.pop(_UNIT, None)
        info.pop(READ_ONLY, None)
        try:
            if not _orm_free(self.session):
                self.session.close()
        finally:
            self.transaction.connection.close()


_UNIT = "antechamber.unit"


def _orm_free(session: Session) -> bool:
    """Whether a Session has neither begun a transaction nor taken in an object: then it has
    nothing to flush, and its commit is the connection's."""
    return not session.in_transaction() and not session.identity_map and not session.new


def _engine_of(factory: sessionmaker[Session]) -> Engine:
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine), "a unit of work needs a factory from session_factory"
    return engine


def connection(session: Session, *, flush: bool = True) -> statements.Connection:
    """The unit of work's connection, for pre-built Core statements on the hot paths: its
    `execute` runs them lean (`antechamber.statements`), in the unit's transaction.

    Pending ORM changes are flushed first (unless `flush=False`: a `before_commit` listener,
    ahead of the commit's own flush), so a statement sees them and may refer to them (a
    session row to a member just created); with nothing pending that costs nothing. Outside
    a `transaction()` (a Session of its own), the Session's connection.
    """
    if flush:
        session.flush()
    unit: _Unit | None = session.info.get(_UNIT)
    if unit is not None:
        return unit.lean
    return statements.Connection(session.connection())


def on_rollback(session: Session, write: Callable[[Session], None]) -> None:
    """Run `write(session)` in a fresh transaction if the current unit of work rolls back.

    For facts that must outlive the refusal that raised them: the audit event of a refused send,
    a failed-attempt counter. If the unit of work commits, `write` never runs (the caller has
    usually written the same fact into the committed transaction already). Only units of work
    opened with `transaction()` (requests, CLI commands, `Services.scope`) honour it.
    """
    session.info.setdefault(_ON_ROLLBACK, []).append(write)


def after_commit(session: Session, write: Callable[[Session], None]) -> None:
    """Run `write(session)` in a fresh transaction once the current unit of work commits.

    For bookkeeping that may be lost without harm and must not make a read take the write
    lock (a session's last-used time). Best effort: a failure is logged, never raised, and
    nothing runs if the unit of work rolls back. Only `transaction()` units honour it.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(write)


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call `callback()` once the current unit of work has committed; never if it rolls back.

    For process memory that may only learn what the database has kept (a cache of the
    signing key). `callback` must not touch the database, and must not raise.
    """
    session.info.setdefault(_ON_COMMIT, []).append(callback)


def _now(job: Callable[[], None]) -> None:
    job()


def _write_apart(
    factory: sessionmaker[Session], writes: list[Callable[[Session], None]], when: str
) -> None:
    if not writes:
        return
    engine = _engine_of(factory)
    try:
        with _writer_lock(engine, read_only=False):
            unit = _Unit(factory, engine, read_only=False)
            try:
                for write in writes:
                    write(unit.session)
                unit.commit()
            except BaseException:
                unit.rollback()
                raise
            finally:
                unit.close()
    except Exception:
        # The unit of work's own outcome is what the caller must see; this is for the operator.
        log.exception("could not make the writes registered to run %s", when)


_READ_ONLY_OPTIONS: dict[str, Any] = {READ_ONLY: True}
# PostgreSQL: a read-only unit runs each statement in a transaction of its own (autocommit), so
# it costs no BEGIN and no COMMIT, two round trips of the three a one-statement read took. The
# same answers as inside one transaction: READ COMMITTED (the default) gives every statement a
# snapshot of its own anyway, and a read takes no locks to hold until a commit.
_PG_READ_ONLY_OPTIONS: dict[str, Any] = {READ_ONLY: True, "isolation_level": "AUTOCOMMIT"}


def _read_only_options(engine: Engine) -> dict[str, Any]:
    return _PG_READ_ONLY_OPTIONS if engine.dialect.name == "postgresql" else _READ_ONLY_OPTIONS


def read_connection(engine: Engine) -> Connection:
    """A connection for reads outside a unit of work (probes, schema version): on SQLite its
    transaction takes no write lock, so it never makes a writer on the event loop wait in
    SQLite's busy handler; on PostgreSQL it runs in autocommit."""
    options = _PG_READ_ONLY_OPTIONS if engine.dialect.name == "postgresql" else _READ_ONLY_OPTIONS
    return engine.connect().execution_options(**options)


def _writer_lock(engine: Engine, read_only: bool) -> AbstractContextManager[None]:
    lock = None if read_only else _writer_locks.get(engine)
    # Held by this thread through `writer_held_if_free`: the hold covers this unit of work.
    return lock if lock is not None and not lock.held_here() else nullcontext()


@contextmanager
def writer_held_if_free(engine: Engine) -> Iterator[bool]:
    """Yield True with the engine's writer lock held by this thread for the block if it is
    free (SQLite: the thread lock and the `flock` of `WriterLock`, both taken without
    blocking), else False, holding nothing. PostgreSQL has no writer lock: always False."""
    lock = _writer_locks.get(engine)
    if lock is None:
        yield False
        return
    with lock.held_if_free() as held:
        yield held


@asynccontextmanager
async def writer_held_on_the_loop(engine: Engine) -> AsyncIterator[bool]:
    """Whether a writing unit of work may run on the event loop itself: yield True with the
    engine's writer lock held by the loop's thread for the block, once it is free (waiting
    without blocking the loop while a thread of this process holds it), or False at once if
    another process holds it, or on PostgreSQL (a checkout or a row lock may wait there).
    `DatabaseBusy` if a thread kept it for `BUSY_TIMEOUT_SECONDS`.

    With True (`api.auth.run_write`), the loop runs the unit of work (authentication, handler,
    commit) itself instead of handing it to a worker thread, and the units it opens in the
    block pass through the lock it holds. That never blocks the loop:
    - the lock is free, and SQLite is then free for writing too, as every writer of the
      database (the server's processes, the delivery process, the CLI) takes the lock first,
      so `BEGIN IMMEDIATE` does not wait; readers never hold a writer up (WAL). (A writer
      outside Antechamber, an operator's `sqlite3` shell, would hold the loop up to the busy
      timeout, as it holds a worker thread today);
    - the block must not await: it holds the lock only while it runs on the loop, so nothing
      that waits for the lock can be one the loop must run first (a worker thread waiting for
      it meanwhile just waits, as behind any unit of work): no deadlock;
    - a commit in WAL mode with `synchronous=NORMAL` appends to the WAL without an fsync;
      the commit that takes the WAL past the autocheckpoint size (`WAL_AUTOCHECKPOINT_PAGES`)
      also runs a passive checkpoint, which writes and syncs the database file (milliseconds,
      now and then).
    With False, the caller hands the unit of work to a thread, which queues for the lock (and
    so for the other process) as every write did before.

    Why wait here rather than hand the unit to a thread at once whenever the lock is taken:
    under load that was sticky. A thread holding or awaiting the lock made every request
    after it take a thread too, which kept the lock busy for the next: with 32 clients only a
    third of the units of a login ran on the loop.
    """
    lock = _writer_locks.get(engine)
    if lock is None:
        yield False
        return
    async with lock.held_when_free() as held:
        yield held


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (
        session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
    ):
        raise ReadOnlyViolation("a read-only unit of work tried to write")
