"""Sign in with SSO through a real SAML identity provider (SimpleSAMLphp, not our code) in
Debian's Chromium: the reference app → SimpleSAMLphp's login page → its auto-posted
SAMLResponse to Antechamber's ACS → a session on the reference app."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from antechamber.members.models import Member
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from antechamber.sso import connections, metadata, saml_connections
from tests.conftest import Credentials, LiveServer
from tests.e2e.conftest import Person, person
from tests.factories import make_member, make_org
from tests.saml.idp import SimpleSamlIdp, saml_idp

__all__ = ["saml_idp"]  # the session's SimpleSAMLphp IdP, as a fixture of this module


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sso_allow_private_addresses": True})


@pytest.fixture
def example(
    live_server: LiveServer,
    services: Services,
    project: Credentials,
    saml_idp: SimpleSamlIdp,
) -> Organization:
    """SimpleSAMLphp's users' organization, with a SAML connection filled from its metadata."""
    org = make_org(
        services,
        project.project_id,
        organization_name="Example Inc",
        organization_slug="example-inc",
        email_allowed_domains=["example.com"],
    )
    idp = metadata.fetch(services.settings, saml_idp.metadata_url)
    with services.scope(project.project_id, "test", "test") as scope:
        created = saml_connections.create_saml(scope, org.id, display_name="SimpleSAMLphp")
        metadata.apply(scope, org.id, created.id, idp)
        saml_connections.update_saml(
            scope,
            org.id,
            created.id,
            {"attribute_mapping": {"email": "email", "full_name": "name"}},
        )
        url = connections.callback_url(scope, created.id)
    saml_idp.add_sp(url, url)
    return org


def _sign_in_with_saml(p: Person, slug: str) -> None:
    p.go("/")
    p.page.get_by_label("Organization slug").fill(slug)
    p.page.get_by_role("button", name="Use SSO").click()
    p.page.get_by_role("link", name="Continue to your identity provider").click()
    expect(p.page.locator("#username")).to_be_visible()
    p.steps.shot("simplesamlphp-login")
    p.page.locator("#username").fill("alice")
    p.page.locator("#password").fill("alice-password")
    p.page.locator("#password").press("Enter")


def test_a_new_member_signs_in_through_simplesamlphp(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    example: Organization,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, "sso-saml")
    _sign_in_with_saml(p, "example-inc")
    expect(p.page.get_by_role("heading", name="Example Inc")).to_be_visible()
    p.steps.shot("dashboard")
    with services.sessions() as session:
        member = session.query(Member).filter_by(organization_id=example.id).one()
        assert member.email_address == "alice@example.com"
        assert member.name == "Alice Example"


def test_a_new_member_signs_in_through_simplesamlphp_by_work_email(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    example: Organization,
    request: pytest.FixtureRequest,
) -> None:
    """example.com is the organization's domain: its one SAML connection is found by the
    email (SSO discovery) and started."""
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    _sign_in_with_saml(p, "alice@example.com")
    expect(p.page.get_by_role("heading", name="Example Inc")).to_be_visible()
    with services.sessions() as session:
        member = session.query(Member).filter_by(organization_id=example.id).one()
        assert member.email_address == "alice@example.com"


def test_saml_with_required_mfa_still_asks_for_the_sms_code(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    project: Credentials,
    example: Organization,
    request: pytest.FixtureRequest,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, example.id, {"mfa_policy": "REQUIRED_FOR_ALL"})
    make_member(services, project.project_id, example, email_address="alice@example.com")
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    _sign_in_with_saml(p, "example-inc")
    p.page.get_by_label("Mobile phone number").fill("+12025550199")
    p.page.get_by_role("button", name="Send code").click()
    p.page.get_by_label("Code").fill(p.read_inbox_code("+12025550199"))
    p.page.get_by_role("button", name="Verify").click()
    expect(p.page.get_by_role("heading", name="Example Inc")).to_be_visible()
