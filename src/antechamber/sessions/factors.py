"""Authentication factors as Stytch shapes them (stytch-b2b-api.md §2.6, §2.10).

An intermediate session and a member session each keep the list of factors that got them
there. These dicts go to clients as they are (`authentication_factors`, and the JWT's session
claim), so `type` and `delivery_method` must be values the SDKs' enums know.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from antechamber.clock import rfc3339
from antechamber.ids import Environment

Factor = dict[str, Any]

# Factors that prove who the person is (the first factor) …
PRIMARY_TYPES = frozenset({"magic_link", "email_otp", "password", "sso", "oauth"})
# … and second factors, which satisfy an MFA requirement.
MFA_TYPES = frozenset({"otp", "totp", "recovery_codes"})

# Factor type → the organization's `allowed_auth_methods` name that permits it.
_AUTH_METHOD = {
    "magic_link": "magic_link",
    "email_otp": "email_otp",
    "password": "password",
    "sso": "sso",
}

# Second-factor type → the organization's `allowed_mfa_methods` name that permits it.
_MFA_METHOD = {"otp": "sms_otp", "totp": "totp", "recovery_codes": "totp"}

# Stable per (project, email): the same address gets the same email_id in every factor.
_EMAIL_NAMESPACE = uuid.UUID("1b671a64-40d5-491e-99b0-da01ff1f3341")
_EMAIL_NAMESPACE_BYTES = _EMAIL_NAMESPACE.bytes
# The hex digit after a version-5 UUID's fourth hyphen: its top two bits are the variant, 10.
_VARIANT_DIGIT = {f"{n:x}": f"{n & 0x3 | 0x8:x}" for n in range(16)}


def email_id(environment: Environment, project_id: str, email: str) -> str:
    """`email-<environment>-<uuid.uuid5(_EMAIL_NAMESPACE, "<project_id>:<email>")>`, the UUID
    made here as `uuid5` makes it (RFC 4122 §4.3: the first 16 bytes of the SHA-1 of the
    namespace and the name, with version 5 and the RFC variant set) without building a `UUID`
    object, which cost twice the hashing (a discovery login makes one per email factor)."""
    name = f"{project_id}:{email}".encode()
    h = hashlib.sha1(_EMAIL_NAMESPACE_BYTES + name, usedforsecurity=False).hexdigest()
    return (
        f"email-{environment}-{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}"
        f"-{h[20:32]}"
    )


def magic_link(environment: Environment, project_id: str, email: str, at: datetime) -> Factor:
    """The factor of a redeemed email magic link: proves `email`."""
    return _factor(
        "magic_link",
        "email",
        at,
        email_factor={
            "email_id": email_id(environment, project_id, email),
            "email_address": email,
        },
    )


def email_otp(environment: Environment, project_id: str, email: str, at: datetime) -> Factor:
    """The factor of an emailed one-time code: proves `email` (a primary factor)."""
    return _factor(
        "email_otp",
        "email",
        at,
        email_factor={
            "email_id": email_id(environment, project_id, email),
            "email_address": email,
        },
    )


def sms_otp(phone_id: str, phone_number: str, at: datetime) -> Factor:
    """The factor of an SMS one-time code sent to `phone_number` (an MFA factor)."""
    return _factor(
        "otp",
        "sms",
        at,
        phone_number_factor={"phone_id": phone_id, "phone_number": phone_number},
    )


def sso(
    kind: str, registration_id: str, connection_id: str, external_id: str, at: datetime
) -> Factor:
    """The factor of an SSO login through a SAML or OIDC connection (`kind`: saml | oidc).

    It proves the member holding that registration (`proves_member`), in that organization
    only: another organization's member has no registration at this connection.
    """
    return _factor(
        "sso",
        f"sso_{kind}",
        at,
        **{
            f"{kind}_sso_factor": {
                "id": registration_id,
                "provider_id": connection_id,
                "external_id": external_id,
            }
        },
    )


def totp(registration_id: str, at: datetime) -> Factor:
    """The factor of a code from the member's authenticator app (an MFA factor)."""
    return _factor(
        "totp", "authenticator_app", at, authenticator_app_factor={"totp_id": registration_id}
    )


def recovery_code(recovery_code_id: str, at: datetime) -> Factor:
    """The factor of a used TOTP recovery code (an MFA factor, standing in for the app)."""
    return _factor(
        "recovery_codes",
        "recovery_code",
        at,
        recovery_code_factor={"totp_recovery_code_id": recovery_code_id},
    )


def mfa_methods(factors: Iterable[Factor]) -> set[str]:
    """The organization MFA method names (`allowed_mfa_methods`) the second factors amount to:
    an SMS code is `sms_otp`; an authenticator app code or one of its recovery codes `totp`."""
    return {_MFA_METHOD[f["type"]] for f in factors if f.get("type") in _MFA_METHOD}


def has_primary(factors: Iterable[Factor]) -> bool:
    return any(f.get("type") in PRIMARY_TYPES for f in factors)


def has_mfa(factors: Iterable[Factor]) -> bool:
    return any(f.get("type") in MFA_TYPES for f in factors)


def primary_only(factors: Iterable[Factor]) -> list[Factor]:
    """The factors that carry to another organization: second factors belong to one member."""
    return [f for f in factors if f.get("type") in PRIMARY_TYPES]


def auth_methods(factors: Iterable[Factor]) -> set[str]:
    """The organization auth method names (`allowed_auth_methods`) the factors amount to."""
    return {_AUTH_METHOD[f["type"]] for f in factors if f.get("type") in _AUTH_METHOD}


def proves_email(factors: Iterable[Factor], email: str) -> bool:
    """Whether some factor verified `email` (magic link or email OTP to that address)."""
    return any(
        f.get("type") in ("magic_link", "email_otp")
        and (f.get("email_factor") or {}).get("email_address") == email
        for f in factors
    )


def proves_member(factors: Iterable[Factor], member: Any) -> bool:
    """Whether some factor proves who `member` is: a magic link or email OTP to their email,
    or an SSO login matching one of their SSO registrations (connection and external id)."""
    factors = list(factors)
    if proves_email(factors, member.email_address):
        return True
    held = {
        (r.get("connection_id"), r.get("external_id"))
        for r in (getattr(member, "sso_registrations", None) or [])
    }
    for f in factors:
        if f.get("type") != "sso":
            continue
        sub = f.get("saml_sso_factor") or f.get("oidc_sso_factor") or {}
        if (sub.get("provider_id"), sub.get("external_id")) in held:
            return True
    return False


def types(factors: Iterable[Factor]) -> list[str]:
    return [str(f.get("type")) for f in factors]


def _factor(kind: str, delivery: str, at: datetime, **sub: dict[str, Any]) -> Factor:
    stamp = rfc3339(at)
    return {
        "type": kind,
        "delivery_method": delivery,
        "last_authenticated_at": stamp,
        "created_at": stamp,
        "updated_at": stamp,
        **sub,
    }
