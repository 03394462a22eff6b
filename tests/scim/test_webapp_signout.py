"""The reference app signs a deprovisioned member out on their next request that reaches the
server (both backends: in process, and over HTTP through the official SDK)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials, LiveServer
from tests.scim.conftest import Connection, Scim, create_connection
from tests.webapp.conftest import BASE, Web, stytch_app


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Development mode, as the reference app's tests run it (demo project, callback URL)."""
    return settings.model_copy(update={"dev": True})


@pytest.fixture(params=["inprocess", "stytch"])
def web(
    request: pytest.FixtureRequest,
    app: FastAPI,
    services: Services,
    project: Credentials,
    clock: FrozenClock,
) -> Iterator[Web]:
    if request.param == "inprocess":
        target = app
    else:
        live_server: LiveServer = request.getfixturevalue("live_server")
        target = stytch_app(live_server, project, clock)
    with TestClient(target, base_url=BASE, raise_server_exceptions=False) as client:
        yield Web(client, services, project, request.param, app)


def test_next_request_after_deprovisioning_signs_out(
    web: Web, api: TestClient, client: TestClient, acme: Organization, ada: Member
) -> None:
    connection: Connection = create_connection(api, acme)
    scim = Scim(client, connection)
    user = scim.create_user("ada@acme.example")
    web.login("ada@acme.example", acme.id)
    assert web.post("/api/mfa/update", {"mfaOptIn": False}).status_code == 200

    deactivated = scim.patch(
        f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False}
    )
    assert deactivated.status_code == 200

    refused = web.post("/api/mfa/update", {"mfaOptIn": True})
    assert refused.status_code == 401
    assert refused.json()["error"] == "session_expired"
    # Signed out: the session cookie is cleared, so nothing later gets in either.
    assert not web.cookie("session")
    assert web.post("/api/discovery/get-organization").status_code == 401


def test_a_read_right_after_deprovisioning_signs_out_too(
    web: Web, api: TestClient, client: TestClient, acme: Organization, ada: Member
) -> None:
    # Reads check the JWT locally, but fetch the member from the server: a deactivated
    # member ends the session there, within the JWT's five minutes.
    scim = Scim(client, create_connection(api, acme))
    user = scim.create_user("ada@acme.example")
    web.login("ada@acme.example", acme.id)
    assert web.post("/api/discovery/get-organization").status_code == 200
    scim.delete(f"/Users/{user['id']}")
    refused = web.post("/api/discovery/get-organization")
    assert refused.status_code == 401
    assert refused.json()["error"] == "session_expired"
    assert not web.cookie("session")
