"""Metadata: reading an IdP's (by XML or URL) and writing ours."""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from antechamber.saml.errors import SamlMetadataError, SamlMetadataUrlError
from antechamber.saml.models import IdentityProvider, ServiceProvider
from antechamber.saml.request import POST_BINDING, REDIRECT_BINDING
from antechamber.saml.xml import DS, MD, NS, UnsafeXml, parse, text

MAX_METADATA_BYTES = 1024 * 1024


def parse_idp_metadata(xml: bytes) -> IdentityProvider:
    """An `IdentityProvider` from IdP metadata (SAML Metadata §2.4.3): the EntityDescriptor's
    entityID, the HTTP-Redirect SingleSignOnService Location, and every X.509 certificate of a
    KeyDescriptor whose use is `signing` or unset. An EntitiesDescriptor is accepted when it
    holds exactly one IdP.

    The metadata's own signature is not checked: it came from the admin (pasted) or from a URL
    they gave us. Raises `SamlMetadataError` (never echoing the document)."""
    try:
        root = parse(xml, max_bytes=MAX_METADATA_BYTES)
    except UnsafeXml as e:
        raise SamlMetadataError() from e
    if root.tag == MD + "EntityDescriptor":
        candidates = [root]
    elif root.tag == MD + "EntitiesDescriptor":
        candidates = list(root.iter(MD + "EntityDescriptor"))
    else:
        raise SamlMetadataError("The SAML metadata has no EntityDescriptor.")
    idps = [e for e in candidates if e.find("md:IDPSSODescriptor", NS) is not None]
    if len(idps) != 1:
        raise SamlMetadataError("The SAML metadata must describe exactly one identity provider.")
    entity = idps[0]
    entity_id = (entity.get("entityID") or "").strip()
    if not entity_id:
        raise SamlMetadataError("The SAML metadata has no entityID.")
    descriptor = entity.find("md:IDPSSODescriptor", NS)
    assert descriptor is not None
    sso_url = None
    for service in descriptor.findall("md:SingleSignOnService", NS):
        if service.get("Binding") == REDIRECT_BINDING and service.get("Location"):
            sso_url = (service.get("Location") or "").strip()
            break
    if not sso_url or urlsplit(sso_url).scheme not in ("https", "http"):
        raise SamlMetadataError(
            "The SAML metadata has no SingleSignOnService with the HTTP-Redirect binding."
        )
    certificates: list[str] = []
    for key in descriptor.findall("md:KeyDescriptor", NS):
        if key.get("use") not in (None, "signing"):
            continue
        for cert in key.iter(DS + "X509Certificate"):
            pem = certificate_pem(text(cert) or "")
            if pem not in certificates:
                certificates.append(pem)
    if not certificates:
        raise SamlMetadataError("The SAML metadata has no signing certificate.")
    return IdentityProvider(entity_id=entity_id, sso_url=sso_url, certificates=tuple(certificates))


def certificate_pem(value: str) -> str:
    """A PEM certificate from base64 DER or PEM text; raises `SamlMetadataError` if it is not
    an X.509 certificate."""
    body = value.strip()
    try:
        if body.startswith("-----BEGIN"):
            cert = x509.load_pem_x509_certificate(body.encode())
        else:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join(body.split())))
    except ValueError as e:
        raise SamlMetadataError("The SAML metadata holds a certificate that is not X.509.") from e
    return cert.public_bytes(Encoding.PEM).decode("ascii")


def sp_metadata(sp: ServiceProvider) -> str:
    """Our SP metadata for one connection (SAML Metadata §2.4.4): entityID = `sp.entity_id`,
    one AssertionConsumerService (HTTP-POST) at `sp.acs_url`, WantAssertionsSigned; no key
    but our request-signing certificate when `sp` has one (then AuthnRequestsSigned) and our
    encryption certificate when it has one."""
    signs = bool(sp.signing_key and sp.signing_certificate)
    entity = etree.Element(
        MD + "EntityDescriptor", nsmap={"md": NS["md"], "ds": NS["ds"]}, entityID=sp.entity_id
    )
    descriptor = etree.SubElement(
        entity,
        MD + "SPSSODescriptor",
        AuthnRequestsSigned="true" if signs else "false",
        WantAssertionsSigned="true",
        protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol",
    )
    if signs and sp.signing_certificate:
        key = etree.SubElement(descriptor, MD + "KeyDescriptor", use="signing")
        data = etree.SubElement(etree.SubElement(key, DS + "KeyInfo"), DS + "X509Data")
        der = x509.load_pem_x509_certificate(sp.signing_certificate.encode()).public_bytes(
            Encoding.DER
        )
        etree.SubElement(data, DS + "X509Certificate").text = base64.b64encode(der).decode()
    if sp.encryption_certificate:
        key = etree.SubElement(descriptor, MD + "KeyDescriptor", use="encryption")
        data = etree.SubElement(etree.SubElement(key, DS + "KeyInfo"), DS + "X509Data")
        der = x509.load_pem_x509_certificate(sp.encryption_certificate.encode()).public_bytes(
            Encoding.DER
        )
        etree.SubElement(data, DS + "X509Certificate").text = base64.b64encode(der).decode()
    if sp.name_id_format:
        etree.SubElement(descriptor, MD + "NameIDFormat").text = sp.name_id_format
    etree.SubElement(
        descriptor,
        MD + "AssertionConsumerService",
        Binding=POST_BINDING,
        Location=sp.acs_url,
        index="0",
        isDefault="true",
    )
    return str(etree.tostring(entity, encoding="unicode", pretty_print=True))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise SamlMetadataUrlError(
            "The SAML metadata URL's host name does not resolve.", reason="unresolvable"
        ) from e
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise SamlMetadataUrlError(
            "The SAML metadata URL's host name does not resolve.", reason="unresolvable"
        )
    return addresses


