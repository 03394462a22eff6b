"""The AuthnRequest, sent with the HTTP-Redirect binding (SAML Bindings §3.4)."""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from antechamber.saml.models import IdentityProvider, ServiceProvider
from antechamber.saml.signing_keys import load_signing_key
from antechamber.saml.xml import NS, SAML, SAMLP

POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

# SAML Bindings §3.4.3: RelayState "MUST NOT exceed 80 bytes".
MAX_RELAY_STATE_BYTES = 80


def new_request_id() -> str:
    """A fresh AuthnRequest ID: 160 random bits, starting with `_` as xsd:ID requires.
    The caller stores it with the login it starts and passes it back to
    `validate_response(expected_request_id=…)`."""
    return "_" + secrets.token_hex(20)


def saml_instant(moment: datetime) -> str:
    """xsd:dateTime in UTC with a `Z`, to the second, as SAML Core §1.3.3 asks."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def authn_request_xml(
    sp: ServiceProvider, idp: IdentityProvider, *, request_id: str, now: datetime
) -> bytes:
    """The AuthnRequest document (unsigned), as bytes."""
    request = etree.Element(
        SAMLP + "AuthnRequest",
        nsmap={"samlp": NS["samlp"], "saml": NS["saml"]},
        ID=request_id,
        Version="2.0",
        IssueInstant=saml_instant(now),
        Destination=idp.sso_url,
        AssertionConsumerServiceURL=sp.acs_url,
        ProtocolBinding=POST_BINDING,
    )
    etree.SubElement(request, SAML + "Issuer").text = sp.entity_id
    policy = etree.SubElement(request, SAMLP + "NameIDPolicy", AllowCreate="true")
    if sp.name_id_format:
        policy.set("Format", sp.name_id_format)
    return bytes(etree.tostring(request, encoding="UTF-8", xml_declaration=False))


def authn_request_redirect(
    sp: ServiceProvider,
    idp: IdentityProvider,
    *,
    request_id: str,
    relay_state: str | None,
    now: datetime,
) -> str:
    """The URL to redirect the browser to: `idp.sso_url` with `SAMLRequest` (the AuthnRequest,
    raw DEFLATE, base64) and `RelayState` added to whatever query it already has.

    The request carries ID=`request_id` (from `new_request_id()`), IssueInstant=`now`,
    Destination=`idp.sso_url`, AssertionConsumerServiceURL=`sp.acs_url` and asks for the
    HTTP-POST binding back. When `sp` has a signing key and certificate, the URL is signed
    as the binding says (§3.4.4.1: `SigAlg` RSA-SHA256 and `Signature` over the encoded
    `SAMLRequest`, `RelayState` and `SigAlg`). `relay_state` is at most 80 bytes (Bindings
    §3.4.3): an opaque handle to the login, never a URL the browser chose. Raises ValueError
    for a longer one (a bug)."""
    if relay_state is not None and len(relay_state.encode()) > MAX_RELAY_STATE_BYTES:
        raise ValueError("RelayState is limited to 80 bytes")
    document = authn_request_xml(sp, idp, request_id=request_id, now=now)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(document) + compressor.flush()
    params = [("SAMLRequest", base64.b64encode(deflated).decode("ascii"))]
    if relay_state is not None:
        params.append(("RelayState", relay_state))
    encoded = urlencode(params)
    if sp.signing_key and sp.signing_certificate:
        encoded += "&" + urlencode([("SigAlg", RSA_SHA256)])
        signature = load_signing_key(sp.signing_key).sign(
            encoded.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        encoded += "&" + urlencode([("Signature", base64.b64encode(signature).decode("ascii"))])
    parts = urlsplit(idp.sso_url)
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
