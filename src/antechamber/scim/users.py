"""SCIM Users of a connection, mapped onto the organization's members.

Mapping (what a member gets from the directory): the email is the primary `emails` value, else
the `work` one, else the first, else `userName` when it is an email address; the name is
`name.formatted`, else `givenName familyName`, else `displayName`; `externalId` becomes the
member's external id when it fits the member rule (else it stays on the SCIM record only);
`active` false deactivates the member (`deprovision.deactivate`), true reactivates them.

A user created by the directory is an active member at once, with no invitation email, and
its email is not marked verified (the person has not proven it; their first login does). A
user whose email already belongs to a member of the organization takes over that member.
DELETE deactivates the member and forgets the SCIM record (a later GET is 404); the member
stays, deactivated, so its history and audit trail remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from scim2_models import Context
from sqlalchemy import delete, func, select

from antechamber.audit import service as audit
from antechamber.clock import rfc3339
from antechamber.emails import canonical_email
from antechamber.errors import AntechamberError, Conflict
from antechamber.ids import new_id
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.organizations import rules
from antechamber.organizations.models import Organization
from antechamber.scim import deprovision, errors, resources
from antechamber.scim.models import ScimConnection, ScimGroup, ScimGroupMember, ScimUser
from antechamber.scope import Scope

DEFAULT_COUNT = 100
MAX_COUNT = 1000
EVENT_CREATED = "scim.user_created"
EVENT_UPDATED = "scim.user_updated"
EVENT_DELETED = "scim.user_deleted"


@dataclass(frozen=True)
class ListPage:
    rows: Sequence[ScimUser]
    total: int
    start_index: int


def create(scope: Scope, connection: ScimConnection, org: Organization, payload: Any) -> ScimUser:
    resource = resources.parse(resources.UserResource, payload, Context.RESOURCE_CREATION_REQUEST)
    user_name_key = _user_name_key(resource)
    if _by_user_name(scope, connection, user_name_key) is not None:
        raise errors.ScimUniqueness("A user with this userName already exists.")
    email = _email_of(resource)
    if email is None:
        raise errors.ScimInvalidValue(
            "A user needs an email address: in emails[].value, or as its userName."
        )
    now = scope.clock.now()
    member = scope.db.scalar(
        select(Member).where(Member.organization_id == org.id, Member.email_address == email)
    )
    if member is None:
        member = _member_call(
            lambda: members.create_member(scope, org, {"email_address": email}, verified=False)
        )
    elif scope.db.scalar(select(ScimUser.id).where(ScimUser.member_id == member.id)):
        raise errors.ScimUniqueness("Another user of this directory has this email address.")
    row = ScimUser(
        id=new_id("scim-registration", scope.environment),
        project_id=scope.project_id,
        connection_id=connection.id,
        member_id=member.id,
        user_name_key=user_name_key,
        external_id=resource.external_id,
        email=email,
        active=resource.active is not False,
        attributes=resources.stored(resource),
        version=1,
        created_at=now,
        updated_at=now,
    )
    scope.db.add(row)
    scope.db.flush()
    _apply_to_member(scope, connection, org, member, resource, email)
    previous_status = member.status
    if member.status != deprovision.DEACTIVATED and member.status != "active" and row.active:
        # An invited or pending member the directory now vouches for.
        member.status = "active"
    if not row.active and member.status != deprovision.DEACTIVATED:
        deprovision.deactivate(scope, connection, member, reason="active_false")
    elif row.active:
        deprovision.reactivate(scope, connection, member)
    audit.record(
        scope,
        EVENT_CREATED,
        organization_id=org.id,
        member_id=member.id,
        connection_id=connection.id,
        scim_user_id=row.id,
        previous_status=previous_status,
    )
    return row


def get(scope: Scope, connection: ScimConnection, user_id: str, *, lock: bool = False) -> ScimUser:
    """The connection's user `user_id`; `lock` takes its row lock (PostgreSQL) for a change,
    so concurrent changes of one user run one after the other and each sees the last."""
    row = row_of(scope, ScimUser, connection, user_id, lock=lock)
    if row is None:
        raise errors.ScimNotFound(f"User {user_id} not found.")
    return row


_Row = TypeVar("_Row", ScimUser, ScimGroup)


def row_of(
    scope: Scope, kind: type[_Row], connection: ScimConnection, row_id: str, *, lock: bool
) -> _Row | None:
    """The connection's user or group `row_id`, or None; `lock` takes its row lock
    (PostgreSQL) for a change."""
    if not row_id:
        return None
    if lock:
        row = scope.db.scalar(select(kind).where(kind.id == row_id).with_for_update(of=kind))
    else:
        row = scope.db.get(kind, row_id)
    return row if row is not None and row.connection_id == connection.id else None


def page_size(count: int | None) -> int:
    """How many resources a page holds: `count`, at most `MAX_COUNT`; `DEFAULT_COUNT` when
    the request names none."""
    return DEFAULT_COUNT if count is None else max(0, min(count, MAX_COUNT))


def replace(
    scope: Scope, connection: ScimConnection, org: Organization, user_id: str, payload: Any
) -> ScimUser:
    row = get(scope, connection, user_id, lock=True)
    resource = resources.parse(
        resources.UserResource, payload, Context.RESOURCE_REPLACEMENT_REQUEST
    )
    return _save(scope, connection, org, row, resource)


def patch(
    scope: Scope, connection: ScimConnection, org: Organization, user_id: str, payload: Any
) -> ScimUser:
    row = get(scope, connection, user_id, lock=True)
    operations = resources.parse_patch(
        resources.UserResource, resources.without_own_id(payload, row.id)
    )
    resource = model_of(scope, connection, row)
    resources.apply_patch(operations, resource)
    return _save(scope, connection, org, row, resource)


def delete_user(scope: Scope, connection: ScimConnection, org: Organization, user_id: str) -> None:
    row = get(scope, connection, user_id, lock=True)
    member = scope.db.get(Member, row.member_id)
    if member is not None:
        deprovision.deactivate(scope, connection, member, reason="deleted")
    scope.db.execute(delete(ScimGroupMember).where(ScimGroupMember.user_id == row.id))
    scope.db.delete(row)
    scope.db.flush()
    audit.record(
        scope,
        EVENT_DELETED,
        organization_id=org.id,
        member_id=row.member_id,
        connection_id=connection.id,
        scim_user_id=row.id,
    )


def search(
    scope: Scope,
    connection: ScimConnection,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
) -> ListPage:
    """Users matching `filter_text` (scim2-models' semantics), in creation order, from the
    1-based `start_index`, at most `count` (≤ `MAX_COUNT`). An `eq` on userName, externalId,
    id or emails.value narrows the candidates in SQL (by bound parameters only) first."""
    start = max(1, start_index or 1)
    size = page_size(count)
    base = select(ScimUser).where(ScimUser.connection_id == connection.id)
    order = (ScimUser.created_at, ScimUser.id)
    if not filter_text:
        total = scope.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = scope.db.scalars(base.order_by(*order).offset(start - 1).limit(size)).all()
        return ListPage(rows, int(total), start)
    parsed = resources.parse_filter(resources.UserResource, filter_text)
    for attr, value in resources.indexable_equalities(parsed.ast):
        key = attr.lower()
        if key == "username":
            base = base.where(ScimUser.user_name_key == value.lower())
        elif key == "externalid":
            base = base.where(ScimUser.external_id == value)
        elif key == "id":
            base = base.where(ScimUser.id == value)
        elif key == "emails.value":
            base = base.where(ScimUser.email == value.strip().lower())
    candidates = scope.db.scalars(base.order_by(*order)).all()
    # Group memberships only when the filter reads them, fetched in one query.
    wanted = "groups" in str(parsed).lower()
    memberships = groups_of(scope, [r.id for r in candidates]) if wanted else {}
    found = [
        r
        for r in candidates
        if resources.matches(parsed, model_of(scope, connection, r, memberships.get(r.id, [])))
    ]
    return ListPage(found[start - 1 : start - 1 + size], len(found), start)


def models_of(scope: Scope, connection: ScimConnection, rows: Sequence[ScimUser]) -> list[Any]:
    """`model_of` for a page of users, their groups fetched in one query."""
    memberships = groups_of(scope, [r.id for r in rows])
    return [model_of(scope, connection, r, memberships.get(r.id, [])) for r in rows]


def model_of(
    scope: Scope,
    connection: ScimConnection,
    row: ScimUser,
    memberships: Sequence[ScimGroup] | None = None,
) -> Any:
    """The stored user as a scim2-models resource, with id, meta and its groups
    (`memberships` when the caller fetched them for many users at once)."""
    data: dict[str, Any] = {
        **row.attributes,
        "id": row.id,
        "meta": _meta(scope, connection, row),
    }
    if memberships is None:
        memberships = groups_of(scope, [row.id]).get(row.id, [])
    if memberships:
        data["groups"] = [
            {"value": g.id, "display": g.display_name, "$ref": _group_ref(scope, connection, g)}
            for g in memberships
        ]
    return resources.parse(resources.UserResource, data, Context.RESOURCE_QUERY_RESPONSE)


def groups_of(scope: Scope, user_ids: Sequence[str]) -> dict[str, list[ScimGroup]]:
    if not user_ids:
        return {}
    rows = scope.db.execute(
        select(ScimGroupMember.user_id, ScimGroup)
        .join(ScimGroup, ScimGroup.id == ScimGroupMember.group_id)
        .where(ScimGroupMember.user_id.in_(list(user_ids)))
        .order_by(ScimGroup.created_at, ScimGroup.id)
    ).all()
    found: dict[str, list[ScimGroup]] = {}
    for user_id, group in rows:
        found.setdefault(user_id, []).append(group)
    return found


def location(scope: Scope, connection: ScimConnection, kind: str, object_id: str) -> str:
    base = scope.settings.public_base_url.rstrip("/")
    return f"{base}/v1/b2b/scim/{connection.id}/{kind}/{object_id}"


def _group_ref(scope: Scope, connection: ScimConnection, group: ScimGroup) -> str:
    return location(scope, connection, "Groups", group.id)


def _meta(scope: Scope, connection: ScimConnection, row: ScimUser) -> dict[str, Any]:
    return {
        "resourceType": "User",
        "created": rfc3339(row.created_at),
        "lastModified": rfc3339(row.updated_at),
        "location": location(scope, connection, "Users", row.id),
        "version": f'W/"{row.version}"',
    }


def _save(
    scope: Scope, connection: ScimConnection, org: Organization, row: ScimUser, resource: Any
) -> ScimUser:
    user_name_key = _user_name_key(resource)
    if user_name_key != row.user_name_key:
        clash = _by_user_name(scope, connection, user_name_key)
        if clash is not None and clash.id != row.id:
            raise errors.ScimUniqueness("A user with this userName already exists.")
    member = scope.db.get(Member, row.member_id)
    if member is None:  # the member was deleted through the API: the record is stale
        raise errors.ScimNotFound(f"User {row.id} not found.")
    email = _email_of(resource) or member.email_address
    was_active = row.active
    row.user_name_key = user_name_key
    row.external_id = resource.external_id
    row.email = email
    row.active = resource.active is not False
    row.attributes = resources.stored(resource)
    row.version += 1
    row.updated_at = scope.clock.now()
    scope.db.flush()
    _apply_to_member(scope, connection, org, member, resource, email)
    if was_active and not row.active:
        deprovision.deactivate(scope, connection, member, reason="active_false")
    elif row.active:
        deprovision.reactivate(scope, connection, member)
    audit.record(
        scope,
        EVENT_UPDATED,
        organization_id=org.id,
        member_id=member.id,
        connection_id=connection.id,
        scim_user_id=row.id,
    )
    return row


def _apply_to_member(
    scope: Scope,
    connection: ScimConnection,
    org: Organization,
    member: Member,
    resource: Any,
    email: str,
) -> None:
    fields: dict[str, Any] = {}
    name = _name_of(resource)
    if name:
        fields["name"] = name
    if email != member.email_address:
        fields["email_address"] = email
    external = resource.external_id
    if external and external != member.external_id and _fits_external_id(external):
        fields["external_id"] = external
    _member_call(lambda: members.update_member(scope, org, member.id, fields))


def _member_call(call: Any) -> Any:
    """A members-service call, its conflicts as SCIM's `uniqueness` and other refusals as
    `invalidValue` (the directory's data broke a member rule)."""
    try:
        return call()
    except Conflict as exc:
        raise errors.ScimUniqueness(exc.message) from None
    except errors.ScimError:
        raise
    except AntechamberError as exc:
        if exc.status_code >= 500:
            raise
        raise errors.ScimInvalidValue(exc.message) from None


def _fits_external_id(value: str) -> bool:
    try:
        rules.external_id(value)
    except AntechamberError:
        return False
    return True


def _user_name_key(resource: Any) -> str:
    name = (resource.user_name or "").strip()
    if not name or len(name) > 320:
        raise errors.ScimInvalidValue("userName is required (at most 320 characters).")
    return name.lower()


def _by_user_name(scope: Scope, connection: ScimConnection, key: str) -> ScimUser | None:
    with scope.db.no_autoflush:
        return scope.db.scalar(
            select(ScimUser).where(
                ScimUser.connection_id == connection.id, ScimUser.user_name_key == key
            )
        )


def _email_of(resource: Any) -> str | None:
    emails = [e for e in (resource.emails or []) if getattr(e, "value", None)]
    chosen = (
        resources.first(emails, lambda e: e.primary is True)
        or resources.first(emails, lambda e: str(e.type or "").lower() == "work")
        or (emails[0] if emails else None)
    )
    candidates = [chosen.value] if chosen is not None else []
    candidates.append(resource.user_name or "")
    for value in candidates:
        try:
            return canonical_email(str(value))
        except AntechamberError:
            continue
    return None


def _name_of(resource: Any) -> str:
    name = resource.name
    if name is not None:
        if name.formatted:
            return str(name.formatted)[:256]
        joined = " ".join(p for p in (name.given_name, name.family_name) if p)
        if joined:
            return joined[:256]
    return str(resource.display_name or "")[:256]
