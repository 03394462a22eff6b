"""Console fixtures: an operator, a signed-in browser-like client, and form helpers.

Console sessions are made only through `admin.signin.open_console_session`, the seam the
real sign-in calls after discovery and MFA; there is no back door in the app.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.admin import security
from antechamber.members.models import Member
from antechamber.services import Services
from tests.cookiejar import replace_cookie
from tests.factories import make_operator, open_console_session

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

BASE = "https://testserver"
ORIGIN = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}


@dataclass(frozen=True)
class OperatorInfo:
    member_id: str
    email: str


@pytest.fixture
def operator(services: Services) -> OperatorInfo:
    member = make_operator(services)
    return OperatorInfo(member.id, member.email_address)


class Console:
    """A signed-in browser: follows the console's forms the way a person does."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]

    def csrf(self, path: str = "/admin/projects") -> str:
        """The CSRF token from a form on `path` (as the page carries it)."""
        html = self.get(path).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, f"no form with a CSRF token on {path}"
        return match.group(1)

    def post(
        self,
        path: str,
        data: dict[str, object] | None = None,
        *,
        csrf: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        form = dict(data or {})
        form.setdefault("csrf_token", csrf if csrf is not None else self.csrf())
        return self.client.post(
            path,
            data=form,  # type: ignore[arg-type]
            headers=ORIGIN if headers is None else headers,
            follow_redirects=False,
        )


def signed_in_client(app: FastAPI, services: Services, member_id: str) -> Iterator[Console]:
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        token = open_console_session(services, member_id)
        name = security.session_cookie_name(services.settings)
        replace_cookie(client, name, token, path="/admin")
        yield Console(client, token)


@pytest.fixture
def console(app: FastAPI, services: Services, operator: OperatorInfo) -> Iterator[Console]:
    yield from signed_in_client(app, services, operator.member_id)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client


def member_row(services: Services, member_id: str) -> Member:
    with services.sessions() as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


class Steps:
    """Screenshots of each step, under test-artifacts/console/<test>/ (gitignored)."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def shot(self, label: str) -> None:
        self.count += 1
        self.page.screenshot(
            path=str(self.folder / f"{self.count:02d}-{label}.png"), full_page=True
        )


@dataclass
class ConsoleBrowser:
    page: Page
    steps: Steps
    base: str
    csp_violations: list[str]

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)


def console_browser(
    browser: Browser,
    live_url: str,
    services: Services,
    member_id: str | None,
    name: str,
    *,
    javascript: bool = False,
) -> ConsoleBrowser:
    """A page in a fresh context, signed in as `member_id` when given. JavaScript is off by
    default: the console must work without it."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=javascript
    )
    if member_id is not None:
        context.add_cookies(
            [
                {
                    "name": security.session_cookie_name(services.settings),
                    "value": open_console_session(services, member_id),
                    "domain": "127.0.0.1",
                    "path": "/admin",
                    "httpOnly": True,
                    "secure": True,
                    "sameSite": "Strict",
                }
            ]
        )
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return ConsoleBrowser(page, Steps(page, name), live_url, violations)
