"""SCIM Groups of a connection and their members (SCIM users of the same connection).

Groups are stored with their membership; `scim_group_implicit_role_assignments` on the
connection names groups by id. Every change of membership recomputes the roles it implies for
the members it adds or removes (`scim.group_roles`), in the same unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scim2_models import Context
from sqlalchemy import delete, func, select, update

from antechamber.audit import service as audit
from antechamber.clock import rfc3339
from antechamber.ids import new_id
from antechamber.organizations.models import Organization
from antechamber.scim import errors, group_roles, resources
from antechamber.scim.models import ScimConnection, ScimGroup, ScimGroupMember, ScimUser
from antechamber.scim.users import location, page_size, row_of
from antechamber.scope import Scope

EVENT_CREATED = "scim.group_created"
EVENT_UPDATED = "scim.group_updated"
EVENT_DELETED = "scim.group_deleted"
MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class ListPage:
    rows: Sequence[ScimGroup]
    total: int
    start_index: int


def create(scope: Scope, connection: ScimConnection, org: Organization, payload: Any) -> ScimGroup:
    resource = resources.parse(resources.GroupResource, payload, Context.RESOURCE_CREATION_REQUEST)
    name = _display_name(resource)
    _ensure_free(scope, connection, name, None)
    now = scope.clock.now()
    group = ScimGroup(
        id=new_id("scim-group", scope.environment),
        project_id=scope.project_id,
        connection_id=connection.id,
        organization_id=org.id,
        display_name=name,
        display_name_key=name.lower(),
        external_id=resource.external_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    scope.db.add(group)
    scope.db.flush()
    added, _ = _set_members(scope, connection, group, _member_ids(resource))
    group_roles.refresh(scope, connection.id, user_ids=added)
    audit.record(
        scope,
        EVENT_CREATED,
        organization_id=org.id,
        connection_id=connection.id,
        scim_group_id=group.id,
        members_added=len(added),
    )
    return group


def get(
    scope: Scope, connection: ScimConnection, group_id: str, *, lock: bool = False
) -> ScimGroup:
    """The connection's group; `lock` takes its row lock (PostgreSQL) for a change."""
    group = row_of(scope, ScimGroup, connection, group_id, lock=lock)
    if group is None:
        raise errors.ScimNotFound(f"Group {group_id} not found.")
    return group


def replace(
    scope: Scope, connection: ScimConnection, org: Organization, group_id: str, payload: Any
) -> ScimGroup:
    group = get(scope, connection, group_id, lock=True)
    resource = resources.parse(
        resources.GroupResource, payload, Context.RESOURCE_REPLACEMENT_REQUEST
    )
    return _save(scope, connection, org, group, resource)


def patch(
    scope: Scope, connection: ScimConnection, org: Organization, group_id: str, payload: Any
) -> ScimGroup:
    group = get(scope, connection, group_id, lock=True)
    operations = resources.parse_patch(
        resources.GroupResource, resources.without_own_id(payload, group.id)
    )
    resource = model_of(scope, connection, group, with_members=True)
    resources.apply_patch(operations, resource)
    return _save(scope, connection, org, group, resource)


def delete_group(
    scope: Scope, connection: ScimConnection, org: Organization, group_id: str
) -> None:
    group = get(scope, connection, group_id, lock=True)
    former = member_ids(scope, group)
    scope.db.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == group.id))
    scope.db.delete(group)
    # An implicit role assignment of a deleted group goes with it.
    kept = [a for a in connection.group_role_assignments if a.get("group_id") != group.id]
    if kept != connection.group_role_assignments:
        connection.group_role_assignments = kept
    scope.db.flush()
    group_roles.refresh(scope, connection.id, user_ids=former)
    audit.record(
        scope,
        EVENT_DELETED,
        organization_id=org.id,
        connection_id=connection.id,
        scim_group_id=group.id,
    )


def search(
    scope: Scope,
    connection: ScimConnection,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
    *,
    with_members: bool,
) -> ListPage:
    start = max(1, start_index or 1)
    size = page_size(count)
    base = select(ScimGroup).where(ScimGroup.connection_id == connection.id)
    order = (ScimGroup.created_at, ScimGroup.id)
    if not filter_text:
        total = scope.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = scope.db.scalars(base.order_by(*order).offset(start - 1).limit(size)).all()
        return ListPage(rows, int(total), start)
    parsed = resources.parse_filter(resources.GroupResource, filter_text)
    needs_members = False
    for attr, value in resources.indexable_equalities(parsed.ast):
        key = attr.lower()
        if key == "displayname":
            base = base.where(ScimGroup.display_name_key == value.lower())
        elif key == "externalid":
            base = base.where(ScimGroup.external_id == value)
        elif key == "id":
            base = base.where(ScimGroup.id == value)
        elif key in ("members.value", "members"):
            base = base.where(
                ScimGroup.id.in_(
                    select(ScimGroupMember.group_id).where(ScimGroupMember.user_id == value)
                )
            )
    needs_members = "members" in str(parsed).lower()
    candidates = scope.db.scalars(base.order_by(*order)).all()
    found = [
        g
        for g in candidates
        if resources.matches(
            parsed, model_of(scope, connection, g, with_members=needs_members or with_members)
        )
    ]
    return ListPage(found[start - 1 : start - 1 + size], len(found), start)


