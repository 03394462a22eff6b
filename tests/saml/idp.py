"""A real SAML identity provider for tests: SimpleSAMLphp (Debian's `simplesamlphp`, not our
code) served by `php -S` on 127.0.0.1, with a private config directory, its own signing key and
`exampleauth:UserPass` users.

Install (scripts/test does it):
`apt-get install -y simplesamlphp php-cli php-xml php-mbstring`. Without them
`SimpleSamlIdp.available()` is False and the fixtures skip.

Use (the sso tests can import this module):

    from tests.saml.idp import SimpleSamlIdp, IdpUser

    with SimpleSamlIdp.start(tmp_path) as idp:            # or the `saml_idp` fixture
        idp.add_sp("https://sp.example/audience", "http://127.0.0.1:8000/v1/b2b/sso/callback/c1")
        idp.metadata_url   # http://127.0.0.1:<port>/saml2/idp/metadata.php
        idp.metadata_xml() # bytes, for parse_idp_metadata
        idp.entity_id, idp.sso_url, idp.certificate_pem
        # Drive a login without a browser: follow the AuthnRequest redirect URL, post the form.
        posted = idp.login(redirect_url, "alice", "alice-password")
        posted.saml_response, posted.relay_state, posted.acs_url   # what the browser would POST
        # IdP-initiated (no AuthnRequest; validate with expected_request_id=None):
        posted = idp.login(idp.idp_initiated_url(sp_entity_id), "alice", "alice-password")

With Playwright: `page.goto(redirect_url)`, fill `#username` and `#password`, click the
button (`button#submit_button` / text "Login"); SimpleSAMLphp then posts `SAMLResponse` and
`RelayState` to the ACS URL by JavaScript (an auto-submitting form).

`add_sp` may be called at any time (the PHP reads its metadata files on every request), so a
session-scoped IdP serves connections created per test. By default the IdP signs the assertion
only (SimpleSAMLphp's default); `add_sp(..., sign_response=True)` signs the Response too,
`request_signing_certificate=` makes it require signed AuthnRequests, and
`encryption_certificate=` makes it encrypt the assertion.
The default users: `alice` (alice@example.com, "Alice Example") and `bob`
(bob@other.example, "Bob Other"); pass `users=` to `start` for others. The NameID is the
`email` attribute with the emailAddress format; attributes are sent by their names (`email`,
`name`, `uid`, plus any you add) with the basic name format.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SIMPLESAMLPHP = Path("/usr/share/simplesamlphp")
DEBIAN_CONFIG = Path("/etc/simplesamlphp/config.php")


@dataclass(frozen=True)
class IdpUser:
    username: str
    password: str
    email: str
    name: str
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


DEFAULT_USERS = (
    IdpUser("alice", "alice-password", "alice@example.com", "Alice Example"),
    IdpUser("bob", "bob-password", "bob@other.example", "Bob Other"),
)


@dataclass(frozen=True)
class PostedResponse:
    """What the IdP's auto-submitting form would POST to the ACS."""

    acs_url: str
    saml_response: str
    relay_state: str | None


