"""Magic links and intermediate session tokens: single use, short-lived, bound, and refused
without a trace.

Research §1.5 (OWASP Forgot Password applied to passwordless login: tokens single use, expiring,
no change to the account before a valid token, links not built from the Host header), §1.6 and
§2.10 (redirect allow-list bypasses: backslash, `http:evil`, userinfo), §2.4 (single use),
§2.6 (scanners: a GET must not consume; PKCE binds a link to the device that asked), §2.7 (JIT
only for the exact allowed domain of a proven email), ASVS 6.6.2 (an IST is bound to its login).
Every refusal asserts status, error type, and an unchanged database.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import (
    CALLBACK_URL,
    allow_redirect,
    last_link,
    magic_token,
    make_member,
    make_org,
    message_ids,
)
from tests.flows import AUTHENTICATE, CREATE, EXCHANGE, LIST, SEND, enter, ist_for
from tests.snapshots import assert_refused, unchanged


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def org(services: Services, project: Credentials) -> Any:
    org = make_org(
        services,
        project.project_id,
        organization_slug="acme",
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    return org


def send(api: TestClient, services: Services, email: str, **fields: Any) -> str:
    """Send a discovery link; its token."""
    seen = message_ids(services, email)
    response = api.post(SEND, json={"email_address": email, **fields})
    assert response.status_code == 200, response.json()
    return magic_token(services, email, seen=seen)


def authenticate(api: TestClient, token: str, **fields: Any) -> Any:
    return api.post(AUTHENTICATE, json={"discovery_magic_links_token": token, **fields})


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


# --- Magic links ----------------------------------------------------------------------------


def test_a_link_works_once(api: TestClient, services: Services, engine: Engine, org: Any) -> None:
    token = send(api, services, "ada@acme.example")
    assert authenticate(api, token).status_code == 200
    with unchanged(engine):
        assert_refused(authenticate(api, token), 401, "unable_to_auth_magic_link")


def test_an_expired_link_is_refused(
    api: TestClient, services: Services, engine: Engine, clock: FrozenClock, org: Any
) -> None:
    token = send(api, services, "ada@acme.example", discovery_expiration_minutes=5)
    clock.advance(minutes=5, seconds=1)
    with unchanged(engine):
        assert_refused(authenticate(api, token), 401, "unable_to_auth_magic_link")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x" * 43,
        "x" * 257,
        "' OR used_at IS NULL --",
        "\u0000",
        "..%2f..%2f",
    ],
)
def test_unknown_tokens_are_not_found(api: TestClient, engine: Engine, token: str) -> None:
    with unchanged(engine):
        response = authenticate(api, token)
        assert response.status_code in (400, 404), response.json()
        if response.status_code == 404:
            assert_refused(response, 404, "magic_link_not_found")


def test_a_get_never_consumes_a_link(api: TestClient, services: Services, engine: Engine) -> None:
    """Mail scanners follow links with GET (supabase/auth#1214): only a POST redeems."""
    token = send(api, services, "ada@acme.example")
    with unchanged(engine):
        for method in ("GET", "HEAD"):
            response = api.request(method, AUTHENTICATE, params={"token": token})
            assert response.status_code == 405
        assert_refused(api.get(AUTHENTICATE, params={"token": token}), 405, "method_not_allowed")
    assert authenticate(api, token).status_code == 200


def test_pkce_binds_the_link_to_the_device_that_asked(
    api: TestClient, services: Services, engine: Engine, org: Any
) -> None:
    verifier, challenge = pkce_pair()
    token = send(api, services, "ada@acme.example", pkce_code_challenge=challenge)
    with unchanged(engine):  # none of these spends the link
        assert_refused(authenticate(api, token), 400, "pkce_expected_code_verifier")
        for wrong in (pkce_pair()[0], challenge, verifier + "x", verifier.upper(), "x" * 300):
            response = authenticate(api, token, pkce_code_verifier=wrong)
            assert_refused(response, 400, "pkce_mismatch")
    assert authenticate(api, token, pkce_code_verifier=verifier).status_code == 200
    plain = send(api, services, "ada@acme.example")
    with unchanged(engine):
        response = authenticate(api, plain, pkce_code_verifier=verifier)
        assert_refused(response, 400, "pkce_did_not_expect_code_verifier")


INVALID, NO_MATCH = "invalid_discovery_redirect_url", "no_match_for_provided_magic_link_url"


@pytest.mark.parametrize(
    ("url", "error_type"),
    [
        ("http://localhost:3000\\@evil.example/auth/callback", INVALID),
        ("http://localhost:3000/auth/callback\\..\\..\\@evil.example", INVALID),
        ("http:evil.example", INVALID),
        ("//evil.example/auth/callback", INVALID),
        ("/\\evil.example", INVALID),
        ("https://localhost:3000@evil.example/auth/callback", INVALID),
        ("http://localhost:3000/auth/callback#@evil.example", INVALID),
        ("http://localhost:3000/auth/callback\n.evil.example", INVALID),
        ("javascript://localhost:3000/%0aalert(1)", INVALID),
        ("data:text/html,<script>alert(1)</script>", INVALID),
        ("http://localhost:99999/auth/callback", INVALID),
        ("http://localhost:3000.evil.example/auth/callback", INVALID),
        ("http://localhost:3000/auth/callback/../../evil", NO_MATCH),
        ("http://localhost.evil.example:3000/auth/callback", NO_MATCH),
        ("http://evil.example/?http://localhost:3000/auth/callback", NO_MATCH),
        ("https://localhost:3000/auth/callback", NO_MATCH),
        ("http://localhost:3000/auth/callback?next=//evil.example", NO_MATCH),
        ("http://l\u03bfcalhost:3000/auth/callback", NO_MATCH),  # Greek omicron
    ],
)
def test_redirects_outside_the_allow_list_are_refused(
    api: TestClient, engine: Engine, url: str, error_type: str
) -> None:
    with unchanged(engine):
        response = api.post(
            SEND, json={"email_address": "ada@acme.example", "discovery_redirect_url": url}
        )
        assert_refused(response, 400, error_type)


def test_links_are_built_from_the_allow_list_not_the_host_header(
    api: TestClient, services: Services
) -> None:
    seen = message_ids(services, "ada@acme.example")
    # Outside development mode a host the server does not serve is refused outright (hosts.py).
    forged = api.post(
        SEND, json={"email_address": "ada@acme.example"}, headers={"Host": "evil.example"}
    )
    assert forged.status_code == 400
    assert forged.json()["error_type"] == "host_not_allowed"
    assert message_ids(services, "ada@acme.example") == seen
    response = api.post(
        SEND,
        json={"email_address": "ada@acme.example"},
        headers={"X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 200
    assert last_link(services, "ada@acme.example", seen=seen).startswith(CALLBACK_URL + "?")


def test_a_send_changes_nothing_about_the_member(
    api: TestClient, services: Services, engine: Engine, org: Any
) -> None:
    """Only a redeemed token may change an account (OWASP Forgot Password)."""
    with unchanged(engine, allow={"magic_links", "outbox_messages", "audit_events"}):
        assert api.post(SEND, json={"email_address": "ada@acme.example"}).status_code == 200


# --- Intermediate session tokens ------------------------------------------------------------


def test_an_ist_is_single_use(
    api: TestClient, services: Services, engine: Engine, org: Any
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    enter(api, ist, org.id)
    with unchanged(engine):
        for path, body in [
            (EXCHANGE, {"intermediate_session_token": ist, "organization_id": org.id}),
            (CREATE, {"intermediate_session_token": ist, "organization_name": "Again"}),
            (LIST, {"intermediate_session_token": ist}),
        ]:
            assert_refused(api.post(path, json=body), 404, "intermediate_session_not_found")


def test_an_ist_lives_ten_minutes(
    api: TestClient, services: Services, engine: Engine, clock: FrozenClock, org: Any
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    clock.advance(minutes=10, seconds=1)
    with unchanged(engine):
        for path, body in [
            (EXCHANGE, {"intermediate_session_token": ist, "organization_id": org.id}),
            (LIST, {"intermediate_session_token": ist}),
        ]:
            assert_refused(api.post(path, json=body), 404, "intermediate_session_not_found")


def test_an_ist_waiting_for_mfa_is_bound_to_its_organization(
    api: TestClient, services: Services, project: Credentials, engine: Engine, org: Any
) -> None:
    strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, strict, email_address="ada@acme.example")
    pending = enter(api, ist_for(api, services, "ada@acme.example"), strict.id)
    ist = pending["intermediate_session_token"]
    with unchanged(engine):
        for path, body in [
            (EXCHANGE, {"intermediate_session_token": ist, "organization_id": org.id}),
            (EXCHANGE, {"intermediate_session_token": ist, "organization_id": "acme"}),
            (CREATE, {"intermediate_session_token": ist, "organization_name": "Mine now"}),
        ]:
            response = api.post(path, json=body)
            assert_refused(response, 400, "invalid_intermediate_session_token_for_organization")
    # It still finishes the login it belongs to (nothing above consumed it).
    again = enter(api, ist, strict.id)
    assert again["member_authenticated"] is False
    assert again["mfa_required"] is not None


@pytest.mark.parametrize(
    "email",
    [
        "eve@acme.example.evil.example",  # the allowed domain as a prefix
        "eve@evilacme.example",  # as a suffix
        "eve@sub.acme.example",  # a subdomain is another domain
        "eve@xn--acme-9ua.example",  # a look-alike
    ],
)
def test_jit_needs_the_exact_allowed_domain(
    api: TestClient, services: Services, engine: Engine, org: Any, email: str
) -> None:
    ist = ist_for(api, services, email)
    listed = api.post(LIST, json={"intermediate_session_token": ist}).json()
    assert listed["discovered_organizations"] == []
    with unchanged(engine):
        response = api.post(
            EXCHANGE, json={"intermediate_session_token": ist, "organization_id": org.id}
        )
        assert_refused(response, 400, "invalid_email_for_jit_provisioning")


def test_jit_is_refused_where_the_organization_does_not_allow_it(
    api: TestClient, services: Services, project: Credentials, engine: Engine
) -> None:
    closed = make_org(services, project.project_id, email_allowed_domains=["acme.example"])
    ist = ist_for(api, services, "eve@acme.example")
    with unchanged(engine):
        response = api.post(
            EXCHANGE, json={"intermediate_session_token": ist, "organization_id": closed.id}
        )
        assert_refused(response, 400, "email_jit_provisioning_not_allowed")
