"""Against SimpleSAMLphp, a real IdP that is not our code: metadata, AuthnRequest, login."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from antechamber import saml
from tests.saml.conftest import real_login_through
from tests.saml.crafting import RealLogin
from tests.saml.idp import SimpleSamlIdp


def test_the_idps_metadata_gives_its_entity_id_sso_url_and_signing_certificate(
    saml_idp: SimpleSamlIdp,
) -> None:
    provider = saml.parse_idp_metadata(saml_idp.metadata_xml())
    assert provider.entity_id == saml_idp.entity_id
    assert provider.sso_url == saml_idp.sso_url
    assert provider.certificates == (saml_idp.certificate_pem,)


def test_a_real_login_is_accepted_with_the_users_name_id_and_attributes(
    real_login: RealLogin, validate: Callable[..., saml.Assertion]
) -> None:
    assertion = validate(real_login)
    assert assertion.name_id == "alice@example.com"
    assert assertion.name_id_format == saml.NAMEID_EMAIL
    assert assertion.attributes["email"] == ("alice@example.com",)
    assert assertion.attributes["name"] == ("Alice Example",)
    assert assertion.attributes["uid"] == ("alice",)
    assert assertion.issuer == real_login.idp.entity_id
    assert assertion.in_response_to == real_login.request_id
    assert assertion.assertion_id.startswith("_")
    assert assertion.session_index
    assert assertion.not_on_or_after > real_login.now


def test_a_real_login_with_a_signed_response_is_accepted(
    real_login_signed_response: RealLogin, validate: Callable[..., saml.Assertion]
) -> None:
    assertion = validate(real_login_signed_response)
    assert assertion.name_id == "alice@example.com"
    assert assertion.attributes["name"] == ("Alice Example",)


def test_each_login_has_its_own_assertion_id(
    saml_idp: SimpleSamlIdp, real_login: RealLogin, validate: Callable[..., saml.Assertion]
) -> None:
    again = real_login_through(saml_idp, sign_response=False, username="bob")
    first, second = validate(real_login), validate(again)
    assert second.name_id == "bob@other.example"
    assert first.assertion_id != second.assertion_id


def test_the_authn_request_carries_what_the_idp_needs(real_login: RealLogin) -> None:
    url = saml.authn_request_redirect(
        real_login.sp,
        real_login.idp,
        request_id="_abc123",
        relay_state="state-1",
        now=real_login.now,
    )
    parts = urlsplit(url)
    assert url.startswith(real_login.idp.sso_url + "?")
    query = parse_qs(parts.query)
    assert query["RelayState"] == ["state-1"]
    document = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    request = etree.fromstring(document)
    assert request.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}AuthnRequest"
    assert request.get("ID") == "_abc123"
    assert request.get("Destination") == real_login.idp.sso_url
    assert request.get("AssertionConsumerServiceURL") == real_login.sp.acs_url
    assert request.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert request.get("IssueInstant") == real_login.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    issuer = request.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
    assert issuer is not None
    assert issuer.text == real_login.sp.entity_id


def test_the_authn_request_keeps_a_query_the_sso_url_already_has() -> None:
    sp = saml.ServiceProvider("https://sp.test/a", "https://sp.test/acs")
    idp = saml.IdentityProvider("https://idp.test", "https://idp.test/sso?tenant=7", ())
    now = datetime.now(UTC)
    url = saml.authn_request_redirect(sp, idp, request_id="_x", relay_state=None, now=now)
    query = parse_qs(urlsplit(url).query)
    assert query["tenant"] == ["7"]
    assert "RelayState" not in query