def make_signing_key(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """An RSA-2048 key and a self-signed certificate valid from yesterday for ten years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _php(value: object) -> str:
    """A Python value as a PHP literal (str, bool, int, list/tuple, dict)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    raise TypeError(type(value))


def _key_entry(
    certificate_pem: str, *, signing: bool = False, encryption: bool = False
) -> dict[str, object]:
    der = x509.load_pem_x509_certificate(certificate_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    return {
        "type": "X509Certificate",
        "signing": signing,
        "encryption": encryption,
        "X509Certificate": base64.b64encode(der).decode(),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimpleSamlIdp:
    """A running SimpleSAMLphp IdP. Create with `SimpleSamlIdp.start(directory)`."""

    def __init__(self, directory: Path, port: int, users: tuple[IdpUser, ...]) -> None:
        self.directory = directory
        self.port = port
        self.users = users
        self.base_url = f"http://127.0.0.1:{port}/"
        self.entity_id = f"{self.base_url}saml2/idp/metadata.php"
        self.metadata_url = self.entity_id
        self.sso_url = f"{self.base_url}saml2/idp/SSOService.php"
        key, cert = make_signing_key("Antechamber test IdP")
        self.private_key = key
        self.certificate = cert
        self.certificate_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self._sps: dict[str, dict[str, object]] = {}
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return (SIMPLESAMLPHP / "www").is_dir() and shutil.which("php") is not None

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, directory: Path, *, users: tuple[IdpUser, ...] = DEFAULT_USERS
    ) -> Iterator[SimpleSamlIdp]:
        """Write a private config under `directory`, start `php -S`, wait until the metadata
        answers, and stop the server on exit."""
        idp = cls(directory, _free_port(), users)
        idp._write_config()
        idp._run()
        try:
            yield idp
        finally:
            idp.stop()

    def add_sp(
        self,
        entity_id: str,
        acs_url: str,
        *,
        sign_response: bool = False,
        sign_assertion: bool = True,
        request_signing_certificate: str | None = None,
        encryption_certificate: str | None = None,
    ) -> None:
        """Register (or replace) a service provider: where to post, what to sign. With
        `request_signing_certificate` (PEM), the IdP requires AuthnRequests signed by it; with
        `encryption_certificate` (PEM), it encrypts the assertion to it (AES-128-CBC, the
        content key wrapped with RSA-OAEP: SimpleSAMLphp's choice)."""
        keys: list[dict[str, object]] = []
        extra: dict[str, object] = {}
        if request_signing_certificate is not None:
            keys.append(_key_entry(request_signing_certificate, signing=True))
            extra["validate.authnrequest"] = True
        if encryption_certificate is not None:
            keys.append(_key_entry(encryption_certificate, encryption=True))
            extra["assertion.encryption"] = True
        if keys:
            extra["keys"] = keys
        self._sps[entity_id] = {
            **extra,
            "AssertionConsumerService": acs_url,
            "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "simplesaml.nameidattribute": "email",
            "simplesaml.attributes": True,
            "saml20.sign.response": sign_response,
            "saml20.sign.assertion": sign_assertion,
            "signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        }
        self._write_sp_metadata()

    def metadata_xml(self) -> bytes:
        response = httpx.get(self.metadata_url, timeout=10)
        response.raise_for_status()
        return response.content

    def login(self, redirect_url: str, username: str, password: str) -> PostedResponse:
        """Follow `redirect_url` (our AuthnRequest) as a browser would, sign in with the
        login form, and return the form SimpleSAMLphp would auto-post to the ACS."""
        with httpx.Client(follow_redirects=True, timeout=20) as browser:
            page = browser.get(redirect_url)
            page.raise_for_status()
            auth_state = _input_value(page.text, "AuthState")
            if auth_state is None:
                raise AssertionError("SimpleSAMLphp did not show its login form")
            answer = browser.post(
                str(page.url),
                data={"username": username, "password": password, "AuthState": auth_state},
            )
            answer.raise_for_status()
            return _posted_form(answer.text, str(answer.url))

    def idp_initiated_url(self, sp_entity_id: str, relay_state: str | None = None) -> str:
        """The IdP-initiated (unsolicited) login URL for a registered SP: the IdP's own
        "open this app" link. The SAMLResponse it posts has no InResponseTo."""
        params = {"spentityid": sp_entity_id}
        if relay_state is not None:
            params["RelayState"] = relay_state
        return str(httpx.URL(self.sso_url, params=params))

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    # -- configuration ------------------------------------------------------------------------

    def _write_config(self) -> None:
        d = self.directory
        for sub in ("config", "metadata", "cert", "data", "tmp", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "cert" / "idp.key").write_bytes(
            self.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        (d / "cert" / "idp.crt").write_text(self.certificate_pem)
        overrides = {
            "baseurlpath": self.base_url,
            "certdir": f"{d / 'cert'}/",
            "loggingdir": f"{d / 'log'}/",
            "datadir": f"{d / 'data'}/",
            "tempdir": f"{d / 'tmp'}",
            "metadatadir": f"{d / 'metadata'}/",
            "secretsalt": base64.b16encode(os.urandom(16)).decode(),
            "auth.adminpassword": base64.b16encode(os.urandom(16)).decode(),
            "technicalcontact_email": "idp@example.com",
            "logging.handler": "file",
            "logging.level": 6,
            "enable.saml20-idp": True,
            "module.enable": {"exampleauth": True, "core": True, "saml": True},
            "session.cookie.secure": False,
            "session.cookie.samesite": None,
            "store.type": "phpsession",
            "session.phpsession.savepath": f"{d / 'tmp'}",
        }
        lines = ["<?php", f"require {_php(str(DEBIAN_CONFIG))};"]
        for key, value in overrides.items():
            php_value = "null" if value is None else _php(value)
            lines.append(f"$config[{_php(key)}] = {php_value};")
        (d / "config" / "config.php").write_text("\n".join(lines) + "\n")

        userpass: dict[str, object] = {"exampleauth:UserPass": None}
        entries = []
        for user in self.users:
            attributes: dict[str, object] = {
                "uid": [user.username],
                "email": [user.email],
                "name": [user.name],
            }
            attributes.update({k: list(v) for k, v in user.extra.items()})
            entries.append(f"{_php(user.username + ':' + user.password)} => {_php(attributes)}")
        del userpass
        (d / "config" / "authsources.php").write_text(
            "<?php\n$config = [\n"
            "  'admin' => ['core:AdminPassword'],\n"
            "  'users' => ['exampleauth:UserPass', " + ", ".join(entries) + "],\n"
            "];\n"
        )
        hosted = {
            "host": "__DEFAULT__",
            "privatekey": "idp.key",
            "certificate": "idp.crt",
            "auth": "users",
            "signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
        }
        (d / "metadata" / "saml20-idp-hosted.php").write_text(
            f"<?php\n$metadata[{_php(self.entity_id)}] = {_php(hosted)};\n"
        )
        self._write_sp_metadata()

    def _write_sp_metadata(self) -> None:
        body = "".join(f"$metadata[{_php(k)}] = {_php(v)};\n" for k, v in self._sps.items())
        target = self.directory / "metadata" / "saml20-sp-remote.php"
        staging = target.with_suffix(".tmp")
        staging.write_text("<?php\n" + body)
        staging.replace(target)  # atomic: a request never reads half a file

    def _run(self) -> None:
        env = {
            **os.environ,
            "SIMPLESAMLPHP_CONFIG_DIR": str(self.directory / "config"),
        }
        log = (self.directory / "log" / "php-server.log").open("wb")
        self._process = subprocess.Popen(
            [
                "php",
                "-d",
                f"session.save_path={self.directory / 'tmp'}",
                "-d",
                "display_errors=stderr",
                # Debian enables opcache for `php -S` with revalidate_freq=2: an SP registered
                # within two seconds of the last one would be served from the stale metadata
                # file ("Metadata not found", an intermittent failure of the e2e tests).
                "-d",
                "opcache.enable=0",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(SIMPLESAMLPHP / "www"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                answer = httpx.get(self.metadata_url, timeout=2)
                if answer.status_code == 200 and b"EntityDescriptor" in answer.content[:500]:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # waiting for a real server to come up, not for a clock
        self.stop()
        raise RuntimeError(
            "SimpleSAMLphp did not start; see " + str(self.directory / "log" / "php-server.log")
        )


def _input_value(page: str, name: str) -> str | None:
    for tag in re.findall(r"<input\b[^>]*>", page, flags=re.IGNORECASE):
        if re.search(rf'name="{re.escape(name)}"', tag):
            value = re.search(r'value="([^"]*)"', tag)
            return html.unescape(value.group(1)) if value else ""
    return None


def _posted_form(page: str, page_url: str) -> PostedResponse:
    form = re.search(r'<form\b[^>]*action="([^"]*)"', page, flags=re.IGNORECASE)
    saml_response = _input_value(page, "SAMLResponse")
    if form is None or saml_response is None:
        raise AssertionError("SimpleSAMLphp did not answer with a SAMLResponse form")
    return PostedResponse(
        acs_url=urljoin(page_url, html.unescape(form.group(1))),
        saml_response=saml_response,
        relay_state=_input_value(page, "RelayState"),
    )


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSamlIdp]:
    """One SimpleSAMLphp IdP for the test session; register SPs with `saml_idp.add_sp`.
    Import it into a conftest (`from tests.saml.idp import saml_idp`) to use it elsewhere."""
    if not SimpleSamlIdp.available():
        pytest.skip("SimpleSAMLphp is not installed (scripts/test installs it)")
    with SimpleSamlIdp.start(tmp_path_factory.mktemp("simplesamlphp")) as idp:
        yield idp
