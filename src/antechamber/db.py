"""Storage plumbing: the declarative base, engines, and the unit of work.

Domain functions receive a `Session` and never commit; the caller (a request, a CLI command,
the delivery worker) opens a unit of work with `transaction()` and commits once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger("antechamber.db")
_ON_ROLLBACK = "antechamber.on_rollback"


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[dict[str, Any]]: JSON,
    }


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the pragmas SQLite needs to be a good server database.

    SQLite: WAL (readers do not block the writer), synchronous=NORMAL (durable at checkpoints,
    the measured sweet spot in design.md), foreign keys on, and a busy timeout so concurrent
    writers queue instead of failing.
    """
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: a read-then-write transaction never
            # fails half way with "database is locked", and single-use checks are serialised.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block returns, roll back if it raises.

    Two ways for a failure to leave a trace: an `AntechamberError(keep_changes=True)` commits
    the transaction as it stands (for a transaction that holds nothing but the failure's own
    record, such as a counted wrong code); writes registered with `on_rollback` run in a new
    transaction after a rollback (for a refusal inside a larger change that must not land).
    """
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        if getattr(exc, "keep_changes", False):
            session.commit()
        else:
            session.rollback()
            _after_rollback(session)
        raise
    finally:
        session.info.pop(_ON_ROLLBACK, None)
        session.close()


def on_rollback(session: Session, write: Callable[[Session], None]) -> None:
    """Run `write(session)` in a fresh transaction if the current unit of work rolls back.

    For facts that must outlive the refusal that raised them: the audit event of a refused send,
    a failed-attempt counter. If the unit of work commits, `write` never runs (the caller has
    usually written the same fact into the committed transaction already). Only units of work
    opened with `transaction()` (requests, CLI commands, `Services.scope`) honour it.
    """
    session.info.setdefault(_ON_ROLLBACK, []).append(write)


def _after_rollback(session: Session) -> None:
    writes: list[Callable[[Session], None]] = session.info.pop(_ON_ROLLBACK, [])
    if not writes:
        return
    try:
        for write in writes:
            write(session)
        session.commit()
    except Exception:
        # The original error is what the caller must see; this one is for the operator.
        log.exception("could not keep the writes registered to survive a rollback")
        session.rollback()


def import_models() -> None:
    """Import every models module so `Base.metadata` knows every table (Alembic, tests)."""
    import antechamber.models  # noqa: F401
