"""The development inbox page, `/dev/outbox`."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.delivery.conftest import magic_link, sms_code


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def test_page_lists_messages_newest_first_with_link_and_code(
    client: TestClient, project: Credentials
) -> None:
    services = services_of(client)
    url = magic_link(services, project.project_id, "ada@acme.example", token="first")
    services.clock.advance(seconds=1)  # type: ignore[attr-defined]
    sms_code(services, project.project_id, "+12025550123", code="482913")

    response = client.get("/dev/outbox")
    assert response.status_code == 200
    html = response.text
    assert html.index("+12025550123") < html.index("ada@acme.example")  # newest first
    assert f'href="{url.replace("&", "&amp;")}"' in html
    assert '<p class="code">482913</p>' in html
    assert "Sign in to Antechamber" in html
    assert "pending" in html  # nothing has been delivered yet; still readable


def test_page_headers_keep_it_to_itself(client: TestClient) -> None:
    response = client.get("/dev/outbox")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce
    assert f'<style nonce="{nonce.group(1)}">' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "<script" not in response.text


def test_filter_by_recipient(client: TestClient, project: Credentials) -> None:
    services = services_of(client)
    magic_link(services, project.project_id, "ada@acme.example")
    magic_link(services, project.project_id, "bob@acme.example")
    html = client.get("/dev/outbox", params={"to": "BOB@acme.example"}).text
    assert "bob@acme.example" in html
    assert "ada@acme.example" not in html
    assert (
        "No messages to nobody@x.example yet."
        in client.get("/dev/outbox", params={"to": "nobody@x.example"}).text
    )


def test_page_escapes_message_content(client: TestClient, project: Credentials) -> None:
    services = services_of(client)
    with services.scope(project.project_id, "test", "test") as scope:
        from antechamber.delivery import outbox

        outbox.enqueue(
            scope,
            channel="email",
            recipient="ada@acme.example",
            template="discovery_magic_link",
            context={
                "url": 'https://x.example/"><script>alert(1)</script>',
                "expiration_minutes": 5,
            },
        )
    html = client.get("/dev/outbox").text
    assert "<script>alert(1)</script>" not in html


def test_page_does_not_exist_outside_development_mode(settings, engine, clock) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"dev": False}), engine=engine, clock=clock)
    with TestClient(app) as client:
        assert client.get("/dev/outbox").status_code == 404


@pytest.mark.browser
def test_in_a_browser_the_link_works(
    live_server: LiveServer, app, project: Credentials, browser
) -> None:  # type: ignore[no-untyped-def]
    services: Services = app.state.services
    url = magic_link(services, project.project_id, "ada@acme.example", token="browser-token")
    sms_code(services, project.project_id, "+12025550123", code="650123")

    page = browser.new_page()
    try:
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        landed: list[tuple[str, str | None]] = []

        def the_app(route):  # type: ignore[no-untyped-def]
            landed.append((route.request.url, route.request.headers.get("referer")))
            route.fulfill(status=200, content_type="text/html", body="<h1>Signed in</h1>")

        # The redirect URL is the developer's app; stand in for it.
        page.route("https://app.acme.example/**", the_app)
        page.goto(f"{live_server.url}/dev/outbox")
        assert page.locator(".code").inner_text() == "650123"
        assert page.locator("h2.subject").inner_text() == "Sign in to Antechamber"
        # The stylesheet applied (the CSP nonce let it in).
        assert page.locator(".code").evaluate("e => getComputedStyle(e).fontSize") == "28px"

        page.get_by_role("link", name=url).click()
        page.wait_for_url(url)
        assert page.locator("h1").inner_text() == "Signed in"
        assert landed == [(url, None)]  # no Referer leaves the inbox
        assert problems == []
    finally:
        page.close()
