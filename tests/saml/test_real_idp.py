"""Against SimpleSAMLphp, a real IdP that is not our code: metadata, AuthnRequest, login."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
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


def _signing_sp(tag: str) -> saml.ServiceProvider:
    key = saml.new_signing_key()
    return saml.ServiceProvider(
        entity_id=f"https://antechamber.test/saml/signing-{tag}",
        acs_url=f"https://antechamber.test/v1/b2b/sso/callback/saml-connection-test-{tag}",
        signing_key=key,
        signing_certificate=saml.signing_certificate(key, now=datetime.now(UTC)),
    )


def test_an_idp_that_wants_signed_requests_accepts_ours(saml_idp: SimpleSamlIdp) -> None:
    sp = _signing_sp("ok")
    assert sp.signing_certificate is not None
    saml_idp.add_sp(sp.entity_id, sp.acs_url, request_signing_certificate=sp.signing_certificate)
    idp = saml.parse_idp_metadata(saml_idp.metadata_xml())
    request_id = saml.new_request_id()
    now = datetime.now(UTC)
    url = saml.authn_request_redirect(sp, idp, request_id=request_id, relay_state="r", now=now)
    assert "&SigAlg=" in url
    assert "&Signature=" in url
    posted = saml_idp.login(url, "alice", "alice-password")
    assertion = saml.validate_response(
        posted.saml_response, sp, idp, expected_request_id=request_id, now=now
    )
    assert assertion.name_id == "alice@example.com"


@pytest.mark.parametrize("how", ["unsigned", "another key", "tampered"])
def test_an_idp_that_wants_signed_requests_refuses_bad_ones(
    saml_idp: SimpleSamlIdp, how: str
) -> None:
    """The harness's IdP checks what we sign (so the test above proves something)."""
    sp = _signing_sp(how.replace(" ", "-"))
    assert sp.signing_certificate is not None
    saml_idp.add_sp(sp.entity_id, sp.acs_url, request_signing_certificate=sp.signing_certificate)
    idp = saml.parse_idp_metadata(saml_idp.metadata_xml())
    if how == "unsigned":
        sender = replace(sp, signing_key=None)
    elif how == "another key":
        sender = replace(sp, signing_key=saml.new_signing_key())
    else:
        sender = sp
    url = saml.authn_request_redirect(
        sender, idp, request_id=saml.new_request_id(), relay_state="r", now=datetime.now(UTC)
    )
    if how == "tampered":
        url = url.replace("RelayState=r", "RelayState=s")
    with pytest.raises(AssertionError, match="login form"):
        saml_idp.login(url, "alice", "alice-password")


def test_our_metadata_lists_the_request_signing_certificate() -> None:
    sp = _signing_sp("metadata")
    root = etree.fromstring(saml.sp_metadata(sp).encode())
    md = "{urn:oasis:names:tc:SAML:2.0:metadata}"
    descriptor = root.find(f"{md}SPSSODescriptor")
    assert descriptor is not None
    assert descriptor.get("AuthnRequestsSigned") == "true"
    key = descriptor.find(f"{md}KeyDescriptor")
    assert key is not None
    assert key.get("use") == "signing"
    value = key.find(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    assert value is not None
    assert sp.signing_certificate is not None
    pem_body = "".join(sp.signing_certificate.strip().splitlines()[1:-1])
    assert value.text == pem_body


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 9000,
    ],
)
def test_a_signing_key_that_is_not_pkcs1_rsa_is_refused(pem: str) -> None:
    with pytest.raises(saml.InvalidSigningKey) as refused:
        saml.load_signing_key(pem)
    assert refused.value.error_type == "saml_signing_private_key_invalid"


def test_an_idp_initiated_login_is_accepted_only_as_unsolicited(
    saml_idp: SimpleSamlIdp, real_login: RealLogin
) -> None:
    posted = saml_idp.login(
        saml_idp.idp_initiated_url(real_login.sp.entity_id), "bob", "bob-password"
    )
    now = datetime.now(UTC)
    assertion = saml.validate_response(
        posted.saml_response, real_login.sp, real_login.idp, expected_request_id=None, now=now
    )
    assert assertion.name_id == "bob@other.example"
    assert assertion.in_response_to is None
    with pytest.raises(saml.UnsolicitedSamlResponse):
        saml.validate_response(
            posted.saml_response,
            real_login.sp,
            real_login.idp,
            expected_request_id=saml.new_request_id(),
            now=now,
        )