def fetch_idp_metadata(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    tls_context: ssl.SSLContext | None = None,
) -> bytes:
    """GET `url` and return the body, or raise `SamlMetadataUrlError` with a `reason`.

    - `http` or `https` only; plain `http` only when `allow_private` (a development setting):
      metadata carries the certificate we will trust, so it must not travel in clear.
    - The host is resolved once, every address checked, and the request goes to that checked
      address (Host header and TLS SNI/verification still use the name), so DNS rebinding
      cannot swap in an internal address. Loopback, private, link-local, shared, reserved and
      multicast addresses are refused unless `allow_private`.
    - No redirects: a 3xx is refused (it could point anywhere).
    - At most `max_bytes` of body, read as a stream; more is refused.
    - `timeout` seconds for the whole exchange, connection to last byte (a server dripping
      bytes does not get to hold us).
    - TLS verified against `tls_context` (default: httpx's, certifi's CAs), for the name in
      the URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SamlMetadataUrlError(
            "The SAML metadata URL must be an https URL.", reason="invalid_url"
        )
    if parts.scheme != "https" and not allow_private:
        raise SamlMetadataUrlError(
            "The SAML metadata URL must be an https URL.", reason="invalid_url"
        )
    if parts.username or parts.password:
        raise SamlMetadataUrlError(
            "The SAML metadata URL must not carry credentials.", reason="invalid_url"
        )
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise SamlMetadataUrlError("The SAML metadata URL is invalid.", reason="invalid_url") from e
    addresses = _resolve(host, port)
    if not allow_private and not all(_is_public(a) for a in addresses):
        raise SamlMetadataUrlError(
            "The SAML metadata URL points to a private or local address.",
            reason="private_address",
        )
    address = addresses[0]
    target = httpx.URL(url).copy_with(host=address.split("%", 1)[0])
    deadline = time.monotonic() + timeout
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "application/samlmetadata+xml"}
    # iter_bytes() decodes gzip: the limit below counts decoded bytes, so a small compressed
    # body cannot expand past it.
    try:
        with httpx.Client(
            follow_redirects=False,
            timeout=timeout,
            trust_env=False,
            verify=tls_context if tls_context is not None else True,
        ) as client:
            request = client.build_request(
                "GET", target, headers=headers, extensions={"sni_hostname": host}
            )
            response = client.send(request, stream=True)
            try:
                if response.is_redirect or 300 <= response.status_code < 400:
                    raise SamlMetadataUrlError(
                        "The SAML metadata URL redirects; give the final URL.", reason="redirect"
                    )
                if response.status_code != 200:
                    raise SamlMetadataUrlError(
                        "The SAML metadata URL did not answer 200 OK.", reason="http_status"
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise SamlMetadataUrlError(
                        "The SAML metadata is too large.", reason="too_large"
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise SamlMetadataUrlError(
                            "The SAML metadata is too large.", reason="too_large"
                        )
                    if time.monotonic() > deadline:
                        raise SamlMetadataUrlError(
                            "The SAML metadata URL did not answer in time.", reason="timeout"
                        )
            finally:
                response.close()
    except httpx.TimeoutException as e:
        raise SamlMetadataUrlError(
            "The SAML metadata URL did not answer in time.", reason="timeout"
        ) from e
    except httpx.HTTPError as e:
        raise SamlMetadataUrlError(
            "The SAML metadata URL could not be reached.", reason="connection"
        ) from e
    if time.monotonic() > deadline:
        raise SamlMetadataUrlError(
            "The SAML metadata URL did not answer in time.", reason="timeout"
        )
    return bytes(body)
