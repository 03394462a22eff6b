"""Domain objects in Stytch's JSON shapes (stytch-b2b-api.md §2.10).

Every key the Python SDK requires is present with its type: `""` rather than null where a
string is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse

from antechamber import rows
from antechamber.api.envelope import encoded, ok
from antechamber.clock import as_utc, rfc3339
from antechamber.discovery.service import Discovered, DiscoveryLogin
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.phones import masked
from antechamber.rbac import assignment, sso_grants
from antechamber.sessions import jwts
from antechamber.sessions.known import Known
from antechamber.sessions.login import AuthResult
from antechamber.sessions.models import MemberSession

# The column values of an answer's objects in one read (`rows.Columns.values_of`): each
# answer reads some sixty.
_ORGANIZATION = rows.Columns(Organization)
_MEMBER = rows.Columns(Member)


def organization(org: Organization) -> dict[str, Any]:
    o = _ORGANIZATION.values_of(org)
    return {
        "organization_id": o["id"],
        "organization_name": o["name"],
        "organization_logo_url": o["logo_url"] or "",
        "organization_slug": o["slug"],
        "organization_external_id": o["external_id"] or "",
        "trusted_metadata": o["trusted_metadata"] or {},
        "sso_jit_provisioning": o["sso_jit_provisioning"],
        "sso_jit_provisioning_allowed_connections": list(
            o["sso_jit_provisioning_allowed_connections"] or []
        ),
        "sso_active_connections": list(o["sso_active_connections"] or []),
        "sso_default_connection_id": o["sso_default_connection_id"],
        "scim_active_connection": None,
        "email_allowed_domains": o["email_allowed_domains"],
        "email_jit_provisioning": o["email_jit_provisioning"],
        "email_invites": o["email_invites"],
        "auth_methods": o["auth_methods"],
        "allowed_auth_methods": list(o["allowed_auth_methods"]),
        "mfa_policy": o["mfa_policy"],
        "mfa_methods": o["mfa_methods"],
        "allowed_mfa_methods": list(o["allowed_mfa_methods"]),
        "mfa_required_roles": list(o["mfa_required_roles"]),
        "rbac_email_implicit_role_assignments": list(o["rbac_email_implicit_role_assignments"]),
        "oauth_tenant_jit_provisioning": o["oauth_tenant_jit_provisioning"],
        "allowed_oauth_tenants": o["allowed_oauth_tenants"] or {},
        "claimed_email_domains": list(o["claimed_email_domains"]),
        "first_party_connected_apps_allowed_type": o["first_party_connected_apps_allowed_type"],
        "allowed_first_party_connected_apps": list(o["allowed_first_party_connected_apps"]),
        "third_party_connected_apps_allowed_type": o["third_party_connected_apps_allowed_type"],
        "allowed_third_party_connected_apps": list(o["allowed_third_party_connected_apps"]),
        "custom_roles": list(o["custom_roles"] or []),
        "created_at": rfc3339(o["created_at"]),
        "updated_at": rfc3339(o["updated_at"]),
    }


def organization_part(org: Organization, known: Known | None) -> Any:
    """`organization(org)`, as a part of answers (`envelope.encoded`) made once for `known`
    (`sessions.known.Known`: `org`'s row as a session check read it), when there is one."""
    if known is None:
        return organization(org)
    part = known.derived.get("organization")
    if part is None:
        part = known.derived["organization"] = encoded(organization(org))
    return part


def member_part(
    db: Session, m: Member, now: datetime, org: Organization, known: Known | None
) -> Any:
    """`member(db, m, now, org)`, as a part of answers made once for `known` (`m`'s and
    `org`'s rows as a session check read them, `sessions.known.Known`) when it comes of them
    alone: not for a member with SSO registrations (their roles read the connections) nor one
    with a lock time (whether it holds depends on `now`)."""
    if known is not None:
        # Made only for rows that allow it, and `known`'s rows never change.
        part = known.derived.get("member")
        if part is not None:
            return part
    if known is None or m.sso_registrations or m.lock_expires_at is not None:
        return member(db, m, now, org)
    part = known.derived["member"] = encoded(member(db, m, now, org))
    return part


def member(
    db: Session, m: Member, now: datetime, org: Organization | None = None
) -> dict[str, Any]:
    """`db`: the unit of work, for the member's organization unless `org` is it, and for its
    SSO roles. `m` and `org` may be transient objects (`rows`): pass `org` for them, else it
    is read again."""
    if org is None or org.id != m.organization_id:
        org = db.get(Organization, m.organization_id)
    # SSO-implied roles are listed for every SAML registration (Stytch); sessions hold only
    # their own connections' (`member_session`).
    roles = assignment.role_sources(org, m, sso_grants.member_grants(db, m))
    v = _MEMBER.values_of(m)
    lock_expires_at = v["lock_expires_at"]
    locked = lock_expires_at is not None and as_utc(lock_expires_at) > now
    return {
        "organization_id": v["organization_id"],
        "member_id": v["id"],
        "email_address": v["email_address"],
        "status": v["status"],
        "name": v["name"] or "",
        "sso_registrations": list(v["sso_registrations"] or []),
        "is_breakglass": v["is_breakglass"],
        "member_password_id": "",
        "oauth_registrations": [],
        "email_address_verified": v["email_address_verified"],
        "mfa_phone_number_verified": v["mfa_phone_number_verified"],
        "is_admin": "stytch_admin" in roles,
        "totp_registration_id": v["totp_registration_id"] or "",
        "retired_email_addresses": [],
        "is_locked": locked,
        "lock_created_at": rfc3339(v["lock_created_at"]) if locked else None,
        "lock_expires_at": rfc3339(lock_expires_at) if locked else None,
        "mfa_enrolled": v["mfa_enrolled"],
        "mfa_phone_number": v["mfa_phone_number"] or "",
        "default_mfa_method": v["default_mfa_method"] or "",
        "roles": [{"role_id": role, "sources": sources} for role, sources in roles.items()],
        "trusted_metadata": v["trusted_metadata"] or {},
        "untrusted_metadata": v["untrusted_metadata"] or {},
        "external_id": v["external_id"] or "",
        "created_at": rfc3339(v["created_at"]),
        "updated_at": rfc3339(v["updated_at"]),
    }


def member_response(
    request: Request, db: Session, now: datetime, org: Organization, m: Member, **fields: Any
) -> JSONResponse:
    """Stytch's answer about one member: `member_id`, then `fields`, `member` and
    `organization`."""
    return ok(
        request,
        member_id=m.id,
        **fields,
        member=member(db, m, now, org),
        organization=organization(org),
    )


def member_session(
    db: Session,
    s: MemberSession,
    m: Member,
    org: Organization,
    claim: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The session as the API shows it: its times, factors and roles are those of its JWT's
    session claim (`sessions.jwts.session_claim`), passed as `claim` when the caller has it
    (`sessions.jwts.minted`), else made here."""
    if claim is None:
        claim = jwts.session_claim(db, s, m, org)
    v = jwts.SESSIONS.values_of(s)
    return {
        "member_session_id": v["id"],
        "member_id": v["member_id"],
        "started_at": claim["started_at"],
        "last_accessed_at": claim["last_accessed_at"],
        "expires_at": claim["expires_at"],
        "authentication_factors": list(claim["authentication_factors"]),
        "organization_id": v["organization_id"],
        "roles": list(claim["roles"]),
        "organization_slug": org.slug,
        "custom_claims": dict(v["custom_claims"] or {}),
    }


def mfa_required(m: Member, secondary_auth_initiated: str | None = None) -> dict[str, Any]:
    """Stytch's `mfa_required`: `member_options` is null until the member has a factor.

    The phone number is masked (`+1******0123`): enough for the person to recognise where the
    code went, and this answer reaches a browser in apps like the tutorial's.
    """
    totp = getattr(m, "totp_registration_id", None) or ""
    options = None
    if m.mfa_phone_number or totp:
        phone = masked(m.mfa_phone_number) if m.mfa_phone_number else ""
        options = {"mfa_phone_number": phone, "totp_registration_id": totp}
    return {"member_options": options, "secondary_auth_initiated": secondary_auth_initiated}


def auth_result(db: Session, result: AuthResult, now: datetime) -> dict[str, Any]:
    """The shared "authenticated vs mfa_required" shape (stytch-b2b-api.md §2.8).

    Used by discovery create and exchange, sessions exchange and the MFA calls. Required
    strings are `""` in the branch where they do not apply, never null.
    """
    pending = result.session is None
    return {
        "member_id": result.member.id,
        "member_authenticated": result.member_authenticated,
        "session_token": result.session_token,
        "session_jwt": result.session_jwt,
        "member_session": None
        if result.session is None
        else member_session(
            db, result.session, result.member, result.organization, result.session_claim
        ),
        "intermediate_session_token": result.intermediate_session_token,
        "intermediate_session_token_expires_at": rfc3339(result.intermediate_session_expires_at)
        if pending
        else None,
        "mfa_required": mfa_required(result.member, result.secondary_auth_initiated)
        if pending and result.mfa_required
        else None,
        "primary_required": {"allowed_auth_methods": list(result.primary_required)}
        if pending and result.primary_required is not None
        else None,
        "member": member(db, result.member, now, result.organization),
        "organization": organization(result.organization),
    }


def discovered_organization(db: Session, d: Discovered, now: datetime) -> dict[str, Any]:
    return {
        "member_authenticated": d.member_authenticated,
        "organization": organization(d.organization),
        "membership": {
            "type": d.membership_type,
            "details": {"domain": d.domain} if d.domain else None,
            "member": member(db, d.member, now, d.organization) if d.member is not None else None,
        },
        "primary_required": {"allowed_auth_methods": list(d.primary_required)}
        if d.primary_required is not None
        else None,
        "mfa_required": _discovered_mfa(d),
    }


def discovery_login(db: Session, found: DiscoveryLogin, now: datetime) -> dict[str, Any]:
    """A discovery authentication's answer: the new IST and the discovered organizations."""
    return {
        "intermediate_session_token": found.intermediate_session_token,
        "intermediate_session_token_expires_at": rfc3339(found.intermediate_session_expires_at),
        "email_address": found.email_address,
        "discovered_organizations": [
            discovered_organization(db, d, now) for d in found.discovered_organizations
        ],
    }


def _discovered_mfa(d: Discovered) -> dict[str, Any] | None:
    if not d.mfa_required:
        return None
    if d.member is None:  # would join: no factor yet
        return {"member_options": None, "secondary_auth_initiated": None}
    return mfa_required(d.member)
