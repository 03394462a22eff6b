"""Limits per client address on the unauthenticated SSO routes: starting logins (each keeps a
row), and guessing SSO tokens."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.dbsnap import snapshot


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "limit_sso_start_per_ip": "3/minute",
            "limit_authenticate_failures_per_ip": "3/minute",
        }
    )


def _client(app: FastAPI, project: Credentials, address: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False, client=(address, 1))
    client.auth = project.auth
    return client


def test_starting_logins_is_limited_per_address(
    app: FastAPI, project: Credentials, public_token: str, connection_id: str, engine: Engine
) -> None:
    browser = _client(app, project, "192.0.2.10")
    params: dict[str, Any] = {"public_token": public_token, "connection_id": connection_id}
    for _ in range(3):
        assert (
            browser.get("/v1/public/sso/start", params=params, follow_redirects=False).status_code
            == 302
        )
    before = snapshot(engine, ("sso_logins",))
    refused = browser.get("/v1/public/sso/start", params=params, follow_redirects=False)
    assert refused.status_code == 429
    assert refused.json()["error_type"] == "too_many_requests"
    assert snapshot(engine, ("sso_logins",)) == before
    other = _client(app, project, "192.0.2.11")
    assert (
        other.get("/v1/public/sso/start", params=params, follow_redirects=False).status_code == 302
    )


def test_guessing_sso_tokens_locks_the_address_out(app: FastAPI, project: Credentials) -> None:
    guesser = _client(app, project, "192.0.2.20")
    for n in range(3):
        body = guesser.post("/v1/b2b/sso/authenticate", json={"sso_token": f"guess-{n}"}).json()
        assert body["error_type"] == "sso_token_not_found"
    refused = guesser.post("/v1/b2b/sso/authenticate", json={"sso_token": "guess-9"})
    assert refused.status_code == 429
