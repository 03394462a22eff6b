"""Fixtures for the SAML tests: the SimpleSAMLphp IdP (session-wide) and real logins through
it, from which the refusal tests derive their crafted responses."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from antechamber import saml
from tests.saml.crafting import RealLogin
from tests.saml.idp import SimpleSamlIdp, saml_idp

__all__ = ["real_login", "real_login_signed_response", "saml_idp", "validate"]


def real_login_through(
    idp: SimpleSamlIdp, *, sign_response: bool, username: str = "alice"
) -> RealLogin:
    """A fresh SP registered at `idp`, our AuthnRequest, and `username` signing in."""
    tag = secrets.token_hex(4)
    sp = saml.ServiceProvider(
        entity_id=f"https://antechamber.test/saml/{tag}",
        acs_url=f"https://antechamber.test/v1/b2b/sso/callback/saml-connection-test-{tag}",
    )
    idp.add_sp(sp.entity_id, sp.acs_url, sign_response=sign_response)
    provider = saml.parse_idp_metadata(idp.metadata_xml())
    request_id = saml.new_request_id()
    now = datetime.now(UTC)
    url = saml.authn_request_redirect(
        sp, provider, request_id=request_id, relay_state="login-1", now=now
    )
    password = next(u.password for u in idp.users if u.username == username)
    posted = idp.login(url, username, password)
    assert posted.acs_url == sp.acs_url
    assert posted.relay_state == "login-1"
    return RealLogin(
        saml_response=posted.saml_response,
        sp=sp,
        idp=provider,
        request_id=request_id,
        now=now,
        key=idp.private_key,
        certificate=idp.certificate,
    )


@pytest.fixture(scope="session")
def real_login(saml_idp: SimpleSamlIdp) -> RealLogin:
    """alice's login through SimpleSAMLphp; the IdP signs the assertion (its default)."""
    return real_login_through(saml_idp, sign_response=False)


@pytest.fixture(scope="session")
def real_login_signed_response(saml_idp: SimpleSamlIdp) -> RealLogin:
    """alice's login through SimpleSAMLphp, which signs the Response and the assertion."""
    return real_login_through(saml_idp, sign_response=True)


@pytest.fixture
def validate() -> Callable[..., saml.Assertion]:
    def run(
        login: RealLogin, saml_response: str | None = None, **overrides: object
    ) -> saml.Assertion:
        arguments: dict[str, object] = {
            "sp": login.sp,
            "idp": login.idp,
            "expected_request_id": login.request_id,
            "now": login.now,
        }
        arguments.update(overrides)
        return saml.validate_response(
            login.saml_response if saml_response is None else saml_response,
            **arguments,  # type: ignore[arg-type]
        )

    return run
