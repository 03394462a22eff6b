"""Indexes a migration adds to a large table, built without blocking its writers on PostgreSQL.

A plain `CREATE INDEX` holds a lock that stops every INSERT into the table until the build ends
(minutes on a large `audit_events`, and every login writes audit rows). `CREATE INDEX
CONCURRENTLY` does not, but it cannot run inside a transaction block, and the runner applies
all pending migrations in one transaction (all or nothing). So a migration names such indexes in
a module-level `ONLINE_INDEXES`, and on PostgreSQL `migrations.upgrade` builds them
concurrently, each in autocommit, *before* it opens that transaction (`build_concurrently`).
The migration itself then calls `create_index`, which finds the index already there, valid, and
does nothing; on SQLite (one writer at a time anyway), on a fresh database, or when the
migration is run by some other means, it builds the index as a plain `CREATE INDEX` would.

Contract for a revision that lists `ONLINE_INDEXES`: an index may be built before earlier
pending revisions run (upgrading from several revisions back), and stays if the migration
transaction then fails; it must be harmless to the schema it is added to (a new index on
columns no earlier revision changes). Only indexes whose table and columns exist already are
built early; the others the migration builds itself.

An interrupted concurrent build (a cancelled statement, a lost connection) leaves an INVALID
index behind, which PostgreSQL maintains on every write yet never reads, and which `IF NOT
EXISTS` would mistake for the real one: both paths drop an invalid index of that name and build
it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alembic import op
from sqlalchemy import Connection, inspect, text


@dataclass(frozen=True)
class OnlineIndex:
    """An index as a migration declares it: the same name, columns and predicate on both
    paths, so the resulting schema does not depend on which path built it."""

    name: str
    table: str
    columns: tuple[str, ...]
    where: str | None = None

    def create_sql(self) -> str:
        where = f" WHERE {self.where}" if self.where else ""
        columns = ", ".join(self.columns)
        return (
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {self.name} "
            f"ON {self.table} ({columns}){where}"
        )


def index_state(connection: Connection, name: str) -> bool | None:
    """PostgreSQL: True if the index exists and is valid, False if invalid, None if absent."""
    row = connection.execute(
        text(
            "SELECT i.indisvalid FROM pg_class c"
            " JOIN pg_index i ON i.indexrelid = c.oid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = :name AND n.nspname = current_schema()"
        ),
        {"name": name},
    ).first()
    return None if row is None else bool(row[0])


def build_concurrently(connection: Connection, indexes: Iterable[OnlineIndex]) -> list[str]:
    """Build each index that is missing or invalid with `CREATE INDEX CONCURRENTLY`, on a
    PostgreSQL connection in autocommit; skip those whose table or columns do not exist yet.
    Returns the names built."""
    assert connection.dialect.name == "postgresql"
    level = connection.get_execution_options().get("isolation_level")
    assert level == "AUTOCOMMIT", "CONCURRENTLY cannot run in a transaction block"
    inspector = inspect(connection)
    built = []
    for index in indexes:
        if not inspector.has_table(index.table):
            continue
        present = {c["name"] for c in inspector.get_columns(index.table)}
        if not set(index.columns) <= present:
            continue
        state = index_state(connection, index.name)
        if state is True:
            continue
        if state is False:
            connection.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}"))
        connection.execute(text(index.create_sql()))
        built.append(index.name)
    return built


def create_index(index: OnlineIndex) -> None:
    """In a migration: the index as `op.create_index` makes it, unless a valid one of that
    name is there already (built by `build_concurrently`)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        state = index_state(bind, index.name)
        if state is True:
            return
        if state is False:
            op.drop_index(index.name, table_name=index.table)
    where = text(index.where) if index.where else None
    op.create_index(
        index.name,
        index.table,
        list(index.columns),
        sqlite_where=where,
        postgresql_where=where,
    )
