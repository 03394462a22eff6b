"""The console's main tasks in a real browser (Chromium, JavaScript off): sign-in is required,
create an organization that requires MFA, find a member, make them admin, unlock them, reset
their phone, and read the audit trail. Screenshots: test-artifacts/console/<test>/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.admin.conftest import ConsoleBrowser, OperatorInfo, console_browser, member_row
from tests.conftest import Credentials, LiveServer
from tests.factories import lock_member, make_member, make_org

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(services: Services, project: Credentials) -> Organization:
    return make_org(
        services, project.project_id, organization_name="Acme", organization_slug="acme"
    )


@pytest.fixture
def ada(services: Services, project: Credentials, acme: Organization) -> Member:
    make_member(services, project.project_id, acme, email_address="bob@acme.example")
    return make_member(
        services,
        project.project_id,
        acme,
        email_address="ada@acme.example",
        name="Ada Lovelace",
        mfa_phone_number="+12025550123",
    )


def signed_in(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    operator: OperatorInfo,
    request: pytest.FixtureRequest,
) -> ConsoleBrowser:
    return console_browser(
        browser, live_server.url, services, operator.member_id, request.node.name
    )


def test_without_a_session_the_console_asks_to_sign_in(
    browser: Browser, live_server: LiveServer, services: Services, request: pytest.FixtureRequest
) -> None:
    b = console_browser(browser, live_server.url, services, None, request.node.name)
    b.go("/admin/projects")
    expect(b.page).to_have_url(re.compile(r"/admin/signin\?next=%2Fadmin%2Fprojects$"))
    expect(b.page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    b.steps.shot("sign-in-page")
    b.page.get_by_label("Email address").fill("ops@antechamber.example")
    b.page.get_by_role("button", name="Email me a sign-in link").click()
    # No operator exists yet: the page says what to do, it does not crash. The real sign-in
    # in a browser is tests/e2e/test_console.py.
    expect(b.page.get_by_role("alert")).to_contain_text("No operator exists yet")
    b.steps.shot("sign-in-unavailable")
    assert b.csp_violations == []


def test_create_an_organization_that_requires_mfa(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    operator: OperatorInfo,
    project: Credentials,
    request: pytest.FixtureRequest,
) -> None:
    b = signed_in(browser, live_server, services, operator, request)
    page = b.page
    b.go("/admin")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    b.steps.shot("projects")
    page.get_by_role("link", name="Demo project").click()
    page.get_by_role("link", name="New organization").click()
    expect(page.get_by_role("heading", name="New organization")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Globex")
    page.get_by_label("Require MFA").check()
    page.get_by_label("Allowed email domains").fill("gmail.com")
    b.steps.shot("form-filled")
    page.get_by_role("button", name="Create organization").click()
    # The domain's refusal, next to the field, with what was typed kept.
    expect(page.get_by_role("alert")).to_contain_text("common email provider")
    expect(page.locator("#email_allowed_domains-error")).to_be_visible()
    expect(page.get_by_label("Allowed email domains")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Globex")
    expect(page.get_by_label("Require MFA")).to_be_checked()
    b.steps.shot("domain-refused")

    page.get_by_label("Allowed email domains").fill("globex.example")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status")).to_contain_text("Organization Globex created.")
    expect(page.get_by_role("heading", name="Globex", exact=True)).to_be_visible()
    expect(page.get_by_text("Required for every member")).to_be_visible()
    b.steps.shot("created")
    assert b.csp_violations == []


def test_find_a_member_make_admin_unlock_and_reset_phone(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    operator: OperatorInfo,
    project: Credentials,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    lock_member(services, ada)
    b = signed_in(browser, live_server, services, operator, request)
    page = b.page
    b.go(f"/admin/projects/{project.project_id}/orgs")
    page.get_by_label("Find an organization").fill("acm")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Acme", exact=True).click()
    b.steps.shot("organization")

    page.get_by_label("Find a member").fill("ada@")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 member matching")).to_be_visible()
    expect(page.get_by_role("link", name="bob@acme.example")).to_have_count(0)
    b.steps.shot("member-found")
    page.get_by_role("link", name="ada@acme.example").click()
    expect(page.get_by_role("heading", name="Locked out of MFA")).to_be_visible()
    b.steps.shot("member-locked")

    page.get_by_role("button", name="Make admin").click()
    expect(page.get_by_role("status").first).to_contain_text("is now an admin")
    expect(page.get_by_role("button", name="Remove admin")).to_be_visible()
    b.steps.shot("made-admin")

    page.get_by_role("button", name="Unlock now").click()
    expect(page.get_by_role("status").first).to_contain_text("is unlocked")
    expect(page.get_by_role("heading", name="Locked out of MFA")).to_have_count(0)
    b.steps.shot("unlocked")

    page.get_by_role("link", name="Reset SMS phone…").click()
    expect(page.get_by_role("heading", name=re.compile("Reset the SMS phone"))).to_be_visible()
    b.steps.shot("reset-phone-confirm")
    page.get_by_role("button", name="Reset the phone").click()
    expect(page.get_by_role("status").first).to_contain_text("was reset")
    b.steps.shot("phone-reset")

    after = member_row(services, ada.id)
    assert after.roles == ["stytch_admin"]
    assert after.lock_expires_at is None
    assert after.mfa_phone_number == ""
    assert b.csp_violations == []


def test_read_the_audit_trail(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    operator: OperatorInfo,
    project: Credentials,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    b = signed_in(browser, live_server, services, operator, request)
    page = b.page
    b.go(f"/admin/projects/{project.project_id}/orgs/{acme.id}/members/{ada.id}")
    page.get_by_role("button", name="Make admin").click()
    page.get_by_role("button", name="Unlock MFA").click()

    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Demo project"
    ).click()
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    b.steps.shot("audit-all")
    page.get_by_label("Organization").fill("acme")
    page.get_by_label("Event type").select_option("member.unlocked")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("member.unlocked")
    expect(rows.first).to_contain_text(f"operator {operator.email}")
    expect(rows.first).to_contain_text("ada@acme.example")
    b.steps.shot("audit-filtered")

    page.get_by_label("Event type").select_option("")
    page.get_by_label("Member").fill("ada@acme.example")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(3)  # created, updated, unlocked
    b.steps.shot("audit-member")
    assert b.csp_violations == []


def test_keyboard_only(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    operator: OperatorInfo,
    project: Credentials,
    request: pytest.FixtureRequest,
) -> None:
    # JavaScript on here only so the test can ask the page what has focus.
    b = console_browser(
        browser, live_server.url, services, operator.member_id, request.node.name, javascript=True
    )
    page = b.page
    b.go(f"/admin/projects/{project.project_id}/orgs/new")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None
    assert box["y"] >= 0  # moved on screen when focused
    b.steps.shot("skip-link")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # Past the top bar: the breadcrumbs, then the form.
    assert page.evaluate("document.activeElement.closest('main') !== null")
    for _ in range(3):
        if page.evaluate("document.activeElement.id") == "organization_name":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "organization_name"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    page.keyboard.type("Keyboard Co")
    for _ in range(2):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "require_mfa"
    page.keyboard.press("Space")
    b.steps.shot("keyboard-form")
    page.get_by_role("button", name="Create organization").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Organization Keyboard Co created.")
    expect(page.get_by_text("Required for every member")).to_be_visible()
    b.steps.shot("keyboard-created")
    # With an error, the summary takes focus so a screen reader reads it first.
    b.go(f"/admin/projects/{project.project_id}/orgs/new")
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator(".error-summary")).to_be_focused()
    assert b.csp_violations == []
