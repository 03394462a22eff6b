"""The project's policy, organizations' custom roles, role assignment rules and checks.

Contracts:
- `get_policy` is Stytch's defaults until `set_policy` stores the project's own (checked by
  `rbac.policy.parse_policy`, audited).
- `set_org_roles` replaces an organization's custom roles (Stytch's `set_org_policy`).
- `check_role_change` is the one rule for giving or taking roles (member create and update,
  invites, email-implied roles): the roles must exist, and when a member's session acts
  (`scope.acting_member_id`), that member must hold every permission of every role it gives or
  takes. Call `check_assignable` from an invite route with the roles the invite carries.
- `ensure_role_manager` refuses a change, made by a member's session, that leaves the
  organization without an active member who can manage roles.
- `authorize` is the server's verdict for `sessions.authenticate`'s `authorization_check`;
  it is the SDKs' local rule over the same roles (project's, then the organization's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.rbac import assignment, defaults, errors, sso_grants
from antechamber.rbac.models import RbacPolicy
from antechamber.rbac.policy import (
    Policy,
    Role,
    default_policy,
    granting_roles,
    holds_role,
    is_authorized,
    parse_org_roles,
    parse_policy,
    policy_from_json,
    roles_from_json,
)
from antechamber.scope import Scope
from antechamber.sessions.models import MemberSession

#: The permission that makes a member a manager of roles (see `ensure_role_manager`).
MANAGE_ROLES = (defaults.MEMBER, "update.settings.roles")


def get_policy(scope: Scope) -> Policy:
    # No autoflush: callers check changes not yet valid as a whole (a slug still to be checked).
    with scope.db.no_autoflush:
        row = scope.db.get(RbacPolicy, scope.project_id)
    return default_policy() if row is None else policy_from_json(row.document)


def set_policy(scope: Scope, document: Any) -> Policy:
    """Replace the project's policy (checked, audited). Organizations' custom roles must still
    fit it: a role id they use may not become a project role, their permissions must still
    name resources and actions of the new policy."""
    policy = parse_policy(document)
    for org in scope.db.scalars(
        select(Organization).where(Organization.project_id == scope.project_id)
    ):
        if org.custom_roles:
            try:
                parse_org_roles(org.custom_roles, policy)
            except errors.InvalidPolicy as exc:
                raise errors.InvalidPolicy(
                    f"Organization {org.id}'s custom roles would no longer fit: {exc.message}"
                ) from None
    row = scope.db.get(RbacPolicy, scope.project_id)
    before = None if row is None else policy_from_json(row.document)
    now = scope.clock.now()
    if row is None:
        row = RbacPolicy(project_id=scope.project_id, document={}, updated_at=now)
        scope.db.add(row)
    row.document = policy.custom_json()
    row.updated_at = now
    row.updated_by = scope.actor[:128]
    previous = before or default_policy()
    audit.record(
        scope,
        EventType.RBAC_POLICY_UPDATED,
        roles=policy.role_ids(),
        resources=[r.resource_id for r in policy.resources],
        roles_added=sorted(set(policy.role_ids()) - set(previous.role_ids())),
        roles_removed=sorted(set(previous.role_ids()) - set(policy.role_ids())),
    )
    scope.db.flush()
    return policy


def org_roles(org: Organization) -> tuple[Role, ...]:
    return roles_from_json(org.custom_roles or [])


def all_roles(scope: Scope, org: Organization, policy: Policy | None = None) -> tuple[Role, ...]:
    """The project's roles, then the organization's: the list the SDKs evaluate."""
    return (*(policy or get_policy(scope)).roles, *org_roles(org))


def set_org_roles(scope: Scope, org: Organization, document: Any) -> tuple[Role, ...]:
    """Replace the organization's custom roles (Stytch's `set_org_policy`), checked against
    the project's policy; audited. A member's session that acts may only write roles whose
    every permission it holds, and only if it may create/update/delete custom roles."""
    policy = get_policy(scope)
    if not isinstance(document, Mapping) or not isinstance(document.get("roles"), list):
        raise errors.InvalidPolicy("org_policy must be an object with a list of roles.")
    roles = tuple(parse_org_roles(document["roles"], policy))
    before = {r.role_id: r for r in org_roles(org)}
    if scope.acting_member_id is not None:
        actor = _acting_member(scope, org)
        held = all_roles(scope, org, policy)
        subject = _acting_roles(scope, org, actor)
        changed = [r for r in roles if before.get(r.role_id) != r]
        for role in changed:
            if not holds_role(held, subject, role):
                raise errors.UnauthorizedRoleAssignment(
                    f"The custom role {role.role_id!r} grants permissions this member does "
                    "not hold."
                )
    org.custom_roles = [r.to_json() for r in roles]
    org.updated_at = scope.clock.now()
    audit.record(
        scope,
        EventType.RBAC_ORG_ROLES_UPDATED,
        organization_id=org.id,
        roles=[r.role_id for r in roles],
    )
    scope.db.flush()
    if scope.acting_member_id is not None:
        ensure_role_manager(scope, org)
    return roles


def known_role_ids(scope: Scope, org: Organization) -> list[str]:
    return [r.role_id for r in all_roles(scope, org)]


def check_assignable(scope: Scope, org: Organization, roles: Iterable[str]) -> list[str]:
    """`roles` checked for a new member or an invite: they exist (project or organization),
    `stytch_member` is implied, and a member's session that acts holds each role's every
    permission. Returns the roles to store as directly assigned."""
    return check_role_change(scope, org, [], list(roles))


def check_role_change(
    scope: Scope, org: Organization, before: Sequence[str], after: Sequence[str]
) -> list[str]:
    """The one rule for changing directly assigned (or email-implied) roles; see the module
    docstring. Returns `after` as stored (`stytch_member` left out, once each)."""
    if not isinstance(after, list | tuple) or not all(isinstance(r, str) for r in after):
        raise errors.InvalidRoleId("roles must be a list of role ids.")
    wanted = assignment.direct_role_ids(list(after))
    roles = all_roles(scope, org)
    unknown = [r for r in wanted if r not in {r.role_id for r in roles}]
    if unknown:
        raise errors.InvalidRoleId(f"Unknown roles: {', '.join(unknown)}.")
    changed = set(wanted) ^ set(assignment.direct_role_ids(list(before)))
    _check_actor_may_change(scope, org, roles, changed)
    return wanted


def check_implied_change(
    scope: Scope, org: Organization, before: Sequence[str], after: Sequence[str]
) -> None:
    """A change that alters the roles a member holds by implication (a new email address at
    a domain with an implicit role) follows the same rule as giving those roles."""
    changed = (set(before) ^ set(after)) - {defaults.MEMBER_ROLE}
    _check_actor_may_change(scope, org, all_roles(scope, org), changed)


def _check_actor_may_change(
    scope: Scope, org: Organization, roles: Sequence[Role], changed: set[str]
) -> None:
    if scope.acting_member_id is None or not changed:
        return
    by_id = {r.role_id: r for r in roles}
    actor = _acting_member(scope, org)
    subject = _acting_roles(scope, org, actor)
    if not is_authorized(roles, subject, *MANAGE_ROLES):
        raise errors.SessionAuthorizationError(
            "Changing roles needs stytch.member: update.settings.roles."
        )
    for role_id in sorted(changed):
        role = by_id.get(role_id)
        if role is not None and not holds_role(roles, subject, role):
            raise errors.UnauthorizedRoleAssignment(
                f"The role {role_id!r} grants permissions this member does not hold."
            )


def check_implicit_roles(
    scope: Scope, org: Organization, before: Sequence[Mapping[str, Any]], after: Any
) -> None:
    """Email-implied role assignments follow the same rule as direct ones: the roles exist and
    an acting member holds each role of every assignment it adds or removes (moving a role to
    another domain gives it to other people, so it counts)."""

    def pairs(items: Any) -> set[tuple[str, str]]:
        return {
            (str(a.get("domain", "")).lower(), str(a.get("role_id", "")))
            for a in items
            if isinstance(a, Mapping)
        }

    check_assignment_change(scope, org, pairs(before), pairs(after))


def check_assignment_change(
    scope: Scope,
    org: Organization,
    before: set[tuple[str, str]],
    after: set[tuple[str, str]],
) -> None:
    """The rule for every list of implicit role assignments (email domains, an SSO
    connection's, its IdP groups'), given as (what grants, role id) pairs: each role of a
    pair `after` adds exists (project's policy or the organization's custom roles; a pair
    kept as it was is not re-checked, so a role a later policy import dropped does not block
    unrelated edits), and an acting member holds each role of every pair it adds or removes
    (moving a role to another domain or group gives it to other people, so it counts)."""
    unknown = unknown_role_ids(scope, org, sorted({role for _, role in after - before}))
    if unknown:
        raise errors.InvalidRoleId(f"Unknown roles: {', '.join(unknown)}.")
    changed = {role for _, role in before ^ after} - {defaults.MEMBER_ROLE}
    _check_actor_may_change(scope, org, all_roles(scope, org), changed)


def check_group_roles(
    scope: Scope,
    org: Organization,
    before: Iterable[Mapping[str, Any]],
    after: Iterable[Mapping[str, Any]],
) -> None:
    """SCIM group → role assignments ({group_id, role_id}, already checked to exist) follow
    the rule of email-implied ones: an acting member holds each role of every assignment it
    adds or removes (pointing a role at another group gives it to other people)."""

    def pairs(items: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
        return {(str(a.get("group_id", "")), str(a.get("role_id", ""))) for a in items}

    changed = {role for _, role in pairs(before) ^ pairs(after)} - {defaults.MEMBER_ROLE}
    _check_actor_may_change(scope, org, all_roles(scope, org), changed)


def unknown_role_ids(scope: Scope, org: Organization, roles: Sequence[str]) -> list[str]:
    """Those of `roles` that neither the project's policy nor the organization defines."""
    known = set(known_role_ids(scope, org))
    return [r for r in roles if r not in known]


