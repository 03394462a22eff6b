from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.settings import Settings


def test_live_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_not_ready_before_migrations(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}", _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "behind"


def test_ready_reads_beside_a_writer(client: TestClient) -> None:
    """Readiness reads without SQLite's write lock: a writer holding it (an inline unit of
    work on the event loop) is not made to wait for the probe, nor the probe for it (it would
    wait out the 30 s busy timeout and answer 503)."""
    engine = client.app.state.services.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as writer:  # BEGIN IMMEDIATE: holds the write lock
        writer.exec_driver_sql("SELECT 1")
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}
