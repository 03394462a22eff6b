"""A session JWT authenticates the same whichever process of the server signed it.

keys.service remembers the JWTs this process signed (their signature is not checked again)
and the public keys it signs with (no key row read): a JWT from another process (another
`serve` worker, or this one after a restart) takes the full check and passes it, and a
revoked session's JWT is refused either way.
"""

from __future__ import annotations

import base64
import json
import time
from collections import OrderedDict
from typing import Any

import pytest
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.keys import service as keys
from antechamber.services import Services
from antechamber.sessions import jwts
from tests.conftest import Credentials
from tests.flows import SESSION_AUTHENTICATE, SESSION_REVOKE, ada_signed_in


@pytest.fixture
def session(api: TestClient, services: Services, project: Credentials) -> dict[str, Any]:
    return ada_signed_in(api, services, project.project_id)


def forget_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "_signed_here", type(keys._signed_here)())
    monkeypatch.setattr(keys, "_public_keys", {})
    monkeypatch.setattr(jwts, "_verified", OrderedDict())


def test_the_digests_of_jwts_signed_here_leave_once_their_jwts_expired(
    api: TestClient, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Memory follows the last JWT_LIFETIME's signatures, not the last 10,000.
    lifetime = keys.JWT_LIFETIME.total_seconds()
    memo = OrderedDict({b"old": ("p", time.monotonic() - lifetime - 1)})
    monkeypatch.setattr(keys, "_signed_here", memo)
    check = {"session_jwt": session["session_jwt"], "session_custom_claims": {"team": "blue"}}
    assert api.post(SESSION_AUTHENTICATE, json=check).status_code == 200  # signs a fresh one
    assert b"old" not in keys._signed_here
    assert len(keys._signed_here) == 1


def test_a_jwt_signed_by_another_process_authenticates(
    api: TestClient, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_this_process(monkeypatch)
    response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]})
    assert response.status_code == 200, response.json()
    assert (
        response.json()["member_session"]["member_session_id"]
        == (session["member_session"]["member_session_id"])
    )


@pytest.mark.parametrize("elsewhere", [False, True])
def test_a_revoked_sessions_jwt_is_refused_by_whoever_signed_it(
    api: TestClient, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch, elsewhere: bool
) -> None:
    token = session["session_jwt"]
    assert api.post(SESSION_REVOKE, json={"session_jwt": token}).status_code == 200
    if elsewhere:
        forget_this_process(monkeypatch)
    response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": token})
    assert response.status_code == 404
    assert response.json()["error_type"] == "session_not_found"


def test_a_jwt_signed_here_for_one_project_is_refused_to_another(
    api: TestClient, session: dict[str, Any], other_project: Credentials
) -> None:
    # The memo is keyed by project: the other project takes the full check, and fails it.
    response = api.post(
        SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]}, auth=other_project.auth
    )
    assert response.status_code == 401
    assert response.json()["error_type"] == "unable_to_parse_session_jwt"


def test_a_jwt_signed_here_then_altered_is_refused(
    api: TestClient, session: dict[str, Any]
) -> None:
    # Only the exact token skips the signature check; a changed payload is checked, and fails.
    head, body, signature = session["session_jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "member-test-00000000-0000-0000-0000-000000000000"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = api.post(
        SESSION_AUTHENTICATE, json={"session_jwt": f"{head}.{forged_body}.{signature}"}
    )
    assert response.status_code == 401
    assert response.json()["error_type"] == "unable_to_parse_session_jwt"


def test_a_jwt_accepted_before_is_not_decoded_again_but_its_nbf_is_checked(
    api: TestClient,
    session: dict[str, Any],
    other_project: Credentials,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sessions.jwts remembers the subject of a JWT `verify` accepted, by its exact text and
    # project: the same outcome without decoding it again, `nbf` against the time included.
    token = session["session_jwt"]
    calls: list[str] = []
    verify = keys.verify

    def counted(scope: Any, token: str, *, now: Any) -> dict[str, Any]:
        calls.append(scope.project_id)
        return verify(scope, token, now=now)

    monkeypatch.setattr(keys, "verify", counted)
    monkeypatch.setattr(jwts, "_verified", OrderedDict())
    for _ in range(3):
        assert api.post(SESSION_AUTHENTICATE, json={"session_jwt": token}).status_code == 200
    assert len(calls) == 1
    assert list(jwts._verified) == [token]
    # Another project: the full check, and it fails as before.
    refused = api.post(SESSION_AUTHENTICATE, json={"session_jwt": token}, auth=other_project.auth)
    assert refused.status_code == 401
    assert len(calls) == 2
    # Before its nbf (the clock turned back): refused, as `verify` refuses it.
    clock.advance(seconds=-30)
    early = api.post(SESSION_AUTHENTICATE, json={"session_jwt": token})
    assert early.status_code == 401
    assert early.json()["error_type"] == "unable_to_parse_session_jwt"
    assert len(calls) == 2


def test_the_accepted_jwts_leave_after_their_lifetime_and_are_bounded(
    api: TestClient, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lifetime = keys.JWT_LIFETIME.total_seconds()
    old = ("project", 0, "s", "m", time.monotonic() - lifetime - 1)
    monkeypatch.setattr(jwts, "_verified", OrderedDict({"old.jwt": old}))
    api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]})
    assert list(jwts._verified) == [session["session_jwt"]]
    monkeypatch.setattr(jwts, "_VERIFIED_KEPT", 1)
    fresh = ("project", 0, "s", "m", time.monotonic())
    jwts._verified.clear()
    jwts._verified["a"] = fresh
    api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]})
    assert list(jwts._verified) == [session["session_jwt"]]
