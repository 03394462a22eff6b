"""NUL in free text is refused before any database sees it, with one error on SQLite and
PostgreSQL alike (PostgreSQL would refuse it, SQLite would store it)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.services import Services
from antechamber.text import NUL_MESSAGE, NulCharacter
from tests.conftest import Credentials
from tests.factories import make_member, make_org
from tests.snapshots import unchanged


def _refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_type"] == "invalid_argument"
    assert body["error_message"] == NUL_MESSAGE


@pytest.mark.parametrize(
    "body",
    [
        {"organization_name": "Acme\u0000Corp"},
        {"organization_name": "Acme", "trusted_metadata": {"k": "v\u0000"}},
        {"organization_name": "Acme", "trusted_metadata": {"k\u0000": "v"}},
        {"organization_name": "Acme", "email_allowed_domains": ["acme.example\u0000"]},
    ],
)
def test_organization_create_refuses_nul(
    client: TestClient, project: Credentials, engine: Engine, body: dict[str, Any]
) -> None:
    with unchanged(engine):
        _refused(client.post("/v1/b2b/organizations", json=body, auth=project.auth))


def test_member_fields_refuse_nul(
    client: TestClient, services: Services, project: Credentials, engine: Engine
) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org)
    base = f"/v1/b2b/organizations/{org.id}/members"
    with unchanged(engine):
        _refused(
            client.post(
                base, json={"email_address": "x@acme.example", "name": "X\u0000"}, auth=project.auth
            )
        )
        _refused(client.put(f"{base}/{member.id}", json={"name": "\u0000"}, auth=project.auth))
        _refused(client.get(f"{base}/{member.id}%00", auth=project.auth))
        _refused(client.get(f"/v1/b2b/organizations/{org.id}?x=%00", auth=project.auth))


def test_an_escaped_backslash_is_not_a_nul(client: TestClient, project: Credentials) -> None:
    # "\\u0000" in JSON is a backslash followed by "u0000": plain text, accepted.
    response = client.post(
        "/v1/b2b/organizations",
        content=b'{"organization_name": "a\\\\u0000b"}',
        headers={"Content-Type": "application/json"},
        auth=project.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["organization"]["organization_name"] == "a\\u0000b"


def test_the_domain_refuses_nul_for_every_face(services: Services, project: Credentials) -> None:
    # The console, the CLI and the reference app call these directly, without the API's guard.
    with pytest.raises(NulCharacter):
        make_org(services, project.project_id, organization_name="A\u0000")
    org = make_org(services, project.project_id)
    with pytest.raises(NulCharacter):
        make_member(services, project.project_id, org, name="B\u0000")
