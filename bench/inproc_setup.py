"""What the in-process measures (`inproc_login`, `asgi_routes`, `pg_login`, `statements_micro`)
share: the settings of a development server with no delivery worker, on a database of their own."""

from __future__ import annotations

from pathlib import Path

from antechamber.settings import Settings


def settings_for(url: str, tmp: Path) -> Settings:
    """A development project's settings on `url`, its state under `tmp`, no delivery worker
    (the measures read the outbox), nothing from the environment or a `.env`."""
    return Settings(
        database_url=url,
        secret_key="k" * 40,
        dev=True,
        state_dir=tmp / "state",
        delivery_worker=False,
        _env_file=None,
    )
