"""Migration 0012: the SCIM tables match the models, and go down and up again."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from antechamber import db, migrations, models

TABLES = {"scim_connections", "scim_users", "scim_groups", "scim_group_members", "scim_requests"}


def test_0012_matches_the_models_and_downgrades(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    assert [d for d in diff if "scim" in str(d)] == []
    assert set(inspect(engine).get_table_names()) >= TABLES
    migrations.downgrade(engine, "0007")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrations.upgrade(engine)
    assert migrations.is_current(engine)
    engine.dispose()


def test_0013_adds_the_members_group_roles_and_downgrades(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    assert [d for d in diff if "members" in str(d)] == []
    assert "scim_group_roles" in {c["name"] for c in inspect(engine).get_columns("members")}
    migrations.downgrade(engine, "0012")
    assert "scim_group_roles" not in {c["name"] for c in inspect(engine).get_columns("members")}
    migrations.upgrade(engine)
    assert migrations.is_current(engine)
    engine.dispose()
