"""Sign in with SSO through a real OpenID Connect provider (panva's `oidc-provider`, not our
code), started on 127.0.0.1, in Debian's Chromium: the reference app's sign-in page → the
provider's login page → back through Antechamber → a session on the reference app.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from antechamber.members.models import Member
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from antechamber.sso import connections, oidc_connections
from tests.conftest import Credentials, LiveServer
from tests.e2e.conftest import Person, person
from tests.factories import make_member, make_org

PROVIDER = Path(__file__).resolve().parents[1] / "sso" / "oidc_provider"
CLIENT_ID = "antechamber-e2e"
CLIENT_SECRET = "e2e-client-secret-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sso_allow_private_addresses": True})


@dataclass(frozen=True)
class Provider:
    issuer: str
    connection_id: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def corp(services: Services, project: Credentials) -> Organization:
    return make_org(
        services,
        project.project_id,
        organization_name="Initech",
        organization_slug="initech",
        email_allowed_domains=["initech.example"],
    )


@pytest.fixture
def provider(
    live_server: LiveServer, services: Services, project: Credentials, corp: Organization
) -> Iterator[Provider]:
    """The provider on a free port, with the organization's OIDC connection pointing at it."""
    node = shutil.which("node")
    if node is None or not (PROVIDER / "node_modules" / "oidc-provider").exists():
        pytest.skip("needs node and `npm install` in tests/sso/oidc_provider (scripts/test)")
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    with services.scope(project.project_id, "test", "test") as scope:
        connection = oidc_connections.create_oidc(scope, corp.id, display_name="Initech IdP")
        oidc_connections.update_oidc(
            scope,
            corp.id,
            connection.id,
            {
                "issuer": issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorization_url": f"{issuer}/auth",
                "token_url": f"{issuer}/token",
                "userinfo_url": f"{issuer}/me",
                "jwks_url": f"{issuer}/jwks",
            },
        )
        redirect_uri = connections.callback_url(scope, connection.id)
    accounts = {"milton": {"email": "milton@initech.example", "email_verified": True}}
    proc = subprocess.Popen(
        [
            node,
            "server.mjs",
            str(port),
            CLIENT_ID,
            CLIENT_SECRET,
            redirect_uri,
            json.dumps(accounts),
        ],
        cwd=PROVIDER,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready "), line
        yield Provider(issuer, connection.id)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _sign_in_with_sso(p: Person, slug: str, login: str) -> None:
    p.go("/")
    p.page.get_by_label("Organization slug").fill(slug)
    p.steps.shot("sign-in-with-sso")
    p.page.get_by_role("button", name="Use SSO").click()
    p.page.get_by_role("link", name="Continue to your identity provider").click()
    # The provider's own login page (its development interactions).
    expect(p.page.locator("input[name=login]")).to_be_visible()
    p.steps.shot("provider-login")
    p.page.locator("input[name=login]").fill(login)
    p.page.locator("input[name=password]").fill("any password")
    p.page.locator("button[type=submit]").click()
    consent = p.page.get_by_role("button", name="Continue")
    if consent.count():
        p.steps.shot("provider-consent")
        consent.click()


def test_a_new_member_signs_in_through_the_provider_and_is_created_by_jit(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    services: Services,
    corp: Organization,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, "sso-oidc")
    _sign_in_with_sso(p, "initech", "milton")
    expect(p.page.get_by_role("heading", name="Initech")).to_be_visible()
    p.steps.shot("dashboard")
    with services.sessions() as session:
        member = session.query(Member).filter_by(organization_id=corp.id).one()
        assert member.email_address == "milton@initech.example"
        assert member.sso_registrations[0]["connection_id"] == provider.connection_id
    assert p.csp_violations == []


def test_a_person_signs_in_by_their_work_email(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    services: Services,
    corp: Organization,
    request: pytest.FixtureRequest,
) -> None:
    """The email's domain is one the organization vouches for: its connection (the only
    one) is started, and the provider's login makes the member by JIT."""
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, "sso-email")
    p.go("/")
    p.page.get_by_label("Organization slug or email address").fill("milton@initech.example")
    p.page.get_by_role("button", name="Use SSO").click()
    expect(p.page.get_by_text("You'll sign in through Initech IdP")).to_be_visible()
    p.steps.shot("continue")
    _sign_in_with_sso(p, "milton@initech.example", "milton")
    expect(p.page.get_by_role("heading", name="Initech")).to_be_visible()
    with services.sessions() as session:
        member = session.query(Member).filter_by(organization_id=corp.id).one()
        assert member.email_address == "milton@initech.example"
    assert p.csp_violations == []


