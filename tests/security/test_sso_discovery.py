"""SSO discovery by email is anonymous (a public token is no secret): it must say no more than
Stytch's answer, the connections, and must not tell members from others where the answer is
the same for both (an organization that takes anyone of its domain by JIT)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from antechamber.sso import public_tokens
from tests.conftest import Credentials
from tests.factories import make_member, make_org
from tests.sso.conftest import oidc_connection

PATH = "/sdk/v1/b2b/sso/discovery/connections"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"limit_sso_discovery_per_ip": "1000/minute"})


@pytest.fixture
def public_token(services: Services, project: Credentials) -> str:
    with services.scope(project.project_id, "test", "test") as scope:
        return public_tokens.ensure(scope).id


@pytest.fixture
def corp(services: Services, project: Credentials) -> Organization:
    return make_org(services, project.project_id, email_allowed_domains=["acme.example"])


@pytest.fixture
def anonymous(app: FastAPI, public_token: str) -> TestClient:
    """A browser with the project's public token, as the frontend SDK sends it."""
    client = TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 1))
    pair = base64.b64encode(f"{public_token}:{public_token}".encode()).decode()
    client.headers["Authorization"] = f"Basic {pair}"
    return client


def _answer(client: TestClient, email: str) -> tuple[int, Any, dict[str, str]]:
    response = client.get(PATH, params={"email_address": email})
    body = response.json()
    body.get("data", {}).pop("request_id", None)
    body.pop("request_id", None)
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
    return response.status_code, body, headers


def test_members_and_others_of_a_jit_domain_get_the_same_answer(
    anonymous: TestClient, services: Services, project: Credentials, corp: Organization
) -> None:
    oidc_connection(services, project.project_id, corp, "https://idp.acme.example", "c", "s")
    make_member(services, project.project_id, corp, email_address="member@acme.example")
    make_member(
        services,
        project.project_id,
        corp,
        email_address="pending@acme.example",
        create_member_as_pending=True,
    )
    member = _answer(anonymous, "member@acme.example")
    assert len(member[1]["data"]["connections"]) == 1
    assert _answer(anonymous, "pending@acme.example") == member
    assert _answer(anonymous, "stranger@acme.example") == member


def test_members_of_organizations_without_sso_and_unknown_addresses_look_alike(
    anonymous: TestClient, services: Services, project: Credentials
) -> None:
    plain = make_org(services, project.project_id, email_allowed_domains=["plain.example"])
    make_member(services, project.project_id, plain, email_address="known@plain.example")
    known = _answer(anonymous, "known@plain.example")
    assert known[1] == {"data": {"status_code": 200, "connections": []}}
    assert _answer(anonymous, "unknown@plain.example") == known
    assert _answer(anonymous, "unknown@nowhere.example") == known


def test_spellings_of_an_address_are_that_address(
    anonymous: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    oidc_connection(services, project.project_id, org, "https://idp.org.example", "c", "s")
    make_member(services, project.project_id, org, email_address="milton@initech.example")
    expected = _answer(anonymous, "milton@initech.example")
    assert len(expected[1]["data"]["connections"]) == 1
    for spelling in ("MILTON@Initech.Example", " milton@initech.example "):
        assert _answer(anonymous, spelling) == expected


@pytest.mark.parametrize(
    "email", ["milton\x00@initech.example", "milton@initech.example\x00", "mіlton@initech.example"]
)
def test_odd_addresses_are_refused_never_looked_up(anonymous: TestClient, email: str) -> None:
    response = anonymous.get(PATH, params={"email_address": email})
    assert (response.status_code, response.json()["error_type"]) == (400, "invalid_email")


def test_the_public_token_of_one_project_never_reveals_another(
    app: FastAPI,
    services: Services,
    project: Credentials,
    other_project: Credentials,
    anonymous: TestClient,
) -> None:
    """A project's own public token sees its own organizations; another project's, made
    with the same domain and member, are not in the answer (tenancy)."""
    theirs = make_org(services, other_project.project_id, email_allowed_domains=["shared.example"])
    oidc_connection(
        services, other_project.project_id, theirs, "https://idp.theirs.example", "c", "s"
    )
    make_member(services, other_project.project_id, theirs, email_address="x@shared.example")
    assert _answer(anonymous, "x@shared.example")[1]["data"]["connections"] == []
    assert _answer(anonymous, "y@shared.example")[1]["data"]["connections"] == []
