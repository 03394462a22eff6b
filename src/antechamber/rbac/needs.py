"""What each management call needs of a member's session (stytch-b2b-api-more.md §5.7).

A `Need` is one permission: `resource_id: action`. `self_ok`: when the target member is the
acting member, the same action on `stytch.self` also suffices. `not_on_self`: refused when the
target is the acting member (members cannot change their own email address). `backend_only`:
a field only the application's backend may set (no permission grants it to a member).
Fields without a documented permission are backend-only: refusing is the safe default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from antechamber.rbac.defaults import CUSTOM_ORG_ROLES, MEMBER, ORGANIZATION, SCIM, SSO


@dataclass(frozen=True)
class Need:
    resource_id: str
    action: str
    self_ok: bool = False
    not_on_self: bool = False
    backend_only: bool = False
    field: str = ""


def backend_only(field: str) -> Need:
    return Need("", "", backend_only=True, field=field)


# organizations.update: field → stytch.organization action (Python SDK docstring).
ORGANIZATION_FIELDS: dict[str, str] = {
    "organization_name": "update.info.name",
    "organization_slug": "update.info.slug",
    "organization_logo_url": "update.info.logo-url",
    "sso_default_connection_id": "update.settings.default-sso-connection",
    "sso_jit_provisioning": "update.settings.sso-jit-provisioning",
    "sso_jit_provisioning_allowed_connections": "update.settings.sso-jit-provisioning",
    "email_allowed_domains": "update.settings.allowed-domains",
    "email_jit_provisioning": "update.settings.email-jit-provisioning",
    "email_invites": "update.settings.email-invites",
    "auth_methods": "update.settings.allowed-auth-methods",
    "allowed_auth_methods": "update.settings.allowed-auth-methods",
    "mfa_policy": "update.settings.mfa-policy",
    # Our extension, part of the organization's MFA policy.
    "mfa_required_roles": "update.settings.mfa-policy",
    "rbac_email_implicit_role_assignments": "update.settings.implicit-roles",
    "mfa_methods": "update.settings.allowed-mfa-methods",
    "allowed_mfa_methods": "update.settings.allowed-mfa-methods",
    "oauth_tenant_jit_provisioning": "update.settings.oauth-tenant-jit-provisioning",
    "allowed_oauth_tenants": "update.settings.allowed-oauth-tenants",
}

# members.update: field → (stytch.member action, stytch.self suffices for oneself).
MEMBER_FIELDS: dict[str, tuple[str, bool]] = {
    "name": ("update.info.name", True),
    "untrusted_metadata": ("update.info.untrusted-metadata", True),
    "mfa_phone_number": ("update.info.mfa-phone", True),
    "mfa_enrolled": ("update.settings.mfa-enrolled", True),
    "default_mfa_method": ("update.settings.default-mfa-method", True),
    "is_breakglass": ("update.settings.is-breakglass", False),
    "roles": ("update.settings.roles", False),
}
# Fields that change nothing by themselves.
_NEUTRAL = {"preserve_existing_sessions", "organization_id", "member_id"}


def organization_update(fields: Mapping[str, Any]) -> list[Need]:
    needs = []
    for name in fields:
        if name in _NEUTRAL:
            continue
        action = ORGANIZATION_FIELDS.get(name)
        needs.append(Need(ORGANIZATION, action, field=name) if action else backend_only(name))
    return needs


def organization_delete() -> list[Need]:
    return [Need(ORGANIZATION, "delete")]


def member_update(fields: Mapping[str, Any]) -> list[Need]:
    needs = []
    for name in fields:
        if name in _NEUTRAL:
            continue
        if name == "email_address":
            needs.append(Need(MEMBER, "update.info.email", not_on_self=True, field=name))
        elif name in MEMBER_FIELDS:
            action, self_ok = MEMBER_FIELDS[name]
            needs.append(Need(MEMBER, action, self_ok=self_ok, field=name))
        else:
            needs.append(backend_only(name))
    return needs


def member_create(fields: Mapping[str, Any]) -> list[Need]:
    """`stytch.member: create`; roles given are checked by `rbac.service.check_role_change`
    (the acting member must hold them); metadata only the backend sets stays backend-only."""
    needs = [Need(MEMBER, "create")]
    needs += [backend_only(n) for n in ("trusted_metadata", "external_id") if n in fields]
    return needs


def member_delete() -> list[Need]:
    return [Need(MEMBER, "delete", self_ok=True)]


def member_search() -> list[Need]:
    return [Need(MEMBER, "search")]


def delete_mfa_phone() -> list[Need]:
    return [Need(MEMBER, "update.info.delete.mfa-phone", self_ok=True)]


def delete_totp() -> list[Need]:
    return [Need(MEMBER, "update.info.delete.mfa-totp", self_ok=True)]


def revoke_sessions() -> list[Need]:
    return [Need(MEMBER, "revoke-sessions", self_ok=True)]


def invite(fields: Mapping[str, Any]) -> list[Need]:
    """`magic_links.email.invite`: as `member_create` (the roles an invite carries are checked
    when they are assigned; trusted metadata stays the backend's)."""
    return member_create(fields)


def reactivate() -> list[Need]:
    """`organizations.members.reactivate`: `stytch.member: create` (Stytch's `@rbac` tag)."""
    return [Need(MEMBER, "create")]


def set_org_roles() -> list[Need]:
    return [Need(CUSTOM_ORG_ROLES, "update")]


# scim.connection.* (§4.3): create / get (get, get_groups) / update (update, rotate_*) / delete
# on stytch.scim; the group → role assignments are the organization's implicit-role setting.
SCIM_ROLE_ASSIGNMENTS = "scim_group_implicit_role_assignments"


def scim_create() -> list[Need]:
    return [Need(SCIM, "create")]


def scim_get() -> list[Need]:
    """The connection and its groups."""
    return [Need(SCIM, "get")]


def scim_update(fields: Mapping[str, Any]) -> list[Need]:
    """`stytch.scim: update` for the name and the IdP (and an empty update); changing the
    group → role assignments needs `stytch.organization: update.settings.implicit-roles`
    instead (and the roles, `rbac.service.check_group_roles`)."""
    needs = []
    if SCIM_ROLE_ASSIGNMENTS in fields:
        needs.append(
            Need(ORGANIZATION, "update.settings.implicit-roles", field=SCIM_ROLE_ASSIGNMENTS)
        )
    others = [name for name in fields if name != SCIM_ROLE_ASSIGNMENTS and name not in _NEUTRAL]
    if others or not needs:
        needs.append(Need(SCIM, "update"))
    return needs


def scim_rotate() -> list[Need]:
    """Bearer token rotation start, complete and cancel."""
    return [Need(SCIM, "update")]


def scim_delete() -> list[Need]:
    return [Need(SCIM, "delete")]


def sso(action: str) -> list[Need]:
    """The SSO connection calls (stytch-b2b-api-more.md §5.7): `get` (list the connections),
    `create` (SAML, OIDC), `update` (update, update by URL, delete a verification certificate
    or an encryption key) and `delete` (a connection) on `stytch.sso`. The roles a SAML
    connection implies are checked further by `rbac.service.check_assignment_change`."""
    return [Need(SSO, action)]


def all_of(*groups: Iterable[Need]) -> list[Need]:
    return [need for group in groups for need in group]
