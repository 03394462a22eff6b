"""Invitations and emailed codes in a real browser, on both backends: an admin invites a
colleague at another domain from the dashboard; the colleague opens the link from the
development inbox, joins, passes the SMS MFA the organization requires and shows as active
in the admin's member list. And a person signs in with an emailed code instead of the link.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.redirects import service as redirects
from antechamber.services import Services
from tests.conftest import Credentials
from tests.e2e.conftest import AppUnderTest, Person, person
from tests.webapp.conftest import requires_sms

pytestmark = pytest.mark.browser

COLLEAGUE = "carol@contractor.example"


def _verify_by_sms(p: Person, phone: str) -> None:
    expect(p.page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    p.page.get_by_label("Mobile phone number").fill(phone)
    p.page.get_by_role("button", name="Send code").click()
    expect(p.page.get_by_label("Code")).to_be_visible()
    p.page.get_by_label("Code").fill(p.read_inbox_code(phone.replace(" ", "")))
    p.page.get_by_role("button", name="Verify").click()


@requires_sms
def test_an_admin_invites_a_colleague_who_joins_through_mfa(
    browser: Browser,
    app_under_test: AppUnderTest,
    services: Services,
    project: Credentials,
    request: pytest.FixtureRequest,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        redirects.add_redirect_url(scope, f"{app_under_test.url}/auth/callback", kind="invite")
    admin = person(browser, app_under_test.url, app_under_test.inbox_url, request)
    admin.sign_in_by_email("boss@hooli.example", shots=False)
    admin.page.get_by_label("Organization name").fill("Hooli")
    admin.page.get_by_role("switch", name="Require MFA for all members").check()
    admin.page.get_by_role("button", name="Create").click()
    _verify_by_sms(admin, "+1 202 555 0143")
    expect(admin.page.get_by_role("heading", level=1, name="Hooli")).to_be_visible()
    expect(admin.page.get_by_role("heading", name="Members")).to_be_visible()
    admin.page.get_by_label("Colleague's email").fill(COLLEAGUE)
    admin.page.get_by_label("Name (optional)").fill("Carol")
    admin.page.get_by_role("button", name="Invite a colleague").click()
    expect(admin.page.get_by_text("Invitation sent.")).to_be_visible()
    row = admin.page.get_by_role("listitem").filter(has_text=COLLEAGUE)
    expect(row).to_contain_text("Invited")
    admin.steps.shot("invited")

    colleague = person(browser, app_under_test.url, app_under_test.inbox_url, request)
    colleague.page.goto(f"{app_under_test.inbox_url}?to={COLLEAGUE}")
    colleague.page.locator("article.message", has_text=COLLEAGUE).first.locator(".link a").click()
    expect(colleague.page.get_by_role("heading", name="Finish signing in")).to_be_visible()
    colleague.page.get_by_role("button", name="Continue").click()
    _verify_by_sms(colleague, "+1 202 555 0144")
    expect(colleague.page).to_have_url(re.compile(r"/dashboard"))
    expect(colleague.page.get_by_role("heading", level=1, name="Hooli")).to_be_visible()
    expect(colleague.page.get_by_text(COLLEAGUE)).to_be_visible()
    colleague.steps.shot("joined")

    admin.page.reload()
    row = admin.page.get_by_role("listitem").filter(has_text=COLLEAGUE)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Carol")
    admin.steps.shot("colleague-active")
    assert admin.csp_violations == []
    assert colleague.csp_violations == []


def test_a_person_signs_in_with_an_emailed_code(
    browser: Browser,
    app_under_test: AppUnderTest,
    acme: Organization,
    ada: Member,
    request: pytest.FixtureRequest,
) -> None:
    p = person(browser, app_under_test.url, app_under_test.inbox_url, request)
    p.go("/")
    p.page.get_by_role("link", name="Email me a code instead").click()
    expect(p.page.get_by_role("heading", name="Sign in with a code")).to_be_visible()
    p.page.get_by_label("Work email").fill("ada@acme.example")
    p.page.get_by_role("button", name="Email me a code").click()
    expect(p.page.get_by_role("heading", name="Enter your code")).to_be_visible()
    p.steps.shot("enter-code")
    p.page.get_by_label("Code").fill(p.read_inbox_code("ada@acme.example"))
    p.page.get_by_role("button", name="Sign in").click()
    expect(p.page.get_by_role("heading", name="Choose an organization")).to_be_visible()
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    expect(p.page).to_have_url(re.compile(r"/dashboard"))
    expect(p.page.get_by_role("heading", level=1, name="Acme")).to_be_visible()
    assert p.csp_violations == []
