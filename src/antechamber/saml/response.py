"""Validating a SAMLResponse (HTTP-POST binding) for a service provider.

The order matters and is the defence against XML signature wrapping (XSW1–XSW8):

1. Size limit, strict base64, hardened parse (no DTD, no entities, no network).
2. Structure: the root is a samlp:Response; the whole document holds exactly one
   saml:Assertion, and it is a child of the root (wrapping attacks need a second copy of the
   signed element somewhere: in an Extensions, in a Signature's Object, nested in an evil
   assertion…); no EncryptedAssertion.
3. Signatures: a ds:Signature that is a direct child of the Response or of the Assertion,
   verified with the connection's certificates only (signxml, `x509_cert=`; a certificate in
   KeyInfo is never used to verify). The signature must reference the very element it sits
   in (`URI="#" + its ID`), by an ID that occurs once in the document.
4. Every value is then read only from signxml's `signed_xml`: the signed element, rebuilt from
   the canonical bytes the digest covered (comments and anything outside are gone). Response
   fields (Status, Destination, InResponseTo) come from the signed Response when it is signed,
   else from the unsigned Response; there they only add refusals, never values.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.exceptions import InvalidCertificate, InvalidDigest, SignXMLException
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from antechamber.saml.decryption import decrypt_assertion, load_decryption_keys
from antechamber.saml.errors import (
    EncryptedSamlAssertionUnsupported,
    ExpiredSamlResponse,
    FailedSamlResponse,
    InvalidSamlAudience,
    InvalidSamlDestination,
    InvalidSamlEncryption,
    InvalidSamlInResponseTo,
    InvalidSamlIssuer,
    InvalidSamlRecipient,
    InvalidSamlResponseXml,
    InvalidSamlSignature,
    InvalidSamlSubjectConfirmation,
    MissingSamlSignature,
    NotYetValidSamlResponse,
    SamlCertificateMismatch,
    SamlResponseError,
    SamlResponseTooLarge,
    UnsolicitedSamlResponse,
)
from antechamber.saml.models import Assertion, IdentityProvider, ServiceProvider
from antechamber.saml.xml import NS, SAML, SAMLP, UnsafeXml, parse, text

MAX_RESPONSE_BYTES: Final = 256 * 1024
"""The largest decoded SAMLResponse accepted (base64 input may be 4/3 of it plus line breaks).
Real responses are a few KB; large ones come from many group attributes."""

SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
ENTITY_FORMAT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
_STATUS_CODE = re.compile(r"urn:oasis:names:tc:SAML:2\.0:status:[A-Za-z]{1,40}")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def validate_response(
    saml_response_b64: str | bytes,
    sp: ServiceProvider,
    idp: IdentityProvider,
    *,
    expected_request_id: str | None,
    now: datetime,
    skew: timedelta = timedelta(minutes=2),
) -> Assertion:
    """Validate the `SAMLResponse` form field the IdP posted to our ACS and return what it
    proves, or raise a `SamlResponseError` subclass (never anything else for bad input).

    Consumes nothing and stores nothing: the caller must refuse an `assertion_id` seen before
    (replay) and bind `expected_request_id` to the browser's login (RelayState + cookie).

    `expected_request_id` is the ID of the AuthnRequest this login sent; `None` accepts only an
    IdP-initiated response (one without InResponseTo anywhere).

    An EncryptedAssertion is decrypted with `sp.decryption_keys` (after the Response's
    signature, if any, is verified); without keys it is refused as unsupported.

    Requires: a Response or Assertion signature by one of `idp.certificates` (RSA or ECDSA with
    SHA-256 or better; SHA-1 refused); Status Success; Issuer = `idp.entity_id`; Destination
    (required when the Response is signed) in `sp.acs_urls`; an AudienceRestriction naming one
    of `sp.audiences` (every one present must); Conditions NotBefore/NotOnOrAfter and a bearer
    SubjectConfirmation with Recipient in `sp.acs_urls`, NotOnOrAfter in the future and
    InResponseTo = `expected_request_id`, all with `skew` either way; a NameID; an
    AuthnStatement."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")  # a caller's bug, not the IdP's
    document = _decode(saml_response_b64)
    try:
        root = parse(document, max_bytes=MAX_RESPONSE_BYTES)
    except UnsafeXml as e:
        if str(e) == "too large":
            raise SamlResponseTooLarge() from e
        raise InvalidSamlResponseXml() from e
    if root.tag != SAMLP + "Response":
        raise InvalidSamlResponseXml()
    assertion_element = _only_assertion(root)
    _unique_ids(root)

    certificates = _certificates(idp)
    response_signed = root.find("ds:Signature", NS) is not None
    if (
        not response_signed
        and assertion_element.tag == SAML + "Assertion"
        and assertion_element.find("ds:Signature", NS) is None
    ):
        raise MissingSamlSignature()

    response = root
    if response_signed:
        response = _verified(root, certificates, now)
        assertion_element = _only_assertion(response)
    encrypted = assertion_element.tag == SAML + "EncryptedAssertion"
    if encrypted:
        assertion_element = _decrypted(response, assertion_element, sp)
    if response_signed:
        # Covered by the Response's signature: `response` is the signed copy (and an
        # encrypted assertion's ciphertext was covered by it). Its own signature, if any,
        # must verify too.
        assertion = (
            _verified(assertion_element, certificates, now)
            if assertion_element.find("ds:Signature", NS) is not None
            else assertion_element
        )
    elif encrypted:
        # Decrypted from ciphertext anyone could have made: whether it failed to decrypt, to
        # parse, or to verify, the sender gets one answer (no padding or parsing oracle).
        try:
            if assertion_element.find("ds:Signature", NS) is None:
                raise MissingSamlSignature()
            assertion = _verified(assertion_element, certificates, now)
        except SamlResponseError as e:
            raise InvalidSamlEncryption() from e
    elif assertion_element.find("ds:Signature", NS) is not None:
        assertion = _verified(assertion_element, certificates, now)
    else:
        raise MissingSamlSignature()

    _check_response(response, sp, idp, expected_request_id, signed=response_signed)
    return _read_assertion(assertion, sp, idp, expected_request_id, now, skew)


