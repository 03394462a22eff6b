"""A database that cannot be reached is a 503 the client may retry, never a bare 500."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.settings import Settings


def test_an_unreachable_database_is_503_with_retry_after(
    settings: Settings, tmp_path: Path
) -> None:
    gone = settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite'}"}
    )
    with TestClient(create_app(gone), raise_server_exceptions=False) as client:
        response = client.post(
            "/v1/b2b/organizations", json={"organization_name": "Acme"}, auth=("p", "s")
        )
    assert response.status_code == 503
    body = response.json()
    assert body["error_type"] == "database_unavailable"
    assert body["status_code"] == 503
    assert response.headers["retry-after"] == "2"
