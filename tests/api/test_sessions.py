"""Sessions over the API: authenticate, revoke, list, exchange, the JWT and the JWKS."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock, as_utc
from antechamber.services import Services
from antechamber.sessions import jwts, touch
from antechamber.sessions.models import MemberSession
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import (
    LIST,
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SESSION_REVOKE,
    enter,
    ist_for,
    login,
)


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


def jwks_of(client: TestClient, project_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/b2b/sessions/jwks/{project_id}", auth=None)
    assert response.status_code == 200
    keys: list[dict[str, Any]] = response.json()["keys"]
    return keys


def verify(token: str, keys: list[dict[str, Any]], project_id: str) -> dict[str, Any]:
    """What an SDK does offline: pick the key by kid, RS256 only, check iss and aud."""
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in keys if k["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience=project_id,
        issuer=f"stytch.com/{project_id}",
        options={"require": ["aud", "iss", "exp", "iat", "nbf"]},
    )
    return claims


def test_the_jwt_carries_stytchs_claims(
    client: TestClient, project: Credentials, session: dict[str, Any], org: Any
) -> None:
    token = session["session_jwt"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert header["kid"].startswith("jwk-test-")
    claims = verify(token, jwks_of(client, project.project_id), project.project_id)
    assert claims["iss"] == f"stytch.com/{project.project_id}"
    assert claims["aud"] == [project.project_id]
    assert claims["sub"] == session["member_id"]
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] == claims["iat"] + 300
    inner = claims["https://stytch.com/session"]
    assert inner["id"] == session["member_session"]["member_session_id"]
    assert inner["expires_at"] == session["member_session"]["expires_at"]
    assert inner["authentication_factors"] == session["member_session"]["authentication_factors"]
    assert inner["roles"] == ["stytch_member"]
    assert {"started_at", "last_accessed_at", "attributes"} <= inner.keys()
    assert claims["https://stytch.com/organization"] == {"organization_id": org.id, "slug": "acme"}


def test_the_jwks_is_public_and_has_no_private_parts(
    client: TestClient, project: Credentials, session: dict[str, Any]
) -> None:
    response = client.get(
        f"/v1/b2b/sessions/jwks/{project.project_id}",
        params={"project_id": project.project_id},  # the Python SDK repeats it
        auth=None,
    )
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    [key] = response.json()["keys"]
    assert set(key) == {"alg", "kid", "kty", "use", "key_ops", "n", "e", "x5c", "x5tS256"}
    assert (key["alg"], key["kty"], key["use"], key["key_ops"]) == (
        "RS256",
        "RSA",
        "sig",
        ["verify"],
    )
    assert response.json()["status_code"] == 200
    missing = client.get("/v1/b2b/sessions/jwks/project-test-nope", auth=None)
    assert missing.status_code == 404
    assert missing.json()["error_type"] == "project_not_found"


def test_a_project_gets_its_key_on_first_use(
    client: TestClient, other_project: Credentials
) -> None:
    first = jwks_of(client, other_project.project_id)
    assert len(first) == 1
    assert jwks_of(client, other_project.project_id) == first


@pytest.mark.parametrize("credential", ["session_token", "session_jwt"])
def test_authenticate_checks_and_refreshes(
    api: TestClient, session: dict[str, Any], credential: str, clock: FrozenClock
) -> None:
    clock.advance(minutes=1)
    response = api.post(SESSION_AUTHENTICATE, json={credential: session[credential]})
    assert response.status_code == 200
    body = response.json()
    assert (
        body["member_session"]["member_session_id"]
        == session["member_session"]["member_session_id"]
    )
    assert body["member_session"]["expires_at"] == session["member_session"]["expires_at"]
    assert (
        body["member_session"]["last_accessed_at"] > session["member_session"]["last_accessed_at"]
    )
    assert body["member"]["member_id"] == session["member_id"]
    assert body["organization"]["organization_slug"] == "acme"
    assert body["session_jwt"] != session["session_jwt"]  # a fresh one
    # The token is stored hashed: it can be echoed, not recovered from a JWT.
    expected = session["session_token"] if credential == "session_token" else ""
    assert body["session_token"] == expected


def test_authenticate_extends_only_when_asked(
    api: TestClient, session: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(minutes=30)
    extended = api.post(
        SESSION_AUTHENTICATE,
        json={"session_token": session["session_token"], "session_duration_minutes": 120},
    ).json()["member_session"]
    expires = datetime.fromisoformat(extended["expires_at"])
    accessed = datetime.fromisoformat(extended["last_accessed_at"])
    assert expires - accessed == timedelta(minutes=120)
    bad = api.post(
        SESSION_AUTHENTICATE,
        json={"session_token": session["session_token"], "session_duration_minutes": 527041},
    )
    assert bad.status_code == 400
    assert bad.json()["error_type"] == "invalid_session_duration"


def test_custom_claims_are_kept_and_put_in_the_jwt(
    api: TestClient, session: dict[str, Any], client: TestClient, project: Credentials
) -> None:
    body = api.post(
        SESSION_AUTHENTICATE,
        json={
            "session_token": session["session_token"],
            "session_custom_claims": {"plan": "pro", "sub": "forged", "iss": "evil"},
        },
    ).json()
    assert body["member_session"]["custom_claims"] == {"plan": "pro"}
    claims = verify(body["session_jwt"], jwks_of(client, project.project_id), project.project_id)
    assert claims["plan"] == "pro"
    assert claims["sub"] == session["member_id"]
    removed = api.post(
        SESSION_AUTHENTICATE,
        json={"session_token": session["session_token"], "session_custom_claims": {"plan": None}},
    ).json()
    assert removed["member_session"]["custom_claims"] == {}


def test_a_session_expires(api: TestClient, session: dict[str, Any], clock: FrozenClock) -> None:
    clock.advance(minutes=60)
    for credential in ("session_token", "session_jwt"):
        response = api.post(SESSION_AUTHENTICATE, json={credential: session[credential]})
        assert response.status_code == 404
        assert response.json()["error_type"] == "session_not_found"


def test_an_expired_jwt_of_a_live_session_is_refreshed(
    api: TestClient, session: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(minutes=6)  # the JWT (5 minutes) has expired, the session (60) has not
    response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]})
    assert response.status_code == 200
    fresh = jwt.decode(response.json()["session_jwt"], options={"verify_signature": False})
    assert fresh["exp"] > int(clock.now().timestamp())


def test_the_jwt_never_outlives_its_session(
    api: TestClient, services: Services, org: Any, clock: FrozenClock
) -> None:
    body = enter(
        api, ist_for(api, services, "ada@acme.example"), org.id, session_duration_minutes=5
    )
    clock.advance(minutes=3)
    refreshed = api.post(SESSION_AUTHENTICATE, json={"session_token": body["session_token"]}).json()
    claims = jwt.decode(refreshed["session_jwt"], options={"verify_signature": False})
    expires = datetime.fromisoformat(body["member_session"]["expires_at"])
    assert claims["exp"] == int(expires.timestamp())


@pytest.mark.parametrize("credential", ["session_token", "session_jwt", "member_session_id"])
def test_revoke_takes_effect_at_once(
    api: TestClient, session: dict[str, Any], credential: str
) -> None:
    value = (
        session["member_session"]["member_session_id"]
        if credential == "member_session_id"
        else session[credential]
    )
    response = api.post(SESSION_REVOKE, json={credential: value})
    assert response.status_code == 200
    assert set(response.json()) == {"request_id", "status_code"}
    for check in ("session_token", "session_jwt"):
        refused = api.post(SESSION_AUTHENTICATE, json={check: session[check]})
        assert refused.status_code == 404
        assert refused.json()["error_type"] == "session_not_found"
    twice = api.post(SESSION_REVOKE, json={credential: value})
    assert twice.status_code == 404


def test_revoke_all_of_a_members_sessions(api: TestClient, services: Services, org: Any) -> None:
    first = login(api, services, "ada@acme.example", org.id)
    second = login(api, services, "ada@acme.example", org.id)
    response = api.post(SESSION_REVOKE, json={"member_id": first["member_id"]})
    assert response.status_code == 200
    for body in (first, second):
        assert (
            api.post(
                SESSION_AUTHENTICATE, json={"session_token": body["session_token"]}
            ).status_code
            == 404
        )
    unknown = api.post(SESSION_REVOKE, json={"member_id": "member-test-nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error_type"] == "member_not_found"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "no_session_revoke_arguments"),
        ({"session_token": "a", "member_id": "b"}, "too_many_session_revoke_arguments"),
    ],
)
def test_revoke_needs_exactly_one_argument(
    api: TestClient, fields: dict[str, str], error: str
) -> None:
    response = api.post(SESSION_REVOKE, json=fields)
    assert response.status_code == 400
    assert response.json()["error_type"] == error


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "no_session_arguments"),
        ({"session_token": "a", "session_jwt": "b"}, "too_many_session_arguments"),
    ],
)
def test_authenticate_needs_exactly_one_credential(
    api: TestClient, fields: dict[str, str], error: str
) -> None:
    response = api.post(SESSION_AUTHENTICATE, json=fields)
    assert response.status_code == 400
    assert response.json()["error_type"] == error


def test_authorization_checks_are_decided_not_ignored(
    api: TestClient, session: dict[str, Any], org: Any
) -> None:
    response = api.post(
        SESSION_AUTHENTICATE,
        json={
            "session_token": session["session_token"],
            "authorization_check": {"organization_id": org.id, "resource_id": "x", "action": "y"},
        },
    )
    # A permission no role grants: Stytch's 403 (tests/rbac/ has the allowed cases).
    assert response.status_code == 403
    assert response.json()["error_type"] == "session_authorization_error"


def test_get_lists_a_members_live_sessions(api: TestClient, services: Services, org: Any) -> None:
    first = login(api, services, "ada@acme.example", org.id)
    second = login(api, services, "ada@acme.example", org.id)
    api.post(SESSION_REVOKE, json={"session_token": first["session_token"]})
    response = api.get(
        "/v1/b2b/sessions", params={"organization_id": org.id, "member_id": first["member_id"]}
    )
    assert response.status_code == 200
    sessions = response.json()["member_sessions"]
    assert [s["member_session_id"] for s in sessions] == [
        second["member_session"]["member_session_id"]
    ]
    assert sessions[0]["organization_slug"] == "acme"
    wrong = api.get(
        "/v1/b2b/sessions", params={"organization_id": org.id, "member_id": "member-test-nope"}
    )
    assert wrong.status_code == 404


def test_exchange_into_another_membership(
    api: TestClient, services: Services, project: Credentials, session: dict[str, Any]
) -> None:
    other = make_org(services, project.project_id, organization_slug="beta")
    member = make_member(services, project.project_id, other, email_address="ada@acme.example")
    response = api.post(
        SESSION_EXCHANGE,
        json={"organization_id": "beta", "session_token": session["session_token"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["member_authenticated"] is True
    assert body["member_id"] == member.id
    assert body["intermediate_session_token"] == ""
    assert [f["type"] for f in body["member_session"]["authentication_factors"]] == ["magic_link"]
    # The original session is untouched.
    still = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]})
    assert still.status_code == 200


def test_exchange_into_an_mfa_organization_asks_for_mfa_again(
    api: TestClient, services: Services, project: Credentials, session: dict[str, Any]
) -> None:
    strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, strict, email_address="ada@acme.example")
    body = api.post(
        SESSION_EXCHANGE, json={"organization_id": strict.id, "session_jwt": session["session_jwt"]}
    ).json()
    assert body["member_authenticated"] is False
    assert body["session_jwt"] == ""
    assert body["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    ist = body["intermediate_session_token"]
    listed = api.post(LIST, json={"intermediate_session_token": ist}).json()
    assert listed["organization_id_hint"] == strict.id


def test_exchange_does_not_provision(
    api: TestClient, services: Services, project: Credentials, session: dict[str, Any]
) -> None:
    joinable = make_org(
        services,
        project.project_id,
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    response = api.post(
        SESSION_EXCHANGE,
        json={"organization_id": joinable.id, "session_token": session["session_token"]},
    )
    assert response.status_code == 404
    assert response.json()["error_type"] == "member_not_found"


def test_rotation_keeps_old_jwts_verifiable_until_they_expire(
    api: TestClient,
    client: TestClient,
    services: Services,
    project: Credentials,
    session: dict[str, Any],
    clock: FrozenClock,
) -> None:
    from antechamber.keys import service as keys

    old_kid = jwt.get_unverified_header(session["session_jwt"])["kid"]
    with services.scope(project.project_id, "test", "test") as scope:
        new, retired = keys.rotate(scope)
    assert [k.id for k in retired] == [old_kid]
    published = jwks_of(client, project.project_id)
    assert {k["kid"] for k in published} == {old_kid, new.id}
    verify(session["session_jwt"], published, project.project_id)
    fresh = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]}).json()
    assert jwt.get_unverified_header(fresh["session_jwt"])["kid"] == new.id
    # The old JWT still authenticates against the server too.
    assert (
        api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]}).status_code
        == 200
    )
    clock.advance(minutes=6, seconds=1)
    assert {k["kid"] for k in jwks_of(client, project.project_id)} == {new.id}


def _last_accessed(services: Services, session: dict[str, Any]) -> datetime:
    with services.scope("", "test", "test") as scope:
        row = scope.db.get(MemberSession, session["member_session"]["member_session_id"])
        assert row is not None
        return as_utc(row.last_accessed_at)


def test_a_check_records_the_last_access_at_most_once_a_minute(
    api: TestClient, services: Services, session: dict[str, Any], clock: FrozenClock
) -> None:
    started = _last_accessed(services, session)
    clock.advance(seconds=30)
    body = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]}).json()
    assert datetime.fromisoformat(body["member_session"]["last_accessed_at"]) == started
    assert _last_accessed(services, session) == started
    clock.advance(seconds=31)
    body = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]}).json()
    assert datetime.fromisoformat(body["member_session"]["last_accessed_at"]) == clock.now()
    assert _last_accessed(services, session) == clock.now()


def test_checks_while_the_last_access_is_being_written_neither_write_nor_sign_again(
    api: TestClient,
    session: dict[str, Any],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The write runs after the answer, behind the write lock; until it lands, the row still
    # holds the old time. The checks in between must not each queue a write and sign a JWT.
    pending: list[object] = []
    monkeypatch.setattr(touch, "after_commit", lambda _db, write: pending.append(write))
    check = {"session_token": session["session_token"]}
    clock.advance(seconds=61)
    first = api.post(SESSION_AUTHENTICATE, json=check).json()
    touched = first["member_session"]["last_accessed_at"]
    assert datetime.fromisoformat(touched) == clock.now()
    clock.advance(seconds=1)
    second = api.post(SESSION_AUTHENTICATE, json=check).json()
    assert len(pending) == 1
    assert second["member_session"]["last_accessed_at"] == touched
    assert second["session_jwt"] == first["session_jwt"]
    clock.advance(seconds=60)  # due again: recorded again
    api.post(SESSION_AUTHENTICATE, json=check)
    assert len(pending) == 2


def test_the_memos_of_a_check_keep_only_what_they_can_still_use(
    api: TestClient,
    session: dict[str, Any],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A JWT older than JWT_REUSE_SECONDS is never handed out again, a recorded access older
    # than TOUCH_INTERVAL is in the row: either leaves its memo with the next entry, so the
    # memos' size follows the sessions in use and memory is steady under steady traffic.
    old_jwt = ((), int(clock.now().timestamp()), "old.jwt")
    monkeypatch.setattr(jwts, "_recent_jwts", OrderedDict({"gone": old_jwt}))
    monkeypatch.setattr(touch, "_touched", {"gone": clock.now()})
    clock.advance(seconds=61)  # the session is due: a write recorded, a JWT signed
    api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]})
    session_id = session["member_session"]["member_session_id"]
    assert list(jwts._recent_jwts) == [session_id]
    assert list(touch._touched) == [session_id]


def test_sessions_started_together_come_due_for_a_touch_apart() -> None:
    # A stable offset per session: the last access is never more than TOUCH_INTERVAL stale,
    # and a burst of sessions is recorded across TOUCH_SPREAD, not in one second a minute.
    ids = [f"member-session-test-{i:04d}" for i in range(200)]
    dues = [touch.due(i) for i in ids]
    low = touch.TOUCH_INTERVAL - touch.TOUCH_SPREAD
    assert all(low < due <= touch.TOUCH_INTERVAL for due in dues)
    assert dues == [touch.due(i) for i in ids]
    seconds = sorted(due.total_seconds() for due in dues)
    assert seconds[-1] - seconds[0] > 25
    assert len({int(s) for s in seconds}) >= 25  # spread over the range, not a few values


def test_checks_within_a_minute_get_the_same_jwt_back_then_a_fresh_one(
    api: TestClient, session: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(seconds=61)  # past the login's own JWT and last access
    check = {"session_token": session["session_token"]}
    first = api.post(SESSION_AUTHENTICATE, json=check).json()["session_jwt"]
    # Under 30 s: the last access is not recorded again yet (sessions.touch.due), so
    # the claims are the same.
    clock.advance(seconds=29)
    assert api.post(SESSION_AUTHENTICATE, json=check).json()["session_jwt"] == first
    claims = jwt.decode(first, options={"verify_signature": False})
    assert claims["exp"] - int(clock.now().timestamp()) >= 4 * 60  # four of five minutes left
    clock.advance(seconds=31)
    assert api.post(SESSION_AUTHENTICATE, json=check).json()["session_jwt"] != first


def test_a_changed_claim_gets_a_fresh_jwt_at_once(api: TestClient, session: dict[str, Any]) -> None:
    check = {"session_token": session["session_token"]}
    first = api.post(SESSION_AUTHENTICATE, json=check).json()["session_jwt"]
    changed = api.post(
        SESSION_AUTHENTICATE, json={**check, "session_custom_claims": {"team": "blue"}}
    ).json()["session_jwt"]
    assert changed != first
    assert jwt.decode(changed, options={"verify_signature": False})["team"] == "blue"
