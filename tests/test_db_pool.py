"""PostgreSQL's pool: sized from the settings, no ping per checkout, and a connection that
PostgreSQL dropped costs the one unit of work that met it, not the ones after."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from antechamber import db
from antechamber.services import Services
from antechamber.settings import Settings

pytestmark = pytest.mark.postgres_only


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


def test_a_dropped_connection_fails_one_unit_of_work_and_the_pool_recovers(
    engine: Engine, database_url: str
) -> None:
    factory = db.session_factory(engine)
    with db.transaction(factory) as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # PostgreSQL ends that backend (a restart, a failover, an administrator) while it idles in
    # the pool.
    admin_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    with pytest.raises(OperationalError) as raised, db.transaction(factory) as session:
        session.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated

    with db.transaction(factory) as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend
