"""SSO fixtures: identity providers on 127.0.0.1 (so private addresses are allowed), a
project's public token and SSO redirect URLs, an organization with a live OIDC connection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.redirects import service as redirects
from antechamber.services import Services
from antechamber.settings import Settings
from antechamber.sso import oidc, oidc_connections, public_tokens
from tests.conftest import Credentials
from tests.factories import make_org
from tests.saml.idp import saml_idp  # noqa: F401 - the session's SimpleSAMLphp IdP
from tests.sso import fake_idp

LOGIN_URL = "http://localhost:3000/sso/login"
SIGNUP_URL = "http://localhost:3000/sso/signup"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sso_allow_private_addresses": True})


@pytest.fixture(autouse=True)
def _fresh_jwks_cache() -> Iterator[None]:
    oidc.jwks_cache.clear()
    yield
    oidc.jwks_cache.clear()


@pytest.fixture
def public_token(services: Services, project: Credentials) -> str:
    with services.scope(project.project_id, "test", "test") as scope:
        token = public_tokens.ensure(scope).id
        redirects.add_redirect_url(scope, LOGIN_URL, kind="login")
        redirects.add_redirect_url(scope, SIGNUP_URL, kind="signup")
    return token


@pytest.fixture
def idp() -> Iterator[fake_idp.FakeIdp]:
    with fake_idp.running() as running:
        yield running


@pytest.fixture
def corp(services: Services, project: Credentials) -> Organization:
    """An organization that vouches for acme.example (JIT by SSO allowed for it)."""
    return make_org(
        services,
        project.project_id,
        organization_name="Acme SSO",
        organization_slug="acme-sso",
        email_allowed_domains=["acme.example"],
    )


def oidc_connection(
    services: Services,
    project_id: str,
    org: Organization,
    issuer: str,
    client_id: str,
    client_secret: str,
    **urls: str,
) -> str:
    with services.scope(project_id, "test", "test") as scope:
        created = oidc_connections.create_oidc(scope, org.id, display_name="Acme IdP")
        oidc_connections.update_oidc(
            scope,
            org.id,
            created.id,
            {
                "issuer": issuer,
                "client_id": client_id,
                "client_secret": client_secret,
                "authorization_url": urls.get("authorization_url", f"{issuer}/authorize"),
                "token_url": urls.get("token_url", f"{issuer}/token"),
                "userinfo_url": urls.get("userinfo_url", f"{issuer}/userinfo"),
                "jwks_url": urls.get("jwks_url", f"{issuer}/jwks"),
            },
        )
        return created.id


@pytest.fixture
def connection_id(
    services: Services, project: Credentials, corp: Organization, idp: fake_idp.FakeIdp
) -> str:
    return oidc_connection(
        services, project.project_id, corp, idp.issuer, idp.client_id, idp.client_secret
    )


@dataclass
class Started:
    state: str
    nonce: str
    location: str


def start(client: TestClient, public_token: str, **params: str) -> Started:
    response = client.get(
        "/v1/public/sso/start",
        params={"public_token": public_token, **params},
        follow_redirects=False,
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    return Started(query["state"][0], query.get("nonce", [""])[0], location)


def callback(client: TestClient, connection_id: str, state: str, code: str = "code-1") -> Any:
    return client.get(
        f"/v1/b2b/sso/callback/{connection_id}",
        params={"state": state, "code": code},
        follow_redirects=False,
    )


def sso_token_of(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    assert query["stytch_token_type"] == ["sso"]
    return query["token"][0]