def can_manage_roles(roles: Sequence[Role], org: Organization, member: Member) -> bool:
    return is_authorized(roles, assignment.role_ids(org, member), *MANAGE_ROLES)


def ensure_role_manager(scope: Scope, org: Organization, *, without: str | None = None) -> None:
    """Refuse (`LastRoleManager`) a change by a member's session that leaves `org` with no
    active member who can manage roles; `without` is a member about to be deleted.

    Locks the organization row first (PostgreSQL), so two admins demoting each other at once
    are serialised and the second sees the first's change.
    """
    if scope.acting_member_id is None:
        return
    scope.db.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    scope.db.flush()
    roles = all_roles(scope, org)
    members = scope.db.scalars(
        select(Member).where(
            Member.organization_id == org.id,
            Member.status == "active",
            Member.id != (without or ""),
        )
    )
    if not any(can_manage_roles(roles, org, m) for m in members):
        raise errors.LastRoleManager()


def authorize(
    scope: Scope,
    org: Organization,
    member: Member,
    *,
    session_factors: Sequence[Mapping[str, Any]],
    organization_id: str,
    resource_id: str,
    action: str,
) -> list[str]:
    """The roles of `member` (of `org`), in a session with `session_factors`, that grant
    `action` on `resource_id` in `organization_id`, never empty; else
    `SessionAuthorizationTenancyError` (another organization) or `SessionAuthorizationError`.
    Roles a SAML connection implies count only with a factor of that connection."""
    if organization_id != org.id:
        raise errors.SessionAuthorizationTenancyError()
    sso = sso_grants.session_grants(scope.db, member, session_factors)
    granted = granting_roles(
        all_roles(scope, org), assignment.role_ids(org, member, sso), resource_id, action
    )
    if not granted:
        raise errors.SessionAuthorizationError(
            f"The member's roles do not grant {action!r} on {resource_id!r}."
        )
    return granted


def _acting_member(scope: Scope, org: Organization) -> Member:
    member = scope.db.get(Member, scope.acting_member_id)
    if member is None or member.organization_id != org.id:
        raise errors.SessionAuthorizationTenancyError()
    return member


def _acting_roles(scope: Scope, org: Organization, actor: Member) -> list[str]:
    """The roles the acting member holds in the session it acts with (SSO-implied roles of
    that session's SAML connections included)."""
    sso: list[sso_grants.Grant] = []
    if scope.acting_session_id is not None:
        session = scope.db.get(MemberSession, scope.acting_session_id)
        if session is not None and session.member_id == actor.id:
            sso = sso_grants.session_grants(scope.db, actor, session.factors)
    return assignment.role_ids(org, actor, sso)
