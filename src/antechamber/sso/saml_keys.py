"""The service provider's own keys for SAML: a signing pair per connection (its certificate is
what Stytch lists as `signing_certificates`, issuer "Stytch"), sealed at rest."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from antechamber import crypto
from antechamber.scope import Scope

SIGNING_ISSUER = "Stytch"  # what Stytch's SDKs expect on the signing certificate
SEAL_SAML_KEY = "sso-saml-private-key"


def seal_key(scope: Scope, key: rsa.RSAPrivateKey) -> str:
    # PKCS#1, the one form the SAML library (and Stytch's signing_private_key) takes.
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return crypto.seal(scope.settings.key_bytes(), SEAL_SAML_KEY, pem)


def self_signed(key: rsa.RSAPrivateKey, connection_id: str, now: dt.datetime) -> str:
    """A ten-year self-signed certificate for the SP's signing key (IdPs pin it, they do not
    check a chain)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, SIGNING_ISSUER),
            x509.NameAttribute(NameOID.COMMON_NAME, connection_id[:64]),
        ]
    )
    start = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def unseal(scope: Scope, sealed: str) -> bytes:
    return crypto.unseal(scope.settings.key_bytes(), SEAL_SAML_KEY, sealed)
