"""Schema migrations (Alembic). `upgrade(engine)` brings a database to the newest revision."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from antechamber import db
from antechamber.migrations import online

HERE = Path(__file__).parent


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


class ForeignKeysBroken(RuntimeError):
    """A migration left rows whose foreign keys point nowhere; it was rolled back."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the pending migrations up to `revision`, all in one transaction. On PostgreSQL,
    the indexes they list in `ONLINE_INDEXES` are built first, concurrently (`online`)."""
    if engine.dialect.name == "postgresql":
        build_online_indexes(engine, revision)
    with _migrating(engine) as config:
        command.upgrade(config, revision)


def build_online_indexes(engine: Engine, revision: str = "head") -> list[str]:
    """PostgreSQL: build the `ONLINE_INDEXES` of the revisions an upgrade to `revision` would
    apply, with `CREATE INDEX CONCURRENTLY` outside any transaction. Nothing on a fresh
    database (no table to index yet, and nothing to block). Returns the names built."""
    start = current(engine)
    if start is None:
        return []
    script = ScriptDirectory.from_config(_config())
    try:
        pending = list(script.iterate_revisions(revision, start))
    except CommandError:
        return []  # not an upgrade from here: `command.upgrade` says so itself
    indexes = [i for rev in reversed(pending) for i in getattr(rev.module, "ONLINE_INDEXES", ())]
    if not indexes:
        return []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return online.build_concurrently(connection, indexes)


def downgrade(engine: Engine, revision: str) -> None:
    with _migrating(engine) as config:
        command.downgrade(config, revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Config]:
    """Alembic's config on one connection, in one transaction, committed at the end.

    On SQLite, foreign keys are off while migrations run, as SQLite's own procedure for
    altering a table asks: batch mode rebuilds a table by copy, drop and rename, and dropping
    it with foreign keys on first deletes every row that cascades from it (rebuilding
    `members` took every console session with it). They are checked before the commit
    instead."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # Outside any transaction: SQLite ignores this pragma inside one.
        driver = connection.connection.driver_connection
        assert driver is not None  # checked out: it has one
        if sqlite:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config = _config()
                config.attributes["connection"] = connection
                yield config
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        tables = sorted({row[0] for row in broken})
                        raise ForeignKeysBroken(f"dangling references in {', '.join(tables)}")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")


def current(engine: Engine) -> str | None:
    with db.read_connection(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def is_current(engine: Engine) -> bool:
    return current(engine) == head()
