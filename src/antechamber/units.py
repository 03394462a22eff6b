"""A unit of work's connection, its transaction and its Session (`Unit`): what
`db.transaction` opens, commits or rolls back, and closes. Callers use `db` (`transaction`,
`connection`, the hooks), never this module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, RootTransaction
from sqlalchemy.orm import Session, sessionmaker

from antechamber import statements
from antechamber.engines import READ_ONLY
from antechamber.kept_connections import LoopReads, Writer, keep, take

#: The Session's `info` key of its unit (`db.connection` hands out the unit's `lean`).
UNIT = "antechamber.unit"
#: A kept connection's attribute (SQLAlchemy's `Connection`): the factory and the unused Session
#: its last unit left for the next (`Unit.close`).
_KEPT_SESSION = "_antechamber_session"


def _orm_free(session: Session) -> bool:
    """Whether a Session has neither begun a transaction nor taken in an object: then it has
    nothing to flush, and its commit is the connection's. (`_new` is what `Session.new` makes
    a set of on every call: a third of this check's cost.)"""
    return session._transaction is None and not session.identity_map and not session._new


READ_ONLY_OPTIONS: dict[str, Any] = {READ_ONLY: True}
# PostgreSQL: a read-only unit runs each statement in a transaction of its own (autocommit), so
# it costs no BEGIN and no COMMIT, two round trips of the three a one-statement read took. The
# same answers as inside one transaction: READ COMMITTED (the default) gives every statement a
# snapshot of its own anyway, and a read takes no locks to hold until a commit.
PG_READ_ONLY_OPTIONS: dict[str, Any] = {READ_ONLY: True, "isolation_level": "AUTOCOMMIT"}


def _read_only_options(engine: Engine) -> dict[str, Any]:
    return PG_READ_ONLY_OPTIONS if engine.dialect.name == "postgresql" else READ_ONLY_OPTIONS


class Unit:
    """A unit of work's connection, its transaction and its Session (`db.transaction`).

    The unit checks a connection out and begins it itself, and hands the Session that
    connection (the Session joins its transaction: `db.session_factory`). On PostgreSQL a
    read-only unit, in autocommit, begins none: a Session that reads then begins its own on
    the connection, which the unit's commit or rollback ends as it would its own. The hot
    paths run their Core statements on it (`db.connection`) and leave the Session untouched,
    so a Session that holds no ORM state at the end (`_orm_free`: never began, nothing added)
    is committed by running its `before_commit` listeners (the audit's rows) and committing
    the connection:
    SQLAlchemy's Session transaction (begun, joined, prepared, committed, closed, with its
    events) runs only in units that use the ORM, and then ahead of the same commit.

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
        self.session.info[UNIT] = self
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
        info.pop(UNIT, None)
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
                # own (this unit's stays with this unit's `db.transaction()`, which reads it
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
