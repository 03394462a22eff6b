"""Storage plumbing: the declarative base and the unit of work (engines: `engines`; a unit's
connection, transaction and Session: `units`).

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

from sqlalchemy import JSON, Connection, DateTime, Engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from antechamber import statements
from antechamber.engines import READ_ONLY as READ_ONLY
from antechamber.engines import kept_of, writer_of
from antechamber.engines import make_engine as make_engine
from antechamber.kept_connections import Writer
from antechamber.units import PG_READ_ONLY_OPTIONS, READ_ONLY_OPTIONS, UNIT, Unit

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
            self.unit = Unit(self.factory, engine, self.read_only, kept_of(engine))
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


def _end_failed(unit: Unit, exc: BaseException) -> bool:
    """End a unit whose block (or commit) raised `exc`: commit it as it stands for a
    `keep_changes` error, else roll it back (True)."""
    if getattr(exc, "keep_changes", False):
        unit.commit()
        return False
    unit.rollback()
    return True


def _holding(writer: Writer | None) -> AbstractContextManager[None]:
    # Held by this thread through `writer_held_if_free`: the hold covers this unit of work.
    return writer if writer is not None and not writer.held_here() else nullcontext()


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
    unit: Unit | None = session.info.get(UNIT)
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
            unit = Unit(factory, engine, False, writer)  # a writer: no loop read's slot
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


def read_connection(engine: Engine) -> Connection:
    """A connection for reads outside a unit of work (probes, schema version): on SQLite its
    transaction takes no write lock, so it never makes a writer on the event loop wait in
    SQLite's busy handler; on PostgreSQL it runs in autocommit."""
    options = PG_READ_ONLY_OPTIONS if engine.dialect.name == "postgresql" else READ_ONLY_OPTIONS
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