def test_with_several_connections_for_the_email_the_person_chooses_one(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    services: Services,
    project: Credentials,
    corp: Organization,
    request: pytest.FixtureRequest,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        other = oidc_connections.create_oidc(scope, corp.id, display_name="Initech Legacy")
        oidc_connections.update_oidc(
            scope,
            corp.id,
            other.id,
            {
                "issuer": "https://legacy.initech.example",
                "client_id": "legacy",
                "client_secret": "legacy-secret",
                "authorization_url": "https://legacy.initech.example/auth",
                "token_url": "https://legacy.initech.example/token",
                "userinfo_url": "https://legacy.initech.example/me",
                "jwks_url": "https://legacy.initech.example/jwks",
            },
        )
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    p.go("/")
    p.page.get_by_label("Organization slug or email address").fill("milton@initech.example")
    p.page.get_by_role("button", name="Use SSO").click()
    expect(p.page.get_by_role("heading", name="Choose how to sign in")).to_be_visible()
    expect(p.page.get_by_role("link", name="Initech Legacy")).to_be_visible()
    p.steps.shot("choose")
    p.page.get_by_role("link", name="Initech IdP").click()
    expect(p.page.locator("input[name=login]")).to_be_visible()
    p.page.locator("input[name=login]").fill("milton")
    p.page.locator("input[name=password]").fill("any password")
    p.page.locator("button[type=submit]").click()
    consent = p.page.get_by_role("button", name="Continue")
    if consent.count():
        consent.click()
    expect(p.page.get_by_role("heading", name="Initech")).to_be_visible()


def test_an_email_without_sso_is_told_so(
    browser: Browser, live_server: LiveServer, provider: Provider, request: pytest.FixtureRequest
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    p.go("/")
    p.page.get_by_label("Organization slug or email address").fill("peter@elsewhere.example")
    p.page.get_by_role("button", name="Use SSO").click()
    expect(p.page.get_by_text("We found no single sign-on for that email address")).to_be_visible()


def test_an_organization_requiring_mfa_still_asks_for_the_sms_code(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    services: Services,
    project: Credentials,
    corp: Organization,
    request: pytest.FixtureRequest,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, corp.id, {"mfa_policy": "REQUIRED_FOR_ALL"})
    make_member(services, project.project_id, corp, email_address="milton@initech.example")
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    _sign_in_with_sso(p, "initech", "milton")
    p.page.get_by_label("Mobile phone number").fill("+12025550188")
    p.page.get_by_role("button", name="Send code").click()
    code = p.read_inbox_code("+12025550188")
    p.page.get_by_label("Code").fill(code)
    p.page.get_by_role("button", name="Verify").click()
    expect(p.page.get_by_role("heading", name="Initech")).to_be_visible()


@pytest.fixture
def stytch_app(
    live_server: LiveServer, services: Services, project: Credentials, tmp_path: Path
) -> Iterator[str]:
    """The reference app as its own process over the official SDK, with the public token."""
    import os
    import sys
    import time

    import httpx

    import antechamber
    from antechamber.redirects import service as redirects
    from antechamber.sso import public_tokens

    with services.scope(project.project_id, "test", "test") as scope:
        token = public_tokens.ensure(scope).id
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with services.scope(project.project_id, "test", "test") as scope:
        for kind in ("login", "signup"):
            redirects.add_redirect_url(scope, f"{url}/auth/sso", kind=kind)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTECHAMBER_", "STYTCH_"))}
    env["PYTHONPATH"] = str(Path(antechamber.__file__).parent.parent)
    env["ANTECHAMBER_LOG_LEVEL"] = "warning"
    env["STYTCH_PUBLIC_TOKEN"] = token
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "antechamber", "webapp", "--backend", "stytch",
            "--base-url", live_server.url, "--project-id", project.project_id,
            "--secret", project.secret, "--port", str(port), "--dev",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/assets/app.css", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("antechamber webapp did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_reference_app_over_the_sdk_signs_in_by_sso(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    stytch_app: str,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, stytch_app, f"{live_server.url}/dev/outbox", request)
    _sign_in_with_sso(p, "initech", "milton")
    expect(p.page.get_by_role("heading", name="Initech")).to_be_visible()


def test_the_reference_app_over_the_sdk_signs_in_by_work_email(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    stytch_app: str,
    request: pytest.FixtureRequest,
) -> None:
    """The SDK backend asks the server's frontend-SDK discovery route with the public token."""
    p = person(browser, stytch_app, f"{live_server.url}/dev/outbox", request)
    _sign_in_with_sso(p, "milton@initech.example", "milton")
    expect(p.page.get_by_role("heading", name="Initech")).to_be_visible()


def test_an_admins_dashboard_lists_the_organizations_connections(
    browser: Browser,
    live_server: LiveServer,
    provider: Provider,
    services: Services,
    project: Credentials,
    corp: Organization,
    request: pytest.FixtureRequest,
) -> None:
    make_member(
        services,
        project.project_id,
        corp,
        email_address="milton@initech.example",
        roles=["stytch_admin"],
    )
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    _sign_in_with_sso(p, "initech", "milton")
    connections_region = p.page.get_by_role("region", name="Single sign-on")
    expect(connections_region).to_contain_text("Initech IdP")
    expect(connections_region).to_contain_text(provider.connection_id)
