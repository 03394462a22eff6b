"""Helpers to derive crafted SAMLResponses from a real one: decode, edit with lxml, re-sign an
element with a key (the IdP's own, to change a signed value; or another), encode."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import algorithms
from signxml.signer import XMLSigner

from antechamber.saml import IdentityProvider, ServiceProvider

SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


@dataclass(frozen=True)
class RealLogin:
    """A SAMLResponse SimpleSAMLphp produced for a real login, and what validating it needs."""

    saml_response: str
    sp: ServiceProvider
    idp: IdentityProvider
    request_id: str
    now: datetime
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def tree(self) -> etree._Element:
        return etree.fromstring(base64.b64decode(self.saml_response))


def encode(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root)).decode()


def assertion_of(root: etree._Element) -> etree._Element:
    found = root.find("saml:Assertion", NS)
    assert found is not None
    return found


def signature_of(element: etree._Element) -> etree._Element:
    found = element.find("ds:Signature", NS)
    assert found is not None
    return found


def strip_signature(element: etree._Element) -> etree._Element:
    for signature in element.findall("ds:Signature", NS):
        element.remove(signature)
    return element


class _Signer(XMLSigner):
    """signxml's signer, allowed to make SHA-1 signatures (to test that they are refused)."""

    def check_deprecated_methods(self) -> None:
        return None


def sign(
    element: etree._Element,
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate | None,
    *,
    algorithm: str = "rsa-sha256",
    digest: str = "sha256",
) -> etree._Element:
    """Replace `element` in its tree by a copy signed (enveloped, exclusive c14n) with `key`,
    the ds:Signature placed after the Issuer as SAML's schema has it. Returns the copy."""
    strip_signature(element)
    parent = element.getparent()
    standalone = copy.deepcopy(element)
    issuer = standalone.find("saml:Issuer", NS)
    placeholder = etree.Element(DS + "Signature", Id="placeholder", nsmap={"ds": NS["ds"]})
    if issuer is not None:
        issuer.addnext(placeholder)
    else:
        standalone.insert(0, placeholder)
    signer = _Signer(
        signature_algorithm=algorithms.SignatureMethod[algorithm.upper().replace("-", "_")],
        digest_algorithm=algorithms.DigestAlgorithm[digest.upper()],
        c14n_algorithm=algorithms.CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signer.namespaces = {"ds": NS["ds"]}
    signed = signer.sign(
        standalone,
        key=key,
        cert=[certificate] if certificate is not None else None,
        reference_uri="#" + (element.get("ID") or ""),
        always_add_key_value=certificate is None,
    )
    if parent is not None:
        parent.replace(element, signed)
    return signed


def edit_assertion(
    login: RealLogin,
    change: Callable[[etree._Element], None],
    *,
    key: rsa.RSAPrivateKey | None = None,
    certificate: x509.Certificate | None = None,
) -> str:
    """The real response with its assertion changed by `change` and signed again by the
    IdP's key (or `key`): a value the IdP could have signed, to test one rule at a time."""
    root = login.tree()
    assertion = assertion_of(root)
    strip_signature(assertion)
    change(assertion)
    sign(
        assertion,
        key or login.key,
        certificate if key is not None else login.certificate,
    )
    return encode(root)
