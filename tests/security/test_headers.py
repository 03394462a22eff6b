"""Response headers that browsers and proxies act on."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.settings import Settings


def test_api_responses(api: TestClient) -> None:
    for response in (api.post("/v1/b2b/organizations/search", json={}), api.get("/v1/b2b/nowhere")):
        h = response.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["cache-control"] == "no-store"
        assert h["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["strict-transport-security"].startswith("max-age=31536000")


def test_no_hsts_in_development(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        dev=True,  # type: ignore[call-arg]
        state_dir=tmp_path,
        _env_file=None,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
