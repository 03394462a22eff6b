"""Indexes a migration adds to a large table are built concurrently on PostgreSQL, before the
migration's transaction (`migrations.online`), and the schema is the same either way."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, make_url, text

from antechamber import db, migrations, models
from tests.conftest import PG_URL

TABLES = ("audit_events", "outbox_messages")
NEW = [
    "ix_audit_org_id",
    "ix_audit_project_id",
    "ix_audit_project_type",
    "ix_outbox_project_failed",
]


@pytest.fixture
def pg_engines() -> Iterator[list[Engine]]:
    """Fresh PostgreSQL databases, as many as the test asks for (`make()`), dropped after."""
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    made: list[tuple[str, Engine]] = []
    engines: list[Engine] = []

    def make() -> Engine:
        name = f"antechamber_mig_{os.getpid()}_{secrets.token_hex(3)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = db.make_engine(url.set(database=name).render_as_string(hide_password=False))
        made.append((name, engine))
        return engine

    engines.append(make())
    engines.append(make())
    yield engines
    for name, engine in made:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def add_rows(engine: Engine, n: int = 500) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (project_id, organization_id, member_id, actor,"
                " event_type, details, created_at) VALUES (:p, :o, NULL, 'a', :t, '{}', :c)"
            ),
            [
                {
                    "p": f"project-{i % 3}",
                    "o": f"organization-{i % 7}" if i % 2 else None,
                    "t": "member.created",
                    "c": now,
                }
                for i in range(n)
            ],
        )


def index_defs(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE tablename IN ('audit_events', 'outbox_messages')"
            )
        ).all()
    return {str(name): str(definition) for name, definition in rows}


def make_invalid(engine: Engine, name: str) -> None:
    """A concurrent build that fails (here on duplicates) leaves an INVALID index `name`."""
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as conn, pytest.raises(Exception, match="could not create unique index"):
        conn.execute(text(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON audit_events (actor)"))


def invalid_indexes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE NOT i.indisvalid"
            )
        ).all()
    return [row[0] for row in rows]


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    return [d for d in diff if any(t in str(d) for t in TABLES)]


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one())


@pytest.mark.postgres_only
def test_an_upgrade_from_0013_builds_the_indexes_concurrently_first(
    pg_engines: list[Engine],
) -> None:
    fresh, upgraded = pg_engines
    migrations.upgrade(fresh)  # the indexes built in the migration, as before
    migrations.upgrade(upgraded, "0013")
    add_rows(upgraded)
    statements: list[str] = []

    @event.listens_for(upgraded, "before_cursor_execute")
    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "INDEX" in statement:
            statements.append(statement)

    migrations.upgrade(upgraded)
    event.remove(upgraded, "before_cursor_execute", seen)
    assert migrations.is_current(upgraded)
    built = [s for s in statements if s.startswith("CREATE INDEX")]
    assert len(built) == 4
    assert all("CONCURRENTLY" in s for s in built)
    # The migration's own CREATE INDEX found them there: only the old ones are dropped in it.
    assert not [s for s in statements if s.startswith("CREATE INDEX") and "CONCURRENTLY" not in s]
    assert index_defs(upgraded) == index_defs(fresh)
    assert sorted(n for n in index_defs(upgraded) if n in NEW) == NEW
    assert schema_diff(upgraded) == schema_diff(fresh) == []
    assert audit_count(upgraded) == 500
    # Down and up again with the rows in place.
    migrations.downgrade(upgraded, "0013")
    assert not set(NEW) & set(index_defs(upgraded))
    migrations.upgrade(upgraded)
    assert index_defs(upgraded) == index_defs(fresh)
    assert audit_count(upgraded) == 500


@pytest.mark.postgres_only
def test_an_invalid_index_left_by_an_interrupted_build_is_built_again(
    pg_engines: list[Engine],
) -> None:
    fresh, upgraded = pg_engines
    migrations.upgrade(fresh)
    migrations.upgrade(upgraded, "0013")
    add_rows(upgraded)
    make_invalid(upgraded, "ix_audit_project_id")
    assert invalid_indexes(upgraded) == ["ix_audit_project_id"]
    migrations.upgrade(upgraded)
    assert invalid_indexes(upgraded) == []
    assert index_defs(upgraded) == index_defs(fresh)


@pytest.mark.postgres_only
def test_the_migration_alone_replaces_an_invalid_index(pg_engines: list[Engine]) -> None:
    """Run without the concurrent pass (as `alembic upgrade` would), the migration still ends
    with valid indexes of the right definition."""
    fresh, upgraded = pg_engines
    migrations.upgrade(fresh)
    migrations.upgrade(upgraded, "0013")
    add_rows(upgraded)
    make_invalid(upgraded, "ix_audit_org_id")
    with migrations._migrating(upgraded) as config:
        from alembic import command

        command.upgrade(config, "head")
    assert invalid_indexes(upgraded) == []
    assert index_defs(upgraded) == index_defs(fresh)


def test_0014_down_and_up_on_sqlite_with_rows(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrations.upgrade(engine, "0013")
    add_rows(engine)
    migrations.upgrade(engine)
    with engine.connect() as conn:
        sql = dict(
            conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")).all()
        )
    assert schema_diff(engine) == []
    migrations.downgrade(engine, "0013")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        again = dict(
            conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")).all()
        )
    assert again == sql
    assert audit_count(engine) == 500
    # Nothing to build concurrently on SQLite.
    assert migrations.build_online_indexes(engine) == []
    engine.dispose()
