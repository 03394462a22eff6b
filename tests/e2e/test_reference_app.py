"""The tutorial's three flows in a real browser, plus an expired link, a wrong code, logging
out then pressing Back, and the whole first flow without JavaScript.

Flows 1–3 run against both backends: the app inside the server (`inprocess`) and the app as
its own process over the official SDK (`stytch`). Screenshots: see conftest.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from tests.conftest import LiveServer
from tests.e2e.conftest import AppUnderTest, Person, ShiftedClock, person
from tests.webapp.conftest import requires_sms

pytestmark = pytest.mark.browser


def _shots(app: AppUnderTest, name: str) -> str | None:
    """Screenshots for the README come from the in-process runs."""
    return name if app.kind == "inprocess" else None


def at(browser: Browser, app: AppUnderTest, request: pytest.FixtureRequest, name: str) -> Person:
    """A person using `app`; the in-process runs' screenshots go to the README."""
    return person(browser, app.url, app.inbox_url, request, _shots(app, name))


def _on_dashboard(p: Person, organization: str) -> None:
    expect(p.page).to_have_url(re.compile(r"/dashboard"))
    expect(p.page.get_by_role("heading", level=1, name=organization)).to_be_visible()


def _log_out(p: Person) -> None:
    p.page.get_by_role("button", name="Log out").click()
    expect(p.page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(p.page.get_by_text("You're signed out.")).to_be_visible()


def _enter_code(p: Person, phone: str) -> None:
    code = p.read_inbox_code(phone)
    p.page.get_by_label("Code").fill(code)
    p.page.get_by_role("button", name="Verify").click()


def test_flow_1_optional_org_without_mfa(
    browser: Browser,
    app_under_test: AppUnderTest,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    """OPTIONAL organization, member not enrolled: email → inbox → link → discovery →
    dashboard."""
    p = person(
        browser,
        app_under_test.url,
        app_under_test.inbox_url,
        request,
        _shots(app_under_test, "flow1"),
    )
    p.sign_in_by_email("ada@acme.example")
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    _on_dashboard(p, "Acme")
    expect(p.page.get_by_text("MFA is optional in Acme")).to_be_visible()
    expect(p.page.get_by_role("link", name="Opt in for MFA")).to_be_visible()
    p.steps.shot("dashboard")
    assert p.csp_violations == []


@requires_sms
def test_flow_2_create_an_organization_that_requires_mfa(
    browser: Browser, app_under_test: AppUnderTest, request: pytest.FixtureRequest
) -> None:
    """Create with "Require MFA for all members" → phone → code → dashboard."""
    p = person(
        browser,
        app_under_test.url,
        app_under_test.inbox_url,
        request,
        _shots(app_under_test, "flow2"),
    )
    p.sign_in_by_email("founder@hooli.example", shots=False)  # as in flow 1
    p.page.get_by_label("Organization name").fill("Hooli")
    p.page.get_by_role("switch", name="Require MFA for all members").check()
    p.steps.shot("create-with-require-mfa")
    p.page.get_by_role("button", name="Create").click()
    expect(p.page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    p.steps.shot("phone")
    p.page.get_by_label("Mobile phone number").fill("+1 202 555 0143")
    p.page.get_by_role("button", name="Send code").click()
    expect(p.page.get_by_label("Code")).to_be_visible()
    expect(p.page.get_by_text("+1******0143")).to_be_visible()
    expect(p.page.get_by_label("Code")).to_have_attribute("autocomplete", "one-time-code")
    p.steps.shot("code")
    _enter_code(p, "+12025550143")
    _on_dashboard(p, "Hooli")
    expect(p.page.get_by_text("Hooli requires MFA for every member")).to_be_visible()
    expect(p.page.get_by_text("Each sign-in also asks for a code we text to")).to_be_visible()
    p.steps.shot("dashboard")
    assert p.csp_violations == []


@requires_sms
def test_flow_3_opt_in_then_out(
    browser: Browser,
    app_under_test: AppUnderTest,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    """Opt in, log out, log in again through MFA, opt out, log in without it."""
    p = person(
        browser,
        app_under_test.url,
        app_under_test.inbox_url,
        request,
        _shots(app_under_test, "flow3"),
    )
    p.sign_in_by_email("ada@acme.example", shots=False)
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    _on_dashboard(p, "Acme")
    p.page.get_by_role("link", name="Opt in for MFA").click()
    expect(p.page.get_by_role("heading", name="Opt in for MFA?")).to_be_visible()
    p.steps.shot("confirm-opt-in")
    p.page.get_by_role("button", name="Yes, opt in").click()
    expect(p.page.get_by_text("MFA is on.")).to_be_visible()
    p.steps.shot("opted-in")
    _log_out(p)

    p.sign_in_by_email("ada@acme.example", shots=False)
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    expect(p.page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    p.page.get_by_label("Mobile phone number").fill("+12025550177")
    p.page.get_by_role("button", name="Send code").click()
    expect(p.page.get_by_label("Code")).to_be_visible()
    p.steps.shot("code")
    _enter_code(p, "+12025550177")
    _on_dashboard(p, "Acme")
    expect(p.page.get_by_text("Each sign-in also asks for a code we text to")).to_be_visible()
    p.steps.shot("dashboard-with-mfa")

    p.page.get_by_role("link", name="Opt out from MFA").click()
    expect(p.page.get_by_role("heading", name="Opt out from MFA?")).to_be_visible()
    p.steps.shot("confirm-opt-out")
    p.page.get_by_role("button", name="Yes, opt out").click()
    expect(p.page.get_by_text("MFA is off.")).to_be_visible()
    p.steps.shot("opted-out")
    _log_out(p)

    p.sign_in_by_email("ada@acme.example", shots=False)
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    _on_dashboard(p, "Acme")  # no code this time
    p.steps.shot("signed-in-without-a-code")
    assert p.csp_violations == []


def test_an_expired_link_says_so_and_offers_a_new_one(
    browser: Browser,
    live_server: LiveServer,
    clock: ShiftedClock,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, "expired-link")
    p.go("/")
    p.page.get_by_label("Work email").fill("ada@acme.example")
    p.page.get_by_role("button", name="Continue").click()
    expect(p.page.get_by_role("heading", name="Check your email")).to_be_visible()
    clock.advance(timedelta(minutes=61))
    p.page.goto(f"{live_server.url}/dev/outbox")
    p.page.locator("article.message .link a").first.click()
    p.page.get_by_role("button", name="Continue").click()
    expect(p.page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(p.page.get_by_role("alert")).to_contain_text("expired or was already used")
    p.steps.shot("expired-link")


@requires_sms
def test_a_wrong_code_is_explained_and_can_be_retried(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, "wrong-code")
    p.sign_in_by_email("founder@hooli.example", shots=False)
    p.page.get_by_label("Organization name").fill("Hooli")
    p.page.get_by_role("switch", name="Require MFA for all members").check()
    p.page.get_by_role("button", name="Create").click()
    p.page.get_by_label("Mobile phone number").fill("+12025550143")
    p.page.get_by_role("button", name="Send code").click()
    right = p.read_inbox_code("+12025550143")
    wrong = "000000" if right != "000000" else "111111"
    p.page.get_by_label("Code").fill(wrong)
    p.page.get_by_role("button", name="Verify").click()
    expect(p.page.get_by_role("alert")).to_contain_text("That code isn't right")
    expect(p.page.get_by_label("Code")).to_be_focused()
    expect(p.page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")
    p.steps.shot("wrong-code")
    p.page.get_by_label("Code").fill(right)
    p.page.get_by_role("button", name="Verify").click()
    _on_dashboard(p, "Hooli")


def test_after_logging_out_back_shows_the_sign_in_page(
    browser: Browser,
    live_server: LiveServer,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, "logout-back")
    p.sign_in_by_email("ada@acme.example", shots=False)
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    _on_dashboard(p, "Acme")
    _log_out(p)
    p.steps.shot("signed-out")
    p.page.go_back()
    expect(p.page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(p.page.get_by_role("heading", name="Acme")).to_have_count(0)
    p.steps.shot("back-after-logout")


def test_flow_1_works_without_javascript(
    browser: Browser,
    live_server: LiveServer,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request, javascript=False)
    p.sign_in_by_email("ada@acme.example")
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    _on_dashboard(p, "Acme")
    p.page.get_by_role("link", name="Opt in for MFA").click()
    p.page.get_by_role("button", name="Yes, opt in").click()
    expect(p.page.get_by_text("MFA is on.")).to_be_visible()
    _log_out(p)


def test_the_sign_in_flow_by_keyboard_alone(
    browser: Browser,
    live_server: LiveServer,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    """Focus starts in the email field; Enter submits; every control is reachable by Tab."""
    p = person(browser, live_server.url, f"{live_server.url}/dev/outbox", request)
    p.go("/")
    expect(p.page.get_by_label("Work email")).to_be_focused()
    p.page.keyboard.type("ada@acme.example")
    p.page.keyboard.press("Enter")
    expect(p.page.get_by_role("heading", name="Check your email")).to_be_visible()
    p.page.goto(f"{live_server.url}/dev/outbox")
    p.page.locator("article.message .link a").first.click()
    expect(p.page.get_by_role("button", name="Continue")).to_be_focused()
    p.page.keyboard.press("Enter")
    expect(p.page.get_by_role("heading", name="Choose an organization")).to_be_visible()
    for _ in range(12):
        p.page.keyboard.press("Tab")
        focused = p.page.evaluate("document.activeElement.textContent || ''")
        if "Continue to Acme" in focused:
            break
    else:
        pytest.fail("the organization button is not reachable with Tab")
    p.page.keyboard.press("Enter")
    _on_dashboard(p, "Acme")
