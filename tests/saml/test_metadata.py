"""IdP metadata (parsed, fetched) and our SP metadata."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from antechamber import saml
from tests.saml.idp import SimpleSamlIdp

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # the slow handlers finish on their own; don't wait for them
    body: bytes = b""
    paths: list[str]

    def handle_error(self, request: object, client_address: object) -> None:
        return None  # the client hung up on a slow answer, as the timeout tests make it


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.path == "/metadata":
            self._answer(self.server.body)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/metadata")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/missing":
            self._answer(b"no", status=404)
        elif self.path == "/big":
            self._answer(b"x" * 5000)
        elif self.path == "/big-unannounced":
            # No Content-Length: the size is only known by reading.
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 5000)
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(3)  # a server that does not answer in time (the test waits for less)
            self._answer(self.server.body)
        elif self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(30):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            self.close_connection = True

    def _answer(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(saml_idp: SimpleSamlIdp) -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.body = saml_idp.metadata_xml()
    httpd.paths = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _url(server: _Server, path: str, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}{path}"


def _fetch(url: str, *, allow_private: bool = True, timeout: float = 5.0) -> bytes:
    return saml.fetch_idp_metadata(
        url, timeout=timeout, max_bytes=4096, allow_private=allow_private
    )


def test_metadata_is_fetched_and_parsed(server: _Server, saml_idp: SimpleSamlIdp) -> None:
    provider = saml.parse_idp_metadata(_fetch(_url(server, "/metadata")))
    assert provider.entity_id == saml_idp.entity_id
    assert provider.certificates == (saml_idp.certificate_pem,)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "192.168.0.1", "169.254.169.254",
     "100.64.0.1", "[::ffff:127.0.0.1]", "0.0.0.0", "[fe80::1]"],  # noqa: S104
)  # fmt: skip
def test_a_private_address_is_refused_without_connecting(server: _Server, host: str) -> None:
    port = server.server_address[1]
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(f"https://{host}:{port}/metadata", allow_private=False)
    assert refused.value.details["reason"] == "private_address"
    assert refused.value.error_type == "invalid_saml_metadata_url"
    assert server.paths == []


def test_plain_http_is_refused_unless_private_addresses_are_allowed(server: _Server) -> None:
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch("http://idp.example.com/metadata", allow_private=False)
    assert refused.value.details["reason"] == "invalid_url"


@pytest.mark.parametrize(
    "url", ["ftp://idp.example.com/m", "file:///etc/passwd", "https://u:p@idp.example.com/m", "x"]
)
def test_what_is_not_an_https_url_is_refused(url: str) -> None:
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(url, allow_private=False)
    assert refused.value.details["reason"] == "invalid_url"


def test_a_redirect_is_refused_not_followed(server: _Server) -> None:
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(_url(server, "/redirect"))
    assert refused.value.details["reason"] == "redirect"
    assert server.paths == ["/redirect"]


def test_an_error_status_is_refused(server: _Server) -> None:
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(_url(server, "/missing"))
    assert refused.value.details["reason"] == "http_status"


@pytest.mark.parametrize("path", ["/big", "/big-unannounced"])
def test_an_oversized_document_is_refused(server: _Server, path: str) -> None:
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(_url(server, path))
    assert refused.value.details["reason"] == "too_large"


@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_the_timeout_is_honoured(server: _Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(_url(server, path), timeout=0.5)
    assert refused.value.details["reason"] == "timeout"
    assert time.monotonic() - started < 2


def test_a_closed_port_is_refused(server: _Server) -> None:
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(f"http://127.0.0.1:{port}/metadata")
    assert refused.value.details["reason"] == "connection"


# -- parsing -----------------------------------------------------------------------------------


def test_metadata_without_an_idp_is_refused(real_sp_metadata: bytes) -> None:
    with pytest.raises(saml.SamlMetadataError) as refused:
        saml.parse_idp_metadata(real_sp_metadata)
    assert refused.value.error_type == "saml_connection_metadata_invalid_format"


@pytest.fixture
def real_sp_metadata() -> bytes:
    sp = saml.ServiceProvider("https://antechamber.test/a", "https://antechamber.test/acs")
    return saml.sp_metadata(sp).encode()


def test_metadata_with_a_dtd_is_refused(saml_idp: SimpleSamlIdp) -> None:
    document = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + saml_idp.metadata_xml()
    with pytest.raises(saml.SamlMetadataError):
        saml.parse_idp_metadata(document)


def test_metadata_without_a_signing_certificate_is_refused(saml_idp: SimpleSamlIdp) -> None:
    root = etree.fromstring(saml_idp.metadata_xml())
    for key in root.iter(MD + "KeyDescriptor"):
        key.getparent().remove(key)  # type: ignore[union-attr]
    with pytest.raises(saml.SamlMetadataError):
        saml.parse_idp_metadata(etree.tostring(root))


def test_metadata_with_a_bad_certificate_is_refused(saml_idp: SimpleSamlIdp) -> None:
    root = etree.fromstring(saml_idp.metadata_xml())
    for cert in root.iter("{http://www.w3.org/2000/09/xmldsig#}X509Certificate"):
        cert.text = "bm90IGEgY2VydGlmaWNhdGU="
    with pytest.raises(saml.SamlMetadataError):
        saml.parse_idp_metadata(etree.tostring(root))


@pytest.mark.parametrize("document", [b"", b"<not xml", b"{}", b"<a/>"])
def test_what_is_not_metadata_is_refused(document: bytes) -> None:
    with pytest.raises(saml.SamlMetadataError):
        saml.parse_idp_metadata(document)


def test_an_entities_descriptor_with_one_idp_is_read(saml_idp: SimpleSamlIdp) -> None:
    inner = saml_idp.metadata_xml().split(b"?>", 1)[-1]
    wrapped = b'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
    wrapped += inner + b"</md:EntitiesDescriptor>"
    assert saml.parse_idp_metadata(wrapped).entity_id == saml_idp.entity_id


def test_our_sp_metadata_names_the_audience_and_the_acs() -> None:
    sp = saml.ServiceProvider(
        "https://antechamber.test/v1/b2b/sso/callback/c1",
        "https://antechamber.test/v1/b2b/sso/callback/c1",
        name_id_format=saml.NAMEID_EMAIL,
    )
    root = etree.fromstring(saml.sp_metadata(sp).encode())
    assert root.get("entityID") == sp.entity_id
    acs = root.find(f"{MD}SPSSODescriptor/{MD}AssertionConsumerService")
    assert acs is not None
    assert acs.get("Location") == sp.acs_url
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    descriptor = root.find(f"{MD}SPSSODescriptor")
    assert descriptor is not None
    assert descriptor.get("WantAssertionsSigned") == "true"


@pytest.fixture
def tls_server(tmp_path: Path, saml_idp: SimpleSamlIdp) -> Iterator[tuple[_Server, Path]]:
    """The metadata server over TLS, with a certificate for the name `localhost` only (no IP
    address in it), and the certificate's path to trust it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.body, httpd.paths = saml_idp.metadata_xml(), []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd, tmp_path / "cert.pem"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_reaches_the_checked_address_under_the_urls_name(
    tls_server: tuple[_Server, Path], saml_idp: SimpleSamlIdp
) -> None:
    """We connect to the address we resolved and checked, yet TLS (SNI and verification)
    and the Host header use the URL's name: the certificate names only `localhost`."""
    httpd, certificate = tls_server
    trust = ssl.create_default_context(cafile=str(certificate))
    body = saml.fetch_idp_metadata(
        f"https://localhost:{httpd.server_address[1]}/metadata",
        timeout=5,
        max_bytes=1 << 16,
        allow_private=True,
        tls_context=trust,
    )
    assert saml.parse_idp_metadata(body).entity_id == saml_idp.entity_id


def test_an_untrusted_tls_certificate_is_refused(tls_server: tuple[_Server, Path]) -> None:
    httpd, _ = tls_server
    with pytest.raises(saml.SamlMetadataUrlError) as refused:
        _fetch(f"https://localhost:{httpd.server_address[1]}/metadata")
    assert refused.value.details["reason"] == "connection"
    assert httpd.paths == []
