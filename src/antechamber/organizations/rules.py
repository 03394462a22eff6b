"""What an organization's settings may be: enumerations, formats and their combinations."""

from __future__ import annotations

import re
from typing import Any

from antechamber.errors import InvalidArgument
from antechamber.organizations import errors

MFA_POLICIES = ("OPTIONAL", "REQUIRED_FOR_ALL")
EMAIL_JIT = ("NOT_ALLOWED", "RESTRICTED")
EMAIL_INVITES = ("ALL_ALLOWED", "RESTRICTED", "NOT_ALLOWED")
SSO_JIT = ("ALL_ALLOWED", "RESTRICTED", "NOT_ALLOWED")
AUTH_METHODS = ("ALL_ALLOWED", "RESTRICTED")
AUTH_METHOD_NAMES = (
    "sso",
    "magic_link",
    "email_otp",
    "password",
    "google_oauth",
    "microsoft_oauth",
    "slack_oauth",
    "github_oauth",
    "hubspot_oauth",
)
MFA_METHODS = ("ALL_ALLOWED", "RESTRICTED")
MFA_METHOD_NAMES = ("sms_otp", "totp")
OAUTH_TENANT_JIT = ("NOT_ALLOWED", "RESTRICTED")
CONNECTED_APPS = ("ALL_ALLOWED", "RESTRICTED", "NOT_ALLOWED")
ROLES = ("stytch_member", "stytch_admin")

ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "mfa_policy": MFA_POLICIES,
    "email_jit_provisioning": EMAIL_JIT,
    "email_invites": EMAIL_INVITES,
    "sso_jit_provisioning": SSO_JIT,
    "auth_methods": AUTH_METHODS,
    "mfa_methods": MFA_METHODS,
    "oauth_tenant_jit_provisioning": OAUTH_TENANT_JIT,
    "first_party_connected_apps_allowed_type": CONNECTED_APPS,
    "third_party_connected_apps_allowed_type": CONNECTED_APPS,
}

_SLUG = re.compile(r"[A-Za-z0-9\-._~]{2,128}")
# What SDKs send for a missing value; `get_organization` refuses them as references, so an
# organization with such a slug or external id could never be named by it.
RESERVED_REFERENCES = frozenset({"null", "undefined"})
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9._\-|]{1,128}")


def name(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 128:
        raise errors.InvalidOrganizationName()
    return value


def slug(value: str) -> str:
    """Slugs compare case-insensitively, so they are stored lowercase (no `Acme` vs `acme`)."""
    if (
        not _SLUG.fullmatch(value)
        or not any(c.isalnum() for c in value)
        or value.lower() in RESERVED_REFERENCES
    ):
        raise errors.InvalidOrganizationSlug()
    return value.lower()


def slug_from_name(value: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:100]
    if len(base) >= 2 and base not in RESERVED_REFERENCES:
        return base
    return f"org-{base}".rstrip("-")


def external_id(value: str) -> str:
    if not _EXTERNAL_ID.fullmatch(value) or value.lower() in RESERVED_REFERENCES:
        raise errors.InvalidExternalId()
    return value


def logo_url(value: str) -> str:
    if value and (len(value) > 2048 or not value.startswith(("https://", "http://"))):
        raise errors.InvalidLogoUrl()
    return value


def enum(field: str, value: str) -> str:
    allowed = ENUM_FIELDS[field]
    if value not in allowed:
        if field == "mfa_policy":
            raise errors.InvalidMfaPolicy()
        raise errors.InvalidSetting(f"{field} must be one of {', '.join(allowed)}.")
    return value


def names(field: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise errors.InvalidSetting(
            f"{field} has unknown values {unknown}; allowed: {', '.join(allowed)}."
        )
    return list(dict.fromkeys(values))


def role_assignments(values: list[Any]) -> list[dict[str, Any]]:
    result = []
    for item in values:
        if not isinstance(item, dict) or not {"domain", "role_id"} <= item.keys():
            raise InvalidArgument(
                "rbac_email_implicit_role_assignments items need domain and role_id."
            )
        if not isinstance(item["role_id"], str) or not isinstance(item["domain"], str):
            raise InvalidArgument("rbac_email_implicit_role_assignments: strings expected.")
        # Whether the role exists is rbac's to say (project and organization roles).
        result.append({"domain": str(item["domain"]).lower(), "role_id": item["role_id"]})
    return result
