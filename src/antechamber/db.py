"""Storage plumbing: the declarative base and the unit of work (engines: `engines`).

Domain functions receive a `Session` and never commit; the caller (a request, a CLI command,
the delivery worker) opens a unit of work with `transaction()` and commits once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    contextmanager,
    nullcontext,
)
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, RootTransaction, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from antechamber import statements
from antechamber.engines import READ_ONLY as READ_ONLY
from antechamber.engines import kept_of, writer_of
from antechamber.engines import make_engine as make_engine
from antechamber.kept_connections import LoopReads, Writer, keep, take

log = logging.getLogger("antechamber.db")
_ON_ROLLBACK = "antechamber.on_rollback"
_AFTER_COMMIT = "antechamber.after_commit"
_ON_COMMIT = "antechamber.on_commit"


class ReadOnlyViolation(RuntimeError):
    """A read-only unit of work tried to write: a programming error, never a client's."""


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[dict[str, Any]]: JSON,
    }


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


def transaction(
    factory: sessionmaker[Session], *, read_only: bool = False, defer: Defer | None = None
) -> _Transaction:
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

    Use it as `with`; it is a class (`_Transaction`), not a generator, as every request enters
    one (or more).
    """
    return _Transaction(factory, read_only, defer)


class _Transaction:
    """`transaction`: enter once."""

    __slots__ = ("defer", "factory", "hold", "read_only", "unit")

    def __init__(self, factory: sessionmaker[Session], read_only: bool, defer: Defer | None):
        self.factory = factory
        self.read_only = read_only
        self.defer = defer
        self.hold: Writer | None = None

    def __enter__(self) -> Session:
        engine = _engine_of(self.factory)
        writer = writer_of(engine)
        # Held by this thread through `writer_held_if_free`: the hold covers this unit of work.
        if writer is None or self.read_only or writer.held_here():
            hold = None
        else:
            hold = writer
            hold.__enter__()
        try:
            self.unit = _Unit(self.factory, engine, self.read_only, kept_of(engine))
        except BaseException:
            if hold is not None:
                hold.__exit__()
            raise
        self.hold = hold
        return self.unit.session

    def __exit__(
        self,
        _type: type[BaseException] | None,
        exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        # Commit if the block returned, else (or if the commit fails) roll back or, for a
        # `keep_changes` error, commit; then give the connection and the lock back, and run
        # what was registered for after the commit, or for after the rollback.
        unit = self.unit
        info = unit.session.info
        rolled_back = False
        try:
            try:
                if exc is None:
                    try:
                        unit.commit()
                    except BaseException as failed:
                        rolled_back = _end_failed(unit, failed)
                        raise
                else:
                    rolled_back = _end_failed(unit, exc)
            finally:
                try:
                    unit.close()
                finally:
                    if self.hold is not None:
                        self.hold.__exit__()
            if exc is not None:
                if rolled_back:
                    rolled_back = False  # not again below
                    _write_apart(self.factory, info.pop(_ON_ROLLBACK, []), "after the rollback")
                return
            for callback in info.pop(_ON_COMMIT, []):
                callback()
            writes = info.pop(_AFTER_COMMIT, [])
            if writes:
                job = partial(_write_apart, self.factory, writes, "after the commit")
                (self.defer or _now)(job)
        except BaseException:
            if rolled_back:
                _write_apart(self.factory, info.pop(_ON_ROLLBACK, []), "after the rollback")
            raise
        finally:
            for key in (_ON_ROLLBACK, _AFTER_COMMIT, _ON_COMMIT):
                info.pop(key, None)


def _end_failed(unit: _Unit, exc: BaseException) -> bool:
    """End a unit whose block (or commit) raised `exc`: commit it as it stands for a
    `keep_changes` error, else roll it back (True)."""
    if getattr(exc, "keep_changes", False):
        unit.commit()
        return False
    unit.rollback()
    return True


class _Unit:
    """A unit of work's connection, its transaction and its Session (`transaction`).

    The unit checks a connection out and begins it itself, and hands the Session that
    connection (the Session joins its transaction: `session_factory`). On PostgreSQL a
    read-only unit, in autocommit, begins none: a Session that reads then begins its own on
    the connection, which the unit's commit or rollback ends as it would its own. The hot
    paths run their Core statements on it (`connection`) and leave the Session untouched, so
    a Session that holds no ORM state at the end (`_orm_free`: never began, nothing added) is
    committed by running its `before_commit` listeners (the audit's rows) and committing the
    connection: SQLAlchemy's Session transaction (begun, joined, prepared, committed, closed,
    with its events) runs only in units that use the ORM, and then ahead of the same commit.

    On SQLite (`kept`, the engine's `kept_connections.Writer`) a writing unit, whose thread
    holds the writer lock, reuses the connection the last one kept instead of a pool checkout
    and checkin of its own; on PostgreSQL a writing unit reuses one of the few the writers
    keep (`kept_connections.LoopReads.writes`) if one is left; on SQLite and PostgreSQL
    (`kept_connections.LoopReads`) so does a read-only unit on an event loop's thread, the
    last one's of that thread.
    """

    __slots__ = (
        "clean",
        "connection",
        "factory",
        "lean",
        "piped",
        "pool",
        "session",
        "since",
        "slot",
        "transaction",
    )

    def __init__(
        self,
        factory: sessionmaker[Session],
        engine: Engine,
        read_only: bool,
        kept_in: Writer | LoopReads | None = None,
    ) -> None:
        self.clean = False  # committed or rolled back without error: the connection may be kept
        self.slot = slot = None if kept_in is None else kept_in.slot(read_only)
        kept = None if slot is None else take(engine, slot)
        self.since: float | None = None
        self.factory = factory
        reused: tuple[sessionmaker[Session], Session] | None = None
        if kept is not None:  # a kept reader's is read-only already
            connection, self.lean, self.pool, self.since = kept
            reused = connection.__dict__.pop(_KEPT_SESSION, None)
        else:
            self.pool = engine.pool
            connection = engine.connect()
            self.lean = statements.Connection(connection)
        postgres = engine.dialect.name == "postgresql"
        try:
            if read_only and kept is None:  # on the connection itself (in place), before BEGIN
                connection.execution_options(**_read_only_options(engine))
            # PostgreSQL's read-only units run in autocommit (`_PG_READ_ONLY_OPTIONS`), where a
            # transaction of SQLAlchemy's sends nothing and commits nothing: only its begin,
            # commit and their events run (3% of a session check). So none is begun; one that
            # SQLAlchemy begins by itself (the ORM's Session, a statement it runs) ends with
            # the unit (`commit`, `rollback`), as the unit's own would.
            self.transaction: RootTransaction | None = (
                None if read_only and postgres else connection.begin()
            )
        except BaseException:
            connection.close()
            raise
        self.connection = connection
        # PostgreSQL's writing units end in one pipeline (`_before_commit_and_commit`); a
        # read-only one runs in autocommit and has nothing to commit. Their BEGIN goes with
        # their first statement, their `insert_unread` rows with a later one
        # (`statements.Connection.pipeline`).
        self.piped = not read_only and postgres
        if self.piped and statements.pipes(engine):
            self.lean.piped()
        # The Session the last unit on this kept connection left unused (`close`), if of the
        # same factory: a Session is a fifth of an empty read unit's cost to make.
        if reused is not None and reused[0] is factory:
            self.session = reused[1]
        else:
            self.session = factory(bind=connection)
        self.session.info[_UNIT] = self
        if read_only:
            self.session.info[READ_ONLY] = True

    def commit(self) -> None:
        session = self.session
        if _orm_free(session):
            # What Session.commit would run first; the audit's rows go out on `self.lean`.
            if self.piped:
                assert self.transaction is not None  # a writing unit's
                _before_commit_and_commit(session, self.transaction, self.lean)
            else:
                session.dispatch.before_commit(session)
        if not _orm_free(session):
            session.commit()  # flush, before_commit; the joined transaction stays open
        if self.lean.deferred:  # none ran after them (the ORM's commit flushed nothing)
            self.lean.flush()
        transaction = self.transaction
        if transaction is None:  # none of the unit's: one SQLAlchemy began, if any
            transaction = self.connection.get_transaction()
        if transaction is not None:
            transaction.commit()
        self.clean = True

    def rollback(self) -> None:
        self.clean = False
        if self.piped:
            self.lean.unpiped()  # the statements still waiting never run
        try:
            if self.session.in_transaction():
                self.session.rollback()  # "rollback_only": rolls the connection's back too
        finally:
            # Also one a failed COMMIT left behind, inactive but still the connection's; in a
            # unit that began none, one SQLAlchemy began.
            transaction = self.connection.get_transaction()
            if transaction is not None and (
                self.transaction is None or transaction is self.transaction
            ):
                transaction.rollback()
        self.clean = True

    def close(self) -> None:
        """Return the connection to the pool (rolling back a transaction still open), or keep
        it for the writer's next unit; the Session, detached from it, is closed too if it ever
        held ORM state."""
        info = self.session.info
        info.pop(_UNIT, None)
        info.pop(READ_ONLY, None)
        if self.piped:
            self.lean.unpiped()
        session = self.session
        orm_free = True
        try:
            orm_free = _orm_free(session)
            if not orm_free:
                session.close()
        finally:
            connection = self.connection
            slot = self.slot
            if orm_free:
                # A Session that never began nor took in an object is as a new one but for
                # its `info`: the next unit on this connection takes it, with an `info` of its
                # own (this unit's stays with this unit's `transaction()`, which reads it
                # after this).
                session.__dict__.pop("info", None)
                connection.__dict__[_KEPT_SESSION] = (self.factory, session)
            if not (
                self.clean
                and slot is not None
                and keep(connection, self.lean, self.pool, slot, self.since)
            ):
                connection.__dict__.pop(_KEPT_SESSION, None)
                connection.close()


def _before_commit_and_commit(
    session: Session, transaction: RootTransaction, lean: statements.Connection
) -> None:
    """PostgreSQL: run the Session's `before_commit` listeners (the audit's rows, the last
    statement of every writing unit) and send COMMIT behind them in one libpq pipeline, so the
    rows and the COMMIT cost one round trip instead of two (the audit's executemany already
    runs in a pipeline of its own and ends it with a Sync; psycopg's COMMIT then was a query
    of its own). The statements still waiting (`statements.Connection.insert_unread`,
    `update_unread`) go first in the same pipeline, after the unit's BEGIN if no statement has
    run yet. The transaction's
    `commit()` that follows finds PostgreSQL idle, and psycopg sends nothing for it:
    SQLAlchemy's bookkeeping and events run as before.

    A unit that has run no statement yet and has none waiting runs its listeners as before
    (its COMMIT, if their rows began a transaction, is then a round trip of its own). The
    same transaction as before: the rows and the COMMIT are ordered on one connection,
    and if a row fails PostgreSQL skips the rest of the pipeline up to its Sync (the COMMIT
    too) and the transaction is left failed for the caller's rollback; a failed COMMIT (a
    deferred constraint) is PostgreSQL's rollback. Either error is raised as SQLAlchemy would
    raise it (`IntegrityError` ...). If a listener left ORM state behind (the Session is no
    longer ORM-free), nothing is committed here: the caller's `Session.commit()` flushes it
    first, in the same transaction, and commits as before.
    """
    driver: Any = transaction.connection.connection.driver_connection
    if not lean.deferred and driver.pgconn.transaction_status == statements.PG_IDLE:
        # No statement yet, so no transaction (psycopg begins one with the first): as before,
        # the listeners' rows and then the commit, which has nothing to send without them.
        session.dispatch.before_commit(session)
        return
    with lean.pipeline("COMMIT"):
        session.dispatch.before_commit(session)
        if _orm_free(session):
            statements.queue_command(driver, b"COMMIT")


def _holding(writer: Writer | None) -> AbstractContextManager[None]:
    # Held by this thread through `writer_held_if_free`: the hold covers this unit of work.
    return writer if writer is not None and not writer.held_here() else nullcontext()


_UNIT = "antechamber.unit"
#: A kept connection's attribute (SQLAlchemy's `Connection`): the factory and the unused Session
#: its last unit left for the next (`_Unit.close`).
_KEPT_SESSION = "_antechamber_session"


def _orm_free(session: Session) -> bool:
    """Whether a Session has neither begun a transaction nor taken in an object: then it has
    nothing to flush, and its commit is the connection's. (`_new` is what `Session.new` makes
    a set of on every call: a third of this check's cost.)"""
    return session._transaction is None and not session.identity_map and not session._new


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
    writer = writer_of(engine)
    try:
        with _holding(writer):
            unit = _Unit(factory, engine, False, writer)  # a writer: no loop read's slot
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


