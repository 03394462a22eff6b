"""The schema migrations run down and up again on a fresh database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from antechamber import db, migrations


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
