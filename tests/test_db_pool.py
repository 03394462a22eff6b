"""PostgreSQL's pool: sized from the settings, no ping per checkout, and a connection that
PostgreSQL dropped costs the one unit of work that met it, not the ones after. The request
threads: as many as the pool keeps connections, unless set. Reads on the event loop (SQLite's
default, PostgreSQL's if set): each loop's thread keeping one connection."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from antechamber import db
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import USE_PG

T = TypeVar("T")


def _request_threads(settings: Settings, engine: Engine, clock: FrozenClock) -> int:
    """The thread limiter's size on the event loop serving the app, once it has started."""

    def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with TestClient(create_app(settings, engine=engine, clock=clock)) as client:
        assert client.portal is not None
        return int(client.portal.call(tokens))


def test_request_threads_default_to_the_pool_on_postgresql(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    # On PostgreSQL as many as the kept connections (tests' engines keep 20), so no handler
    # opens an overflow connection; on SQLite AnyIO's own 40 (a connection per thread there).
    assert _request_threads(settings, engine, clock) == (20 if USE_PG else 40)


def test_request_threads_follow_their_setting(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    configured = settings.model_copy(update={"request_threads": 6})
    assert _request_threads(configured, engine, clock) == 6


@pytest.mark.postgres_only
def test_the_pool_sets_the_request_threads(settings: Settings) -> None:
    services = Services.build(settings.model_copy(update={"database_pool_size": 7}))
    try:
        assert services.request_threads == 7
    finally:
        services.engine.dispose()


@pytest.mark.postgres_only
def test_the_pool_is_sized_by_the_settings(settings: Settings) -> None:
    services = Services.build(
        settings.model_copy(update={"database_pool_size": 7, "database_max_overflow": 3})
    )
    try:
        pool = services.engine.pool
        assert pool.size() == 7  # type: ignore[attr-defined]
        assert pool._max_overflow == 3  # type: ignore[attr-defined]
        assert pool._pre_ping is False
    finally:
        services.engine.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("read_only", [False, True])
def test_a_dropped_connection_fails_one_unit_of_work_and_the_pool_recovers(
    engine: Engine, database_url: str, read_only: bool
) -> None:
    factory = db.session_factory(engine)
    with db.transaction(factory, read_only=read_only) as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # PostgreSQL ends that backend (a restart, a failover, an administrator) while it idles in
    # the pool (or, a writer's, among the writers' kept connections).
    admin_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    with (
        pytest.raises(OperationalError) as raised,
        db.transaction(factory, read_only=read_only) as session,
    ):
        session.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated

    with db.transaction(factory, read_only=read_only) as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend


@pytest.mark.postgres_only
def test_a_read_only_unit_costs_no_begin_and_the_next_unit_is_a_transaction_again(
    database_url: str,
) -> None:
    # One kept connection, so both units below run on it.
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    factory = db.session_factory(engine)
    try:
        with db.transaction(factory, read_only=True) as session:
            driver = session.connection().connection.driver_connection
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            # Autocommit: psycopg sends no BEGIN (nor, at the end, a COMMIT).
            assert driver.autocommit is True  # type: ignore[union-attr]
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # type: ignore[union-attr]
        with (
            pytest.raises(RuntimeError),
            db.transaction(factory) as session,
        ):
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == backend
            assert session.connection().connection.driver_connection.autocommit is False  # type: ignore[union-attr]
            session.execute(text("CREATE TEMPORARY TABLE written (n int)"))
            raise RuntimeError("the unit fails: what it did is rolled back")
        with db.transaction(factory, read_only=True) as session:
            assert session.execute(text("SELECT to_regclass('pg_temp.written')")).scalar() is None
    finally:
        engine.dispose()


@pytest.mark.skipif(USE_PG, reason="SQLite's pool")
def test_sqlite_hands_out_the_connection_returned_last(tmp_path: Path) -> None:
    """A unit of work reuses the warmest connection (its page cache still valid), not each
    pooled connection in turn."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'lifo.sqlite'}")
    try:
        first, second = engine.connect(), engine.connect()
        first_raw, second_raw = (
            first.connection.dbapi_connection,
            second.connection.dbapi_connection,
        )
        first.close()
        second.close()  # returned last
        for _ in range(3):
            with engine.connect() as again:
                assert again.connection.dbapi_connection is second_raw
        assert first_raw is not second_raw
    finally:
        engine.dispose()


@pytest.mark.parametrize("configured", [None, True, False])
def test_reads_run_on_the_event_loop_by_their_setting_or_on_sqlite(
    settings: Settings, engine: Engine, clock: FrozenClock, configured: bool | None
) -> None:
    services = Services.build(
        settings.model_copy(update={"database_reads_on_loop": configured}), engine, clock
    )
    # By default on SQLite only (on PostgreSQL the loop would wait out each round trip).
    assert services.reads_inline is ((not USE_PG) if configured is None else configured)
    assert services.writes_inline is (not USE_PG)


def _on_a_loop(read: Callable[[], T], times: int) -> list[T]:
    """`read()` `times` times on an event loop's thread, one after another (as the loop runs
    the read-only units of `api.auth.run_read`)."""

    async def reads() -> list[T]:
        return [read() for _ in range(times)]

    return asyncio.run(reads())


@pytest.mark.postgres_only
def test_reads_on_the_event_loop_keep_one_connection_in_autocommit_and_see_each_commit(
    engine: Engine, database_url: str
) -> None:
    factory = db.session_factory(engine)
    checkouts: list[object] = []
    event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    admin_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    table = f"loop_reads_{os.getpid()}"

    def read() -> tuple[int, int]:
        with db.transaction(factory, read_only=True) as session:
            sa = db.connection(session).sa
            driver = sa.connection.driver_connection
            assert driver.autocommit is True  # type: ignore[union-attr]
            backend = sa.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            count = sa.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()  # noqa: S608
        # Another connection commits a row: the next read sees it.
        with psycopg.connect(admin_url, autocommit=True) as other:
            other.execute(f"INSERT INTO {table} VALUES (1)")  # type: ignore[arg-type]  # noqa: S608
        return backend, count

    with psycopg.connect(admin_url, autocommit=True) as other:
        other.execute(f"CREATE TABLE {table} (n int)")  # type: ignore[arg-type]
    try:
        seen = _on_a_loop(read, 3)
        with pytest.raises(db.ReadOnlyViolation):  # still read-only when kept
            _on_a_loop(lambda: _write_in_a_read(factory), 1)
        after = _on_a_loop(read, 1)
        assert len(checkouts) == 1
        read()  # off the loop (a worker thread's read): a checkout of its own
        assert len(checkouts) == 2
    finally:
        with psycopg.connect(admin_url, autocommit=True) as other:
            other.execute(f"DROP TABLE {table}")  # type: ignore[arg-type]
    assert [count for _, count in seen + after] == [0, 1, 2, 3]
    assert len({backend for backend, _ in seen + after}) == 1


def _write_in_a_read(factory: Any) -> None:
    with db.transaction(factory, read_only=True) as session:
        session.add(Organization(name="x"))
        session.flush()


@pytest.mark.postgres_only
def test_a_kept_read_connection_that_postgresql_dropped_fails_one_read(
    engine: Engine, database_url: str
) -> None:
    factory = db.session_factory(engine)
    admin_url = database_url.replace("postgresql+psycopg://", "postgresql://")

    def backend() -> int:
        with db.transaction(factory, read_only=True) as session:
            return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def terminated_then_read() -> list[object]:
        first = backend()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        outcomes: list[object] = [first]
        try:
            backend()
        except OperationalError as e:
            outcomes.append(e.connection_invalidated)
        outcomes.append(backend())
        return outcomes

    first, invalidated, then = _on_a_loop(terminated_then_read, 1)[0]
    assert invalidated is True
    assert then != first


@pytest.mark.postgres_only
def test_a_kept_read_connection_goes_back_to_the_pool_at_its_recycle_age(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = db.session_factory(engine)

    def backend() -> int:
        with db.transaction(factory, read_only=True) as session:
            return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def two_reads() -> tuple[int, int]:
        first = backend()
        # Its pool now retires any connection older than 0 s (pool_recycle).
        monkeypatch.setattr(engine.pool, "_recycle", 0)
        return first, backend()

    first, second = _on_a_loop(two_reads, 1)[0]
    assert first != second


@pytest.mark.postgres_only
def test_disposing_the_engine_closes_the_kept_read_connection(engine: Engine) -> None:
    factory = db.session_factory(engine)

    def read() -> None:
        with db.transaction(factory, read_only=True) as session:
            session.execute(text("SELECT 1")).all()

    async def read_then_dispose() -> int:
        read()
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]  # kept
        engine.dispose()
        read()  # a checkout from the new pool, kept in turn
        return int(engine.pool.checkedout())  # type: ignore[attr-defined]

    assert asyncio.run(read_then_dispose()) == 1


def _backend(factory: Any, read_only: bool = False) -> int:
    with db.transaction(factory, read_only=read_only) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres_only
def test_writing_units_of_any_thread_reuse_a_kept_connection_without_a_checkout(
    engine: Engine,
) -> None:
    """PostgreSQL's writers keep a few connections (`LoopReads.writes`): the next writing
    unit, of this thread or another, takes one instead of a pool checkout; at most that many
    are kept, the rest go back to the pool; a read-only unit never gets one."""
    from concurrent.futures import ThreadPoolExecutor

    from antechamber.engines import kept_of

    factory = db.session_factory(engine)
    checkouts: list[object] = []
    event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    first = _backend(factory)
    with ThreadPoolExecutor(1) as other:
        assert other.submit(_backend, factory).result() == first
    assert _backend(factory) == first
    assert len(checkouts) == 1
    kept = kept_of(engine)
    assert kept is not None
    slot = kept.slot(False)
    assert slot is not None
    bound = slot.keeps
    assert bound == 4  # the tests' pool of 20
    # More writing units open at once than are kept: each ends kept while there is room.
    units = [db.transaction(factory) for _ in range(bound + 2)]
    backends = set()
    for unit in units:
        session = unit.__enter__()
        backends.add(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    for unit in reversed(units):
        unit.__exit__(None, None, None)
    assert len(backends) == bound + 2
    assert len(slot) == bound
    # A read-only unit (no event loop: the pool's) gets none of them.
    assert _backend(factory, read_only=True) not in {
        k[0].connection.driver_connection.info.backend_pid for k in slot
    }


@pytest.mark.postgres_only
def test_kept_writers_connections_from_before_a_disconnect_fail_one_unit(
    engine: Engine, database_url: str
) -> None:
    """PostgreSQL restarts while writers keep two connections: the unit that meets the first
    fails (the pool learns of the disconnect), the next one does not take the second (it is
    from before), nor does the pool hand out one of before."""
    factory = db.session_factory(engine)
    outer, inner = db.transaction(factory), db.transaction(factory)
    backends = []
    for unit in (outer, inner):
        backends.append(unit.__enter__().execute(text("SELECT pg_backend_pid()")).scalar_one())
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)
    admin_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for backend in backends:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    with pytest.raises(OperationalError) as raised:
        _backend(factory)
    assert raised.value.connection_invalidated
    assert _backend(factory) not in backends
    assert _backend(factory) not in backends


@pytest.mark.postgres_only
def test_a_failed_writing_unit_hands_the_next_a_clean_connection(
    engine: Engine,
) -> None:
    """A unit that fails midway (its transaction failed on PostgreSQL) rolls back; the kept
    connection the next unit takes is idle, outside any pipeline, and writes again."""
    factory = db.session_factory(engine)
    first = _backend(factory)
    with pytest.raises(ProgrammingError), db.transaction(factory) as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        session.execute(text("SELECT 1/0 FROM no_such_table"))
    with db.transaction(factory) as session:
        driver: Any = session.connection().connection.driver_connection
        assert driver.info.backend_pid == first
        # Idle, the unit's BEGIN waiting for its first statement; no pipeline left open.
        assert driver.info.transaction_status == driver.info.transaction_status.IDLE
        assert driver.pgconn.pipeline_status == 0
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        assert driver.info.transaction_status == driver.info.transaction_status.INTRANS
