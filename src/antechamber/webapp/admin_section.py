"""The dashboard's admin section: the organization's members (name, email, status, roles, MFA
state), a member's role, resending and revoking invitations, "Invite a colleague", then the
organization's "Require MFA" switch and allowed email domains.

Every read and change is made *with the signed-in member's session* (the backend's `admin_*`
calls: Stytch's member-session authorization), so the server's RBAC decides who may do what;
this module never looks at a role to decide. What the section shows follows the server too:

- the member list, when the server answers the member's search (`stytch.member: search`);
- each other part, when the server grants its permission now (`Backend.admin_allowed`,
  `sessions.authenticate` with an `authorization_check`): inviting and resending need
  `stytch.member: create`; revoking, `delete`; changing a role, `update.settings.roles`; the
  switch and the domains, their `stytch.organization` settings actions;
- nothing at all when the server grants none of them (a plain member sees no section).

So a custom role with `stytch.member: create` but not `search` sees the invite form alone.
What is shown is a courtesy: a form posted anyway is still decided by the server, which
refuses (`not_permitted`) with the database unchanged.

Routes: `/api/team/{invite,resend,revoke}` and `/dashboard/admin/{role,mfa,domains}`, each
taking JSON or a plain form post (`api.run`: JSON in, JSON out; a form gets a 303 back to the
dashboard with `?info=` or `?error=`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from antechamber.webapp import api
from antechamber.webapp.actions import Reply
from antechamber.webapp.backend import (
    JSON,
    OPTIONAL,
    REQUIRED_FOR_ALL,
    BackendError,
    Membership,
    Permission,
)
from antechamber.webapp.config import Webapp
from antechamber.webapp.errors import Failure
from antechamber.webapp.identity import Signed, signed_in
from antechamber.webapp.inputs import MAX_EMAIL_LENGTH, MAX_ID_LENGTH, Call, text
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.views import member_json, mfa_status

log = logging.getLogger("antechamber.webapp")
router = APIRouter(route_class=WebappRoute, include_in_schema=False)

ADMIN_ROLE = "stytch_admin"
MEMBER_ROLE = "stytch_member"
MAX_NAME_LENGTH = 128
MAX_DOMAINS_TEXT = 2000

INVITE: Permission = ("stytch.member", "create")
REVOKE: Permission = ("stytch.member", "delete")
CHANGE_ROLES: Permission = ("stytch.member", "update.settings.roles")
SET_MFA: Permission = ("stytch.organization", "update.settings.mfa-policy")
SET_DOMAINS: Permission = ("stytch.organization", "update.settings.allowed-domains")
#: What the dashboard asks the server about (the member list is asked by searching).
CHECKS: tuple[Permission, ...] = (INVITE, REVOKE, CHANGE_ROLES, SET_MFA, SET_DOMAINS)
#: Refusals that mean "not for this member" (hide the part), not "the server is unwell".
_QUIET = (401, 403, 404)


@dataclass(frozen=True)
class Row:
    """One member as the section shows them."""

    member_id: str
    name: str
    email: str
    status: str
    roles: list[str]
    mfa: str
    #: Holds `stytch_admin` (the server's `is_admin`): which role button the row offers.
    is_admin: bool
    is_you: bool

    @property
    def invited(self) -> bool:
        return self.status == "invited"


@dataclass(frozen=True)
class Section:
    """What the signed-in member may see and do here, as the server answered just now.

    `members` is None when the server refused the member's search."""

    members: list[Row] | None
    can_invite: bool
    can_revoke: bool
    can_change_roles: bool
    can_set_mfa: bool
    can_set_domains: bool
    require_mfa: bool
    domains: list[str]


def section(web: Webapp, signed: Signed, membership: Membership) -> Section | None:
    """The section for this member, or None when the server grants them none of it (or
    cannot be asked now: the dashboard still shows, without it)."""
    org = membership.organization
    try:
        allowed = web.backend.admin_allowed(signed.session_jwt, signed.organization_id, CHECKS)
        members = _members(web, signed, org)
    except BackendError as exc:
        if exc.status_code not in _QUIET:
            log.warning("admin section unavailable: %s", exc)
        return None
    if members is None and not allowed:
        return None
    return Section(
        members=members,
        can_invite=INVITE in allowed,
        can_revoke=REVOKE in allowed,
        can_change_roles=CHANGE_ROLES in allowed,
        can_set_mfa=SET_MFA in allowed,
        can_set_domains=SET_DOMAINS in allowed,
        require_mfa=org.get("mfa_policy") == REQUIRED_FOR_ALL,
        domains=[str(d) for d in org.get("email_allowed_domains") or []],
    )


def _members(web: Webapp, signed: Signed, org: JSON) -> list[Row] | None:
    try:
        found = web.backend.admin_members(signed.session_jwt, signed.organization_id)
    except BackendError as exc:
        if exc.status_code in _QUIET:
            return None
        raise
    return [_row(org, m, signed.member_id) for m in found]


def _role_ids(member: JSON) -> list[str]:
    ids = [r.get("role_id") if isinstance(r, dict) else r for r in member.get("roles") or []]
    return [str(r) for r in ids if r]


def _row(org: JSON, member: JSON, you: str) -> Row:
    status = mfa_status(org, member)
    if member.get("status") != "active":
        mfa = "—"
    elif status.active:
        mfa = "On (phone verified)" if status.phone_verified or status.totp else "On"
    else:
        mfa = "Off"
    roles = _role_ids(member)
    return Row(
        member_id=str(member.get("member_id", "")),
        name=str(member.get("name") or ""),
        email=str(member.get("email_address", "")),
        status=str(member.get("status", "")),
        roles=roles,
        mfa=mfa,
        is_admin=bool(member.get("is_admin")) or ADMIN_ROLE in roles,
        is_you=member.get("member_id") == you,
    )