def _decode(value: str | bytes) -> bytes:
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    compact = b"".join(raw.split())
    if len(compact) > (MAX_RESPONSE_BYTES * 4) // 3 + 4:
        raise SamlResponseTooLarge()
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidSamlResponseXml("The SAML response is not valid base64.") from e


def _only_assertion(response: etree._Element) -> etree._Element:
    """The one saml:Assertion or saml:EncryptedAssertion, which must be a child of the
    Response. Any other anywhere (inside Extensions, a Signature, another Assertion…) is a
    wrapping attempt."""
    found = list(response.iter(SAML + "Assertion", SAML + "EncryptedAssertion"))
    if len(found) != 1 or found[0].getparent() is not response:
        raise InvalidSamlResponseXml(
            "The SAML response must contain exactly one assertion, directly in the Response."
        )
    return found[0]


def _decrypted(
    response: etree._Element, encrypted: etree._Element, sp: ServiceProvider
) -> etree._Element:
    """Decrypt the EncryptedAssertion with the SP's keys and put the Assertion in its place,
    then hold the whole to the same structure rules as an unencrypted response."""
    keys = load_decryption_keys(sp.decryption_keys)
    if not keys:
        raise EncryptedSamlAssertionUnsupported()
    assertion = decrypt_assertion(encrypted, keys, max_bytes=MAX_RESPONSE_BYTES)
    response.replace(encrypted, assertion)
    try:
        if _only_assertion(response) is not assertion:
            raise InvalidSamlResponseXml()
        _unique_ids(response)
    except SamlResponseError as e:
        raise InvalidSamlEncryption() from e
    return assertion


def _unique_ids(root: etree._Element) -> None:
    """Every ID attribute value occurs once: a reference must name one element."""
    seen: set[str] = set()
    for element in root.iter(etree.Element):
        for name, value in element.attrib.items():
            # signxml resolves `#x` against any attribute whose local name is Id, ID or id,
            # in any namespace; so count them all.
            if etree.QName(name).localname not in ("ID", "Id", "id"):
                continue
            if str(value) in seen:
                raise InvalidSamlSignature()
            seen.add(str(value))


def _certificates(idp: IdentityProvider) -> list[x509.Certificate]:
    loaded: list[x509.Certificate] = []
    for pem in idp.certificates:
        try:
            loaded.append(x509.load_pem_x509_certificate(pem.encode()))
        except ValueError:
            continue  # validated when the connection was saved; one bad entry must not lock out
    if not loaded:
        raise SamlCertificateMismatch("This SAML connection has no usable signing certificate.")
    return loaded


