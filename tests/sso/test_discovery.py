"""SSO discovery by email (the frontend SDK's `sso.discoverConnections`): the connections an
address may sign in through, asked anonymously with the project's public token."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from antechamber.sso import oidc_connections, public_tokens, saml_connections
from tests.conftest import Credentials
from tests.factories import make_member, make_org
from tests.sso.conftest import oidc_connection

PATH = "/sdk/v1/b2b/sso/discovery/connections"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"limit_sso_discovery_per_ip": "10/minute"})


def _browser(app: FastAPI, address: str = "192.0.2.40") -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 1))


def _sdk_auth(public_token: str) -> dict[str, str]:
    """What the frontend SDK sends: Basic `public_token:public_token`."""
    pair = base64.b64encode(f"{public_token}:{public_token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def discover(client: TestClient, public_token: str, email: str) -> Any:
    response = client.get(PATH, params={"email_address": email}, headers=_sdk_auth(public_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}
    assert set(body["data"]) == {"request_id", "status_code", "connections"}
    assert body["data"]["status_code"] == 200
    return body["data"]["connections"]


def _connection(services: Services, project: Credentials, org: Organization, name: str) -> str:
    issuer = f"https://{name}.idp.example"
    connection_id = oidc_connection(
        services, project.project_id, org, issuer, f"{name}-client", "secret"
    )
    with services.scope(project.project_id, "test", "test") as scope:
        oidc_connections.update_oidc(scope, org.id, connection_id, {"display_name": name})
    return connection_id


def _pending_connection(services: Services, project: Credentials, org: Organization) -> str:
    with services.scope(project.project_id, "test", "test") as scope:
        return saml_connections.create_saml(scope, org.id, display_name="Half set up").id


def _set(services: Services, project: Credentials, org: Organization, **fields: Any) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, org.id, fields)


def test_a_member_gets_the_active_connections_of_their_organizations(
    app: FastAPI, services: Services, project: Credentials, public_token: str
) -> None:
    acme = make_org(services, project.project_id, organization_slug="acme-d")
    globex = make_org(services, project.project_id, organization_slug="globex-d")
    okta = _connection(services, project, acme, "okta")
    _pending_connection(services, project, acme)
    entra = _connection(services, project, globex, "entra")
    make_member(services, project.project_id, acme, email_address="ada@partner.example")
    make_member(services, project.project_id, globex, email_address="ada@partner.example")

    found = discover(_browser(app), public_token, "Ada@Partner.example")

    # Oldest organization first; the test's frozen clock makes them equally old.
    assert sorted(found, key=lambda c: c["display_name"]) == [
        {"connection_id": entra, "display_name": "entra", "identity_provider": "generic"},
        {"connection_id": okta, "display_name": "okta", "identity_provider": "generic"},
    ]


def test_the_answer_names_connections_only_never_an_organization_or_a_member(
    app: FastAPI, services: Services, project: Credentials, public_token: str, corp: Organization
) -> None:
    _connection(services, project, corp, "okta")
    member = make_member(services, project.project_id, corp, email_address="ada@acme.example")
    response = _browser(app).get(
        PATH, params={"email_address": "ada@acme.example"}, headers=_sdk_auth(public_token)
    )
    assert corp.id not in response.text
    assert corp.slug not in response.text
    assert corp.name not in response.text
    assert member.id not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_without_a_membership_the_connections_that_could_create_the_address(
    app: FastAPI, services: Services, project: Credentials, public_token: str, corp: Organization
) -> None:
    """corp vouches for acme.example; its JIT setting decides which connections count."""
    okta = _connection(services, project, corp, "okta")
    entra = _connection(services, project, corp, "entra")
    browser = _browser(app)
    assert {c["connection_id"] for c in discover(browser, public_token, "new@acme.example")} == {
        okta,
        entra,
    }
    _set(
        services,
        project,
        corp,
        sso_jit_provisioning="RESTRICTED",
        sso_jit_provisioning_allowed_connections=[entra],
    )
    assert [c["connection_id"] for c in discover(browser, public_token, "new@acme.example")] == [
        entra
    ]
    _set(services, project, corp, sso_jit_provisioning="NOT_ALLOWED")
    assert discover(browser, public_token, "new@acme.example") == []
    # Another domain: the organization does not vouch for it.
    _set(services, project, corp, sso_jit_provisioning="ALL_ALLOWED")
    assert discover(browser, public_token, "new@elsewhere.example") == []


def test_memberships_come_first_and_jit_only_when_they_give_none(
    app: FastAPI, services: Services, project: Credentials, public_token: str, corp: Organization
) -> None:
    jit = _connection(services, project, corp, "corp-idp")
    partner = make_org(services, project.project_id, organization_slug="partner-d")
    make_member(services, project.project_id, partner, email_address="bob@acme.example")
    browser = _browser(app)
    # bob's organization has no SSO: he gets what his domain could join.
    assert [c["connection_id"] for c in discover(browser, public_token, "bob@acme.example")] == [
        jit
    ]
    own = _connection(services, project, partner, "partner-idp")
    assert [c["connection_id"] for c in discover(browser, public_token, "bob@acme.example")] == [
        own
    ]


def test_a_member_of_an_organization_is_not_offered_its_connections_again_as_jit(
    app: FastAPI, services: Services, project: Credentials, public_token: str, corp: Organization
) -> None:
    """An organization where the address is a member is never a JIT candidate, whatever
    its settings: the callback would find the member, not create one."""
    _connection(services, project, corp, "okta")
    make_member(services, project.project_id, corp, email_address="carol@acme.example")
    _set(services, project, corp, sso_jit_provisioning="NOT_ALLOWED")
    # Her membership shows the connections (she may sign in even with JIT off).
    assert len(discover(_browser(app), public_token, "carol@acme.example")) == 1


def test_unknown_addresses_and_organizations_without_sso_answer_alike(
    app: FastAPI, services: Services, project: Credentials, public_token: str, corp: Organization
) -> None:
    make_member(services, project.project_id, corp, email_address="dan@acme.example")
    _pending_connection(services, project, corp)  # not active: never offered
    browser = _browser(app)
    assert discover(browser, public_token, "dan@acme.example") == []
    assert discover(browser, public_token, "nobody@acme.example") == []
    assert discover(browser, public_token, "nobody@nowhere.example") == []


def test_another_projects_organizations_stay_out_of_the_answer(
    app: FastAPI,
    services: Services,
    project: Credentials,
    other_project: Credentials,
    public_token: str,
    corp: Organization,
) -> None:
    _connection(services, project, corp, "okta")
    make_member(services, project.project_id, corp, email_address="eve@acme.example")
    with services.scope(other_project.project_id, "test", "test") as scope:
        other_token = public_tokens.ensure(scope).id
    browser = _browser(app)
    assert discover(browser, other_token, "eve@acme.example") == []
    assert discover(browser, other_token, "new@acme.example") == []


def test_only_a_live_public_token_opens_it(
    app: FastAPI, services: Services, project: Credentials, public_token: str
) -> None:
    browser = _browser(app)
    params = {"email_address": "ada@acme.example"}
    missing = browser.get(PATH, params=params)
    assert (missing.status_code, missing.json()["error_type"]) == (400, "public_token_required")
    secret = browser.get(PATH, params=params, auth=project.auth)  # the backend's credentials
    assert (secret.status_code, secret.json()["error_type"]) == (404, "public_token_not_found")
    garbled = browser.get(PATH, params=params, headers={"Authorization": "Basic !!"})
    assert garbled.json()["error_type"] == "public_token_not_found"
    with services.scope(project.project_id, "test", "test") as scope:
        public_tokens.rotate(scope)
    retired = browser.get(PATH, params=params, headers=_sdk_auth(public_token))
    assert (retired.status_code, retired.json()["error_type"]) == (404, "public_token_not_found")


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b@c.example", "x" * 400 + "@a.example"])
def test_anything_but_an_address_is_refused(app: FastAPI, public_token: str, email: str) -> None:
    response = _browser(app).get(
        PATH, params={"email_address": email}, headers=_sdk_auth(public_token)
    )
    assert (response.status_code, response.json()["error_type"]) == (400, "invalid_email")


def test_lookups_are_limited_per_client_address_whatever_the_answer(
    app: FastAPI, services: Services, project: Credentials, public_token: str, corp: Organization
) -> None:
    _connection(services, project, corp, "okta")
    walker = _browser(app, "192.0.2.50")
    for n in range(9):
        discover(walker, public_token, f"guess{n}@acme.example")
    invalid = walker.get(PATH, params={"email_address": "nope"}, headers=_sdk_auth(public_token))
    assert invalid.status_code == 400  # counted too: the tenth
    refused = walker.get(
        PATH, params={"email_address": "ada@acme.example"}, headers=_sdk_auth(public_token)
    )
    assert refused.status_code == 429
    assert refused.json()["error_type"] == "too_many_requests"
    assert int(refused.headers["retry-after"]) > 0
    assert "connections" not in refused.text
    assert len(discover(_browser(app, "192.0.2.51"), public_token, "ada@acme.example")) == 1
