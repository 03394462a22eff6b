"""Fixtures for SCIM: a connection of `acme` made through the API, and a SCIM client for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from antechamber.organizations.models import Organization

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Connection:
    connection_id: str
    organization_id: str
    token: str
    base_url: str

    @property
    def path(self) -> str:
        """The base URL's path (the test client's origin is http://testserver)."""
        return httpx.URL(self.base_url).path


def create_connection(api: TestClient, org: Organization, **fields: Any) -> Connection:
    r = api.post(f"/v1/b2b/scim/{org.id}/connection", json={"display_name": "Okta", **fields})
    assert r.status_code == 200, r.text
    c = r.json()["connection"]
    return Connection(c["connection_id"], org.id, c["bearer_token"], c["base_url"])


@pytest.fixture
def connection(api: TestClient, acme: Organization) -> Connection:
    return create_connection(api, acme, identity_provider="okta")


class Scim:
    """Requests to one connection's SCIM endpoint with its bearer token."""

    def __init__(self, client: TestClient, connection: Connection, token: str | None = None):
        self.client = client
        self.connection = connection
        self.token = connection.token if token is None else token

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        headers = {"Content-Type": SCIM_JSON, **kw.pop("headers", {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.client.request(
            method, self.connection.path + path, json=body, headers=headers, auth=None, **kw
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.request("PUT", path, body)

    def patch(self, path: str, *operations: dict[str, Any]) -> httpx.Response:
        return self.request("PATCH", path, {"schemas": [PATCH], "Operations": list(operations)})

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)

    def create_user(self, email: str, **extra: Any) -> dict[str, Any]:
        body = {
            "schemas": [USER],
            "userName": email,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": True,
            **extra,
        }
        r = self.post("/Users", body)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created


@pytest.fixture
def scim(client: TestClient, connection: Connection) -> Scim:
    return Scim(client, connection)
