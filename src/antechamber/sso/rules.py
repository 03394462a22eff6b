"""What a connection's fields may be: identity providers, URLs, certificates, keys, mappings.

Pure checks (no database); `connections` applies them. The URL rules follow
`outbound.check_url` (https, or http where private addresses are allowed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from antechamber.errors import InvalidArgument
from antechamber.scope import Scope
from antechamber.sso import errors
from antechamber.sso.outbound import OutboundError, check_url

IDENTITY_PROVIDERS = (
    "classlink",
    "cyberark",
    "duo",
    "generic",
    "google-workspace",
    "jumpcloud",
    "keycloak",
    "miniorange",
    "microsoft-entra",
    "okta",
    "onelogin",
    "pingfederate",
    "rippling",
    "salesforce",
    "shibboleth",
)


def role_assignments(values: object, *, groups: bool) -> list[dict[str, Any]]:
    """Stytch's implicit role assignment lists, kept as given ({role_id} or {role_id, group}).

    Role ids are checked for shape only: the roles themselves are the RBAC package's."""
    if not isinstance(values, list):
        raise errors.InvalidRoleAssignments()
    result: list[dict[str, Any]] = []
    for item in values:
        if not isinstance(item, dict) or not isinstance(item.get("role_id"), str):
            raise errors.InvalidRoleAssignments()
        entry = {"role_id": item["role_id"][:128]}
        if groups:
            if not isinstance(item.get("group"), str) or not item["group"]:
                raise errors.InvalidRoleAssignments()
            entry["group"] = item["group"][:256]
        if not entry["role_id"]:
            raise errors.InvalidRoleAssignments()
        result.append(entry)
    return result


def parse_certificate(pem: object) -> x509.Certificate:
    if not isinstance(pem, str) or len(pem) > 16_384:
        raise errors.InvalidX509Certificate()
    text = pem.strip()
    if not text.startswith("-----BEGIN"):
        # Metadata and IdP consoles often give the base64 body alone.
        text = (
            "-----BEGIN CERTIFICATE-----\n" + "".join(text.split()) + "\n-----END CERTIFICATE-----"
        )
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        raise errors.InvalidX509Certificate() from None


def display_name(value: object) -> str:
    return short(value or "", 256).strip()


def idp(value: object) -> str:
    if not value:
        return "generic"
    if value not in IDENTITY_PROVIDERS:
        raise errors.InvalidSsoIdp()
    return str(value)


def short(value: object, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidArgument(f"Expected a string of at most {limit} characters.")
    return value


def entity_id(value: object) -> str:
    if not isinstance(value, str) or len(value) > 1024 or any(c.isspace() for c in value):
        raise errors.InvalidIdpEntityId()
    return value


def https_url(
    scope: Scope, value: object, error: type[Exception], *, allow_empty: bool = False
) -> str:
    if value == "" and allow_empty:
        return ""
    if not isinstance(value, str) or len(value) > 2048 or any(c.isspace() for c in value):
        raise error()
    try:
        parts = urlsplit(value)
        check_url(value, scope.settings, resolve=False)
    except (OutboundError, ValueError):
        raise error() from None
    if parts.fragment:
        raise error()
    return value


def flat_mapping(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise errors.InvalidAttributeMapping()
    if any(not isinstance(v, str) or not isinstance(k, str) for k, v in value.items()):
        raise errors.NestedAttributeMapping()
    return {str(k): str(v) for k, v in value.items()}


def attribute_mapping(value: object) -> dict[str, str]:
    mapping = flat_mapping(value)
    if not mapping:
        return {}
    named = "full_name" in mapping or {"first_name", "last_name"} <= mapping.keys()
    if "email" not in mapping or not named:
        raise errors.InvalidAttributeMapping()
    return mapping


def pkcs1_key(pem: object) -> rsa.RSAPrivateKey:
    if not isinstance(pem, str) or len(pem) > 8192:
        raise errors.InvalidPrivateKey()
    if not pem.strip().startswith("-----BEGIN RSA PRIVATE KEY-----"):
        raise errors.PrivateKeyFormatNotSupported()
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise errors.InvalidPrivateKey() from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise errors.InvalidPrivateKey()
    return key
