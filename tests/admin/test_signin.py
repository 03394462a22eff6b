"""Operators sign in through Antechamber itself: a magic link, then an SMS code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.delivery import outbox
from antechamber.services import Services
from tests.admin.conftest import BASE, ORIGIN, OperatorInfo
from tests.factories import last_code, message_ids, sms_ids

PHONE = "+12025550123"  # make_operator's phone


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def ask_for_link(browser: TestClient, email: str, next_: str = "") -> str:
    page = browser.get("/admin/signin", params={"next": next_} if next_ else None)
    response = browser.post(
        "/admin/signin",
        data={"email": email, "next": next_, "csrf_token": csrf_of(page.text)},
        headers=ORIGIN,
    )
    assert response.status_code == 200
    assert "Check your email" in response.text
    return response.text


def link_token(services: Services, email: str, seen: set[str]) -> str:
    with services.sessions() as session:
        [message] = [m for m in outbox.recent(session, recipient=email) if m.id not in seen]
        url = outbox.context_of(message, services.settings.key_bytes())["url"]
    assert urlsplit(url).path == "/admin/signin/callback"
    return parse_qs(urlsplit(url).query)["token"][0]


def open_link(browser: TestClient, token: str) -> str:
    page = browser.get("/admin/signin/callback", params={"token": token})
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    response = browser.post(
        "/admin/signin/callback",
        data={"token": token, "csrf_token": csrf_of(page.text)},
        headers=ORIGIN,
    )
    return response.text


def sign_in(
    browser: TestClient, services: Services, operator: OperatorInfo, next_: str = ""
) -> httpx.Response:
    """The whole sign-in from the form to the code; the answer to the code."""
    seen = message_ids(services, operator.email)
    ask_for_link(browser, operator.email, next_)
    texts = sms_ids(services, PHONE)
    code_page = open_link(browser, link_token(services, operator.email, seen))
    assert "Enter your code" in code_page
    assert "0123" in code_page  # the masked phone
    return browser.post(
        "/admin/signin/code",
        data={"code": last_code(services, PHONE, seen=texts), "csrf_token": csrf_of(code_page)},
        headers=ORIGIN,
        follow_redirects=False,
    )


def test_operator_signs_in_with_link_and_code(
    browser: TestClient, services: Services, operator: OperatorInfo
) -> None:
    assert browser.get("/admin/projects", follow_redirects=False).status_code in (302, 303)
    done = sign_in(browser, services, operator)
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/projects"
    assert browser.get("/admin/projects").status_code == 200


def test_sign_in_ends_on_the_page_asked_for(
    browser: TestClient, services: Services, operator: OperatorInfo
) -> None:
    asked = "/admin/projects?shown=all"
    bounced = browser.get(asked, follow_redirects=False)
    next_ = parse_qs(urlsplit(bounced.headers["location"]).query)["next"][0]
    assert next_ == asked
    done = sign_in(browser, services, operator, next_)
    assert done.headers["location"] == asked
    assert browser.get(asked).status_code == 200
    # Used once: it does not steer a later sign-in in this browser.
    assert not [c for c in browser.cookies.jar if c.name.endswith("antechamber_console_next")]


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/", "//evil.example/admin", "/admin\\@evil.example"]
)
def test_sign_in_never_ends_on_another_site(
    browser: TestClient, services: Services, operator: OperatorInfo, hostile: str
) -> None:
    assert sign_in(browser, services, operator, hostile).headers["location"] == "/admin/projects"


def test_wrong_code_keeps_the_door_shut(
    browser: TestClient, services: Services, operator: OperatorInfo
) -> None:
    seen = message_ids(services, operator.email)
    ask_for_link(browser, operator.email)
    texts = sms_ids(services, PHONE)
    code_page = open_link(browser, link_token(services, operator.email, seen))
    code = last_code(services, PHONE, seen=texts)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = browser.post(
        "/admin/signin/code",
        data={"code": wrong, "csrf_token": csrf_of(code_page)},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert refused.status_code == 404
    assert "Enter your code" in refused.text
    assert browser.get("/admin/projects", follow_redirects=False).status_code in (302, 303)


def test_strangers_get_the_same_page_and_no_email(
    browser: TestClient, services: Services, operator: OperatorInfo
) -> None:
    page = ask_for_link(browser, "stranger@example.com")
    assert "stranger@example.com" in page
    assert message_ids(services, "stranger@example.com") == set()


def test_a_link_works_only_in_the_browser_that_asked(
    app: FastAPI, browser: TestClient, services: Services, operator: OperatorInfo
) -> None:
    seen = message_ids(services, operator.email)
    ask_for_link(browser, operator.email)
    token = link_token(services, operator.email, seen)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as other:
        page = open_link(other, token)
    assert "Enter your code" not in page
    # The failed attempt elsewhere did not use the link up.
    assert "Enter your code" in open_link(browser, token)


# A GET of the link (a mail scanner) redeems nothing and changes no row:
# security/test_transport_browser.py::test_opening_a_sign_in_link_redeems_nothing.
