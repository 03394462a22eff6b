"""The AuthnRequest, sent with the HTTP-Redirect binding (SAML Bindings §3.4)."""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from lxml import etree

from antechamber.saml.models import IdentityProvider, ServiceProvider
from antechamber.saml.xml import NS, SAML, SAMLP

POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

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
    HTTP-POST binding back. It is not signed (signing AuthnRequests is optional in SAML and
    not built yet). `relay_state` is at most 80 bytes (Bindings §3.4.3): an opaque handle to
    the login, never a URL the browser chose. Raises ValueError for a longer one (a bug)."""
    if relay_state is not None and len(relay_state.encode()) > MAX_RELAY_STATE_BYTES:
        raise ValueError("RelayState is limited to 80 bytes")
    document = authn_request_xml(sp, idp, request_id=request_id, now=now)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(document) + compressor.flush()
    params = [("SAMLRequest", base64.b64encode(deflated).decode("ascii"))]
    if relay_state is not None:
        params.append(("RelayState", relay_state))
    parts = urlsplit(idp.sso_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
