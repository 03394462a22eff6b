"""The admin console's main tasks in a real browser, signed in the real way (issue #8).

No test seam opens the session here: an operator made as `antechamber operators add` makes
one asks for a link at /admin, opens it from the development inbox in the same browser (the
link is bound to that browser's pre-session by PKCE), continues on the interstitial, and types
the code texted to their phone. Then, as that operator: create an organization that requires
MFA, find a member, reset their phone, revoke their sessions, and read the audit trail.

JavaScript is off: the console must work without it. Screenshots: test-artifacts/webapp/<test>/.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.e2e.conftest import Person, person
from tests.factories import make_member, make_operator, make_org, start_session, verify_phone

pytestmark = pytest.mark.browser

OPERATOR_EMAIL = "olive@antechamber.example"
OPERATOR_PHONE = "+12025550142"
ADA_PHONE = "+12025550123"


@pytest.fixture
def acme(services: Services, project: Credentials) -> Organization:
    return make_org(
        services, project.project_id, organization_name="Acme", organization_slug="acme"
    )


@pytest.fixture
def ada(services: Services, project: Credentials, acme: Organization) -> Member:
    """A member with a verified phone, next to one the search must leave out."""
    make_member(services, project.project_id, acme, email_address="bob@acme.example")
    member = make_member(
        services,
        project.project_id,
        acme,
        email_address="ada@acme.example",
        name="Ada Lovelace",
        mfa_phone_number=ADA_PHONE,
    )
    verify_phone(services, member)
    return member


def session_authenticate(
    live_server: LiveServer, project: Credentials, token: str
) -> httpx.Response:
    return httpx.post(
        f"{live_server.url}/v1/b2b/sessions/authenticate",
        json={"session_token": token},
        auth=project.auth,
        timeout=10,
    )


def sign_in(p: Person) -> None:
    """/admin → sign-in page → link from the inbox → interstitial → SMS code → console."""
    page = p.page
    p.go("/admin/projects")
    # Without a session, a console page sends the browser to sign in.
    expect(page).to_have_url(re.compile(r"/admin/signin\?next=%2Fadmin%2Fprojects$"))
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    p.steps.shot("sign-in")
    page.get_by_label("Email address").fill(OPERATOR_EMAIL)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    p.steps.shot("check-your-email")

    page.goto(f"{p.inbox_url}?to={quote(OPERATOR_EMAIL)}")
    link = page.locator("article.message", has_text=OPERATOR_EMAIL).first.locator(".link a")
    expect(link).to_have_attribute("href", re.compile(r"/admin/signin/callback\?.*token="))
    link.click()
    expect(page.get_by_role("heading", name="Continue signing in")).to_be_visible()
    p.steps.shot("interstitial")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page.get_by_text("0142")).to_be_visible()  # the masked phone
    p.steps.shot("enter-code")
    page.get_by_label("Code").fill(p.read_inbox_code(OPERATOR_PHONE))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/projects$"))
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    p.steps.shot("signed-in")


def test_an_operator_signs_in_and_does_the_main_tasks(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    project: Credentials,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    make_operator(services, OPERATOR_EMAIL, OPERATOR_PHONE)
    _, ada_token, _ = start_session(services, project.project_id, acme, ada)
    assert session_authenticate(live_server, project, ada_token).status_code == 200

    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, javascript=False)
    page = p.page
    sign_in(p)

    # Create an organization that requires MFA of every member.
    page.get_by_role("link", name="Demo project").click()
    page.get_by_role("link", name="New organization").click()
    page.get_by_label("Name", exact=True).fill("Globex")
    page.get_by_label("Require MFA").check()
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status")).to_contain_text("Organization Globex created.")
    expect(page.get_by_text("Required for every member")).to_be_visible()
    p.steps.shot("organization-created")
    with services.sessions() as session:
        globex = session.scalars(select(Organization).where(Organization.name == "Globex")).one()
        assert globex.mfa_policy == "REQUIRED_FOR_ALL"

    # Find the member by search.
    p.go(f"/admin/projects/{project.project_id}/orgs")
    page.get_by_label("Find an organization").fill("acm")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Acme", exact=True).click()
    page.get_by_label("Find a member").fill("ada@")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 member matching")).to_be_visible()
    expect(page.get_by_role("link", name="bob@acme.example")).to_have_count(0)
    p.steps.shot("member-found")
    page.get_by_role("link", name="ada@acme.example").click()
    expect(page.get_by_role("heading", name="ada@acme.example")).to_be_visible()
    expect(page.get_by_text(ADA_PHONE)).to_be_visible()
    expect(page.get_by_role("table", name="Sessions").locator("tbody tr")).to_have_count(1)

    # Reset the phone.
    page.get_by_role("link", name="Reset SMS phone…").click()
    page.get_by_role("button", name="Reset the phone").click()
    expect(page.get_by_role("status").first).to_contain_text("was reset")
    expect(page.get_by_text(ADA_PHONE)).to_have_count(0)
    p.steps.shot("phone-reset")

    # Revoke the sessions: the member's token stops working at once.
    page.get_by_role("link", name="Revoke all sessions…").click()
    page.get_by_role("button", name="Revoke all sessions").click()
    expect(page.get_by_role("status").first).to_contain_text("1 session of ada@acme.example")
    expect(page.get_by_text("No live session.")).to_be_visible()
    p.steps.shot("sessions-revoked")
    refused = session_authenticate(live_server, project, ada_token)
    assert refused.status_code == 404
    assert refused.json()["error_type"] == "session_not_found"
    with services.sessions() as session:
        row = session.get(Member, ada.id)
        assert row is not None
        assert row.mfa_phone_number == ""
        assert row.mfa_phone_number_verified is False

    # The audit trail of that member, in that organization, carries both actions as the
    # operator's.
    page.get_by_role("link", name="Full audit log of this member").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.get_by_label("Organization")).to_have_value(acme.id)
    expect(page.get_by_label("Member")).to_have_value(ada.id)
    by_operator = page.locator("tbody tr", has_text=f"operator {OPERATOR_EMAIL}")
    for event in ("member.mfa_phone_reset", "session.revoked"):
        row = by_operator.filter(has_text=event)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("ada@acme.example")
    expect(page.locator("tbody tr", has_text="bob@acme.example")).to_have_count(0)
    p.steps.shot("audit-trail")
    assert p.csp_violations == []


def test_the_console_is_shut_without_signing_in(
    browser: Browser, live_server: LiveServer, project: Credentials, request: pytest.FixtureRequest
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, javascript=False)
    path = f"/admin/projects/{project.project_id}/audit"
    p.go(path)
    expect(p.page).to_have_url(re.compile(r"/admin/signin\?next=" + re.escape(quote(path, ""))))
    expect(p.page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    expect(p.page.get_by_role("heading", name="Audit log")).to_have_count(0)
