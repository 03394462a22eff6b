"""The dashboard's Members section: an admin sees the organization's members, invites a
colleague, sends an invitation again or revokes it.

Its own actions and routes (`/api/team/*`, JSON or plain form posts, as the other endpoints)
and its own template partial (`members.html`). Who is an admin is decided in one place,
`is_admin`; the rest of the section never looks at roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from antechamber.webapp import api
from antechamber.webapp.actions import (
    MAX_EMAIL_LENGTH,
    MAX_ID_LENGTH,
    Call,
    Reply,
    membership_of,
    signed_in,
    text,
)
from antechamber.webapp.backend import JSON, Membership
from antechamber.webapp.config import Webapp
from antechamber.webapp.errors import CookieOp, Failure
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.views import member_json, mfa_status

MAX_NAME_LENGTH = 128

router = APIRouter(prefix="/api/team", route_class=WebappRoute, include_in_schema=False)


def is_admin(member: JSON) -> bool:
    """Whether `member` may manage the organization's members.

    For now the built-in `stytch_admin` role (Stytch's `is_admin`); role-based permissions
    (`stytch.member` actions) will replace this one check.
    """
    roles = {r.get("role_id") if isinstance(r, dict) else r for r in member.get("roles") or []}
    return bool(member.get("is_admin")) or "stytch_admin" in roles


@dataclass(frozen=True)
class Row:
    """One member as the section shows them."""

    member_id: str
    name: str
    email: str
    status: str
    roles: list[str]
    mfa: str

    @property
    def invited(self) -> bool:
        return self.status == "invited"


@dataclass(frozen=True)
class Section:
    members: list[Row]


def section(web: Webapp, membership: Membership) -> Section | None:
    """The Members section for the signed-in member, or None when they are not an admin."""
    if not is_admin(membership.member):
        return None
    org = membership.organization
    found = web.backend.list_members(str(org.get("organization_id", "")))
    return Section([_row(org, m) for m in found])


def _row(org: JSON, member: JSON) -> Row:
    roles = [
        str(r.get("role_id")) if isinstance(r, dict) else str(r) for r in member.get("roles") or []
    ]
    status = mfa_status(org, member)
    if member.get("status") != "active":
        mfa = "—"
    elif status.active:
        mfa = "On (phone verified)" if status.phone_verified or status.totp else "On"
    else:
        mfa = "Off"
    return Row(
        member_id=str(member.get("member_id", "")),
        name=str(member.get("name") or ""),
        email=str(member.get("email_address", "")),
        status=str(member.get("status", "")),
        roles=[r for r in roles if r],
        mfa=mfa,
    )


def _admin(web: Webapp, call: Call) -> tuple[Membership, str, list[CookieOp]]:
    """The signed-in admin (checked with the server now); `not_admin` (403) otherwise."""
    signed = signed_in(web, call, fresh=True)
    membership = membership_of(web, signed)
    if not is_admin(membership.member):
        raise Failure("not_admin", redirect="/dashboard")
    return membership, signed.member_id, signed.cookie_ops


def _invited(web: Webapp, membership: Membership, body: Mapping[str, Any]) -> JSON:
    """The member named by `memberId`, who must have an open invitation."""
    member_id = text(body, "memberId", "not_invited", max_length=MAX_ID_LENGTH)
    org_id = str(membership.organization.get("organization_id", ""))
    for member in web.backend.list_members(org_id):
        if member.get("member_id") == member_id:
            if member.get("status") != "invited":
                break
            return member
    raise Failure("not_invited", redirect="/dashboard")


def invite(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/team/invite {email, name?}`: invite a colleague into the admin's organization
    (the invitation names the admin; its link leads to this app's callback)."""
    membership, admin_id, ops = _admin(web, call)
    email = text(body, "email", "invalid_email", max_length=MAX_EMAIL_LENGTH)
    if "@" not in email:
        raise Failure("invalid_email")
    name = body.get("name")
    name = name.strip()[:MAX_NAME_LENGTH] if isinstance(name, str) else ""
    member = web.backend.invite_member(
        str(membership.organization.get("organization_id", "")),
        email,
        name=name,
        invited_by_member_id=admin_id,
        redirect_url=web.config.callback_url,
    )
    return Reply(
        "Invitation sent",
        redirect="/dashboard?info=invite_sent",
        fields={"member": member_json(member)},
        cookie_ops=ops,
    )


def resend(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/team/resend {memberId}`: a new invitation link (the earlier one ends)."""
    membership, admin_id, ops = _admin(web, call)
    target = _invited(web, membership, body)
    web.backend.invite_member(
        str(membership.organization.get("organization_id", "")),
        str(target.get("email_address", "")),
        name="",
        invited_by_member_id=admin_id,
        redirect_url=web.config.callback_url,
    )
    return Reply("Invitation sent again", redirect="/dashboard?info=invite_resent", cookie_ops=ops)


def revoke(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/team/revoke {memberId}`: withdraw an open invitation (the invited member and
    every link sent to them go). Only invited members: active ones are not removed here."""
    membership, _, ops = _admin(web, call)
    target = _invited(web, membership, body)
    web.backend.delete_member(
        str(membership.organization.get("organization_id", "")), str(target.get("member_id"))
    )
    return Reply("Invitation revoked", redirect="/dashboard?info=invite_revoked", cookie_ops=ops)


@router.post("/invite")
async def invite_route(request: Request) -> Response:
    return await api.run(request, invite, home="/dashboard")


@router.post("/resend")
async def resend_route(request: Request) -> Response:
    return await api.run(request, resend, home="/dashboard")


@router.post("/revoke")
async def revoke_route(request: Request) -> Response:
    return await api.run(request, revoke, home="/dashboard")
