"""The keys we sign AuthnRequests with: one RSA key and a self-signed certificate per
connection (Stytch's `signing_certificates`, issuer "Stytch"; or a key the admin uploads as
`signing_private_key`, PKCS#1 PEM)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from antechamber.errors import BadRequest

CERTIFICATE_LIFETIME = timedelta(days=3650)
"""IdPs pin this certificate from our metadata; rotating it means a change in every IdP, so
it is long-lived (as IdPs' own signing certificates are)."""

MAX_KEY_PEM_CHARS = 8192


class InvalidSigningKey(BadRequest):
    error_type = "saml_signing_private_key_invalid"
    default_message = "The signing private key is not a PKCS#1 PEM RSA private key of 2048+ bits."


def new_signing_key() -> str:
    """A fresh RSA-2048 private key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`).
    It is a secret: store it as the project stores other secrets, never show it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_signing_key(pem: str) -> rsa.RSAPrivateKey:
    """The RSA key in `pem`, or `InvalidSigningKey`: PKCS#1 only (as Stytch's
    `signing_private_key`), unencrypted, at least 2048 bits, at most 8 KB of PEM."""
    text = pem.strip()
    if len(text) > MAX_KEY_PEM_CHARS or not text.startswith("-----BEGIN RSA PRIVATE KEY-----"):
        raise InvalidSigningKey()
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeError) as e:
        raise InvalidSigningKey() from e
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise InvalidSigningKey()
    return key


def signing_certificate(key_pem: str, *, now: datetime, issuer: str = "Stytch") -> str:
    """A self-signed PEM certificate for `key_pem`, valid from `now` for ten years, subject
    and issuer CN=`issuer`."""
    key = load_signing_key(key_pem)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
