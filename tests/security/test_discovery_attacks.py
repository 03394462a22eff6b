"""Attempts to break discovery login and sessions (security.md §2.1, §2.2, §2.4, §2.6, §2.10)."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from antechamber import db
from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import allow_redirect, magic_token, make_member, make_org
from tests.flows import (
    AUTHENTICATE,
    CREATE,
    EXCHANGE,
    LIST,
    SEND,
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SESSION_REVOKE,
    discover,
    enter,
    ist_for,
    login,
)
from tests.snapshots import assert_refused, unchanged


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def org(services: Services, project: Credentials) -> Any:
    org = make_org(services, project.project_id, organization_slug="acme")
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    return org


@pytest.fixture
def session(api: TestClient, services: Services, org: Any) -> dict[str, Any]:
    return login(api, services, "ada@acme.example", org.id)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_an_ist_is_never_a_session(
    api: TestClient, services: Services, engine: Engine, org: Any
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    with unchanged(engine):
        for path, fields in [
            (SESSION_AUTHENTICATE, {"session_token": ist}),
            (SESSION_REVOKE, {"session_token": ist}),
            (LIST, {"session_token": ist}),
            (SESSION_EXCHANGE, {"session_token": ist, "organization_id": org.id}),
        ]:
            assert_refused(api.post(path, json=fields), 404, "session_not_found")
        # As a JWT it is not even well-formed.
        response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": ist})
        assert_refused(response, 401, "unable_to_parse_session_jwt")


def test_an_mfa_pending_ist_is_never_a_session(
    api: TestClient, services: Services, engine: Engine, project: Credentials
) -> None:
    strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, strict, email_address="ada@acme.example")
    body = enter(api, ist_for(api, services, "ada@acme.example"), strict.id)
    assert body["session_token"] == body["session_jwt"] == ""
    with unchanged(engine):
        for path, fields in [
            (SESSION_AUTHENTICATE, {"session_token": body["intermediate_session_token"]}),
            (SESSION_REVOKE, {"session_token": body["intermediate_session_token"]}),
            (
                SESSION_EXCHANGE,
                {"session_token": body["intermediate_session_token"], "organization_id": strict.id},
            ),
        ]:
            assert_refused(api.post(path, json=fields), 404, "session_not_found")


def test_a_session_token_is_never_an_ist(
    api: TestClient, engine: Engine, session: dict[str, Any], org: Any
) -> None:
    with unchanged(engine):
        for path, fields in [
            (
                EXCHANGE,
                {"intermediate_session_token": session["session_token"], "organization_id": org.id},
            ),
            (
                CREATE,
                {"intermediate_session_token": session["session_token"], "organization_name": "X"},
            ),
            (LIST, {"intermediate_session_token": session["session_token"]}),
        ]:
            assert_refused(api.post(path, json=fields), 404, "intermediate_session_not_found")


def test_a_magic_link_token_is_neither(
    api: TestClient, services: Services, engine: Engine, org: Any
) -> None:
    api.post(SEND, json={"email_address": "ada@acme.example"})
    token = magic_token(services, "ada@acme.example")
    with unchanged(engine):
        response = api.post(SESSION_AUTHENTICATE, json={"session_token": token})
        assert_refused(response, 404, "session_not_found")
        response = api.post(
            EXCHANGE, json={"intermediate_session_token": token, "organization_id": org.id}
        )
        assert_refused(response, 404, "intermediate_session_not_found")


def test_an_ist_bound_to_org_a_never_logs_into_org_b(
    api: TestClient, services: Services, engine: Engine, project: Credentials
) -> None:
    pid = project.project_id
    a = make_org(services, pid, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, pid, a, email_address="ada@acme.example")
    b = make_org(services, pid)
    make_member(services, pid, b, email_address="ada@acme.example")
    ist = enter(api, ist_for(api, services, "ada@acme.example"), a.id)["intermediate_session_token"]
    with unchanged(engine):
        for ref in (b.id, b.slug):
            response = api.post(
                EXCHANGE, json={"intermediate_session_token": ist, "organization_id": ref}
            )
            assert_refused(response, 400, "invalid_intermediate_session_token_for_organization")
    with services.sessions() as s:
        sessions = s.execute(text("SELECT count(*) FROM member_sessions")).scalar_one()
    assert sessions == 0


def test_another_projects_tokens_are_unknown_here(
    api: TestClient,
    client: TestClient,
    services: Services,
    engine: Engine,
    other_project: Credentials,
    session: dict[str, Any],
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    client.auth = other_project.auth
    with unchanged(engine):
        for path, fields, status, error_type in [
            (SESSION_AUTHENTICATE, {"session_token": session["session_token"]}, 404,
             "session_not_found"),
            # Not signed by this project's keys.
            (SESSION_AUTHENTICATE, {"session_jwt": session["session_jwt"]}, 401,
             "unable_to_parse_session_jwt"),
            (LIST, {"intermediate_session_token": ist}, 404, "intermediate_session_not_found"),
            (SESSION_REVOKE, {"session_token": session["session_token"]}, 404,
             "session_not_found"),
        ]:  # fmt: skip
            assert_refused(client.post(path, json=fields), status, error_type)


def test_used_and_expired_links_are_refused(
    api: TestClient, services: Services, engine: Engine, clock: FrozenClock
) -> None:
    discover(api, services, "ada@acme.example")
    used = magic_token(services, "ada@acme.example")
    with unchanged(engine):
        response = api.post(AUTHENTICATE, json={"discovery_magic_links_token": used})
        assert_refused(response, 401, "unable_to_auth_magic_link")
    clock.advance(seconds=1)
    api.post(SEND, json={"email_address": "ada@acme.example"})
    fresh = magic_token(services, "ada@acme.example")
    clock.advance(minutes=61)
    with unchanged(engine):
        response = api.post(AUTHENTICATE, json={"discovery_magic_links_token": fresh})
        assert_refused(response, 401, "unable_to_auth_magic_link")


def test_a_revoked_session_token_is_refused_at_once(
    api: TestClient, engine: Engine, session: dict[str, Any]
) -> None:
    assert (
        api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]}).status_code
        == 200
    )
    api.post(SESSION_REVOKE, json={"session_jwt": session["session_jwt"]})
    with unchanged(engine):
        for credential in ("session_token", "session_jwt"):
            response = api.post(SESSION_AUTHENTICATE, json={credential: session[credential]})
            assert_refused(response, 404, "session_not_found")
        response = api.post(LIST, json={"session_token": session["session_token"]})
        assert_refused(response, 404, "session_not_found")


def test_deleting_a_member_ends_their_sessions(
    api: TestClient, engine: Engine, session: dict[str, Any], org: Any
) -> None:
    api.delete(f"/v1/b2b/organizations/{org.id}/members/{session['member_id']}")
    with unchanged(engine):
        response = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]})
        assert_refused(response, 404, "session_not_found")


def test_deleting_an_organization_ends_its_sessions_and_logins(
    api: TestClient,
    services: Services,
    engine: Engine,
    project: Credentials,
    session: dict[str, Any],
    org: Any,
) -> None:
    strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, strict, email_address="ada@acme.example")
    pending = enter(api, ist_for(api, services, "ada@acme.example"), strict.id)
    assert api.delete(f"/v1/b2b/organizations/{org.id}").status_code == 200
    assert api.delete(f"/v1/b2b/organizations/{strict.id}").status_code == 200
    with unchanged(engine):
        response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]})
        assert_refused(response, 404, "session_not_found")
        listed = api.post(
            LIST, json={"intermediate_session_token": pending["intermediate_session_token"]}
        )
        assert_refused(listed, 404, "intermediate_session_not_found")


def test_secrets_are_stored_hashed_or_sealed(
    api: TestClient, services: Services, session: dict[str, Any], org: Any
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    api.post(SEND, json={"email_address": "ada@acme.example"})
    link = magic_token(services, "ada@acme.example")
    with db.transaction(services.sessions) as s:
        dump = "\n".join(
            str(row)
            for table in (
                "magic_links",
                "intermediate_sessions",
                "member_sessions",
                "signing_keys",
                "audit_events",
                "outbox_messages",
            )
            for row in s.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        )
    for secret in (session["session_token"], ist, link):
        assert secret not in dump
    assert "PRIVATE KEY" not in dump


def test_tokens_never_reach_the_logs(
    api: TestClient, services: Services, org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = login(api, services, "ada@acme.example", org.id)
    api.post(SESSION_AUTHENTICATE, json={"session_jwt": body["session_jwt"]})
    api.post(SESSION_REVOKE, json={"session_token": body["session_token"]})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (body["session_token"], body["session_jwt"]):
        assert secret not in logged


@pytest.mark.parametrize(
    "value",
    ["", " ", "x" * 5000, "\x00", "../../etc/passwd", "' OR '1'='1"],
)
def test_odd_tokens_get_a_clean_refusal(
    api: TestClient, engine: Engine, value: str, org: Any
) -> None:
    with unchanged(engine):
        for path, fields in [
            (AUTHENTICATE, {"discovery_magic_links_token": value}),
            (EXCHANGE, {"intermediate_session_token": value, "organization_id": org.id}),
            (SESSION_AUTHENTICATE, {"session_token": value}),
            (SESSION_AUTHENTICATE, {"session_jwt": value}),
        ]:
            response = api.post(path, json=fields)
            assert 400 <= response.status_code < 500, (path, value)
            assert response.json()["error_type"], (path, value)
