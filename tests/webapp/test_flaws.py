"""One test per flaw of the tutorial's app (seed-app.md §4), each showing it closed, on both
backends. Items 22–25 (its frontend code) are covered by tests/webapp/test_pages.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.members.models import Member
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.webapp import cookies
from tests.conftest import Credentials, LiveServer
from tests.cookiejar import replace_cookie
from tests.factories import make_member
from tests.webapp.conftest import (
    BASE,
    JWT_SHAPE,
    SAME_ORIGIN,
    Web,
    cookie_attributes,
    requires_sms,
    stytch_app,
)


@pytest.fixture
def bob(services: Services, project: Credentials, acme: Organization) -> Member:
    return make_member(
        services,
        project.project_id,
        acme,
        email_address="bob@acme.example",
        mfa_phone_number="+12025550100",
    )


def member_row(services: Services, member_id: str) -> Member:
    with services.sessions() as session:
        found = session.get(Member, member_id)
        assert found is not None
        return found


def error_of(response: Any) -> str:
    body = response.json()
    assert isinstance(body.get("message"), str)
    assert body["message"]
    return str(body["error"])


# -- Authorization and MFA bypass ---------------------------------------------------------------


def test_1_get_organization_needs_a_session_and_ignores_the_body(
    web: Web, acme: Organization, ada: Member, bob: Member
) -> None:
    anonymous = web.post(
        "/api/discovery/get-organization",
        {"organizationId": acme.id, "memberEmail": "bob@acme.example"},
    )
    assert anonymous.status_code == 401
    assert error_of(anonymous) == "not_signed_in"
    assert anonymous.json()["redirectPath"].startswith("/")
    assert "bob@acme.example" not in anonymous.text

    web.login("ada@acme.example", acme.id)
    mine = web.post(
        "/api/discovery/get-organization",
        {"organizationId": "organization-test-other", "memberEmail": "bob@acme.example"},
    )
    assert mine.status_code == 200
    assert mine.json()["member"]["email_address"] == "ada@acme.example"
    assert "trusted_metadata" not in mine.text


def test_2_mfa_update_only_for_the_signed_in_member(
    web: Web, services: Services, acme: Organization, ada: Member, bob: Member
) -> None:
    anonymous = web.post(
        "/api/mfa/update", {"organizationId": acme.id, "memberId": bob.id, "mfaOptIn": False}
    )
    assert anonymous.status_code == 401

    web.login("ada@acme.example", acme.id)
    answer = web.post(
        "/api/mfa/update", {"organizationId": acme.id, "memberId": bob.id, "mfaOptIn": True}
    )
    assert answer.status_code == 200
    assert member_row(services, ada.id).mfa_enrolled is True
    assert member_row(services, bob.id).mfa_enrolled is False


def test_2_mfa_update_only_where_the_policy_allows(
    web: Web, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    # An admin makes MFA mandatory while Ada's session lives: she cannot opt out any more.
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, acme.id, {"mfa_policy": "REQUIRED_FOR_ALL"})
    refused = web.post("/api/mfa/update", {"mfaOptIn": False})
    assert refused.status_code == 403
    assert error_of(refused) == "mfa_required_by_policy"
    assert web.post("/api/mfa/update", {"mfaOptIn": True}).status_code == 403


def test_2_turning_off_a_verified_factor_needs_a_session_that_used_it(
    web: Web, services: Services, acme: Organization, ada: Member
) -> None:
    """Someone holding only Ada's mailbox cannot switch her MFA off (the bypass chain)."""
    web.login("ada@acme.example", acme.id)  # a session from the email link alone
    with services.sessions.begin() as session:
        row = session.get(Member, ada.id)
        assert row is not None
        row.mfa_enrolled = True
        row.mfa_phone_number = "+12025550123"
        row.mfa_phone_number_verified = True
    refused = web.post("/api/mfa/update", {"mfaOptIn": False})
    assert refused.status_code == 403
    assert error_of(refused) == "mfa_recent_factor_needed"
    assert member_row(services, ada.id).mfa_enrolled is True


