"""SCIM group → role: the roles a member's SCIM groups imply (Stytch's `scim_connection_group`).

Contract:
- A member holds role R through group G when the connection's
  `scim_group_implicit_role_assignments` has {G, R}, the member's SCIM user is in G and active,
  and the member is not deactivated. The result is kept on `Member.scim_group_roles`
  ([{role_id, connection_id, group_id}], in the assignments' order), which
  `rbac.assignment.role_sources` reads: the member object, every session answer, the JWT's
  roles claim, `authorization_check`, member-session authorization and `mfa_required_roles`
  see group roles with no query of their own. A session sees a change when it is next
  authenticated (refreshed), as Stytch ("JWTs updated on next refresh").
- `refresh` is called, in the same unit of work, by every change that can alter the result:
  a group's members (create, replace, patch), a group deleted, the assignments changed, a
  member reactivated by the directory. Deprovisioning clears the list
  (`scim.deprovision.deactivate`); deleting the connection clears it (`clear`).
- Concurrency (PostgreSQL): `refresh` takes the affected members' row locks (in id order)
  before it reads memberships and assignments, so of two changes touching one member the
  second computes from the first's committed result, never from a stale snapshot.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, select

from antechamber.members.models import Member
from antechamber.scim.models import ScimConnection, ScimGroupMember, ScimUser
from antechamber.scope import Scope

#: Beyond this many users named, a refresh recomputes the whole connection (one statement
#: with a subquery instead of a parameter list no database takes).
MAX_NAMED = 500
DEACTIVATED = "deactivated"


def refresh(
    scope: Scope,
    connection_id: str,
    *,
    user_ids: Collection[str] | None = None,
    member_ids: Collection[str] | None = None,
) -> None:
    """Recompute `scim_group_roles` of the members behind `user_ids` (SCIM user ids) and
    `member_ids` of this connection; with neither, of every member the connection has."""
    users = select(ScimUser.member_id).where(ScimUser.connection_id == connection_id)
    named = [*(user_ids or ()), *(member_ids or ())]
    if user_ids is None and member_ids is None:
        pass
    elif not named:
        return
    elif len(named) <= MAX_NAMED:
        users = users.where(
            ScimUser.id.in_(list(user_ids or ())) | ScimUser.member_id.in_(list(member_ids or ()))
        )
    members = scope.db.scalars(
        select(Member)
        .where(Member.id.in_(users.scalar_subquery()))
        .order_by(Member.id)
        .with_for_update(of=Member)
        # The rows as locked, not as this unit of work may have read them before.
        .execution_options(populate_existing=True)
    ).all()
    if not members:
        return
    groups_of = _groups_by_member(scope, users)
    # Read again after the locks: another unit of work may just have changed them.
    assignments: list[dict[str, Any]] = (
        scope.db.scalar(
            select(ScimConnection.group_role_assignments).where(ScimConnection.id == connection_id)
        )
        or []
    )
    for member in members:
        active, groups = groups_of.get(member.id, (False, set()))
        wanted = (
            [
                {
                    "role_id": str(a["role_id"]),
                    "connection_id": connection_id,
                    "group_id": str(a["group_id"]),
                }
                for a in assignments
                if a.get("group_id") in groups
            ]
            if active and member.status != DEACTIVATED
            else []
        )
        if (member.scim_group_roles or []) != wanted:
            member.scim_group_roles = wanted
    scope.db.flush()


def clear(scope: Scope, connection_id: str) -> None:
    """Forget the group roles of every member of the connection (it is being deleted)."""
    users = select(ScimUser.member_id).where(ScimUser.connection_id == connection_id)
    for member in scope.db.scalars(
        select(Member)
        .where(Member.id.in_(users.scalar_subquery()))
        .order_by(Member.id)
        .with_for_update(of=Member)
        # The rows as locked, not as this unit of work may have read them before.
        .execution_options(populate_existing=True)
    ):
        if member.scim_group_roles:
            member.scim_group_roles = []
    scope.db.flush()


def _groups_by_member(scope: Scope, users: Select[str]) -> dict[str, tuple[bool, set[str]]]:
    rows = scope.db.execute(
        select(ScimUser.member_id, ScimUser.active, ScimGroupMember.group_id)
        .outerjoin(ScimGroupMember, ScimGroupMember.user_id == ScimUser.id)
        .where(ScimUser.member_id.in_(users.scalar_subquery()))
    ).all()
    found: dict[str, tuple[bool, set[str]]] = {}
    for member_id, active, group_id in rows:
        _, groups = found.setdefault(member_id, (bool(active), set()))
        if group_id is not None:
            groups.add(group_id)
    return found
