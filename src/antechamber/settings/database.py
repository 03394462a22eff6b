"""Settings: the database (`Settings`' first group)."""

from __future__ import annotations

from pydantic import Field, field_validator

from antechamber.settings.group import Group


class DatabaseSettings(Group):
    """The database, and how a process uses it."""

    database_url: str = Field(
        "sqlite:///antechamber.db",
        description="SQLAlchemy URL. SQLite file in the working directory by default; "
        "postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=500,
        description="PostgreSQL: connections each process keeps open (every server worker "
        "and the delivery process has its own pool).",
    )
    database_max_overflow: int = Field(
        10,
        ge=0,
        le=500,
        description="PostgreSQL: connections a process may open beyond its pool when busy, "
        "closed after use.",
    )
    request_threads: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Threads each server process runs request handlers in (AnyIO's thread "
        "limiter). Default: on PostgreSQL the pool size (database_pool_size), so every "
        "handler thread has a kept connection and none opens an overflow connection; on "
        "SQLite AnyIO's 40.",
    )
    database_reads_on_loop: bool | None = Field(
        None,
        description="Run read-only units of work (session checks, GET routes) on the event "
        "loop instead of handing each to a request thread. Default: on SQLite only. On a "
        "PostgreSQL on this machine it saves a check about a fifth of its CPU (no thread "
        "hop), but the loop then waits out each round trip: measure before turning it on.",
    )
    database_units_on_loop: bool = Field(
        True,
        description="PostgreSQL: run the read-only units of work (session checks, GET "
        "routes) on the event loop instead of handing each to a request thread; a "
        "wait for the database longer than 1 ms (a row lock, a slow COMMIT) is handed to the "
        "loop, which serves other requests meanwhile. Off: threads, as before. Not with "
        "Redis rate limits.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship with; spare operators the +psycopg suffix.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value