def _verified(
    element: etree._Element, certificates: Sequence[x509.Certificate], now: datetime
) -> etree._Element:
    """Verify the ds:Signature that is a direct child of `element` and return the signed copy
    of `element` (signxml's `signed_xml`), or raise. The signature must cover `element` itself:
    a reference to anything else (a wrapped original elsewhere) is refused."""
    element_id = element.get("ID")
    if not element_id:
        raise InvalidSamlSignature()
    config = SignatureConfiguration(
        location="./",  # only a Signature that is a direct child of `element`
        expect_references=1,
        require_x509=True,
        verification_time=now,
    )
    failures: list[SignXMLException] = []
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(element, x509_cert=certificate, expect_config=config)
        except SignXMLException as e:
            failures.append(e)
            continue
        except (ValueError, TypeError, etree.LxmlError) as e:
            # signxml raises plain ValueErrors for unknown algorithm URIs and bad base64.
            raise InvalidSamlSignature() from e
        if not isinstance(result, VerifyResult):  # expect_references=1 gives one result
            raise InvalidSamlSignature()
        signed = result.signed_xml
        references = result.signature_xml.findall("ds:SignedInfo/ds:Reference", NS)
        if (
            signed is None
            or signed.tag != element.tag
            or signed.get("ID") != element_id
            or len(references) != 1
            or references[0].get("URI") != "#" + element_id
        ):
            raise InvalidSamlSignature()
        return signed
    raise _signature_failure(element, certificates, failures)


