"""The local JWT check and the signed pending-login cookie, in isolation."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import replace
from typing import Any

import jwt
import pytest

from antechamber.clock import FrozenClock
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.webapp import cookies
from antechamber.webapp.backend import JSON, Backend
from antechamber.webapp.config import WebappConfig
from antechamber.webapp.sessions import (
    JwtExpired,
    JwtInvalid,
    JwtVerifier,
    _parse,
    has_second_factor,
)
from tests.conftest import Credentials
from tests.factories import make_member, make_org
from tests.webapp.conftest import Web


class CountingBackend:
    """Delegates to a real backend, counting JWKS fetches."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.fetches = 0

    def project_id(self) -> str:
        return self.inner.project_id()

    def jwks(self) -> list[JSON]:
        self.fetches += 1
        return self.inner.jwks()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def session_jwt(inprocess: Web, services: Services, project: Credentials) -> str:
    org: Organization = make_org(services, project.project_id, organization_name="Acme")
    member: Member = make_member(
        services, project.project_id, org, email_address="ada@acme.example"
    )
    inprocess.login(member.email_address, org.id)
    value = inprocess.cookie("session")
    assert value is not None
    return value


@pytest.fixture
def counting(inprocess: Web) -> CountingBackend:
    app: Any = inprocess.client.app
    return CountingBackend(app.state.webapp.backend)


def test_a_real_session_jwt_verifies(
    session_jwt: str, counting: CountingBackend, clock: FrozenClock
) -> None:
    verifier = JwtVerifier(counting, clock)  # type: ignore[arg-type]
    session = verifier.verify(session_jwt)
    claims = jwt.decode(session_jwt, options={"verify_signature": False})
    assert session.member_id == claims["sub"]
    assert session.organization_id.startswith("organization-test-")
    assert [f["type"] for f in session.factors] == ["magic_link"]
    assert not has_second_factor(session.factors)
    verifier.verify(session_jwt)
    assert counting.fetches == 1  # the JWKS is cached
    clock.advance(minutes=6)
    with pytest.raises(JwtExpired):
        verifier.verify(session_jwt)


def test_made_up_kids_do_not_flood_the_server(
    session_jwt: str, counting: CountingBackend, clock: FrozenClock
) -> None:
    verifier = JwtVerifier(counting, clock)  # type: ignore[arg-type]
    verifier.verify(session_jwt)
    claims = jwt.decode(session_jwt, options={"verify_signature": False})
    for n in range(20):
        forged = jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": f"kid-{n}"})
        with pytest.raises(JwtInvalid):
            verifier.verify(forged)
    assert counting.fetches == 1


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: {**c, "aud": ["project-test-other"]},
        lambda c: {**c, "iss": "stytch.com/project-test-other"},
        lambda c: {k: v for k, v in c.items() if k != "https://stytch.com/session"},
        lambda c: {**c, "https://stytch.com/organization": "nope"},
        lambda c: {**c, "nbf": c["nbf"] + 3600},
    ],
)
def test_claims_are_checked_even_with_a_good_signature(
    session_jwt: str, counting: CountingBackend, clock: FrozenClock, mutate: Any
) -> None:
    """Whatever a key of ours would sign must still be a session JWT for this project."""
    from antechamber.keys import service as keys

    app_services: Services = counting.inner.services  # type: ignore[attr-defined]
    project_id = counting.project_id()
    claims = jwt.decode(session_jwt, options={"verify_signature": False})
    with app_services.scope(project_id, "test", "test") as scope:
        resigned = keys.sign(scope, mutate(claims))
    with pytest.raises(JwtInvalid):
        JwtVerifier(counting, clock).verify(resigned)  # type: ignore[arg-type]


def test_garbage_is_invalid(counting: CountingBackend, clock: FrozenClock) -> None:
    verifier = JwtVerifier(counting, clock)  # type: ignore[arg-type]
    for value in ("", "x", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "é" * 10, "x" * 20000):
        with pytest.raises(JwtInvalid):
            verifier.verify(value)


def test_only_rsa_signing_keys_are_used() -> None:
    assert _parse([{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}]) == {}
    assert _parse([{"kty": "RSA", "kid": "b", "use": "enc", "n": "AQAB", "e": "AQAB"}]) == {}
    assert _parse([{"kid": "c"}, {"kty": "RSA"}]) == {}


def test_second_factors() -> None:
    assert has_second_factor([{"type": "otp", "delivery_method": "sms"}])
    assert has_second_factor([{"type": "totp"}])
    assert not has_second_factor([{"type": "otp", "delivery_method": "email"}])
    assert not has_second_factor([{"type": "magic_link", "delivery_method": "email"}])


def test_the_pending_cookie_refuses_anything_it_did_not_sign() -> None:
    config = WebappConfig(public_url="http://x", cookie_key=b"k" * 32)
    other = replace(config, cookie_key=b"o" * 32)
    login = cookies.Pending(ist="ist", email="a@b.c", organization_id="o", member_id="m")
    value = cookies.encode_pending(config, login)
    assert cookies.decode_pending(config, value) == login
    assert cookies.decode_pending(other, value) is None
    sealed = value.removeprefix("v2.")
    for bad in ("", "x", "v2.", sealed, f"v2.{sealed}x", f"v2.x{sealed}", f"{value}.x", "v2.é"):
        assert cookies.decode_pending(config, bad) is None


def test_the_pending_cookie_does_not_show_its_token() -> None:
    """The IST is a bearer credential for the rest of the login: the browser (or whatever
    reads its cookie jar) carries it sealed, not merely signed."""
    config = WebappConfig(public_url="http://x", cookie_key=b"k" * 32)
    ist = "intermediate-session-token-abcdefghijklmnop"
    login = cookies.Pending(ist=ist, email="ada@acme.example", phone="+1******0177")
    value = cookies.encode_pending(config, login)
    readable = value
    for chunk in value.split("."):
        with contextlib.suppress(ValueError):
            readable += base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4)).decode("latin-1")
    for secret in (ist, "ada@acme.example", "0177"):
        assert secret not in readable
    assert cookies.decode_pending(config, value) == login