@contextmanager
def writer_held_if_free(engine: Engine) -> Iterator[bool]:
    """Yield True with the engine's writer lock held by this thread for the block if it is
    free (SQLite: the thread lock and the `flock` of `WriterLock`, both taken without
    blocking), else False, holding nothing. PostgreSQL has no writer lock: always False."""
    lock = writer_of(engine)
    if lock is None:
        yield False
        return
    with lock.held_if_free() as held:
        yield held


def writer_held_on_the_loop(engine: Engine) -> AbstractAsyncContextManager[bool]:
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
      the commit that takes the WAL past the autocheckpoint size (SQLite's default, 1,000
      pages) also runs a passive checkpoint, which writes and syncs the database file
      (milliseconds, now and then).
    With False, the caller hands the unit of work to a thread, which queues for the lock (and
    so for the other process) as every write did before.

    Why wait here rather than hand the unit to a thread at once whenever the lock is taken:
    under load that was sticky. A thread holding or awaiting the lock made every request
    after it take a thread too, which kept the lock busy for the next: with 32 clients only a
    third of the units of a login ran on the loop.

    Use it as `async with`; it is a class (`writer_lock.HeldOnTheLoop`), not a generator, as
    every write on the loop enters it.
    """
    lock = writer_of(engine)
    return _NEVER_HELD if lock is None else lock.held_when_free()


class _NeverHeld:
    """`writer_held_on_the_loop` without a writer lock (PostgreSQL): False."""

    async def __aenter__(self) -> bool:
        return False

    async def __aexit__(self, *_exc: object) -> None:
        return None


_NEVER_HELD = _NeverHeld()


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (
        session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
    ):
        raise ReadOnlyViolation("a read-only unit of work tried to write")
