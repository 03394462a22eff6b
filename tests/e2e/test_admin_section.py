"""An organization admin at work in a real browser (both backends): they make a colleague an
admin and switch on "Require MFA" from the dashboard; the colleague's next sign-in asks for a
code texted to their phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.e2e.conftest import AppUnderTest, person
from tests.factories import make_member
from tests.webapp.conftest import requires_sms

pytestmark = pytest.mark.browser


@requires_sms
def test_an_admin_promotes_a_colleague_and_requires_mfa(
    browser: Browser,
    app_under_test: AppUnderTest,
    services: Services,
    project: Credentials,
    request: pytest.FixtureRequest,
) -> None:
    admin = person(browser, app_under_test.url, app_under_test.inbox_url, request)
    admin.sign_in_by_email("founder@initech.example", shots=False)
    admin.page.get_by_label("Organization name").fill("Initech")
    admin.page.get_by_role("button", name="Create").click()
    expect(admin.page).to_have_url(re.compile(r"/dashboard"))
    with services.sessions() as session:
        org = session.scalar(select(Organization).where(Organization.name == "Initech"))
        assert org is not None
    make_member(services, project.project_id, org, email_address="cy@initech.example")

    admin.page.reload()
    section = admin.page.get_by_role("region", name="Manage your organization")
    expect(section).to_be_visible()
    admin.steps.shot("admin-section")
    section.get_by_role("button", name="Make admin cy@initech.example").click()
    expect(admin.page.get_by_text("The member's role was changed.")).to_be_visible()
    expect(section.get_by_role("button", name="Make member cy@initech.example")).to_be_visible()
    admin.page.get_by_role("switch", name="Require MFA for every member").check()
    admin.page.get_by_role("button", name="Save MFA setting").click()
    expect(admin.page.get_by_text("The organization's MFA setting was saved.")).to_be_visible()
    admin.steps.shot("saved")
    with services.sessions() as session:
        stored = session.get(Organization, org.id)
        assert stored is not None
        assert stored.mfa_policy == "REQUIRED_FOR_ALL"
        cy = session.scalar(select(Member).where(Member.email_address == "cy@initech.example"))
        assert cy is not None
        assert cy.roles == ["stytch_admin"]

    colleague = person(browser, app_under_test.url, app_under_test.inbox_url, request)
    colleague.sign_in_by_email("cy@initech.example", shots=False)
    colleague.page.get_by_role("button", name=re.compile("Continue to Initech")).click()
    expect(colleague.page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    colleague.page.get_by_label("Mobile phone number").fill("+1 202 555 0177")
    colleague.page.get_by_role("button", name="Send code").click()
    expect(colleague.page.get_by_label("Code")).to_be_visible()
    colleague.steps.shot("asked-for-a-code")
    code = colleague.read_inbox_code("+12025550177")
    colleague.page.get_by_label("Code").fill(code)
    colleague.page.get_by_role("button", name="Verify").click()
    expect(colleague.page).to_have_url(re.compile(r"/dashboard"))
    # Now an admin too: the section is there for them.
    expect(colleague.page.get_by_role("region", name="Manage your organization")).to_be_visible()
    admin.page.reload()
    admin.steps.shot("admin-section-after")
    assert admin.csp_violations == []
    assert colleague.csp_violations == []
