"""The harness in a real browser, as the sso end-to-end tests will drive it: our AuthnRequest
URL → SimpleSAMLphp's login page → its auto-submitting form POSTs the SAMLResponse to the ACS,
which validates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest

from antechamber import saml
from tests.saml.idp import SimpleSamlIdp

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


def test_a_browser_signs_in_at_the_idp_and_posts_an_accepted_response(
    saml_idp: SimpleSamlIdp, page: object
) -> None:
    from playwright.sync_api import Page, Route

    assert isinstance(page, Page)
    sp = saml.ServiceProvider(
        "https://antechamber.test/saml/browser",
        "https://antechamber.test/v1/b2b/sso/callback/saml-connection-test-browser",
    )
    saml_idp.add_sp(sp.entity_id, sp.acs_url)
    idp = saml.parse_idp_metadata(saml_idp.metadata_xml())
    request_id = saml.new_request_id()
    now = datetime.now(UTC)
    posted: dict[str, list[str]] = {}

    def acs(route: Route) -> None:
        posted.update(parse_qs(route.request.post_data or ""))
        route.fulfill(status=200, body="signed in", content_type="text/plain")

    page.route(sp.acs_url, acs)
    page.goto(
        saml.authn_request_redirect(sp, idp, request_id=request_id, relay_state="r-1", now=now)
    )
    page.fill("#username", "alice")
    page.fill("#password", "alice-password")
    page.click("#submit_button")
    page.wait_for_url(sp.acs_url)

    assert posted["RelayState"] == ["r-1"]
    assertion = saml.validate_response(
        posted["SAMLResponse"][0], sp, idp, expected_request_id=request_id, now=now
    )
    assert assertion.name_id == "alice@example.com"
    assert assertion.attributes["name"] == ("Alice Example",)
