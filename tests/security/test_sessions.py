"""Sessions: new tokens at every authentication, server-side expiry, bounded lifetimes, and no
secret in the logs.

Research §1.3 (NIST 800-63B §7.1; ASVS 7.2.3, 7.2.4 session fixation, 7.3 timeouts enforced by
the server, 7.4.1 revocation, 7.4.2 deleted members) and §1.7 (ASVS 16.2.5: no credentials in
logs). JWT forgeries are in test_jwt_forgeries.py; revocation and IST-is-not-a-session in
test_discovery_attacks.py.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import allow_redirect, magic_token, make_member, make_org, message_ids
from tests.flows import (
    AUTHENTICATE,
    EXCHANGE,
    LIST,
    SEND,
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SESSION_REVOKE,
    enter,
    ist_for,
    login,
)
from tests.snapshots import assert_refused, unchanged


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def orgs(services: Services, project: Credentials) -> tuple[Any, Any]:
    a, b = make_org(services, project.project_id), make_org(services, project.project_id)
    for org in (a, b):
        make_member(services, project.project_id, org, email_address="ada@acme.example")
    return a, b


def test_every_authentication_makes_a_new_session_token(
    api: TestClient, services: Services, orgs: tuple[Any, Any]
) -> None:
    """No fixation: a login, another login and an exchange each get their own token."""
    a, b = orgs
    first = login(api, services, "ada@acme.example", a.id)
    second = login(api, services, "ada@acme.example", a.id)
    moved = api.post(
        SESSION_EXCHANGE, json={"organization_id": b.id, "session_token": first["session_token"]}
    ).json()
    tokens = {first["session_token"], second["session_token"], moved["session_token"]}
    assert len(tokens) == 3
    ids = {s["member_session"]["member_session_id"] for s in (first, second, moved)}
    assert len(ids) == 3
    # Each is at least 128 bits: 44 base64url characters (264 bits).
    assert all(len(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))) >= 16 for t in tokens)


def test_an_expired_session_is_refused_by_the_server(
    api: TestClient, services: Services, engine: Engine, clock: FrozenClock, orgs: tuple[Any, Any]
) -> None:
    a, _ = orgs
    body = api.post(
        EXCHANGE,
        json={
            "intermediate_session_token": ist_for(api, services, "ada@acme.example"),
            "organization_id": a.id,
            "session_duration_minutes": 5,
        },
    ).json()
    clock.advance(minutes=5, seconds=1)
    with unchanged(engine):
        for credential in ("session_token", "session_jwt"):
            response = api.post(SESSION_AUTHENTICATE, json={credential: body[credential]})
            assert_refused(response, 404, "session_not_found")
        response = api.post(LIST, json={"session_token": body["session_token"]})
        assert_refused(response, 404, "session_not_found")


@pytest.mark.parametrize("minutes", [0, 4, -1, 527041, 10**12, True])
def test_session_lifetimes_are_bounded(
    api: TestClient, services: Services, engine: Engine, orgs: tuple[Any, Any], minutes: Any
) -> None:
    a, _ = orgs
    ist = ist_for(api, services, "ada@acme.example")
    session = login(api, services, "ada@acme.example", a.id)
    with unchanged(engine):
        for path, body in [
            (EXCHANGE, {"intermediate_session_token": ist, "organization_id": a.id}),
            (SESSION_AUTHENTICATE, {"session_token": session["session_token"]}),
        ]:
            response = api.post(path, json={**body, "session_duration_minutes": minutes})
            assert response.status_code == 400, response.json()
            assert response.json()["error_type"] in ("invalid_session_duration", "invalid_argument")


def test_a_jwt_never_outlives_five_minutes_nor_its_session(
    api: TestClient, services: Services, orgs: tuple[Any, Any]
) -> None:
    a, _ = orgs
    body = api.post(
        EXCHANGE,
        json={
            "intermediate_session_token": ist_for(api, services, "ada@acme.example"),
            "organization_id": a.id,
            "session_duration_minutes": 60,
        },
    ).json()
    claims = jwt.decode(body["session_jwt"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    short = api.post(
        SESSION_AUTHENTICATE,
        json={"session_token": body["session_token"], "session_duration_minutes": 5},
    ).json()
    claims = jwt.decode(short["session_jwt"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 300


def test_revoking_by_member_ends_every_session_of_the_member(
    api: TestClient, services: Services, engine: Engine, orgs: tuple[Any, Any]
) -> None:
    a, _ = orgs
    sessions = [login(api, services, "ada@acme.example", a.id) for _ in range(2)]
    assert api.post(SESSION_REVOKE, json={"member_id": sessions[0]["member_id"]}).is_success
    with unchanged(engine):
        for s in sessions:
            for credential in ("session_token", "session_jwt"):
                response = api.post(SESSION_AUTHENTICATE, json={credential: s[credential]})
                assert_refused(response, 404, "session_not_found")


def test_no_secret_reaches_the_logs_even_when_refused(
    api: TestClient,
    services: Services,
    project: Credentials,
    orgs: tuple[Any, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    a, _ = orgs
    seen = message_ids(services, "ada@acme.example")
    api.post(SEND, json={"email_address": "ada@acme.example"})
    link = magic_token(services, "ada@acme.example", seen=seen)
    found = api.post(AUTHENTICATE, json={"discovery_magic_links_token": link}).json()
    ist = found["intermediate_session_token"]
    body = enter(api, ist, a.id)
    secrets_ = [link, ist, body["session_token"], body["session_jwt"], project.secret]
    # And each of them refused, where a careless error path might print it.
    api.post(AUTHENTICATE, json={"discovery_magic_links_token": link})
    api.post(EXCHANGE, json={"intermediate_session_token": ist, "organization_id": a.id})
    api.post(SESSION_REVOKE, json={"session_token": body["session_token"]})
    api.post(SESSION_AUTHENTICATE, json={"session_jwt": body["session_jwt"]})
    api.get("/v1/b2b/organizations/x", auth=(project.project_id, project.secret + "x"))
    api.post(LIST, json={"session_token": body["session_token"] + "\n forged log line"})
    logged = "\n".join(
        f"{r.getMessage()} {r.__dict__.get('path', '')} {r.exc_text or ''}" for r in caplog.records
    )
    for secret in secrets_:
        assert secret not in logged
    assert "\n forged log line" not in logged
