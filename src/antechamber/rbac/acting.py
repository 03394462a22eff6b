"""A member's session acting on the management API: who it is and what it may do.

`act_as_member` is the one check every management call makes when the request carries a
member's session (Stytch's `X-Stytch-Member-Session` / `X-Stytch-Member-SessionJWT`, which the
SDKs send from `method_options`):

1. the session is live (a revoked, expired or unknown one is `session_not_found`), and when
   both a token and a JWT are given they are the same session;
2. the member acts only on its own organization (`session_authorization_tenancy_error`);
3. its roles (project's and organization's, `rbac.policy.is_authorized`) grant every `Need`
   of the call, `stytch.self` standing in for `stytch.member` where the target is itself
   (`session_authorization_error`).

It returns the scope with `acting_member_id` set (and the member as the audited actor), which
the domain rules that depend on who acts read (`rbac.service.check_role_change`,
`ensure_role_manager`). It checks before the call writes anything, so a refusal changes
nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import assignment, errors, sso_grants
from antechamber.rbac import service as rbac
from antechamber.rbac.defaults import SELF
from antechamber.rbac.needs import Need
from antechamber.rbac.policy import is_authorized
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import service as sessions
from antechamber.sessions.models import MemberSession


def act_as_member(
    scope: Scope,
    *,
    session_token: str | None,
    session_jwt: str | None,
    organization_ids: Sequence[str],
    needs: Sequence[Need],
    target_member_id: str | None = None,
) -> Scope:
    """See the module docstring. `organization_ids`: every organization the call touches
    (id, slug or external id, as the route took them); `target_member_id`: the member acted
    on, if any."""
    session, member, org = _resolve(scope, session_token, session_jwt)
    for ref in organization_ids:
        if get_organization(scope, ref).id != org.id:
            raise errors.SessionAuthorizationTenancyError(
                "A member's session acts only on its own organization."
            )
    if target_member_id is not None and target_member_id != member.id:
        target = scope.db.get(Member, target_member_id)
        if target is not None and target.organization_id != org.id:
            raise errors.SessionAuthorizationTenancyError(
                "A member's session acts only on members of its own organization."
            )
    on_self = target_member_id is not None and target_member_id == member.id
    roles = rbac.all_roles(scope, org)
    subject = assignment.role_ids(
        org, member, sso_grants.session_grants(scope.db, member, session.factors)
    )
    for need in needs:
        if need.backend_only:
            if need.field == "trusted_metadata":
                raise errors.CannotUpdateTrustedMetadata()
            raise errors.FieldNotAllowedWithMemberSession(
                f"{need.field} cannot be set with a member's session."
            )
        if need.not_on_self and on_self:
            raise errors.MemberCannotUpdateOwnEmail()
        if is_authorized(roles, subject, need.resource_id, need.action):
            continue
        if need.self_ok and on_self and is_authorized(roles, subject, SELF, need.action):
            continue
        raise errors.SessionAuthorizationError(
            f"The member's roles do not grant {need.resource_id}: {need.action}."
        )
    return dataclasses.replace(
        scope,
        actor=f"member:{member.id}",
        acting_member_id=member.id,
        acting_session_id=session.id,
    )


def session_owner(scope: Scope, member_session_id: str) -> str | None:
    """The member whose session `member_session_id` is (in this project), if any: the target
    of a revoke by session id."""
    found = scope.db.get(MemberSession, member_session_id)
    return found.member_id if found is not None and found.project_id == scope.project_id else None


def _resolve(
    scope: Scope, token: str | None, jwt: str | None
) -> tuple[MemberSession, Member, Organization]:
    if token and jwt:
        by_token = sessions.resolve(scope, session_token=token)
        by_jwt = sessions.resolve(scope, session_jwt=jwt)
        if by_token[0].id != by_jwt[0].id:
            raise session_errors.SessionNotFound(
                "The member session token and JWT belong to different sessions."
            )
        return by_token
    return sessions.resolve(scope, session_token=token, session_jwt=jwt)
