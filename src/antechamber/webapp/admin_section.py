"""The dashboard's organization admin section: members' roles, the "Require MFA" switch and
the allowed email domains.

Every read and change is made *with the signed-in member's session* (the backend's `admin_*`
calls, Stytch's member-session authorization): the server's RBAC decides who may do what, not
this page. The section is shown only when the server lets the member list the organization's
members (`stytch.member: search`); a member who posts its forms anyway is refused by the
server (`not_permitted`) and the database is unchanged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from antechamber.webapp import actions, render
from antechamber.webapp.actions import Call, Signed
from antechamber.webapp.api import read_body, with_error
from antechamber.webapp.backend import JSON, OPTIONAL, REQUIRED_FOR_ALL, BackendError
from antechamber.webapp.config import Webapp
from antechamber.webapp.errors import Failure, from_backend
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.security import check_post, client_address

log = logging.getLogger("antechamber.webapp")
router = APIRouter(route_class=WebappRoute, include_in_schema=False)
ADMIN_ROLE = "stytch_admin"
MAX_DOMAINS_TEXT = 2000
#: A change made with the member's session; returns the notice to show.
Change = Callable[["Webapp", Signed, dict[str, Any]], str]


@dataclass(frozen=True)
class AdminMember:
    member_id: str
    email_address: str
    is_admin: bool
    is_you: bool


@dataclass(frozen=True)
class AdminSection:
    members: list[AdminMember]
    require_mfa: bool
    domains: list[str]


def _direct_roles(member: JSON) -> list[str]:
    return [
        str(r.get("role_id"))
        for r in member.get("roles") or []
        if any(s.get("type") == "direct_assignment" for s in r.get("sources") or [])
        and r.get("role_id") != "stytch_member"
    ]


def section(web: Webapp, signed: Signed, organization: JSON) -> AdminSection | None:
    """The section for this member, or None when the server does not let them manage the
    organization's members (or cannot be asked now: the dashboard still shows)."""
    try:
        found = web.backend.admin_members(signed.session_jwt, signed.organization_id)
    except BackendError as exc:
        if exc.status_code not in (401, 403, 404):
            log.warning("admin section unavailable: %s", exc)
        return None
    return AdminSection(
        members=[
            AdminMember(
                str(m.get("member_id")),
                str(m.get("email_address")),
                bool(m.get("is_admin")),
                m.get("member_id") == signed.member_id,
            )
            for m in found
        ],
        require_mfa=organization.get("mfa_policy") == REQUIRED_FOR_ALL,
        domains=[str(d) for d in organization.get("email_allowed_domains") or []],
    )


def _call(request: Request) -> Call:
    return Call(cookies=dict(request.cookies), client=client_address(request))


async def _post(request: Request, change: Change) -> Response:
    """Check the post, the session (fresh: a revoked one is refused now), run `change`
    with the web app, the signed-in member and the form; back to the dashboard."""
    web = render.webapp_of(request)
    try:
        check_post(request, web.config)
        body = await read_body(request)
        signed = await run_in_threadpool(actions.signed_in, web, _call(request), fresh=True)
    except Failure as failure:
        return render.redirect(
            with_error(failure.redirect or "/dashboard", failure.code), failure.cookie_ops
        )
    try:
        info = await run_in_threadpool(change, web, signed, body)
    except Failure as failure:
        return render.redirect(with_error("/dashboard", failure.code), signed.cookie_ops)
    except BackendError as exc:
        refused = from_backend(exc)
        return render.redirect(
            with_error(refused.redirect or "/dashboard", refused.code), signed.cookie_ops
        )
    return render.redirect(f"/dashboard?info={info}#admin", signed.cookie_ops)


def _field(body: dict[str, Any], key: str, *, max_length: int = 200) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) > max_length:
        raise Failure("bad_request")
    return value.strip()


def change_role(web: Webapp, signed: Signed, body: dict[str, Any]) -> str:
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
    return "role_changed"


def set_mfa(web: Webapp, signed: Signed, body: dict[str, Any]) -> str:
    policy = REQUIRED_FOR_ALL if body.get("require_mfa") in ("on", "true", True) else OPTIONAL
    web.backend.admin_update_organization(
        signed.session_jwt, signed.organization_id, {"mfa_policy": policy}
    )
    return "org_mfa_saved"


def set_domains(web: Webapp, signed: Signed, body: dict[str, Any]) -> str:
    text = _field(body, "domains", max_length=MAX_DOMAINS_TEXT)
    domains = [d for d in re.split(r"[\s,]+", text) if d]
    web.backend.admin_update_organization(
        signed.session_jwt, signed.organization_id, {"email_allowed_domains": domains}
    )
    return "org_domains_saved"


@router.post("/dashboard/admin/role")
async def role(request: Request) -> Response:
    return await _post(request, change_role)


@router.post("/dashboard/admin/mfa")
async def mfa(request: Request) -> Response:
    return await _post(request, set_mfa)


@router.post("/dashboard/admin/domains")
async def domains(request: Request) -> Response:
    return await _post(request, set_domains)