def test_3_no_sms_without_a_login_waiting_for_mfa(
    web: Web, acme: Organization, ada: Member, bob: Member
) -> None:
    body = {"organizationId": acme.id, "memberId": bob.id, "phoneNumber": "+12025550100"}
    anonymous = web.post("/api/mfa/send", body)
    assert anonymous.status_code == 401
    web.discover("ada@acme.example")  # a login, but not one waiting for MFA
    early = web.post("/api/mfa/send", body)
    assert early.status_code == 401
    assert early.json()["redirectPath"] == "/discovery"
    assert web.messages("+12025550100") == []


def test_4_the_session_cookie_is_checked(
    web: Web, clock: FrozenClock, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    real = web.cookie("session")
    assert real is not None

    # Signed by another key, with the same claims: refused, and the cookie is forgotten.
    claims = jwt.decode(real, options={"verify_signature": False})
    header = jwt.get_unverified_header(real)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers=header)
    replace_cookie(web.client, "session", forged)
    answer = web.post("/api/discovery/get-organization")
    assert answer.status_code == 401
    assert cookie_attributes(answer, "session")["max-age"] == "0"

    # alg none.
    unsigned = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": header["kid"]}).encode())
        .decode()
        .rstrip("=")
        + "."
        + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        + "."
    )
    replace_cookie(web.client, "session", unsigned)
    assert web.post("/api/discovery/get-organization").status_code == 401

    # The real one, expired after 5 minutes: refreshed through the server, cookie re-set.
    replace_cookie(web.client, "session", real)
    clock.advance(minutes=6)
    refreshed = web.post("/api/discovery/get-organization")
    assert refreshed.status_code == 200
    new = cookie_attributes(refreshed, "session")["value"]
    assert new != real
    assert jwt.decode(new, options={"verify_signature": False})["exp"] > claims["exp"]

    # The session itself ends after 60 minutes.
    clock.advance(minutes=60)
    assert web.post("/api/discovery/get-organization").status_code == 401


