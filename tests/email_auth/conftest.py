"""Helpers for invitations, organization login links and email codes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from antechamber.delivery import outbox
from antechamber.redirects import service as redirects
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import CALLBACK_URL, allow_redirect, message_ids

INVITE = "/v1/b2b/magic_links/email/invite"
LOGIN_OR_SIGNUP = "/v1/b2b/magic_links/email/login_or_signup"
AUTHENTICATE = "/v1/b2b/magic_links/authenticate"
OTP_LOGIN_OR_SIGNUP = "/v1/b2b/otps/email/login_or_signup"
OTP_AUTHENTICATE = "/v1/b2b/otps/email/authenticate"
OTP_DISCOVERY_SEND = "/v1/b2b/otps/email/discovery/send"
OTP_DISCOVERY_AUTHENTICATE = "/v1/b2b/otps/email/discovery/authenticate"
INVITE_URL = "http://localhost:3000/invite"
LOGIN_URL = "http://localhost:3000/login"
SIGNUP_URL = "http://localhost:3000/signup"


def allow_org_links(services: Services, project_id: str) -> None:
    """Register the invite, login and sign-up redirect URLs (and the discovery one)."""
    allow_redirect(services, project_id, CALLBACK_URL)
    with services.scope(project_id, "test", "test") as scope:
        redirects.add_redirect_url(scope, INVITE_URL, kind="invite")
        redirects.add_redirect_url(scope, LOGIN_URL, kind="login")
        redirects.add_redirect_url(scope, SIGNUP_URL, kind="signup")


@pytest.fixture(autouse=True)
def org_links(services: Services, project: Credentials) -> None:
    allow_org_links(services, project.project_id)


def newest(
    services: Services, email: str, seen: set[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """(template, context) of the newest message to `email` not in `seen`."""
    with services.sessions() as session:
        found = [
            m
            for m in outbox.recent(session, recipient=email, limit=1000)
            if m.id not in (seen or set())
        ]
        assert found, f"no message to {email}"
        return found[0].template, outbox.context_of(found[0], services.settings.key_bytes())


def link_token(services: Services, email: str, seen: set[str] | None = None) -> str:
    """The token of the newest organization link emailed to `email` (not among `seen`)."""
    _, context = newest(services, email, seen)
    query = parse_qs(urlsplit(context["url"]).query)
    assert query["stytch_token_type"] == ["multi_tenant_magic_links"]
    return query["token"][0]


def email_code(services: Services, email: str, seen: set[str] | None = None) -> str:
    template, context = newest(services, email, seen)
    assert template == "email_otp"
    return str(context["code"])


def invite(api: TestClient, org_id: str, email: str, **fields: Any) -> dict[str, Any]:
    response = api.post(INVITE, json={"organization_id": org_id, "email_address": email, **fields})
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def redeem(api: TestClient, token: str, **fields: Any) -> Any:
    return api.post(AUTHENTICATE, json={"magic_links_token": token, **fields})


def invited_token(
    api: TestClient, services: Services, org_id: str, email: str, **fields: Any
) -> tuple[dict[str, Any], str]:
    """Invite `email`; (the answer, the token of the link this invitation sent)."""
    seen = message_ids(services, email.lower())
    body = invite(api, org_id, email, **fields)
    return body, link_token(services, email.lower(), seen)


def login_token(api: TestClient, services: Services, org_id: str, email: str) -> str:
    """Send an organization login link; its token."""
    seen = message_ids(services, email)
    sent = api.post(LOGIN_OR_SIGNUP, json={"organization_id": org_id, "email_address": email})
    assert sent.status_code == 200, sent.json()
    return link_token(services, email, seen)
