"""The unit of work's lean path (`units.Unit`): a unit whose Session holds no ORM state commits
through its connection, without SQLAlchemy's Session transaction, and keeps every guarantee
of `db.transaction` (commit, rollback, `keep_changes`, the audit rows in the same transaction,
one connection for the ORM and the statements)."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, exc, insert, select
from sqlalchemy.orm import Session

from antechamber import db
from antechamber.audit import service as audit
from antechamber.audit.models import AuditEvent
from antechamber.errors import AntechamberError
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials

_INSERT_ORG = insert(cast(Table, Organization.__table__))


def _org(services: Services, project_id: str, name: str) -> dict[str, Any]:
    now = services.clock.now()
    return {
        "id": f"organization-test-{name.lower()}",
        "project_id": project_id,
        "name": name,
        "slug": name.lower(),
        "created_at": now,
        "updated_at": now,
    }


def _stored(services: Services, project_id: str) -> tuple[list[str], list[str]]:
    """The organizations' names and the audit events' types of the project, as committed."""
    with db.transaction(services.sessions, read_only=True) as session:
        names = sorted(
            session.scalars(select(Organization.name).where(Organization.project_id == project_id))
        )
        types = sorted(
            session.scalars(
                select(AuditEvent.event_type).where(
                    AuditEvent.project_id == project_id, AuditEvent.event_type.like("test.%")
                )
            )
        )
    return names, types


@contextmanager
def session_transactions() -> Iterator[list[Session]]:
    """The Sessions that began a transaction of SQLAlchemy's inside the block."""
    begun: list[Session] = []

    def created(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            begun.append(session)

    event.listen(Session, "after_transaction_create", created)
    try:
        yield begun
    finally:
        event.remove(Session, "after_transaction_create", created)


def test_a_unit_of_statements_commits_without_the_session_transaction(
    services: Services, project: Credentials
) -> None:
    """The fast path is taken (a Session transaction here means it was not), and the
    organization and its audit event both land."""
    with session_transactions() as begun:
        with services.scope(project.project_id, "test", "tester") as scope:
            db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Lean"))
            audit.record(scope, "test.created")
        assert begun == []
    assert _stored(services, project.project_id) == (["Lean"], ["test.created"])


def test_a_unit_of_statements_that_raises_leaves_nothing(
    services: Services, project: Credentials
) -> None:
    with pytest.raises(LookupError), services.scope(project.project_id, "test", "t") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Gone"))
        audit.record(scope, "test.created")
        raise LookupError
    assert _stored(services, project.project_id) == ([], [])


def test_a_keep_changes_error_commits_a_unit_of_statements(
    services: Services, project: Credentials
) -> None:
    with pytest.raises(AntechamberError), services.scope(project.project_id, "test", "t") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Kept"))
        audit.record(scope, "test.counted")
        raise AntechamberError(keep_changes=True)
    assert _stored(services, project.project_id) == (["Kept"], ["test.counted"])


@pytest.mark.parametrize("fails", [False, True])
def test_the_orm_and_the_statements_share_one_transaction(
    services: Services, project: Credentials, fails: bool
) -> None:
    """An ORM change, a statement that sees it (flushed first), an audit event: one
    connection, one transaction begun on it, all committed or all rolled back together."""
    begins: list[object] = []

    def begin(conn: Any) -> None:
        begins.append(conn)

    event.listen(services.engine, "begin", begin)
    try:
        with (
            pytest.raises(LookupError) if fails else _nothing(),
            services.scope(project.project_id, "test", "tester") as scope,
        ):
            scope.db.add(Organization(**_org(services, project.project_id, "Orm")))
            conn = db.connection(scope.db)  # flushes the organization
            found = conn.execute(select(Organization.name).where(Organization.slug == "orm"))
            assert found.scalar_one() == "Orm"
            conn.execute(_INSERT_ORG, _org(services, project.project_id, "Core"))
            audit.record(scope, "test.created")
            if fails:
                raise LookupError
    finally:
        event.remove(services.engine, "begin", begin)
    assert len(begins) == 1
    expected = ([], []) if fails else (["Core", "Orm"], ["test.created"])
    assert _stored(services, project.project_id) == expected


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def test_a_read_only_unit_of_statements_refuses_audit_rows(
    services: Services, project: Credentials
) -> None:
    with (
        pytest.raises(db.ReadOnlyViolation),
        services.scope(project.project_id, "test", "t", read_only=True) as scope,
    ):
        audit.record(scope, "test.read")
    assert _stored(services, project.project_id) == ([], [])


@pytest.mark.skipif(USE_PG, reason="SQLite's BEGIN IMMEDIATE")
def test_a_busy_begin_immediate_is_wrapped_as_the_engine_would(tmp_path: Any) -> None:
    """The writer's BEGIN goes straight to the driver; its error is still SQLAlchemy's."""
    path = tmp_path / "busy.sqlite"
    engine = db.make_engine(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            holder.execute("BEGIN IMMEDIATE")  # another program writing
            with pytest.raises(exc.OperationalError, match="locked"):
                conn.begin()
    finally:
        holder.close()
        engine.dispose()


# The connection SQLite's writers keep (`kept_connections.Writer`): one connection serves the
# writing units of a process one after another; a unit that fails leaves nothing on it for the
# next.


@pytest.fixture
def own_engine(tmp_path: Any) -> Iterator[Any]:
    if USE_PG:
        pytest.skip("SQLite's writers keep a connection")
    path = tmp_path / "kept.sqlite"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY,"
            " parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    yield engine
    engine.dispose()


def _rows(engine: Any, table: str) -> list[int]:
    """What another program sees, through a connection of its own."""
    database = engine.url.database
    with sqlite3.connect(database) as other:
        return [r[0] for r in other.execute(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608


def _insert(session: Session, sql: str) -> None:
    db.connection(session).sa.exec_driver_sql(sql)


def test_a_unit_that_fails_midway_leaves_nothing_and_the_next_unit_writes(
    own_engine: Any,
) -> None:
    factory = db.session_factory(own_engine)
    with db.transaction(factory) as session:
        _insert(session, "INSERT INTO parent (id) VALUES (1)")
    with pytest.raises(LookupError), db.transaction(factory) as session:
        _insert(session, "INSERT INTO parent (id) VALUES (2)")
        _insert(session, "INSERT INTO parent (id) VALUES (3)")
        raise LookupError
    assert _rows(own_engine, "parent") == [1]
    with pytest.raises(exc.IntegrityError), db.transaction(factory) as session:
        _insert(session, "INSERT INTO parent (id) VALUES (4)")
        _insert(session, "INSERT INTO parent (id) VALUES (1)")  # the driver's error midway
    assert _rows(own_engine, "parent") == [1]
    with db.transaction(factory) as session:
        _insert(session, "INSERT INTO parent (id) VALUES (5)")
    assert _rows(own_engine, "parent") == [1, 5]


def test_a_commit_that_fails_leaves_no_transaction_open_for_the_next_unit(
    own_engine: Any,
) -> None:
    """SQLite keeps a transaction open when its COMMIT fails (a deferred foreign key): the
    connection must not go to the next unit so, which would then fail to begin, or commit the
    failed unit's rows with its own."""
    factory = db.session_factory(own_engine)
    with pytest.raises(exc.IntegrityError), db.transaction(factory) as session:
        _insert(session, "INSERT INTO parent (id) VALUES (1)")
        _insert(session, "INSERT INTO child (id, parent_id) VALUES (1, 99)")
    with db.transaction(factory) as session:
        _insert(session, "INSERT INTO parent (id) VALUES (2)")
    assert _rows(own_engine, "parent") == [2]
    assert _rows(own_engine, "child") == []
    with sqlite3.connect(own_engine.url.database, timeout=0) as other:  # no writer left
        other.execute("INSERT INTO parent (id) VALUES (3)")
    assert _rows(own_engine, "parent") == [2, 3]


def test_writing_units_reuse_one_connection_until_the_engine_is_disposed(
    own_engine: Any,
) -> None:
    factory = db.session_factory(own_engine)
    checkouts: list[object] = []
    event.listen(own_engine, "checkout", lambda *args: checkouts.append(args))
    for n in range(3):
        with db.transaction(factory) as session:
            _insert(session, f"INSERT INTO parent (id) VALUES ({n})")  # noqa: S608
    assert len(checkouts) == 1
    with db.transaction(factory, read_only=True) as session:  # readers take their own
        assert len(db.connection(session).execute(select(1)).all()) == 1
    assert len(checkouts) == 2
    own_engine.dispose()
    with db.transaction(factory) as session:  # never a connection of the disposed pool
        _insert(session, "INSERT INTO parent (id) VALUES (10)")
    assert len(checkouts) == 3
    assert _rows(own_engine, "parent") == [0, 1, 2, 10]


def test_a_forked_child_writes_on_a_connection_of_its_own(own_engine: Any) -> None:
    factory = db.session_factory(own_engine)
    with db.transaction(factory) as session:  # the parent keeps a connection
        _insert(session, "INSERT INTO parent (id) VALUES (1)")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            checkouts: list[object] = []
            event.listen(own_engine, "checkout", lambda *args: checkouts.append(args))
            with db.transaction(factory) as session:
                _insert(session, "INSERT INTO parent (id) VALUES (2)")
            os.write(write, str(len(checkouts)).encode())
            os._exit(0)
        finally:
            os._exit(1)
    os.close(write)
    child_checkouts = os.read(read, 10)
    os.close(read)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_checkouts == b"1"
    with db.transaction(factory) as session:  # the parent's own still serves it
        _insert(session, "INSERT INTO parent (id) VALUES (3)")
    assert _rows(own_engine, "parent") == [1, 2, 3]


def test_reads_on_the_event_loop_reuse_one_connection_and_see_each_commit(
    own_engine: Any,
) -> None:
    """A read-only unit on the loop's thread (`api.auth.run_read`) keeps its connection for
    the next, read-only still, each reading the database as the last commit left it."""
    factory = db.session_factory(own_engine)
    checkouts: list[object] = []
    event.listen(own_engine, "checkout", lambda *args: checkouts.append(args))

    def parents() -> list[int]:
        with db.transaction(factory, read_only=True) as session:
            rows = db.connection(session).sa.exec_driver_sql("SELECT id FROM parent ORDER BY id")
            return [r[0] for r in rows]

    async def on_the_loop() -> list[list[int]]:
        seen = [parents()]
        for n in range(3):
            with sqlite3.connect(own_engine.url.database) as other:  # another process's write
                other.execute("INSERT INTO parent (id) VALUES (?)", (n,))
            seen.append(parents())
        with pytest.raises(db.ReadOnlyViolation), db.transaction(factory, read_only=True) as s:
            s.add(Organization(name="x"))
            s.flush()
        seen.append(parents())
        return seen

    assert asyncio.run(on_the_loop()) == [[], [0], [0, 1], [0, 1, 2], [0, 1, 2]]
    assert len(checkouts) == 1
    parents()  # off the loop: a checkout of its own
    assert len(checkouts) == 2


def test_an_event_loop_thread_that_ends_gives_its_read_connection_back(
    own_engine: Any,
) -> None:
    factory = db.session_factory(own_engine)

    async def read() -> None:
        with db.transaction(factory, read_only=True) as session:
            db.connection(session).execute(select(1)).all()

    thread = threading.Thread(target=asyncio.run, args=(read(),))
    thread.start()
    thread.join()
    gc.collect()
    assert own_engine.pool.checkedout() == 0


def _session_state(session: Session) -> dict[str, Any]:
    """What a Session holds but its identity (`hash_key`), `bind`, `info` and its memo of the
    class's event listeners (`dispatch`, made on first use)."""
    skip = {"hash_key", "bind", "info", "identity_map", "dispatch"}  # dispatch: a cache
    state = {k: v for k, v in session.__dict__.items() if k not in skip}
    state["identity_map"] = len(session.identity_map)
    return state


def test_a_kept_connection_hands_an_unused_session_to_the_next_unit(
    services: Services, project: Credentials
) -> None:
    """Read units on the loop's thread keep their connection (`kept_connections.LoopReads`)
    and, if their Session never began nor took in an object, that Session for the next unit:
    as a new one but its identity, with an `info` of its own (the last unit's stays its own);
    a Session that held ORM state, or one of another factory, is not handed on."""
    factory = services.sessions
    with db.transaction(factory) as session:
        db.connection(session).execute(_INSERT_ORG, _org(services, project.project_id, "Acme"))
    other_factory = db.session_factory(services.engine)
    fresh = _session_state(factory(bind=services.engine))
    seen: list[tuple[Session, dict[str, Any]]] = []
    held: list[Organization] = []

    def unit(orm: bool = False, of: Any = factory) -> Session:
        with db.transaction(of, read_only=True) as session:
            assert _session_state(session) == fresh
            assert set(session.info) == {"antechamber.unit", db.READ_ONLY}
            session.info["mine"] = len(seen)
            if orm:  # objects in the Session's identity map (held: it is weak)
                held.extend(session.scalars(select(Organization)).all())
                assert held
            db.connection(session).execute(select(Organization.id).limit(1)).all()
            seen.append((session, session.info))
        return session

    async def on_the_loop() -> list[Session]:
        return [unit(), unit(), unit(orm=True), unit(), unit(of=other_factory), unit(), unit()]

    sessions = asyncio.run(on_the_loop())
    assert sessions[1] is sessions[0]  # handed on
    assert sessions[2] is sessions[0]  # handed on, then given objects: not again
    assert sessions[3] is not sessions[2]
    assert sessions[4] is not sessions[3]  # another factory's unit: its own
    assert sessions[5] is not sessions[4]
    assert sessions[6] is sessions[5]
    # Each unit's `info` stayed its own, emptied of the unit's keys when it ended.
    assert [info for _, info in seen] == [{"mine": n} for n in range(7)]


@pytest.mark.skipif(not USE_PG, reason="PostgreSQL's read-only units run in autocommit")
def test_a_read_only_unit_on_postgresql_ends_the_transaction_sqlalchemy_began(
    services: Services, project: Credentials
) -> None:
    """A read-only unit on PostgreSQL begins no transaction of its own (it runs in
    autocommit); one that SQLAlchemy begins by itself, for the ORM's Session or a statement it
    runs, ends with the unit, whether the block returns or raises: each unit on the loop's
    thread then reads on the one connection the last kept, idle, and sees the last commit."""
    factory = services.sessions
    with db.transaction(factory) as session:
        db.connection(session).execute(_INSERT_ORG, _org(services, project.project_id, "Acme"))
    names = select(Organization.name).where(Organization.project_id == project.project_id)
    connections: list[Any] = []

    def unit(how: str) -> list[str]:
        with db.transaction(factory, read_only=True) as session:
            lean = db.connection(session)
            connections.append(lean.sa)
            if how.endswith("orm"):
                found = list(session.scalars(names))
            elif how.endswith("sqlalchemy"):  # SQLAlchemy's execute, which begins a transaction
                found = [row[0] for row in lean.sa.execute(names)]
            else:
                found = [row[0] for row in lean.execute(names).all()]
            if how.startswith("failing"):
                raise RuntimeError(found)
        return found

    async def on_the_loop() -> list[Any]:
        seen: list[Any] = []
        for how in ("lean", "orm", "sqlalchemy", "failing orm", "failing sqlalchemy", "lean"):
            try:
                seen.append(unit(how))
            except RuntimeError as failed:
                seen.append(("raised", failed.args[0]))
            connection = connections[-1]
            pgconn = connection.connection.driver_connection.pgconn
            seen.append((connection.in_transaction(), pgconn.transaction_status))
        return seen

    idle = (False, 0)  # no SQLAlchemy transaction, libpq's PQTRANS_IDLE
    assert asyncio.run(on_the_loop()) == [
        ["Acme"],
        idle,
        ["Acme"],
        idle,
        ["Acme"],
        idle,
        ("raised", ["Acme"]),
        idle,
        ("raised", ["Acme"]),
        idle,
        ["Acme"],
        idle,
    ]
    assert all(connection is connections[0] for connection in connections)
