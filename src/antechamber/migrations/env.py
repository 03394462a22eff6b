"""Alembic environment: the engine comes from `antechamber.migrations.runner` via attributes."""

from __future__ import annotations

from alembic import context

from antechamber.models import metadata  # every table

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
