"""The authenticator app (TOTP) in a real browser, on both backends: set one up from the
dashboard (the secret read from the page, the code computed with pyotp), see the recovery
codes once, log out, sign in again with a code from the app, then with a recovery code, and
see a used recovery code refused.

Codes: the server accepts the current 30-second step and one on each side, and each step once
(the replay rule). The setup uses the code of the current step and every later sign-in the code
of the step after "now", which is always later than the last one used and inside the window;
so no test waits for the clock and none moves it (the stytch variant's app checks JWTs by its
own wall clock).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.settings import Settings
from tests.e2e.conftest import AppUnderTest, Person, ShiftedClock, person

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Four sign-ins by email within a minute: more than one address may get by default."""
    return settings.model_copy(update={"limit_email_per_recipient": "20/minute;100/hour"})


def _on_dashboard(p: Person) -> None:
    expect(p.page).to_have_url(re.compile(r"/dashboard"))
    expect(p.page.get_by_role("heading", level=1, name="Acme")).to_be_visible()


def _log_out(p: Person) -> None:
    p.page.get_by_role("button", name="Log out").click()
    expect(p.page.get_by_text("You're signed out.")).to_be_visible()


def _to_mfa_step(p: Person) -> None:
    p.sign_in_by_email("ada@acme.example", shots=False)
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    expect(p.page.get_by_role("heading", name="Verify it's you")).to_be_visible()


def test_set_up_an_authenticator_app_and_sign_in_with_it(
    browser: Browser,
    app_under_test: AppUnderTest,
    acme: Organization,
    ada: Member,
    clock: ShiftedClock,
    request: pytest.FixtureRequest,
) -> None:
    p = person(
        browser,
        app_under_test.url,
        app_under_test.inbox_url,
        request,
        "totp" if app_under_test.kind == "inprocess" else None,
    )
    p.sign_in_by_email("ada@acme.example", shots=False)
    p.page.get_by_role("button", name=re.compile("Continue to Acme")).click()
    _on_dashboard(p)
    p.steps.shot("dashboard")

    # Set up: the QR code and the key, then the first code.
    p.page.get_by_role("button", name="Set up an authenticator app").click()
    expect(p.page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    expect(p.page.get_by_alt_text("QR code for your authenticator app")).to_be_visible()
    secret = p.page.locator("#totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32
    assert secret not in p.page.url
    p.steps.shot("set-up")
    totp = pyotp.TOTP(secret)
    p.page.get_by_label("Code").fill(totp.at(clock.now()))
    p.page.get_by_role("button", name="Confirm").click()

    # The recovery codes, this once.
    expect(p.page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = p.page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    expect(p.page.get_by_role("button", name="Copy codes")).to_be_visible()  # the script's
    expect(p.page.get_by_role("link", name="Download codes")).to_have_attribute(
        "download", "acme-recovery-codes.txt"
    )
    p.steps.shot("recovery-codes")
    p.page.get_by_role("link", name="I've saved them").click()
    _on_dashboard(p)
    expect(p.page.get_by_text("a code from your authenticator app")).to_be_visible()
    _log_out(p)

    # Signing in again opens on the app's code.
    _to_mfa_step(p)
    expect(p.page.get_by_text("a code from your authenticator app")).to_be_visible()
    p.steps.shot("totp-code")
    p.page.get_by_label("Code").fill(totp.at(clock.now() + timedelta(seconds=30)))
    p.page.get_by_role("button", name="Verify").click()
    _on_dashboard(p)
    _log_out(p)

    # A recovery code instead: it works once.
    _to_mfa_step(p)
    p.page.get_by_role("link", name="Use a recovery code").click()
    p.page.get_by_label("Recovery code").fill(codes[0])
    p.steps.shot("recovery-code")
    p.page.get_by_role("button", name="Verify").click()
    _on_dashboard(p)
    expect(p.page.get_by_text("You signed in with a recovery code")).to_be_visible()
    _log_out(p)

    _to_mfa_step(p)
    p.page.get_by_role("link", name="Use a recovery code").click()
    p.page.get_by_label("Recovery code").fill(codes[0])
    p.page.get_by_role("button", name="Verify").click()
    expect(p.page.get_by_text("each one works once")).to_be_visible()
    p.steps.shot("recovery-code-used")
    expect(p.page).to_have_url(re.compile(r"/smsmfa"))
    assert p.csp_violations == []
