"""An operator sets up a SAML connection in the console, in Chromium (JavaScript off), and
the page shows what the customer's IT admin enters in their identity provider. With
ANTECHAMBER_SCREENSHOTS set to a folder, the page is saved there as sso-console-*.png, which
docs/sso.md shows. Refresh it with:
ANTECHAMBER_SCREENSHOTS=docs/screenshots pytest tests/admin/test_sso_browser.py"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.admin.conftest import OperatorInfo, console_browser
from tests.conftest import Credentials, LiveServer
from tests.factories import make_org

pytestmark = pytest.mark.browser


@pytest.fixture
def initech(services: Services, project: Credentials) -> Organization:
    return make_org(
        services,
        project.project_id,
        organization_name="Initech",
        organization_slug="initech",
        email_allowed_domains=["initech.example"],
    )


def test_an_operator_creates_a_saml_connection_and_reads_the_acs_url(
    browser: Browser,
    live_server: LiveServer,
    services: Services,
    operator: OperatorInfo,
    project: Credentials,
    initech: Organization,
    request: pytest.FixtureRequest,
) -> None:
    b = console_browser(browser, live_server.url, services, operator.member_id, request.node.name)
    b.go(f"/admin/projects/{project.project_id}/orgs/{initech.id}")
    b.page.get_by_role("link", name="Single sign-on (0 active)").click()
    b.page.get_by_label("Display name").fill("Initech Okta")
    b.page.get_by_label("Identity provider").select_option("okta")
    b.page.get_by_role("button", name="Create connection").click()
    acs = b.page.locator("#acs-url")
    expect(acs).to_contain_text("/v1/b2b/sso/callback/saml-connection-test-")
    expect(b.page.locator("#audience")).to_have_text(acs.inner_text())
    b.steps.shot("connection")
    folder = os.environ.get("ANTECHAMBER_SCREENSHOTS")
    if folder:
        b.page.screenshot(
            path=str(Path(folder) / "sso-console-saml-connection.png"), full_page=True
        )
    assert b.csp_violations == []
