"""Authentication factors as Stytch shapes them (stytch-b2b-api.md §2.6, §2.10).

An intermediate session and a member session each keep the list of factors that got them
there. These dicts go to clients as they are (`authentication_factors`, and the JWT's session
claim), so `type` and `delivery_method` must be values the SDKs' enums know.
"""

from __future__ import annotations

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
_AUTH_METHOD = {"magic_link": "magic_link", "email_otp": "email_otp", "password": "password"}

# Stable per (project, email): the same address gets the same email_id in every factor.
_EMAIL_NAMESPACE = uuid.UUID("1b671a64-40d5-491e-99b0-da01ff1f3341")


def email_id(environment: Environment, project_id: str, email: str) -> str:
    return f"email-{environment}-{uuid.uuid5(_EMAIL_NAMESPACE, f'{project_id}:{email}')}"


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


def sms_otp(phone_id: str, phone_number: str, at: datetime) -> Factor:
    """The factor of an SMS one-time code sent to `phone_number` (an MFA factor)."""
    return _factor(
        "otp",
        "sms",
        at,
        phone_number_factor={"phone_id": phone_id, "phone_number": phone_number},
    )


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