def test_4_revocation_is_honoured(
    web: Web, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    from antechamber.sessions import service as sessions

    web.login("ada@acme.example", acme.id)
    with services.scope(project.project_id, "test", "test") as scope:
        sessions.revoke(scope, member_id=ada.id)  # e.g. an admin ends all of Ada's sessions
    # Changes ask the server, so the revocation counts at once.
    refused = web.post("/api/mfa/update", {"mfaOptIn": True})
    assert refused.status_code == 401
    assert error_of(refused) == "session_expired"
    assert member_row(services, ada.id).mfa_enrolled is False


def test_5_no_token_in_any_answer(web: Web, acme: Organization, ada: Member) -> None:
    token = web.email_link("ada@acme.example")
    callback = web.post("/api/auth/callback", {"token": token})
    pending = web.pending()
    assert pending is not None
    selected = web.select(acme.id)
    me = web.post("/api/discovery/get-organization")
    session = web.cookie("session") or ""
    for answer in (callback, selected, me):
        assert answer.status_code == 200
        assert pending.ist not in answer.text
        assert token not in answer.text
        assert session not in answer.text
        assert not JWT_SHAPE.search(answer.text)
        assert "token" not in answer.json()


def test_6_mfa_authenticate_needs_the_pending_login(web: Web, acme: Organization) -> None:
    answer = web.post(
        "/api/mfa/authenticate", {"organizationId": acme.id, "memberId": "x", "code": "123456"}
    )
    assert answer.status_code == 401
    assert error_of(answer) == "login_expired"


@requires_sms
def test_6_mfa_authenticate_takes_the_member_from_the_login(
    web: Web, acme: Organization, bob: Member
) -> None:
    web.create("founder@hooli.example", "Hooli", require_mfa=True)
    web.post("/api/mfa/send", {"phoneNumber": "+12025550143"})
    code = web.sms_code("+12025550143")
    done = web.post(
        "/api/mfa/authenticate", {"code": code, "organizationId": acme.id, "memberId": bob.id}
    )
    assert done.status_code == 200
    me = web.post("/api/discovery/get-organization").json()
    assert me["member"]["email_address"] == "founder@hooli.example"


# -- Crashes and availability -------------------------------------------------------------------


def test_7_create_without_a_login_is_refused_and_the_app_lives_on(web: Web) -> None:
    answer = web.post("/api/discovery/create", {"organizationName": "Foo Corp"})
    assert answer.status_code == 401
    assert error_of(answer) == "login_expired"
    assert web.get("/").status_code == 200


def test_8_an_unreachable_server_is_a_502_with_a_message(
    project: Credentials, clock: FrozenClock
) -> None:
    dead = LiveServer("http://127.0.0.1:9", 9)  # discard port: nothing answers
    app = stytch_app(dead, project, clock, timeout_seconds=2)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        answer = client.post("/api/auth/callback", json={"token": "x" * 44})
        assert answer.status_code == 502
        assert answer.json()["error"] == "unreachable"
        assert client.get("/").status_code == 200


def test_9_an_unexpected_error_is_a_500_with_a_message_and_no_traceback(
    inprocess: Web, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail /etc/secret")

    monkeypatch.setattr(app.state.webapp.backend, "send_discovery_email", boom)
    answer = inprocess.post("/api/discovery/start", {"email": "ada@acme.example"})
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text
    monkeypatch.undo()
    inprocess.discover("ada@acme.example")
    monkeypatch.setattr(app.state.webapp.backend, "list_discovered", boom)
    page = inprocess.get("/discovery")
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    assert "secret" not in page.text


# -- Wrong status codes and error contracts -----------------------------------------------------


def test_10_a_failed_send_is_not_a_200(web: Web) -> None:
    web.create("founder@hooli.example", "Hooli", require_mfa=True)
    answer = web.post("/api/mfa/send", {"phoneNumber": "202-555-0143"})
    assert answer.status_code == 400
    assert error_of(answer) == "invalid_phone"
    assert "redirectPath" not in answer.json()  # stays on the SMS page, says why


@requires_sms
def test_11_a_wrong_code_is_a_401_with_a_message(web: Web) -> None:
    web.create("founder@hooli.example", "Hooli", require_mfa=True)
    web.post("/api/mfa/send", {"phoneNumber": "+12025550143"})
    right = web.sms_code("+12025550143")
    wrong = "000000" if right != "000000" else "111111"
    answer = web.post("/api/mfa/authenticate", {"code": wrong})
    assert answer.status_code == 401
    assert error_of(answer) == "wrong_code"
    assert "redirectPath" not in answer.json()
    assert web.post("/api/mfa/authenticate", {"code": right}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/discovery/start", {}, 400, "invalid_email"),
        ("/api/discovery/start", {"email": "not-an-email"}, 400, "invalid_email"),
        ("/api/discovery/start", {"email": ["a@b.c"]}, 400, "invalid_email"),
        ("/api/discovery/start", {"email": "a@b.c\u0000"}, 400, "invalid_email"),
        ("/api/auth/callback", {"token": ""}, 401, "link_invalid"),
        ("/api/auth/callback", {"token": "x" * 44}, 401, "link_invalid"),
        ("/api/auth/callback", {"token": "x", "stytch_token_type": "sso"}, 400, "unsupported_link"),
    ],
)
def test_12_client_errors_are_4xx(
    web: Web, path: str, body: dict[str, Any], status: int, error: str
) -> None:
    answer = web.post(path, body)
    assert answer.status_code == status
    assert error_of(answer) == error


def test_12_missing_organization_id_is_a_400(web: Web, acme: Organization, ada: Member) -> None:
    web.discover("ada@acme.example")
    answer = web.post("/api/discovery/select-organization", {})
    assert answer.status_code == 400
    assert error_of(answer) == "invalid_organization_id"


def test_13_14_every_failure_has_a_status_a_code_and_a_sentence(web: Web) -> None:
    for path in (
        "/api/discovery/start",
        "/api/auth/callback",
        "/api/discovery/create",
        "/api/discovery/get-organization",
        "/api/discovery/select-organization",
        "/api/mfa/send",
        "/api/mfa/authenticate",
        "/api/mfa/update",
        "/api/auth/logout",
    ):
        answer = web.post(path, {})
        assert 400 <= answer.status_code < 500, path
        error_of(answer)
        for raw in (b"[]", b"not json", b'"text"'):
            bad = web.client.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert bad.status_code == 400, (path, raw)
            assert error_of(bad) == "invalid_body"
        other = web.client.post(path, content=b"x", headers={"Content-Type": "text/plain"})
        assert other.status_code == 415
        many = web.form(path, {f"f{i}": "x" for i in range(60)})
        assert many.headers["location"].endswith("error=invalid_body"), path
        huge = web.post(path, {"email": "x" * 20_000})
        assert huge.status_code == 413, path


def test_15_no_dead_routes(web: Web) -> None:
    assert web.get("/login").headers["location"] == "/"
    lost = web.get("/discovery")
    assert lost.status_code == 303
    assert lost.headers["location"] == "/?error=login_expired"
    page = web.get(lost.headers["location"])
    assert page.status_code == 200
    assert "Your sign-in has expired" in page.text
    missing = web.get("/no/such/page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text


# -- Session and cookie hygiene ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_16_cross_site_posts_are_refused(
    web: Web, services: Services, acme: Organization, ada: Member, headers: dict[str, str]
) -> None:
    web.login("ada@acme.example", acme.id)
    forged = web.post("/api/mfa/update", {"mfaOptIn": True}, headers=headers)
    assert forged.status_code == 403
    assert error_of(forged) == "cross_site"
    assert member_row(services, ada.id).mfa_enrolled is False
    form = web.form("/api/auth/logout", headers=headers)
    assert form.status_code == 303
    assert form.headers["location"].endswith("error=cross_site")
    assert web.cookie("session") is not None
    ok = web.post("/api/mfa/update", {"mfaOptIn": True}, headers=SAME_ORIGIN)
    assert ok.status_code == 200


def test_16_the_get_logout_is_refused_cross_site(web: Web, acme: Organization, ada: Member) -> None:
    web.login("ada@acme.example", acme.id)
    refused = web.get("/api/auth/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert web.post("/api/discovery/get-organization").status_code == 200
    same = web.get("/api/auth/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200
    assert same.json() == {"message": "Logged out", "redirectPath": "/?info=signed_out"}


def test_17_cookie_attributes_in_development(web: Web, acme: Organization, ada: Member) -> None:
    callback = web.post("/api/auth/callback", {"token": web.email_link("ada@acme.example")})
    pending = cookie_attributes(callback, "intermediate_session")
    assert "httponly" in pending
    assert pending["samesite"].lower() == "lax"
    assert pending["path"] == "/"
    assert int(pending["max-age"]) <= 600
    selected = web.select(acme.id)
    session = cookie_attributes(selected, "session")
    assert "httponly" in session
    assert session["samesite"].lower() == "lax"
    assert 0 < int(session["max-age"]) <= 3600


def test_18_logout_revokes_and_clears_both_cookies(
    web: Web, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    jwt_value = web.cookie("session")
    assert jwt_value
    out = web.post("/api/auth/logout")
    assert out.status_code == 200
    assert cookie_attributes(out, "session")["max-age"] == "0"
    assert cookie_attributes(out, "intermediate_session")["max-age"] == "0"
    assert web.post("/api/auth/logout").status_code == 401  # nothing left to end
    replace_cookie(web.client, "session", jwt_value)
    assert web.post("/api/mfa/update", {"mfaOptIn": True}).status_code == 401  # revoked


def test_19_start_is_rate_limited_per_client(web: Web) -> None:
    statuses = [
        web.post("/api/discovery/start", {"email": f"p{i}@acme.example"}).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    limited = web.post("/api/discovery/start", {"email": "q@acme.example"})
    assert limited.headers["Retry-After"].isdigit()
    assert error_of(limited) == "rate_limited"


@requires_sms
def test_20_no_second_sms_when_the_server_sent_one(
    web: Web, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    web.post("/api/mfa/update", {"mfaOptIn": True})
    web.post("/api/auth/logout")
    web.discover("ada@acme.example")
    web.select(acme.id)
    web.post("/api/mfa/send", {"phoneNumber": "+12025550177"})
    web.post("/api/mfa/authenticate", {"code": web.sms_code("+12025550177")})
    web.post("/api/auth/logout")
    web.reset_limits()
    web.discover("ada@acme.example")
    assert web.select(acme.id).json()["redirectPath"] == "/smsmfa?sent=true"
    page = web.get("/smsmfa?sent=true").text
    assert "+1******0177" in page
    assert 'name="phoneNumber"' not in page
    assert len(web.messages("+12025550177")) == 2  # the first login's and the automatic one


def test_21_the_pending_login_cannot_be_edited(web: Web, acme: Organization) -> None:
    """No organization or member id in the URL; the sealed cookie that holds them refuses
    any change (and the IST inside is bound to them on the server as well)."""
    answer = web.create("founder@hooli.example", "Hooli", require_mfa=True)
    assert answer.json()["redirectPath"] == "/smsmfa"
    raw = web.cookie("intermediate_session")
    assert raw is not None
    # Sealed (AES-GCM): the organization inside cannot even be read, and any change to the
    # ciphertext (here: one character in the middle) makes the whole cookie worthless.
    middle = len(raw) // 2
    flipped = "A" if raw[middle] != "A" else "B"
    replace_cookie(web.client, "intermediate_session", raw[:middle] + flipped + raw[middle + 1 :])
    refused = web.post("/api/mfa/send", {"phoneNumber": "+12025550143"})
    assert refused.status_code == 401
    assert web.get("/smsmfa").status_code == 303
    assert web.messages("+12025550143") == []


def test_18_a_new_login_ends_the_previous_session(
    web: Web, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    before = web.cookie("session")
    web.discover("ada@acme.example")  # a second sign-in in the same browser
    assert web.cookie("session") is None
    assert before is not None
    replace_cookie(web.client, "session", before)
    assert web.post("/api/mfa/update", {"mfaOptIn": True}).status_code == 401


def test_a_deleted_member_is_signed_out(
    web: Web, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    from antechamber.members import service as members

    web.login("ada@acme.example", acme.id)
    with services.scope(project.project_id, "test", "test") as scope:
        members.delete_member(scope, acme, ada.id)
    gone = web.post("/api/discovery/get-organization")
    assert gone.status_code == 401
    assert error_of(gone) == "session_expired"
    assert web.cookie("session") is None


@requires_sms
def test_11_a_locked_member_is_told_so(web: Web) -> None:
    """After ten wrong codes (two codes, five guesses each) the member is locked for a while:
    a 423 and a sentence."""
    web.create("founder@hooli.example", "Hooli", require_mfa=True)
    answers = []
    for round_ in range(2):
        web.reset_limits()  # one text per number per 30 s (wall clock)
        pending = web.pending()
        assert pending is not None
        if round_:
            replace_cookie(
                web.client,
                "intermediate_session",
                cookies.encode_pending(web.client.app.state.webapp.config, pending.sent(0)),  # type: ignore[attr-defined]
            )
        sent = web.post("/api/mfa/send", {"phoneNumber": "+12025550143"})
        assert sent.status_code == 200, sent.text
        right = web.sms_code("+12025550143")
        wrong = "000000" if right != "000000" else "111111"
        answers += [web.post("/api/mfa/authenticate", {"code": wrong}) for _ in range(5)]
    assert [error_of(a) for a in answers] == ["wrong_code"] * 10
    last = web.post("/api/mfa/authenticate", {"code": "123456"})  # even the right one now
    assert last.status_code == 423
    assert error_of(last) == "locked"
    assert "Try again later" in last.json()["message"]
