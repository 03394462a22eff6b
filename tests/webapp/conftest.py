"""The reference app under test, over either backend.

`web` is parametrized: `inprocess` is the app served at / by the Antechamber app itself;
`stytch` is the standalone app (`antechamber webapp --backend stytch`) driving a live
Antechamber server through the official SDK. Tests written against `web` pass on both.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.services import Services
from antechamber.settings import Settings
from antechamber.webapp import cookies
from antechamber.webapp.standalone import create_app as standalone_app
from antechamber.webapp.standalone import stytch_webapp
from tests.conftest import Credentials, LiveServer

BASE = "http://testserver"
SAME_ORIGIN = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}

HAS_SMS_FLOWS = importlib.util.find_spec("antechamber.otp.flows") is not None
requires_sms = pytest.mark.skipif(
    not HAS_SMS_FLOWS,
    reason="needs SMS MFA (antechamber.otp.flows and /v1/b2b/otps/sms/*, branch mfa); "
    "runs once it is merged",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Development mode: the demo project, its callback URL, plain-http cookie names."""
    return settings.model_copy(update={"dev": True})


@dataclass
class Web:
    """A browser-like client of the reference app, and what a test needs around it."""

    client: TestClient
    services: Services
    project: Credentials
    kind: str
    server: FastAPI
    seen: set[str] = field(default_factory=set)

    def reset_limits(self) -> None:
        """Forget rate-limit counters (they follow the wall clock, which tests do not move)."""
        self.server.state.services.limiter.reset()
        config = self.client.app.state.webapp.config  # type: ignore[attr-defined]
        if config.limiter is not None:
            config.limiter.reset()

    # -- HTTP ---------------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body or {}, **kwargs)

    def form(
        self,
        path: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A plain HTML form post (what a browser without JavaScript sends)."""
        return self.client.post(
            path,
            content=urlencode(data or {}),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
            follow_redirects=False,
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("follow_redirects", False)
        return self.client.get(path, **kwargs)

    # -- the mailbox and the phone --------------------------------------------------------------

    def messages(self, recipient: str) -> list[dict[str, Any]]:
        """Contexts of the messages to `recipient`, newest first (from the outbox)."""
        with self.services.sessions() as session:
            rows = outbox.recent(session, recipient=recipient, limit=100)
            key = self.services.settings.key_bytes()
            return [outbox.context_of(row, key) for row in rows]

    def fresh(self, recipient: str) -> dict[str, Any]:
        """The one message to `recipient` this helper has not handed out before.

        (The test clock is frozen, so messages can share a timestamp: "newest" is not enough.)
        """
        with self.services.sessions() as session:
            rows = outbox.recent(session, recipient=recipient, limit=100)
            new = [row for row in rows if row.id not in self.seen]
            assert len(new) == 1, f"{len(new)} new messages to {recipient}"
            self.seen.update(row.id for row in rows)
            return outbox.context_of(new[0], self.services.settings.key_bytes())

    def link_token(self, email: str) -> str:
        url = str(self.fresh(email)["url"])
        query = parse_qs(urlsplit(url).query)
        assert urlsplit(url).path == "/auth/callback"
        return query["token"][0]

    def sms_code(self, phone: str) -> str:
        return str(self.fresh(phone)["code"])

    # -- flows --------------------------------------------------------------------------------

    def email_link(self, email: str) -> str:
        sent = self.post("/api/discovery/start", {"email": email})
        assert sent.status_code == 200, sent.text
        return self.link_token(email.lower())

    def discover(self, email: str) -> dict[str, Any]:
        """Send a link, redeem it: the callback's answer (the login is now in progress)."""
        answer = self.post("/api/auth/callback", {"token": self.email_link(email)})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def select(self, organization_id: str) -> httpx.Response:
        return self.post("/api/discovery/select-organization", {"organizationId": organization_id})

    def login(self, email: str, organization_id: str) -> dict[str, Any]:
        """A full login without MFA; the select answer."""
        self.discover(email)
        answer = self.select(organization_id)
        assert answer.status_code == 200, answer.text
        assert answer.json()["redirectPath"] == "/dashboard"
        body: dict[str, Any] = answer.json()
        return body

    def create(self, email: str, name: str, *, require_mfa: bool = False) -> httpx.Response:
        self.discover(email)
        return self.post(
            "/api/discovery/create", {"organizationName": name, "requireMfa": require_mfa}
        )

    def cookie(self, base: str) -> str | None:
        for cookie in self.client.cookies.jar:
            if cookie.name in (base, f"__Host-{base}"):
                return cookie.value
        return None

    def pending(self) -> cookies.Pending | None:
        state: Any = self.client.app.state  # type: ignore[attr-defined]
        value = self.cookie(cookies.PENDING)
        return cookies.decode_pending(state.webapp.config, value or "")


@pytest.fixture(params=["inprocess", "stytch"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stytch_app(
    live_server: LiveServer, project: Credentials, clock: FrozenClock, **overrides: Any
) -> FastAPI:
    options: dict[str, Any] = {
        "base_url": live_server.url,
        "project_id": project.project_id,
        "secret": project.secret,
        "public_url": BASE,
        "dev": True,
        "clock": clock,
    }
    options.update(overrides)
    return standalone_app(stytch_webapp(**options))


@pytest.fixture
def web(
    request: pytest.FixtureRequest,
    backend_kind: str,
    app: FastAPI,
    services: Services,
    project: Credentials,
    clock: FrozenClock,
) -> Iterator[Web]:
    if backend_kind == "inprocess":
        target = app
    else:
        live_server: LiveServer = request.getfixturevalue("live_server")
        target = stytch_app(live_server, project, clock)
    with TestClient(target, base_url=BASE, raise_server_exceptions=False) as client:
        yield Web(client, services, project, backend_kind, app)


@pytest.fixture
def inprocess(app: FastAPI, services: Services, project: Credentials) -> Iterator[Web]:
    """The in-process app only (for tests about this server's own behaviour)."""
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield Web(client, services, project, "inprocess", app)


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of the Set-Cookie for `name`, lowercased keys ("" for flags)."""
    for header in set_cookie_headers(response):
        if header.startswith(f"{name}="):
            parts = [p.strip() for p in header.split(";")]
            attrs = {"value": parts[0].split("=", 1)[1]}
            for part in parts[1:]:
                key, _, value = part.partition("=")
                attrs[key.lower()] = value
            return attrs
    raise AssertionError(f"no Set-Cookie for {name}: {set_cookie_headers(response)}")


def no_tokens(text: str, *tokens: str) -> None:
    for token in tokens:
        if token:
            assert token not in text


JWT_SHAPE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