def _signature_failure(
    element: etree._Element,
    certificates: Sequence[x509.Certificate],
    failures: Sequence[SignXMLException],
) -> SamlResponseError:
    if any(isinstance(f, InvalidCertificate) for f in failures):
        return SamlCertificateMismatch(
            "The SAML connection's signing certificate is not valid at this time."
        )
    if all(isinstance(f, InvalidDigest) for f in failures):
        return InvalidSamlSignature()  # our key signed it, then the content changed
    # The signature value did not verify with any of our keys. If the message names another
    # certificate (read for this diagnosis only), say so: a rotated IdP certificate.
    ours = {c.public_bytes(Encoding.DER) for c in certificates}
    for value in element.findall("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS):
        try:
            named = base64.b64decode("".join((text(value) or "").split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        if named not in ours:
            return SamlCertificateMismatch()
    return InvalidSamlSignature()


def _check_response(
    response: etree._Element,
    sp: ServiceProvider,
    idp: IdentityProvider,
    expected_request_id: str | None,
    *,
    signed: bool,
) -> None:
    if response.get("Version") != "2.0" or not response.get("ID"):
        raise InvalidSamlResponseXml()
    code = response.find("samlp:Status/samlp:StatusCode", NS)
    if code is None:
        raise InvalidSamlResponseXml()
    value = code.get("Value") or ""
    if value != SUCCESS:
        detail = value if _STATUS_CODE.fullmatch(value) else "unknown"
        raise FailedSamlResponse(status=detail)
    destination = response.get("Destination")
    if (destination is None and signed) or (
        destination is not None and destination not in sp.acs_urls
    ):
        raise InvalidSamlDestination()
    issuer = response.find("saml:Issuer", NS)
    if issuer is not None:
        _check_issuer(issuer, idp)
    in_response_to = response.get("InResponseTo")
    if in_response_to is not None and in_response_to != expected_request_id:
        raise InvalidSamlInResponseTo()


def _check_issuer(issuer: etree._Element, idp: IdentityProvider) -> None:
    if issuer.get("Format") not in (None, ENTITY_FORMAT) or text(issuer) != idp.entity_id:
        raise InvalidSamlIssuer()


def _read_assertion(
    assertion: etree._Element,
    sp: ServiceProvider,
    idp: IdentityProvider,
    expected_request_id: str | None,
    now: datetime,
    skew: timedelta,
) -> Assertion:
    assertion_id = assertion.get("ID")
    if assertion.get("Version") != "2.0" or not assertion_id:
        raise InvalidSamlResponseXml()
    issuer = assertion.find("saml:Issuer", NS)
    if issuer is None:
        raise InvalidSamlIssuer()
    _check_issuer(issuer, idp)

    subject = assertion.find("saml:Subject", NS)
    if subject is None:
        raise InvalidSamlResponseXml("The SAML assertion has no subject.")
    if subject.find("saml:EncryptedID", NS) is not None:
        raise EncryptedSamlAssertionUnsupported()
    name_id_element = subject.find("saml:NameID", NS)
    name_id = text(name_id_element)
    if name_id_element is None or not name_id:
        raise InvalidSamlResponseXml("The SAML assertion has no NameID.")

    confirmation_expiry, in_response_to = _bearer_confirmation(
        subject, sp, expected_request_id, now, skew
    )
    conditions_expiry = _check_conditions(assertion, sp, now, skew)
    not_on_or_after = (
        min(confirmation_expiry, conditions_expiry) if conditions_expiry else confirmation_expiry
    )

    statements = assertion.findall("saml:AuthnStatement", NS)
    if not statements:
        raise InvalidSamlResponseXml("The SAML assertion has no AuthnStatement.")
    session_index = statements[0].get("SessionIndex")

    attributes: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
        name = attribute.get("Name")
        if not name:
            continue
        values = tuple(text(v) or "" for v in attribute.iterfind("saml:AttributeValue", NS))
        attributes[name] = attributes.get(name, ()) + values

    return Assertion(
        assertion_id=assertion_id,
        issuer=idp.entity_id,
        name_id=name_id,
        name_id_format=name_id_element.get("Format"),
        attributes=attributes,
        not_on_or_after=not_on_or_after,
        in_response_to=in_response_to,
        session_index=session_index,
    )


def _bearer_confirmation(
    subject: etree._Element,
    sp: ServiceProvider,
    expected_request_id: str | None,
    now: datetime,
    skew: timedelta,
) -> tuple[datetime, str | None]:
    """The first bearer SubjectConfirmation that passes every check: (its NotOnOrAfter, its
    InResponseTo). If none passes, the refusal of the first bearer one is raised."""
    first_error: SamlResponseError | None = None
    for confirmation in subject.iterfind("saml:SubjectConfirmation", NS):
        if confirmation.get("Method") != BEARER:
            continue
        try:
            return _check_bearer(confirmation, sp, expected_request_id, now, skew)
        except SamlResponseError as e:
            first_error = first_error or e
    raise first_error or InvalidSamlSubjectConfirmation()


def _check_bearer(
    confirmation: etree._Element,
    sp: ServiceProvider,
    expected_request_id: str | None,
    now: datetime,
    skew: timedelta,
) -> tuple[datetime, str | None]:
    data = confirmation.find("saml:SubjectConfirmationData", NS)
    if data is None:
        raise InvalidSamlSubjectConfirmation()
    if data.get("Recipient") not in sp.acs_urls:
        raise InvalidSamlRecipient()
    not_before = _instant(data.get("NotBefore"))
    if not_before is not None and now + skew < not_before:
        raise NotYetValidSamlResponse()
    not_on_or_after = _instant(data.get("NotOnOrAfter"))
    if not_on_or_after is None:
        raise InvalidSamlSubjectConfirmation()
    if now - skew >= not_on_or_after:
        raise ExpiredSamlResponse()
    in_response_to = data.get("InResponseTo")
    if expected_request_id is None:
        if in_response_to is not None:
            raise InvalidSamlInResponseTo()
    elif in_response_to is None:
        raise UnsolicitedSamlResponse()
    elif in_response_to != expected_request_id:
        raise InvalidSamlInResponseTo()
    return not_on_or_after, in_response_to


def _check_conditions(
    assertion: etree._Element, sp: ServiceProvider, now: datetime, skew: timedelta
) -> datetime | None:
    conditions = assertion.find("saml:Conditions", NS)
    if conditions is None:
        raise InvalidSamlAudience()
    not_before = _instant(conditions.get("NotBefore"))
    if not_before is not None and now + skew < not_before:
        raise NotYetValidSamlResponse()
    not_on_or_after = _instant(conditions.get("NotOnOrAfter"))
    if not_on_or_after is not None and now - skew >= not_on_or_after:
        raise ExpiredSamlResponse()
    restrictions = conditions.findall("saml:AudienceRestriction", NS)
    if not restrictions:
        raise InvalidSamlAudience()
    for restriction in restrictions:
        audiences = [text(a) for a in restriction.iterfind("saml:Audience", NS)]
        if not any(audience in sp.audiences for audience in audiences):
            raise InvalidSamlAudience()
    return not_on_or_after


def _instant(value: str | None) -> datetime | None:
    """An xsd:dateTime attribute as an aware UTC datetime (no zone means UTC, as SAML Core
    §1.3.3 requires UTC)."""
    if value is None:
        return None
    cleaned = _FRACTION.sub(r"\1", value.strip())
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as e:
        raise InvalidSamlResponseXml() from e
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
