"""Test a connection without signing anyone in: what an operator runs after setting it up.

OIDC: the issuer's discovery document answers and names the same issuer; the JWKS answers
with at least one signing key. SAML: the connection has what a login needs, and its
verification certificates are within their validity. Each check says what it found; none
changes anything. Network checks run with no unit of work open (`outbound`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from antechamber.clock import as_utc
from antechamber.settings import Settings
from antechamber.sso.models import OidcConnection, SamlConnection
from antechamber.sso.outbound import OutboundError, get_json


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class OidcEndpoints:
    """What the OIDC checks need, read from the connection inside a unit of work."""

    issuer: str
    jwks_url: str

    @classmethod
    def of(cls, connection: OidcConnection) -> OidcEndpoints:
        return cls(connection.issuer, connection.jwks_url)


def check_oidc(endpoints: OidcEndpoints, settings: Settings) -> list[Check]:
    found: list[Check] = []
    if not endpoints.issuer:
        return [Check("issuer", False, "No issuer set.")]
    url = endpoints.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = get_json(url, settings)
        same = isinstance(document, dict) and document.get("issuer") == endpoints.issuer
        found.append(
            Check(
                "discovery",
                same,
                "Answers and names this issuer." if same else "Answers with another issuer.",
            )
        )
    except OutboundError as exc:
        found.append(Check("discovery", False, f"Not readable: {exc}."))
    if not endpoints.jwks_url:
        return [*found, Check("jwks", False, "No JWKS URL set.")]
    try:
        jwks = get_json(endpoints.jwks_url, settings)
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        signing = [k for k in keys or [] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        found.append(
            Check(
                "jwks",
                bool(signing),
                f"{len(signing)} signing key(s)." if signing else "No signing key in the JWKS.",
            )
        )
    except OutboundError as exc:
        found.append(Check("jwks", False, f"Not readable: {exc}."))
    return found


def check_saml(connection: SamlConnection, now: datetime) -> list[Check]:
    found = [
        Check(
            "idp_entity_id", bool(connection.idp_entity_id), connection.idp_entity_id or "Not set."
        ),
        Check("idp_sso_url", bool(connection.idp_sso_url), connection.idp_sso_url or "Not set."),
        Check(
            "attribute_mapping",
            bool(connection.attribute_mapping),
            ", ".join(f"{k} ← {v}" for k, v in connection.attribute_mapping.items()) or "Not set.",
        ),
    ]
    if not connection.certificates:
        found.append(Check("certificates", False, "No verification certificate."))
    for certificate in connection.certificates:
        expires = as_utc(certificate.expires_at) if certificate.expires_at else None
        valid = expires is None or expires > now
        found.append(
            Check(
                f"certificate {certificate.id}",
                valid,
                f"Valid until {expires:%Y-%m-%d}." if expires and valid else "Expired.",
            )
        )
    return found
