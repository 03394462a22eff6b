"""Sign in with SSO by work email (webapp/sso.py): the connections the address may use come
from the server's SSO discovery; one is started, several are offered, none is said plainly.
Over both backends (the SDK backend asks the frontend SDK's discovery route over HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.organizations.models import Organization
from antechamber.redirects import service as redirects
from antechamber.services import Services
from antechamber.sso import oidc_connections, public_tokens
from tests.conftest import Credentials, LiveServer
from tests.factories import make_member, make_org
from tests.webapp.conftest import BASE, Web, stytch_app

LANDING = f"{BASE}/auth/sso"


@pytest.fixture
def public_token(services: Services, project: Credentials) -> str:
    with services.scope(project.project_id, "test", "test") as scope:
        token = public_tokens.ensure(scope).id
        for kind in ("login", "signup"):
            redirects.add_redirect_url(scope, LANDING, kind=kind)
    return token


@pytest.fixture
def sso_web(
    request: pytest.FixtureRequest,
    backend_kind: str,
    app: FastAPI,
    services: Services,
    project: Credentials,
    clock: FrozenClock,
    public_token: str,
) -> Iterator[Web]:
    if backend_kind == "inprocess":
        target = app
    else:
        live_server: LiveServer = request.getfixturevalue("live_server")
        target = stytch_app(live_server, project, clock, public_token=public_token)
    with TestClient(target, base_url=BASE, raise_server_exceptions=False) as client:
        yield Web(client, services, project, backend_kind, app)


@pytest.fixture
def initech(services: Services, project: Credentials) -> Organization:
    return make_org(
        services,
        project.project_id,
        organization_name="Initech",
        organization_slug="initech-sso",
        email_allowed_domains=["initech.example"],
    )


def _connection(services: Services, project: Credentials, org: Organization, name: str) -> str:
    issuer = f"https://{name.lower().replace(' ', '-')}.idp.example"
    with services.scope(project.project_id, "test", "test") as scope:
        created = oidc_connections.create_oidc(scope, org.id, display_name=name)
        oidc_connections.update_oidc(
            scope,
            org.id,
            created.id,
            {
                "issuer": issuer,
                "client_id": "client",
                "client_secret": "secret",
                "authorization_url": f"{issuer}/authorize",
                "token_url": f"{issuer}/token",
                "userinfo_url": f"{issuer}/userinfo",
                "jwks_url": f"{issuer}/jwks",
            },
        )
        return created.id


def _start_query(href: str) -> dict[str, str]:
    parts = urlsplit(href.replace("&amp;", "&"))
    assert parts.path == "/v1/public/sso/start"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def _hrefs(html: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', html) if "/v1/public/sso/start" in h]


def test_one_connection_for_the_email_is_started(
    sso_web: Web,
    services: Services,
    project: Credentials,
    initech: Organization,
    public_token: str,
) -> None:
    connection_id = _connection(services, project, initech, "Initech Okta")
    page = sso_web.get("/sso/start", params={"organization": "Milton@Initech.example"})
    assert page.status_code == 200, page.text
    assert "Continue to your identity provider" in page.text
    assert "Initech Okta" in page.text
    (href,) = _hrefs(page.text)
    query = _start_query(href)
    assert query["connection_id"] == connection_id
    assert "organization_id" not in query
    assert query["public_token"] == public_token
    assert query["login_redirect_url"] == query["signup_redirect_url"] == LANDING
    assert sso_web.cookie("sso_pkce")  # the verifier waits for /auth/sso
    # The server accepts that start (the browser would now go to the identity provider).
    answer = TestClient(sso_web.server).get(
        "/v1/public/sso/start", params=query, follow_redirects=False
    )
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("https://initech-okta.idp.example/authorize?")


def test_several_connections_are_offered_to_choose_from(
    sso_web: Web, services: Services, project: Credentials, initech: Organization
) -> None:
    okta = _connection(services, project, initech, "Initech Okta")
    entra = _connection(services, project, initech, "Initech Entra")
    page = sso_web.get("/sso/start", params={"organization": "milton@initech.example"})
    assert page.status_code == 200, page.text
    assert "Choose how to sign in" in page.text
    queries = [_start_query(h) for h in _hrefs(page.text)]
    assert {q["connection_id"] for q in queries} == {okta, entra}
    # One PKCE pair for all: whichever is followed, the cookie's verifier matches.
    assert len({q["pkce_code_challenge"] for q in queries}) == 1
    assert sso_web.cookie("sso_pkce")


def test_no_connection_for_the_email_says_so(
    sso_web: Web, services: Services, project: Credentials, initech: Organization
) -> None:
    _connection(services, project, initech, "Initech Okta")
    answer = sso_web.get("/sso/start", params={"organization": "someone@elsewhere.example"})
    assert answer.status_code in (302, 303)
    assert answer.headers["location"] == "/?error=sso_no_connection_for_email"
    shown = sso_web.get(answer.headers["location"]).text
    assert "found no single sign-on for that email address" in shown
    assert sso_web.cookie("sso_pkce") is None


def test_a_member_is_offered_their_organizations_connection(
    sso_web: Web, services: Services, project: Credentials
) -> None:
    """A contractor's address (another domain) is found by their membership."""
    org = make_org(services, project.project_id, organization_slug="hooli-sso")
    connection_id = _connection(services, project, org, "Hooli IdP")
    make_member(services, project.project_id, org, email_address="gavin@contractor.example")
    page = sso_web.get("/sso/start", params={"organization": "gavin@contractor.example"})
    (href,) = _hrefs(page.text)
    assert _start_query(href)["connection_id"] == connection_id


def test_not_an_address_is_refused(sso_web: Web) -> None:
    answer = sso_web.get("/sso/start", params={"organization": "milton@"})
    assert answer.headers["location"] == "/?error=invalid_email"


def test_lookups_by_email_are_limited_per_client(
    inprocess: Web, services: Services, project: Credentials, initech: Organization
) -> None:
    inprocess.reset_limits()
    for n in range(10):  # the app's start allowance (webapp.config.START_LIMIT)
        answer = inprocess.get("/sso/start", params={"organization": f"p{n}@nowhere.example"})
        assert answer.headers["location"] == "/?error=sso_no_connection_for_email"
    refused = inprocess.get("/sso/start", params={"organization": "p@nowhere.example"})
    assert refused.headers["location"] == "/?error=rate_limited"
    inprocess.reset_limits()