# -- the section's actions: each one call made with the member's session ---------------------


def _signed(web: Webapp, call: Call) -> Signed:
    """The signed-in member, checked with the server now (a revoked session is refused at
    once, not within the JWT's five minutes)."""
    return signed_in(web, call, fresh=True)


def _done(signed: Signed, message: str, info: str, **fields: Any) -> Reply:
    return Reply(
        message,
        redirect=f"/dashboard?info={info}#admin",
        fields=fields,
        cookie_ops=signed.cookie_ops,
    )


def invite(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/team/invite {email, name?}`: invite a colleague (the invitation names the
    member who sent it; its link leads to this app's callback)."""
    signed = _signed(web, call)
    email = text(body, "email", "invalid_email", max_length=MAX_EMAIL_LENGTH)
    if "@" not in email:
        raise Failure("invalid_email")
    name = body.get("name")
    name = name.strip()[:MAX_NAME_LENGTH] if isinstance(name, str) else ""
    member = web.backend.admin_invite(
        signed.session_jwt,
        signed.organization_id,
        email,
        name=name,
        invited_by_member_id=signed.member_id,
        redirect_url=web.config.callback_url,
    )
    return _done(signed, "Invitation sent", "invite_sent", member=member_json(member))


def resend(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/team/resend {memberId}`: a new invitation link (the earlier one ends). The
    member is looked up with the session (search), then invited again (create)."""
    signed = _signed(web, call)
    member_id = text(body, "memberId", "not_invited", max_length=MAX_ID_LENGTH)
    found = web.backend.admin_members(signed.session_jwt, signed.organization_id)
    target = next((m for m in found if m.get("member_id") == member_id), None)
    if target is None or target.get("status") != "invited":
        raise Failure("not_invited")
    web.backend.admin_invite(
        signed.session_jwt,
        signed.organization_id,
        str(target.get("email_address", "")),
        name="",
        invited_by_member_id=signed.member_id,
        redirect_url=web.config.callback_url,
    )
    return _done(signed, "Invitation sent again", "invite_resent")


def revoke(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/team/revoke {memberId}`: withdraw an open invitation (the invited member
    and every link sent to them go). Any other status is `not_invited`: an active member is
    never removed here."""
    signed = _signed(web, call)
    member_id = text(body, "memberId", "not_invited", max_length=MAX_ID_LENGTH)
    web.backend.admin_revoke_invite(signed.session_jwt, signed.organization_id, member_id)
    return _done(signed, "Invitation revoked", "invite_revoked")


def change_role(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /dashboard/admin/role {member_id, role}`: make a member an admin
    (`role=stytch_admin`) or not (`stytch_member`); their other direct roles are kept."""
    signed = _signed(web, call)
    member_id = _field(body, "member_id")
    make_admin = _field(body, "role") == ADMIN_ROLE
    current = {
        str(m.get("member_id")): m
        for m in web.backend.admin_members(signed.session_jwt, signed.organization_id)
    }
    if member_id not in current:
        raise Failure("bad_request")
    others = [r for r in _direct_roles(current[member_id]) if r != ADMIN_ROLE]
    roles = [*others, ADMIN_ROLE] if make_admin else others
    web.backend.admin_update_member(
        signed.session_jwt, signed.organization_id, member_id, {"roles": roles}
    )
    return _done(signed, "Role changed", "role_changed")


def set_mfa(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /dashboard/admin/mfa {require_mfa}`: the organization's MFA policy."""
    signed = _signed(web, call)
    policy = REQUIRED_FOR_ALL if body.get("require_mfa") in ("on", "true", True) else OPTIONAL
    web.backend.admin_update_organization(
        signed.session_jwt, signed.organization_id, {"mfa_policy": policy}
    )
    return _done(signed, "MFA setting saved", "org_mfa_saved")


def set_domains(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /dashboard/admin/domains {domains}`: the allowed email domains (one per line or
    comma-separated); the server checks each."""
    signed = _signed(web, call)
    domains = [d for d in re.split(r"[\s,]+", _field(body, "domains", MAX_DOMAINS_TEXT)) if d]
    web.backend.admin_update_organization(
        signed.session_jwt, signed.organization_id, {"email_allowed_domains": domains}
    )
    return _done(signed, "Allowed domains saved", "org_domains_saved")


def _field(body: Mapping[str, Any], key: str, max_length: int = 200) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) > max_length:
        raise Failure("bad_request")
    return value.strip()


def _direct_roles(member: JSON) -> list[str]:
    """The member's directly assigned roles (the ones an update of `roles` replaces)."""
    return [
        str(r.get("role_id"))
        for r in member.get("roles") or []
        if isinstance(r, dict)
        and any(s.get("type") == "direct_assignment" for s in r.get("sources") or [])
        and r.get("role_id") != MEMBER_ROLE
    ]


@router.post("/api/team/invite")
async def invite_route(request: Request) -> Response:
    return await api.run(request, invite, home="/dashboard")


@router.post("/api/team/resend")
async def resend_route(request: Request) -> Response:
    return await api.run(request, resend, home="/dashboard")


@router.post("/api/team/revoke")
async def revoke_route(request: Request) -> Response:
    return await api.run(request, revoke, home="/dashboard")


@router.post("/dashboard/admin/role")
async def role_route(request: Request) -> Response:
    return await api.run(request, change_role, home="/dashboard")


@router.post("/dashboard/admin/mfa")
async def mfa_route(request: Request) -> Response:
    return await api.run(request, set_mfa, home="/dashboard")


@router.post("/dashboard/admin/domains")
async def domains_route(request: Request) -> Response:
    return await api.run(request, set_domains, home="/dashboard")