def member_ids(scope: Scope, group: ScimGroup) -> list[str]:
    return list(
        scope.db.scalars(
            select(ScimGroupMember.user_id)
            .where(ScimGroupMember.group_id == group.id)
            .order_by(ScimGroupMember.user_id)
        )
    )


def model_of(
    scope: Scope, connection: ScimConnection, group: ScimGroup, *, with_members: bool
) -> Any:
    data: dict[str, Any] = {
        "schemas": [resources.GROUP_SCHEMA],
        "id": group.id,
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": rfc3339(group.created_at),
            "lastModified": rfc3339(group.updated_at),
            "location": location(scope, connection, "Groups", group.id),
            "version": f'W/"{group.version}"',
        },
    }
    if group.external_id:
        data["externalId"] = group.external_id
    if with_members:
        rows = scope.db.execute(
            select(ScimUser.id, ScimUser.attributes, ScimGroupMember.display)
            .join(ScimGroupMember, ScimGroupMember.user_id == ScimUser.id)
            .where(ScimGroupMember.group_id == group.id)
            .order_by(ScimUser.created_at, ScimUser.id)
        ).all()
        if rows:
            data["members"] = [
                {
                    "value": user_id,
                    "display": display or attrs.get("displayName") or attrs.get("userName") or "",
                    "type": "User",
                    "$ref": location(scope, connection, "Users", user_id),
                }
                for user_id, attrs, display in rows
            ]
    return resources.parse(resources.GroupResource, data, Context.RESOURCE_QUERY_RESPONSE)


def _save(
    scope: Scope, connection: ScimConnection, org: Organization, group: ScimGroup, resource: Any
) -> ScimGroup:
    name = _display_name(resource)
    _ensure_free(scope, connection, name, group.id)
    group.display_name = name
    group.display_name_key = name.lower()
    group.external_id = resource.external_id
    added, removed = _set_members(scope, connection, group, _member_ids(resource))
    group.version += 1
    group.updated_at = scope.clock.now()
    scope.db.flush()
    group_roles.refresh(scope, connection.id, user_ids=[*added, *removed])
    audit.record(
        scope,
        EVENT_UPDATED,
        organization_id=org.id,
        connection_id=connection.id,
        scim_group_id=group.id,
        members_added=len(added),
        members_removed=len(removed),
    )
    return group


def _set_members(
    scope: Scope,
    connection: ScimConnection,
    group: ScimGroup,
    wanted: Iterable[tuple[str, str]],
) -> tuple[list[str], list[str]]:
    """Make the group's members exactly `wanted`; returns the user ids added and removed."""
    displays = dict(wanted)
    target = list(displays)
    if len(target) > MAX_MEMBERS:
        raise errors.ScimInvalidValue(f"A group holds at most {MAX_MEMBERS} members.")
    if target:
        known = set(
            scope.db.scalars(
                select(ScimUser.id).where(
                    ScimUser.connection_id == connection.id, ScimUser.id.in_(target)
                )
            )
        )
        unknown = [t for t in target if t not in known]
        if unknown:
            raise errors.ScimInvalidValue(
                f"Group members must be users of this connection; unknown: {unknown[0][:80]}"
            )
    current = dict(
        scope.db.execute(
            select(ScimGroupMember.user_id, ScimGroupMember.display).where(
                ScimGroupMember.group_id == group.id
            )
        ).all()
    )
    to_add = [t for t in target if t not in current]
    to_remove = sorted(set(current) - set(target))
    for user_id in target:
        if user_id in current and current[user_id] != displays[user_id]:
            scope.db.execute(
                update(ScimGroupMember)
                .where(ScimGroupMember.group_id == group.id, ScimGroupMember.user_id == user_id)
                .values(display=displays[user_id])
            )
    if to_remove:
        scope.db.execute(
            delete(ScimGroupMember).where(
                ScimGroupMember.group_id == group.id, ScimGroupMember.user_id.in_(to_remove)
            )
        )
    for user_id in to_add:
        scope.db.add(ScimGroupMember(group_id=group.id, user_id=user_id, display=displays[user_id]))
    scope.db.flush()
    return to_add, to_remove


def _member_ids(resource: Any) -> list[tuple[str, str]]:
    """(user id, display) of each member the resource lists."""
    return [
        (str(m.value), str(m.display or "")[:256])
        for m in (resource.members or [])
        if getattr(m, "value", None)
    ]


def _display_name(resource: Any) -> str:
    name = (resource.display_name or "").strip()
    if not name or len(name) > 256:
        raise errors.ScimInvalidValue("displayName is required (at most 256 characters).")
    return name


def _ensure_free(scope: Scope, connection: ScimConnection, name: str, group_id: str | None) -> None:
    with scope.db.no_autoflush:
        clash = scope.db.scalar(
            select(ScimGroup.id).where(
                ScimGroup.connection_id == connection.id,
                ScimGroup.display_name_key == name.lower(),
            )
        )
    if clash is not None and clash != group_id:
        raise errors.ScimUniqueness("A group with this displayName already exists.")
