"""Member-session authorization of management calls: one line per route.

    scope = member_session.authorize(request, scope, [organization_id], needs.member_delete(),
                                     target_member_id=member_id)

Without Stytch's member-session headers the call is the application's backend (its project
secret) and nothing changes. With them, `rbac.acting.act_as_member` checks the session and its
permissions, and the returned scope acts as that member (so `rbac.service` can refuse roles it
may not give). Call it before the domain function, so a refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from antechamber.rbac import acting
from antechamber.rbac.needs import Need
from antechamber.scope import Scope

SESSION_HEADER = "x-stytch-member-session"
JWT_HEADER = "x-stytch-member-sessionjwt"


def present(request: Request) -> bool:
    """Whether the request carries a member's session (the call acts as that member)."""
    return bool(request.headers.get(SESSION_HEADER) or request.headers.get(JWT_HEADER))


def authorize(
    request: Request,
    scope: Scope,
    organization_ids: Sequence[str],
    needs: Sequence[Need],
    *,
    target_member_id: str | None = None,
) -> Scope:
    token = request.headers.get(SESSION_HEADER) or None
    jwt = request.headers.get(JWT_HEADER) or None
    if token is None and jwt is None:
        return scope
    return acting.act_as_member(
        scope,
        session_token=token,
        session_jwt=jwt,
        organization_ids=organization_ids,
        needs=needs,
        target_member_id=target_member_id,
    )
