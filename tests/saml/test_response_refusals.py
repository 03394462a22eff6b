"""Crafted SAMLResponses derived from a real signed one (SimpleSAMLphp's), each refused.

Where a test changes a signed value, it signs again with the IdP's own key (the harness has
it): the refusal then comes from the rule under test, not from the signature."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import timedelta

import pytest
from lxml import etree

from antechamber import saml
from antechamber.errors import BadRequest, Unauthorized
from antechamber.saml import response as response_module
from tests.saml.crafting import (
    DS,
    NS,
    SAML,
    RealLogin,
    assertion_of,
    edit_assertion,
    encode,
    sign,
    signature_of,
    strip_signature,
)
from tests.saml.idp import make_signing_key

Validate = Callable[..., saml.Assertion]


def _set(element: etree._Element, path: str, attribute: str | None, value: str) -> None:
    target = element.find(path, NS)
    assert target is not None, path
    if attribute is None:
        target.text = value
    else:
        target.set(attribute, value)


# -- signatures --------------------------------------------------------------------------------


def test_an_unsigned_response_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    strip_signature(assertion_of(root))
    with pytest.raises(saml.MissingSamlSignature) as refused:
        validate(real_login, encode(root))
    assert refused.value.error_type == "missing_signature_saml_response"
    assert isinstance(refused.value, Unauthorized)


def test_a_response_signed_by_another_key_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    key, certificate = make_signing_key("Attacker")
    crafted = edit_assertion(
        real_login,
        lambda a: _set(a, "saml:Subject/saml:NameID", None, "ceo@example.com"),
        key=key,
        certificate=certificate,
    )
    with pytest.raises(saml.SamlCertificateMismatch) as refused:
        validate(real_login, crafted)
    assert refused.value.error_type == "saml_certificate_mismatch"


def test_a_certificate_in_the_message_is_never_trusted(
    real_login: RealLogin, validate: Validate
) -> None:
    """Signed by the attacker's key, KeyInfo carrying the attacker's certificate, and the
    connection also has no other choice: still refused (only the connection's certificates)."""
    key, certificate = make_signing_key("Attacker")
    crafted = edit_assertion(real_login, lambda a: None, key=key, certificate=certificate)
    with pytest.raises(saml.SamlCertificateMismatch):
        validate(real_login, crafted)


def test_a_value_tampered_with_after_signing_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    _set(assertion_of(root), "saml:Subject/saml:NameID", None, "ceo@example.com")
    with pytest.raises(saml.InvalidSamlSignature) as refused:
        validate(real_login, encode(root))
    assert refused.value.error_type == "invalid_signature_saml_response"


def test_a_tampered_attribute_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    for value in assertion_of(root).iterfind(
        "saml:AttributeStatement/saml:Attribute[@Name='email']/saml:AttributeValue", NS
    ):
        value.text = "ceo@example.com"
    with pytest.raises(saml.InvalidSamlSignature):
        validate(real_login, encode(root))


def test_a_tampered_signed_response_is_refused(
    real_login_signed_response: RealLogin, validate: Validate
) -> None:
    root = real_login_signed_response.tree()
    root.set("InResponseTo", real_login_signed_response.request_id + "x")
    with pytest.raises(saml.InvalidSamlSignature):
        validate(real_login_signed_response, encode(root))


def test_a_sha1_signature_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    sign(
        assertion_of(root),
        real_login.key,
        real_login.certificate,
        algorithm="rsa-sha1",
        digest="sha1",
    )
    with pytest.raises(saml.InvalidSamlSignature):
        validate(real_login, encode(root))


def test_a_comment_cannot_shorten_a_signed_name_id(
    real_login: RealLogin, validate: Validate
) -> None:
    """CVE-2017-11427's trick: the IdP signs `alice@example.com.evil.test`; a comment added
    after signing (c14n drops it, so the digest holds) must not make it read as
    `alice@example.com`."""
    crafted = edit_assertion(
        real_login,
        lambda a: _set(a, "saml:Subject/saml:NameID", None, "alice@example.com.evil.test"),
    )
    root = etree.fromstring(base64.b64decode(crafted))
    name_id = assertion_of(root).find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "alice@example.com"
    comment = etree.Comment("x")
    comment.tail = ".evil.test"
    name_id.append(comment)
    assertion = validate(real_login, encode(root))
    assert assertion.name_id == "alice@example.com.evil.test"


# -- XML signature wrapping (Somorovsky et al., "On Breaking SAML", 2012) ----------------------


def _evil(assertion: etree._Element) -> etree._Element:
    """A copy of the assertion claiming to be someone else, with a new ID, unsigned."""
    evil = copy.deepcopy(assertion)
    strip_signature(evil)
    evil.set("ID", "_evil")
    _set(evil, "saml:Subject/saml:NameID", None, "ceo@example.com")
    return evil


def _refused_as_wrapping(login: RealLogin, root: etree._Element, validate: Validate) -> None:
    """Refused twice over: by the one-assertion rule, and (that rule replaced by a naive
    "take the first Assertion in the document") by the rule that a signature must cover the
    element it sits in, the only element values are read from (or, when the naive pick is the
    signed original itself, its values and not the attacker's)."""
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(login, encode(root))

    def first_assertion(response: etree._Element) -> etree._Element:
        return next(response.iter(SAML + "Assertion"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(response_module, "_only_assertion", first_assertion)
        try:
            accepted = validate(login, encode(root))
        except (saml.InvalidSamlSignature, saml.MissingSamlSignature):
            return
        # Picked the signed original: its values, never the attacker's.
        assert accepted.name_id == "alice@example.com"


def test_xsw1_signed_response_moved_into_its_signature_is_refused(
    real_login_signed_response: RealLogin, validate: Validate
) -> None:
    """XSW1: a new Response (new ID, evil assertion) whose Signature holds the original signed
    Response; the signature still verifies over the original."""
    login = real_login_signed_response
    original = login.tree()
    evil_response = copy.deepcopy(original)
    evil_response.set("ID", "_evil-response")
    signature = signature_of(evil_response)
    evil_response.replace(assertion_of(evil_response), _evil(assertion_of(original)))
    strip_signature(original)
    signature.append(original)
    _refused_as_wrapping(login, evil_response, validate)


def test_xsw2_signed_response_placed_before_a_detached_signature_is_refused(
    real_login_signed_response: RealLogin, validate: Validate
) -> None:
    """XSW2: as XSW1, the original Response a sibling before the Signature (detached)."""
    login = real_login_signed_response
    original = login.tree()
    evil_response = copy.deepcopy(original)
    evil_response.set("ID", "_evil-response")
    signature = signature_of(evil_response)
    evil_response.replace(assertion_of(evil_response), _evil(assertion_of(original)))
    strip_signature(original)
    signature.addprevious(original)
    _refused_as_wrapping(login, evil_response, validate)


def test_xsw3_evil_assertion_before_the_signed_one_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    original.addprevious(_evil(original))
    _refused_as_wrapping(real_login, root, validate)


def test_xsw4_evil_assertion_wrapping_the_signed_one_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    evil = _evil(original)
    root.replace(original, evil)
    evil.append(original)
    _refused_as_wrapping(real_login, root, validate)


def test_xsw5_evil_assertion_with_the_copied_signature_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    """XSW5: the evil assertion carries the original's signature; the original, unsigned, is
    appended at the end of the Response."""
    root = real_login.tree()
    original = assertion_of(root)
    evil = _evil(original)
    evil.find("saml:Issuer", NS).addnext(copy.deepcopy(signature_of(original)))  # type: ignore[union-attr]
    root.replace(original, evil)
    strip_signature(original)
    root.append(original)
    _refused_as_wrapping(real_login, root, validate)


def test_xsw6_original_assertion_inside_the_copied_signature_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    evil = _evil(original)
    signature = copy.deepcopy(signature_of(original))
    evil.find("saml:Issuer", NS).addnext(signature)  # type: ignore[union-attr]
    root.replace(original, evil)
    strip_signature(original)
    signature.append(original)
    _refused_as_wrapping(real_login, root, validate)


def test_xsw7_signed_assertion_hidden_in_extensions_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    extensions = etree.Element("{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    root.replace(original, extensions)
    extensions.append(original)
    extensions.addnext(_evil(original))
    _refused_as_wrapping(real_login, root, validate)


def test_xsw8_original_assertion_in_a_signature_object_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    evil = _evil(original)
    signature = copy.deepcopy(signature_of(original))
    evil.find("saml:Issuer", NS).addnext(signature)  # type: ignore[union-attr]
    root.replace(original, evil)
    strip_signature(original)
    obj = etree.SubElement(signature, DS + "Object")
    obj.append(original)
    _refused_as_wrapping(real_login, root, validate)


def test_a_signature_over_another_element_is_refused_even_alone(real_login: RealLogin) -> None:
    """Without the one-assertion rule the signature check still refuses wrapping: a signature
    that sits in the evil assertion but references the original is not accepted."""
    from antechamber.saml.response import _certificates, _verified

    root = real_login.tree()
    original = assertion_of(root)
    evil = _evil(original)
    evil.find("saml:Issuer", NS).addnext(copy.deepcopy(signature_of(original)))  # type: ignore[union-attr]
    root.replace(original, evil)
    strip_signature(original)
    root.append(original)
    with pytest.raises(saml.InvalidSamlSignature):
        _verified(evil, _certificates(real_login.idp), real_login.now)


def test_two_assertions_are_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    second = copy.deepcopy(original)
    second.set("ID", "_second")
    original.addnext(second)
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, encode(root))


def test_a_duplicated_id_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    root.set("ID", assertion_of(root).get("ID") or "")
    with pytest.raises(saml.InvalidSamlSignature):
        validate(real_login, encode(root))


def test_an_id_repeated_in_another_namespace_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    root.set("{urn:evil}Id", assertion_of(root).get("ID") or "")
    with pytest.raises(saml.InvalidSamlSignature):
        validate(real_login, encode(root))


# -- time --------------------------------------------------------------------------------------


def test_an_expired_assertion_is_refused(real_login: RealLogin, validate: Validate) -> None:
    with pytest.raises(saml.ExpiredSamlResponse) as refused:
        validate(real_login, now=real_login.now + timedelta(hours=1))
    assert refused.value.error_type == "expired_saml_response"


def test_an_assertion_not_yet_valid_is_refused(real_login: RealLogin, validate: Validate) -> None:
    with pytest.raises(saml.NotYetValidSamlResponse) as refused:
        validate(real_login, now=real_login.now - timedelta(minutes=10))
    assert refused.value.error_type == "not_yet_valid_saml_response"


def test_the_skew_is_allowed_either_way_and_no_more(
    real_login: RealLogin, validate: Validate
) -> None:
    expiry = validate(real_login).not_on_or_after
    assert validate(real_login, now=expiry + timedelta(seconds=119))
    with pytest.raises(saml.ExpiredSamlResponse):
        validate(real_login, now=expiry + timedelta(seconds=120))
    with pytest.raises(saml.ExpiredSamlResponse):
        validate(real_login, now=expiry, skew=timedelta(0))


def test_an_expired_subject_confirmation_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    past = (real_login.now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    crafted = edit_assertion(
        real_login,
        lambda a: _set(
            a,
            "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
            "NotOnOrAfter",
            past,
        ),
    )
    with pytest.raises(saml.ExpiredSamlResponse):
        validate(real_login, crafted)


# -- addressing --------------------------------------------------------------------------------


def test_another_audience_is_refused(real_login: RealLogin, validate: Validate) -> None:
    other_sp = saml.ServiceProvider("https://antechamber.test/saml/other", real_login.sp.acs_url)
    with pytest.raises(saml.InvalidSamlAudience) as refused:
        validate(real_login, sp=other_sp)
    assert refused.value.error_type == "invalid_audience_saml_response"


def test_an_assertion_signed_for_another_audience_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    crafted = edit_assertion(
        real_login,
        lambda a: _set(
            a,
            "saml:Conditions/saml:AudienceRestriction/saml:Audience",
            None,
            "https://another-app.example",
        ),
    )
    with pytest.raises(saml.InvalidSamlAudience):
        validate(real_login, crafted)


def test_an_assertion_without_audience_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    def drop(assertion: etree._Element) -> None:
        conditions = assertion.find("saml:Conditions", NS)
        assert conditions is not None
        for restriction in conditions.findall("saml:AudienceRestriction", NS):
            conditions.remove(restriction)

    with pytest.raises(saml.InvalidSamlAudience):
        validate(real_login, edit_assertion(real_login, drop))


def test_another_recipient_is_refused(real_login: RealLogin, validate: Validate) -> None:
    crafted = edit_assertion(
        real_login,
        lambda a: _set(
            a,
            "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
            "Recipient",
            "https://another-app.example/acs",
        ),
    )
    with pytest.raises(saml.InvalidSamlRecipient) as refused:
        validate(real_login, crafted)
    assert refused.value.error_type == "invalid_recipient_saml_response"


def test_a_response_for_another_acs_is_refused(real_login: RealLogin, validate: Validate) -> None:
    """Another connection's ACS: Destination and Recipient both name the real one."""
    other_sp = saml.ServiceProvider(real_login.sp.entity_id, real_login.sp.acs_url + "-other")
    with pytest.raises(saml.InvalidSamlDestination):
        validate(real_login, sp=other_sp)


def test_another_destination_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    root.set("Destination", "https://another-app.example/acs")
    with pytest.raises(saml.InvalidSamlDestination) as refused:
        validate(real_login, encode(root))
    assert refused.value.error_type == "invalid_destination_saml_response"


def test_a_signed_response_without_destination_is_refused(
    real_login_signed_response: RealLogin, validate: Validate
) -> None:
    login = real_login_signed_response
    root = login.tree()
    del root.attrib["Destination"]
    root = sign(root, login.key, login.certificate)
    with pytest.raises(saml.InvalidSamlDestination):
        validate(login, encode(root))


def test_another_issuer_is_refused(real_login: RealLogin, validate: Validate) -> None:
    crafted = edit_assertion(
        real_login, lambda a: _set(a, "saml:Issuer", None, "https://another-idp.example")
    )
    with pytest.raises(saml.InvalidSamlIssuer) as refused:
        validate(real_login, crafted)
    assert refused.value.error_type == "invalid_issuer_saml_response"


def test_a_connection_for_another_idp_refuses_it(real_login: RealLogin, validate: Validate) -> None:
    other = saml.IdentityProvider(
        "https://another-idp.example", real_login.idp.sso_url, real_login.idp.certificates
    )
    with pytest.raises(saml.InvalidSamlIssuer):
        validate(real_login, idp=other)


def test_in_response_to_of_another_login_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    with pytest.raises(saml.InvalidSamlInResponseTo) as refused:
        validate(real_login, expected_request_id=saml.new_request_id())
    assert refused.value.error_type == "invalid_in_response_to_saml_response"


def test_a_solicited_response_is_refused_where_none_was_asked_for(
    real_login: RealLogin, validate: Validate
) -> None:
    with pytest.raises(saml.InvalidSamlInResponseTo):
        validate(real_login, expected_request_id=None)


def test_an_unsolicited_response_is_refused_where_a_login_was_started(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    del root.attrib["InResponseTo"]
    assertion = assertion_of(root)
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert data is not None
    del data.attrib["InResponseTo"]
    sign(assertion, real_login.key, real_login.certificate)
    crafted = encode(root)
    with pytest.raises(saml.UnsolicitedSamlResponse):
        validate(real_login, crafted)
    # The same response is what an IdP-initiated login looks like:
    assert validate(real_login, crafted, expected_request_id=None).in_response_to is None


def test_a_non_bearer_confirmation_is_refused(real_login: RealLogin, validate: Validate) -> None:
    crafted = edit_assertion(
        real_login,
        lambda a: _set(
            a,
            "saml:Subject/saml:SubjectConfirmation",
            "Method",
            "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key",
        ),
    )
    with pytest.raises(saml.InvalidSamlSubjectConfirmation):
        validate(real_login, crafted)


def test_a_status_other_than_success_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    _set(
        root,
        "samlp:Status/samlp:StatusCode",
        "Value",
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
    )
    with pytest.raises(saml.FailedSamlResponse) as refused:
        validate(real_login, encode(root))
    assert refused.value.error_type == "failed_saml_response"
    assert refused.value.details == {"status": "urn:oasis:names:tc:SAML:2.0:status:Responder"}


def test_an_encrypted_assertion_is_refused_clearly(
    real_login: RealLogin, validate: Validate
) -> None:
    root = real_login.tree()
    original = assertion_of(root)
    encrypted = etree.Element(SAML + "EncryptedAssertion")
    etree.SubElement(encrypted, "{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    root.replace(original, encrypted)
    with pytest.raises(saml.EncryptedSamlAssertionUnsupported) as refused:
        validate(real_login, encode(root))
    assert "encryption" in refused.value.message


# -- parsing -----------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol9;</samlp:Response>"""


def test_billion_laughs_is_refused(real_login: RealLogin, validate: Validate) -> None:
    with pytest.raises(saml.InvalidSamlResponseXml) as refused:
        validate(real_login, base64.b64encode(BILLION_LAUGHS).decode())
    assert refused.value.error_type == "invalid_xml_saml_response"


def test_a_dtd_in_a_real_response_is_refused(real_login: RealLogin, validate: Validate) -> None:
    """A DTD can declare which attribute is an ID; any DTD is refused, even a harmless one."""
    document = base64.b64decode(real_login.saml_response)
    crafted = b"<!DOCTYPE samlp:Response [<!ATTLIST x ID ID #IMPLIED>]>" + document
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, base64.b64encode(crafted).decode())


def test_an_external_entity_is_refused(real_login: RealLogin, validate: Validate) -> None:
    document = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>'
    )
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, base64.b64encode(document).decode())


def test_a_dtd_hidden_in_utf16_is_refused(real_login: RealLogin, validate: Validate) -> None:
    document = BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16")
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, base64.b64encode(document).decode())


def test_oversized_input_is_refused_before_parsing(
    real_login: RealLogin, validate: Validate
) -> None:
    huge = "A" * (saml.MAX_RESPONSE_BYTES * 2)
    with pytest.raises(saml.SamlResponseTooLarge) as refused:
        validate(real_login, huge)
    assert refused.value.error_type == "saml_response_too_large"


def test_an_oversized_document_is_refused(real_login: RealLogin, validate: Validate) -> None:
    root = real_login.tree()
    padding = etree.SubElement(root, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    padding.text = "x" * saml.MAX_RESPONSE_BYTES
    with pytest.raises(saml.SamlResponseTooLarge):
        validate(real_login, encode(root))


@pytest.mark.parametrize("value", ["not base64!", "QUJD=extra", "", "   "])
def test_bad_base64_is_refused(real_login: RealLogin, validate: Validate, value: str) -> None:
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, value)


@pytest.mark.parametrize(
    "document",
    [
        b"not xml at all",
        b"<a><b></a>",
        b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>',
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>',
    ],
)
def test_what_is_not_a_saml_response_is_refused(
    real_login: RealLogin, validate: Validate, document: bytes
) -> None:
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, base64.b64encode(document).decode())


def test_refusals_never_echo_the_message(real_login: RealLogin, validate: Validate) -> None:
    marker = "<script>alert(1)</script>"
    crafted = edit_assertion(real_login, lambda a: _set(a, "saml:Issuer", None, marker))
    root = real_login.tree()
    _set(root, "samlp:Status/samlp:StatusCode", "Value", marker)
    for response in (crafted, encode(root), base64.b64encode(marker.encode()).decode()):
        with pytest.raises(saml.SamlResponseError) as refused:
            validate(real_login, response)
        assert "script" not in str(refused.value)
        assert "script" not in repr(refused.value.details)
        assert not isinstance(refused.value, BadRequest)


def test_the_alternative_audience_and_acs_url_are_accepted(
    real_login: RealLogin, validate: Validate
) -> None:
    """Stytch's alternative_audience_uri / alternative_acs_url (a migration): the IdP still
    names the old values, and the connection accepts them beside its own."""
    migrating = saml.ServiceProvider(
        "https://antechamber.test/saml/new",
        "https://antechamber.test/v1/b2b/sso/callback/new",
        alternative_audience=real_login.sp.entity_id,
        alternative_acs_url=real_login.sp.acs_url,
    )
    assert validate(real_login, sp=migrating).name_id == "alice@example.com"
    without = saml.ServiceProvider(
        migrating.entity_id, migrating.acs_url, alternative_acs_url=real_login.sp.acs_url
    )
    with pytest.raises(saml.InvalidSamlAudience):
        validate(real_login, sp=without)
