"""The schema migrations run down and up again, on a fresh database and on one in use."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from antechamber import db, migrations
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.services import Services
from antechamber.settings import load_settings
from tests.factories import make_operator, make_org, open_console_session


def test_0003_downgrades_and_upgrades(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrations.upgrade(engine)
    assert migrations.is_current(engine)
    tables = {
        "magic_links",
        "redirect_urls",
        "intermediate_sessions",
        "member_sessions",
        "signing_keys",
    }
    assert tables <= set(inspect(engine).get_table_names())
    migrations.downgrade(engine, "0002")
    assert not tables & set(inspect(engine).get_table_names())
    migrations.upgrade(engine)
    assert migrations.is_current(engine)
    engine.dispose()


def test_0007_copies_each_organizations_domains_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    services = Services.build(load_settings(database_url=url), engine=engine)
    with db.transaction(services.sessions) as session:
        project, _ = projects.create_project(
            session,
            name="P",
            environment="test",
            actor="test",
            clock=services.clock,
            settings=services.settings,
        )
    listed = make_org(services, project.id, email_allowed_domains=["b.example", "a.example"])
    unlisted = make_org(services, project.id)
    migrations.downgrade(engine, "0006")
    migrations.upgrade(engine)
    with db.transaction(services.sessions) as session:
        assert session.get(Organization, listed.id).email_allowed_domains == [  # type: ignore[union-attr]
            "b.example",
            "a.example",
        ]
        assert session.get(Organization, unlisted.id).email_allowed_domains == []  # type: ignore[union-attr]
    engine.dispose()


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()  # noqa: S608
            for name in inspect(connection).get_table_names()
        }


def test_rebuilding_a_table_on_sqlite_keeps_the_rows_that_reference_it(tmp_path: Path) -> None:
    """Downgrading 0006 rebuilds `members` (SQLite batch mode: copy, drop, rename). With
    foreign keys on, the drop deleted every console session by cascade."""
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    services = Services.build(load_settings(database_url=url), engine=engine)
    open_console_session(services, make_operator(services).id)
    before = row_counts(engine)
    assert before["console_sessions"] == 1
    migrations.downgrade(engine, "0005")
    migrations.upgrade(engine)
    assert row_counts(engine) == before
    # Foreign keys are on again for the connections the pool hands out afterwards.
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    engine.dispose()


def test_a_migration_that_leaves_dangling_references_is_rolled_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    operator = make_operator(Services.build(load_settings(database_url=url), engine=engine))
    dangling = "UPDATE members SET organization_id = 'no-such-org'"
    with (
        pytest.raises(migrations.ForeignKeysBroken, match="members"),
        migrations._migrating(engine) as config,
    ):
        config.attributes["connection"].exec_driver_sql(dangling)
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT organization_id FROM members")).scalar_one()
    assert kept == operator.organization_id
    engine.dispose()
