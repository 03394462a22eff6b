"""The schema migrations run down and up again on a fresh database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from antechamber import db, migrations
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.services import Services
from antechamber.settings import load_settings
from tests.factories import make_org


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
    with engine.begin() as connection:
        config = migrations._config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
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
    with engine.begin() as connection:
        config = migrations._config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    migrations.upgrade(engine)
    with db.transaction(services.sessions) as session:
        assert session.get(Organization, listed.id).email_allowed_domains == [  # type: ignore[union-attr]
            "b.example",
            "a.example",
        ]
        assert session.get(Organization, unlisted.id).email_allowed_domains == []  # type: ignore[union-attr]
    engine.dispose()
