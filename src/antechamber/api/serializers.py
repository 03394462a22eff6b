"""Domain objects in Stytch's JSON shapes (stytch-b2b-api.md §2.10).

Every key the Python SDK requires is present with its type: `""` rather than null where a
string is required.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from antechamber.clock import as_utc, rfc3339
from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations.models import Organization


def organization(org: Organization) -> dict[str, Any]:
    return {
        "organization_id": org.id,
        "organization_name": org.name,
        "organization_logo_url": org.logo_url or "",
        "organization_slug": org.slug,
        "organization_external_id": org.external_id or "",
        "trusted_metadata": org.trusted_metadata or {},
        "sso_jit_provisioning": org.sso_jit_provisioning,
        "sso_jit_provisioning_allowed_connections": [],
        "sso_active_connections": [],
        "sso_default_connection_id": None,
        "scim_active_connection": None,
        "email_allowed_domains": org.email_allowed_domains,
        "email_jit_provisioning": org.email_jit_provisioning,
        "email_invites": org.email_invites,
        "auth_methods": org.auth_methods,
        "allowed_auth_methods": list(org.allowed_auth_methods),
        "mfa_policy": org.mfa_policy,
        "mfa_methods": org.mfa_methods,
        "allowed_mfa_methods": list(org.allowed_mfa_methods),
        "mfa_required_roles": list(org.mfa_required_roles),
        "rbac_email_implicit_role_assignments": list(org.rbac_email_implicit_role_assignments),
        "oauth_tenant_jit_provisioning": org.oauth_tenant_jit_provisioning,
        "allowed_oauth_tenants": org.allowed_oauth_tenants or {},
        "claimed_email_domains": list(org.claimed_email_domains),
        "first_party_connected_apps_allowed_type": org.first_party_connected_apps_allowed_type,
        "allowed_first_party_connected_apps": list(org.allowed_first_party_connected_apps),
        "third_party_connected_apps_allowed_type": org.third_party_connected_apps_allowed_type,
        "allowed_third_party_connected_apps": list(org.allowed_third_party_connected_apps),
        "custom_roles": [],
        "created_at": rfc3339(org.created_at),
        "updated_at": rfc3339(org.updated_at),
    }


def member(m: Member, now: datetime) -> dict[str, Any]:
    locked = m.lock_expires_at is not None and as_utc(m.lock_expires_at) > now
    return {
        "organization_id": m.organization_id,
        "member_id": m.id,
        "email_address": m.email_address,
        "status": m.status,
        "name": m.name or "",
        "sso_registrations": [],
        "is_breakglass": m.is_breakglass,
        "member_password_id": "",
        "oauth_registrations": [],
        "email_address_verified": m.email_address_verified,
        "mfa_phone_number_verified": m.mfa_phone_number_verified,
        "is_admin": "stytch_admin" in m.roles,
        "totp_registration_id": getattr(m, "totp_registration_id", None) or "",
        "retired_email_addresses": [],
        "is_locked": locked,
        "lock_created_at": rfc3339(m.lock_created_at) if locked else None,
        "lock_expires_at": rfc3339(m.lock_expires_at) if locked else None,
        "mfa_enrolled": m.mfa_enrolled,
        "mfa_phone_number": m.mfa_phone_number or "",
        "default_mfa_method": m.default_mfa_method or "",
        "roles": [
            {"role_id": role, "sources": [{"type": "direct_assignment", "details": {}}]}
            for role in policy.role_ids(m)
        ],
        "trusted_metadata": m.trusted_metadata or {},
        "untrusted_metadata": m.untrusted_metadata or {},
        "external_id": m.external_id or "",
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.updated_at),
    }
