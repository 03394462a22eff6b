"""The OIDC browser flow end to end through the API (start → provider → callback → app →
sso/authenticate), against a provider the test controls (fake_idp), and the refusals."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from antechamber.members.models import Member
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.sso import outbound
from antechamber.sso.models import SsoRegistration
from tests.conftest import Credentials
from tests.dbsnap import LOGIN_TABLES, snapshot
from tests.factories import make_member
from tests.sso import fake_idp
from tests.sso.conftest import LOGIN_URL, SIGNUP_URL, callback, sso_token_of, start

SSO_TABLES = (*LOGIN_TABLES, "sso_tokens", "sso_registrations", "sso_logins")


def _sign_in(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    **claims: Any,
) -> Any:
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(idp.sign(idp.claims(started.nonce, **claims)))
    return callback(api, connection_id, started.state)


def _authenticate(api: TestClient, token: str, **fields: Any) -> Any:
    return api.post("/v1/b2b/sso/authenticate", json={"sso_token": token, **fields})


def test_a_new_member_signs_up_by_jit_and_gets_a_session(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
) -> None:
    started = start(api, public_token, connection_id=connection_id)
    assert started.location.startswith(f"{idp.issuer}/authorize?")
    assert "code_challenge_method=S256" in started.location
    idp.queue(idp.sign(idp.claims(started.nonce)))

    answer = callback(api, connection_id, started.state)

    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(SIGNUP_URL + "?")  # no member yet
    token = sso_token_of(answer.headers["location"])
    # Our PKCE with the provider: the verifier sent answers the challenge of the redirect.
    verifier = idp.token_requests[-1]["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert f"code_challenge={challenge.decode().rstrip('=')}" in started.location

    body = _authenticate(api, token).json()
    assert body["status_code"] == 200, body
    assert body["member_authenticated"] is True
    assert body["organization_id"] == corp.id
    assert body["reset_session"] is False
    assert body["member"]["email_address"] == "grace@acme.example"
    registration = body["member"]["sso_registrations"][0]
    assert registration["connection_id"] == connection_id
    assert registration["external_id"] == "idp-user-1"
    factor = body["member_session"]["authentication_factors"][0]
    assert factor["type"] == "sso"
    assert factor["delivery_method"] == "sso_oidc"
    assert factor["oidc_sso_factor"]["provider_id"] == connection_id
    # Single use: the same token again is refused.
    again = _authenticate(api, token).json()
    assert again["error_type"] == "sso_token_not_found"


def test_an_existing_member_lands_on_the_login_url_and_keeps_one_registration(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
    engine: Engine,
) -> None:
    member = make_member(services, project.project_id, corp, email_address="grace@acme.example")
    for _ in range(2):
        answer = _sign_in(api, idp, public_token, connection_id)
        assert answer.headers["location"].startswith(LOGIN_URL + "?")
        body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
        assert body["member_id"] == member.id
    with services.sessions() as session:
        rows = session.scalars(select(SsoRegistration)).all()
        assert [(r.member_id, r.external_id) for r in rows] == [(member.id, "idp-user-1")]


def test_the_registration_wins_when_the_email_changes_at_the_provider(
    api: TestClient, idp: fake_idp.FakeIdp, public_token: str, connection_id: str
) -> None:
    first = _sign_in(api, idp, public_token, connection_id)
    member_id = _authenticate(api, sso_token_of(first.headers["location"])).json()["member_id"]
    renamed = _sign_in(api, idp, public_token, connection_id, email="grace.h@acme.example")
    assert renamed.headers["location"].startswith(LOGIN_URL)
    body = _authenticate(api, sso_token_of(renamed.headers["location"])).json()
    assert body["member_id"] == member_id


def test_mfa_required_for_all_still_asks_for_the_second_factor(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, corp.id, {"mfa_policy": "REQUIRED_FOR_ALL"})
    answer = _sign_in(api, idp, public_token, connection_id)
    body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
    assert body["status_code"] == 200, body
    assert body["member_authenticated"] is False
    assert body["session_token"] == ""
    assert body["mfa_required"] is not None
    assert body["intermediate_session_token"]
    # The IST is bound to this organization: it cannot be taken to discovery elsewhere.
    exchange = api.post(
        "/v1/b2b/discovery/organizations/create",
        json={"intermediate_session_token": body["intermediate_session_token"]},
    ).json()
    assert exchange["status_code"] >= 400


def test_an_sso_only_organization_accepts_sso(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(
            scope, corp.id, {"auth_methods": "RESTRICTED", "allowed_auth_methods": ["sso"]}
        )
    answer = _sign_in(api, idp, public_token, connection_id)
    body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
    assert body["member_authenticated"] is True


def test_an_organization_that_does_not_allow_sso_asks_for_another_primary_factor(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(
            scope,
            corp.id,
            {"auth_methods": "RESTRICTED", "allowed_auth_methods": ["magic_link"]},
        )
    answer = _sign_in(api, idp, public_token, connection_id)
    body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
    assert body["member_authenticated"] is False
    assert body["primary_required"] == {"allowed_auth_methods": ["magic_link"]}


# --- PKCE of the app ------------------------------------------------------------------------

VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()[:43]


@pytest.mark.parametrize(
    ("challenge", "verifier", "expected"),
    [
        (CHALLENGE, None, "pkce_expected_code_verifier"),
        (CHALLENGE, "w" * 50, "pkce_mismatch"),
        (None, VERIFIER, "pkce_did_not_expect_code_verifier"),
        (CHALLENGE, VERIFIER, None),
    ],
)
def test_the_pkce_verifier_is_checked_where_a_challenge_was_given(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    engine: Engine,
    challenge: str | None,
    verifier: str | None,
    expected: str | None,
) -> None:
    params = {"connection_id": connection_id}
    if challenge:
        params["pkce_code_challenge"] = challenge
    started = start(api, public_token, **params)
    idp.queue(idp.sign(idp.claims(started.nonce)))
    token = sso_token_of(callback(api, connection_id, started.state).headers["location"])
    before = snapshot(engine, SSO_TABLES)
    fields = {"pkce_code_verifier": verifier} if verifier else {}
    body = _authenticate(api, token, **fields).json()
    if expected is None:
        assert body["member_authenticated"] is True
    else:
        assert body["error_type"] == expected
        assert snapshot(engine, SSO_TABLES) == before


# --- crafted ID tokens ----------------------------------------------------------------------


def _crafted(idp: fake_idp.FakeIdp, nonce: str, case: str) -> str:
    claims = idp.claims(nonce)
    if case == "wrong_nonce":
        return idp.sign({**claims, "nonce": "another-login"})
    if case == "wrong_issuer":
        return idp.sign({**claims, "iss": "http://127.0.0.1:1/evil"})
    if case == "wrong_audience":
        return idp.sign({**claims, "aud": "another-client"})
    if case == "alg_none":
        return fake_idp.unsigned(claims)
    if case == "hs256_public_key":
        return fake_idp.hs256_with_public_key(claims)
    if case == "expired":
        return idp.sign({**claims, "iat": claims["iat"] - 3600, "exp": claims["iat"] - 600})
    if case == "other_key":
        from cryptography.hazmat.primitives.asymmetric import rsa

        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        import jwt

        return jwt.encode(claims, other, algorithm="RS256", headers={"kid": fake_idp.KID})
    if case == "unverified_email_jit":
        return idp.sign({**claims, "email_verified": False})
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "error_type"),
    [
        ("wrong_nonce", "id_token_nonce_invalid"),
        ("wrong_issuer", "id_token_issuer_invalid"),
        ("wrong_audience", "id_token_incorrect_audience"),
        ("alg_none", "id_token_invalid"),
        ("hs256_public_key", "id_token_invalid"),
        ("expired", "id_token_expired"),
        ("other_key", "id_token_invalid"),
        ("unverified_email_jit", "oidc_response_unverified_email"),
    ],
)
def test_a_crafted_id_token_is_refused_and_changes_nothing(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    engine: Engine,
    case: str,
    error_type: str,
) -> None:
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(_crafted(idp, started.nonce, case))
    before = snapshot(engine, SSO_TABLES)

    answer = callback(api, connection_id, started.state)

    assert answer.status_code in (400, 401, 403), answer.text
    assert error_type in answer.text
    assert "location" not in answer.headers
    assert snapshot(engine, SSO_TABLES) == before


def test_the_callback_needs_the_browser_that_started_the_login(
    client: TestClient,
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    engine: Engine,
) -> None:
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(idp.sign(idp.claims(started.nonce)))
    api.cookies.clear()  # another browser: the attacker's callback URL, the victim's cookies
    before = snapshot(engine, SSO_TABLES)
    answer = callback(api, connection_id, started.state)
    assert answer.status_code == 400
    assert "oidc_csrf_cookie_mismatch" in answer.text
    assert snapshot(engine, SSO_TABLES) == before


def test_a_state_is_used_once(
    api: TestClient, idp: fake_idp.FakeIdp, public_token: str, connection_id: str
) -> None:
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(idp.sign(idp.claims(started.nonce)))
    cookies = dict(api.cookies)
    assert callback(api, connection_id, started.state).status_code == 302
    api.cookies.update(cookies)
    replay = callback(api, connection_id, started.state)
    assert replay.status_code == 400
    assert "unsolicited_oidc_response" in replay.text


def test_the_sso_token_expires(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    clock: Any,
    services: Services,
) -> None:
    answer = _sign_in(api, idp, public_token, connection_id)
    clock.advance(minutes=services.settings.sso_token_minutes, seconds=1)
    body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
    assert body["error_type"] == "sso_token_not_found"


def test_the_token_is_stored_hashed(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    engine: Engine,
) -> None:
    from tests.dbsnap import dump_everything

    answer = _sign_in(api, idp, public_token, connection_id)
    token = sso_token_of(answer.headers["location"])
    started = start(api, public_token, connection_id=connection_id)
    everything = dump_everything(engine)
    assert token not in everything
    assert started.state not in everything
    assert idp.client_secret not in everything  # sealed


# --- JIT rules --------------------------------------------------------------------------


def _set(services: Services, project: Credentials, org: Organization, **fields: Any) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, org.id, fields)


@pytest.mark.parametrize(
    ("settings_", "claims", "error_type"),
    [
        ({"sso_jit_provisioning": "NOT_ALLOWED"}, {}, "invalid_connection_for_jit_provisioning"),
        ({}, {"email": "grace@elsewhere.example"}, "invalid_email_for_jit_provisioning"),
        ({}, {"email_verified": False}, "oidc_response_unverified_email"),
    ],
)
def test_jit_is_refused_where_the_organization_does_not_allow_it(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
    engine: Engine,
    settings_: dict[str, Any],
    claims: dict[str, Any],
    error_type: str,
) -> None:
    if settings_:
        _set(services, project, corp, **settings_)
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(idp.sign(idp.claims(started.nonce, **claims)))
    before = snapshot(engine, SSO_TABLES)
    answer = callback(api, connection_id, started.state)
    assert error_type in answer.text
    assert snapshot(engine, SSO_TABLES) == before


def test_restricted_jit_allows_listed_connections_only(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
) -> None:
    from tests.sso.conftest import oidc_connection

    other = oidc_connection(
        services, project.project_id, corp, idp.issuer, idp.client_id, idp.client_secret
    )
    _set(
        services,
        project,
        corp,
        sso_jit_provisioning="RESTRICTED",
        sso_jit_provisioning_allowed_connections=[other],
    )
    refused = _sign_in(api, idp, public_token, connection_id)
    assert "invalid_connection_for_jit_provisioning" in refused.text
    allowed = _sign_in(api, idp, public_token, other)
    assert allowed.headers["location"].startswith(SIGNUP_URL)


def test_an_existing_membership_wins_over_the_domain_rule(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
) -> None:
    """A member outside the organization's domains (a contractor) still signs in by SSO,
    even with JIT off."""
    _set(services, project, corp, sso_jit_provisioning="NOT_ALLOWED")
    member = make_member(
        services, project.project_id, corp, email_address="contractor@elsewhere.example"
    )
    answer = _sign_in(api, idp, public_token, connection_id, email="contractor@elsewhere.example")
    assert answer.headers["location"].startswith(LOGIN_URL)
    body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
    assert body["member_id"] == member.id


def test_an_unverified_email_does_not_reach_an_existing_member(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    services: Services,
    project: Credentials,
) -> None:
    make_member(services, project.project_id, corp, email_address="grace@acme.example")
    answer = _sign_in(api, idp, public_token, connection_id, email_verified=False)
    assert "oidc_response_unverified_email" in answer.text
    with services.sessions() as session:
        assert session.scalars(select(Member.sso_registrations)).all() == [[]]


def test_the_provider_is_called_from_a_worker_thread_never_the_event_loop(
    api: TestClient,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call to the network on the event loop would stop the server while the provider
    answers: SSO's handlers are not `inline_write` (tests/api/test_inline_writes.py)."""
    on_the_loop: list[bool] = []
    request = outbound._request

    def recorded(*args: Any, **kwargs: Any) -> bytes:
        try:
            asyncio.get_running_loop()
            on_the_loop.append(True)
        except RuntimeError:
            on_the_loop.append(False)
        return request(*args, **kwargs)

    monkeypatch.setattr(outbound, "_request", recorded)
    answer = _sign_in(api, idp, public_token, connection_id)
    assert answer.status_code == 302, answer.text
    body = _authenticate(api, sso_token_of(answer.headers["location"])).json()
    assert body["status_code"] == 200, body
    assert on_the_loop
    assert not any(on_the_loop)
