"""PostgreSQL's pool: sized from the settings, no ping per checkout, and a connection that
PostgreSQL dropped costs the one unit of work that met it, not the ones after. The request
threads: as many as the pool keeps connections, unless set."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from antechamber import db
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import USE_PG


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
    with db.transaction(factory) as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # PostgreSQL ends that backend (a restart, a failover, an administrator) while it idles in
    # the pool.
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
