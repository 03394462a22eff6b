"""Stytch's default resources, actions and roles (stytch-b2b-api-more.md §5.1).

The `stytch.*` resources are Stytch's: a project policy may not redefine them, and a custom
resource may not start with `stytch`. The two default roles may be edited, never removed.
"""

from __future__ import annotations

from typing import Any

MEMBER_ROLE = "stytch_member"
ADMIN_ROLE = "stytch_admin"
DEFAULT_ROLE_IDS = (MEMBER_ROLE, ADMIN_ROLE)
RESERVED_PREFIX = "stytch"

ORGANIZATION = "stytch.organization"
MEMBER = "stytch.member"
SSO = "stytch.sso"
SCIM = "stytch.scim"
SELF = "stytch.self"
CUSTOM_ORG_ROLES = "stytch.custom-org-roles"

STYTCH_RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    ORGANIZATION: (
        "The Member's own organization: its profile and settings.",
        (
            "update.info.name",
            "update.info.slug",
            "update.info.logo-url",
            "update.settings.allowed-auth-methods",
            "update.settings.allowed-mfa-methods",
            "update.settings.email-jit-provisioning",
            "update.settings.email-invites",
            "update.settings.allowed-domains",
            "update.settings.default-sso-connection",
            "update.settings.sso-jit-provisioning",
            "update.settings.mfa-policy",
            "update.settings.implicit-roles",
            "update.settings.oauth-tenant-jit-provisioning",
            "update.settings.allowed-oauth-tenants",
            "delete",
        ),
    ),
    MEMBER: (
        "Other Members of the Member's organization.",
        (
            "create",
            "update.info.name",
            "update.info.email",
            "update.info.untrusted-metadata",
            "update.info.mfa-phone",
            "update.info.delete.mfa-phone",
            "update.info.delete.mfa-totp",
            "update.info.delete.password",
            "update.info.unlink.retired-email",
            "update.settings.is-breakglass",
            "update.settings.mfa-enrolled",
            "update.settings.default-mfa-method",
            "update.settings.roles",
            "search",
            "delete",
            "revoke-sessions",
            "get.connected-apps",
            "revoke.connected-app",
        ),
    ),
    SSO: ("The organization's SSO connections.", ("create", "get", "update", "delete")),
    SCIM: ("The organization's SCIM connection.", ("create", "get", "update", "delete")),
    SELF: (
        "The Member themself.",
        (
            "update.info.name",
            "update.info.email",
            "update.info.untrusted-metadata",
            "update.info.mfa-phone",
            "update.info.delete.mfa-phone",
            "update.info.delete.mfa-totp",
            "update.info.delete.password",
            "update.info.unlink.retired-email",
            "update.settings.mfa-enrolled",
            "update.settings.default-mfa-method",
            "delete",
            "revoke-sessions",
            "get.connected-apps",
            "revoke.connected-app",
        ),
    ),
    CUSTOM_ORG_ROLES: (
        "The organization's own custom roles.",
        ("create", "get", "update", "delete"),
    ),
}


def stytch_resources() -> list[dict[str, Any]]:
    return [
        {"resource_id": rid, "description": description, "actions": list(actions)}
        for rid, (description, actions) in STYTCH_RESOURCES.items()
    ]


def default_roles() -> list[dict[str, Any]]:
    """Stytch's defaults (its own frontend fixture of a project policy)."""
    return [
        {
            "role_id": MEMBER_ROLE,
            "description": "Granted to every Member of every organization. Cannot be removed.",
            "permissions": [{"resource_id": SELF, "actions": ["*"]}],
        },
        {
            "role_id": ADMIN_ROLE,
            "description": (
                "Granted to Members who create an organization through the discovery flow. "
                "Admins also have the stytch_member role. Cannot be deleted."
            ),
            "permissions": [
                {"resource_id": ORGANIZATION, "actions": ["*"]},
                {"resource_id": MEMBER, "actions": ["*"]},
                {"resource_id": SSO, "actions": ["*"]},
                {"resource_id": SCIM, "actions": ["*"]},
            ],
        },
    ]
