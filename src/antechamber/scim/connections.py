"""SCIM connections: one per organization, its bearer tokens and its request log.

Contract:
- A bearer token is 256 random bits (`tokens.new_token`), returned once (create, rotate start)
  and stored only as its SHA-256 digest; `authenticate` looks it up by digest.
- During a rotation the current and the next token both authenticate; `rotate_complete` makes
  the next one current (the old one stops at once), `rotate_cancel` forgets the next one.
- A connection's SCIM base URL is `{public_base_url}/v1/b2b/scim/{connection_id}` (with
  `?aadOptscim062020` for Microsoft Entra ID, as Stytch).
- Deleting a connection deletes its SCIM users and groups; the members stay, without the roles
  its groups gave them.
- Group → role assignments (`scim_group_implicit_role_assignments`) name groups of the
  connection and roles of the project's policy or the organization's custom roles; when a
  member's session makes the change (`scope.acting_member_id`), it follows RBAC's rule for
  implied roles (`rbac.service.check_group_roles`: it must hold every role it gives or takes).
  The members' roles follow in the same unit of work (`scim.group_roles.refresh`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from antechamber import pagination, tokens
from antechamber.audit import service as audit
from antechamber.ids import new_id
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import service as rbac
from antechamber.scim import errors, group_roles
from antechamber.scim.models import ScimConnection, ScimGroup, ScimRequest
from antechamber.scope import Scope

IDENTITY_PROVIDERS = (
    "generic",
    "okta",
    "microsoft-entra",
    "cyberark",
    "jumpcloud",
    "onelogin",
    "pingfederate",
    "rippling",
)
TOKEN_BYTES = 32
#: Request outcomes kept per connection for operators (`recent_requests`).
REQUESTS_KEPT = 200
EVENT_CREATED = "scim.connection_created"
EVENT_UPDATED = "scim.connection_updated"
EVENT_DELETED = "scim.connection_deleted"
EVENT_ROTATION_STARTED = "scim.token_rotation_started"
EVENT_ROTATION_COMPLETED = "scim.token_rotation_completed"
EVENT_ROTATION_CANCELLED = "scim.token_rotation_cancelled"


@dataclass(frozen=True)
class WithToken:
    """A connection and a bearer token just made: the only time the token is seen."""

    connection: ScimConnection
    token: str


@dataclass(frozen=True)
class GroupPage:
    groups: Sequence[ScimGroup]
    next_cursor: str | None


def base_url(scope: Scope, connection: ScimConnection) -> str:
    url = f"{scope.settings.public_base_url.rstrip('/')}/v1/b2b/scim/{connection.id}"
    if connection.identity_provider == "microsoft-entra":
        url += "?aadOptscim062020"
    return url


def create(
    scope: Scope, organization_ref: str, *, display_name: str | None, identity_provider: str | None
) -> WithToken:
    """A new connection for the organization with a new bearer token (returned once)."""
    org = get_organization(scope, organization_ref)
    if scope.db.scalar(select(ScimConnection.id).where(ScimConnection.organization_id == org.id)):
        raise errors.ActiveScimConnectionExists()
    now = scope.clock.now()
    token = tokens.new_token(TOKEN_BYTES)
    connection = ScimConnection(
        id=new_id("scim-connection", scope.environment),
        project_id=scope.project_id,
        organization_id=org.id,
        display_name=_display_name(display_name),
        identity_provider=_idp(identity_provider),
        token_digest=tokens.digest(token),
        token_last_four=token[-4:],
        next_token_digest=None,
        next_token_last_four="",
        group_role_assignments=[],
        created_at=now,
        updated_at=now,
    )
    scope.db.add(connection)
    scope.db.flush()
    audit.record(
        scope,
        EVENT_CREATED,
        organization_id=org.id,
        connection_id=connection.id,
        identity_provider=connection.identity_provider,
    )
    return WithToken(connection, token)


def get(scope: Scope, organization_ref: str) -> ScimConnection | None:
    """The organization's connection, or None."""
    org = get_organization(scope, organization_ref)
    return scope.db.scalar(select(ScimConnection).where(ScimConnection.organization_id == org.id))


def connection_of(
    scope: Scope, organization_ref: str, connection_id: str, *, lock: bool = False
) -> ScimConnection:
    """The organization's connection `connection_id`; `lock` takes its row lock (PostgreSQL),
    so two rotations of one connection run one after the other."""
    org = get_organization(scope, organization_ref)
    if connection_id and lock:
        connection = scope.db.scalar(
            select(ScimConnection)
            .where(ScimConnection.id == connection_id)
            .with_for_update(of=ScimConnection)
        )
    else:
        connection = scope.db.get(ScimConnection, connection_id) if connection_id else None
    if connection is None or connection.organization_id != org.id:
        raise errors.ScimConnectionNotFound()
    return connection


def update(
    scope: Scope,
    organization_ref: str,
    connection_id: str,
    *,
    display_name: str | None = None,
    identity_provider: str | None = None,
    group_role_assignments: Sequence[Mapping[str, Any]] | None = None,
) -> ScimConnection:
    """Change the name, the IdP or the group → role assignments (each {group_id, role_id};
    the group must be one of this connection's, the role one the project's policy or the
    organization defines). New assignments reach the members' roles now, and their sessions
    at their next refresh."""
    connection = connection_of(scope, organization_ref, connection_id, lock=True)
    org = get_organization(scope, organization_ref)
    changed: list[str] = []
    if display_name is not None:
        connection.display_name = _display_name(display_name)
        changed.append("display_name")
    if identity_provider is not None:
        connection.identity_provider = _idp(identity_provider)
        changed.append("identity_provider")
    roles_changed = False
    if group_role_assignments is not None:
        wanted = _assignments(scope, connection, org, group_role_assignments)
        rbac.check_group_roles(scope, org, connection.group_role_assignments, wanted)
        roles_changed = wanted != connection.group_role_assignments
        connection.group_role_assignments = wanted
        changed.append("scim_group_implicit_role_assignments")
    connection.updated_at = scope.clock.now()
    scope.db.flush()
    if roles_changed:
        group_roles.refresh(scope, connection.id)
        # A member's session may not take the last role manager's role away this way either.
        rbac.ensure_role_manager(scope, org)
    audit.record(
        scope,
        EVENT_UPDATED,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        changed=changed,
    )
    return connection


def delete_connection(scope: Scope, organization_ref: str, connection_id: str) -> str:
    """Delete the connection and its SCIM users and groups; the members stay."""
    connection = connection_of(scope, organization_ref, connection_id, lock=True)
    group_roles.clear(scope, connection.id)
    scope.db.delete(connection)
    scope.db.flush()
    audit.record(
        scope,
        EVENT_DELETED,
        organization_id=connection.organization_id,
        connection_id=connection.id,
    )
    return connection.id


def rotate_start(scope: Scope, organization_ref: str, connection_id: str) -> WithToken:
    """A next token, valid beside the current one until the rotation ends. Starting again
    replaces the pending next token (the one shown before stops working)."""
    connection = connection_of(scope, organization_ref, connection_id, lock=True)
    token = tokens.new_token(TOKEN_BYTES)
    connection.next_token_digest = tokens.digest(token)
    connection.next_token_last_four = token[-4:]
    connection.updated_at = scope.clock.now()
    scope.db.flush()
    audit.record(
        scope,
        EVENT_ROTATION_STARTED,
        organization_id=connection.organization_id,
        connection_id=connection.id,
    )
    return WithToken(connection, token)


def rotate_complete(scope: Scope, organization_ref: str, connection_id: str) -> ScimConnection:
    """The next token becomes the only one; the old token stops authenticating now."""
    connection = connection_of(scope, organization_ref, connection_id, lock=True)
    if connection.next_token_digest is None:
        raise errors.ScimConnectionNotRotatingToken()
    next_digest = connection.next_token_digest
    # Clear the unique column first: one row may not hold the same digest in both columns
    # at the end of one UPDATE on every database.
    connection.next_token_digest = None
    scope.db.flush()
    connection.token_digest = next_digest
    connection.token_last_four = connection.next_token_last_four
    connection.next_token_last_four = ""
    connection.updated_at = scope.clock.now()
    scope.db.flush()
    audit.record(
        scope,
        EVENT_ROTATION_COMPLETED,
        organization_id=connection.organization_id,
        connection_id=connection.id,
    )
    return connection


def rotate_cancel(scope: Scope, organization_ref: str, connection_id: str) -> ScimConnection:
    """Forget the next token; the current one stays."""
    connection = connection_of(scope, organization_ref, connection_id, lock=True)
    if connection.next_token_digest is None:
        raise errors.ScimConnectionNotRotatingToken()
    connection.next_token_digest = None
    connection.next_token_last_four = ""
    connection.updated_at = scope.clock.now()
    scope.db.flush()
    audit.record(
        scope,
        EVENT_ROTATION_CANCELLED,
        organization_id=connection.organization_id,
        connection_id=connection.id,
    )
    return connection


def groups(
    scope: Scope,
    organization_ref: str,
    connection_id: str,
    cursor: str | None,
    limit: int | None,
) -> GroupPage:
    connection = connection_of(scope, organization_ref, connection_id)
    base = select(ScimGroup).where(ScimGroup.connection_id == connection.id)
    rows, _total, next_cursor = pagination.page(
        scope.db, base, ScimGroup.created_at, ScimGroup.id, cursor, limit
    )
    return GroupPage(rows, next_cursor)


def role_assignments(scope: Scope, connection: ScimConnection) -> list[dict[str, str]]:
    """`scim_group_implicit_role_assignments` in Stytch's shape, with the groups' names."""
    ids = [a["group_id"] for a in connection.group_role_assignments]
    names = (
        dict(
            scope.db.execute(
                select(ScimGroup.id, ScimGroup.display_name).where(ScimGroup.id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    return [
        {
            "role_id": a["role_id"],
            "group_id": a["group_id"],
            "group_name": names.get(a["group_id"], ""),
        }
        for a in connection.group_role_assignments
    ]


def authenticate(db_scope: Scope, connection_id: str, token: str) -> ScimConnection:
    """The connection whose current or next token `token` is, if it is `connection_id`.

    Looked up by digest, so a token of another connection (another organization's) is
    refused exactly like a wrong one.
    """
    if not token or len(token) > 256:
        raise errors.ScimUnauthorized()
    digest = tokens.digest(token)
    connection = db_scope.db.scalar(
        select(ScimConnection).where(
            (ScimConnection.token_digest == digest) | (ScimConnection.next_token_digest == digest)
        )
    )
    if connection is None or connection.id != connection_id:
        raise errors.ScimUnauthorized()
    return connection


def connection_by_id(db_scope: Scope, connection_id: str) -> ScimConnection | None:
    return db_scope.db.get(ScimConnection, connection_id)


def log_request(
    scope: Scope,
    connection: ScimConnection,
    *,
    method: str,
    operation: str,
    resource_id: str,
    status: int,
    scim_type: str,
    at: datetime,
) -> None:
    """Record one request's outcome, keeping the last `REQUESTS_KEPT` of the connection."""
    scope.db.add(
        ScimRequest(
            project_id=connection.project_id,
            connection_id=connection.id,
            created_at=at,
            method=method[:8],
            operation=operation[:64],
            resource_id=resource_id[:80],
            status=status,
            scim_type=scim_type[:32],
        )
    )
    scope.db.flush()
    cutoff = scope.db.scalar(
        select(ScimRequest.id)
        .where(ScimRequest.connection_id == connection.id)
        .order_by(ScimRequest.id.desc())
        .offset(REQUESTS_KEPT)
        .limit(1)
    )
    if cutoff is not None:
        scope.db.execute(
            delete(ScimRequest).where(
                ScimRequest.connection_id == connection.id, ScimRequest.id <= cutoff
            )
        )


def recent_requests(
    scope: Scope, organization_ref: str, limit: int = 50
) -> tuple[ScimConnection | None, Sequence[ScimRequest]]:
    connection = get(scope, organization_ref)
    if connection is None:
        return None, []
    rows = scope.db.scalars(
        select(ScimRequest)
        .where(ScimRequest.connection_id == connection.id)
        .order_by(ScimRequest.id.desc())
        .limit(max(1, min(limit, REQUESTS_KEPT)))
    ).all()
    return connection, rows


def count_requests(scope: Scope, connection_id: str) -> int:
    return int(
        scope.db.scalar(
            select(func.count())
            .select_from(ScimRequest)
            .where(ScimRequest.connection_id == connection_id)
        )
        or 0
    )


def organization_of(scope: Scope, connection: ScimConnection) -> Organization:
    org = scope.db.get(Organization, connection.organization_id)
    if org is None:  # deleted with its organization: the cascade took the connection too
        raise errors.ScimUnauthorized()
    return org


def _display_name(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > 256:
        raise errors.InvalidScimDisplayName()
    return text


def _idp(value: str | None) -> str:
    if value in (None, ""):
        return "generic"
    if value not in IDENTITY_PROVIDERS:
        raise errors.InvalidScimIdp()
    return str(value)


def _assignments(
    scope: Scope,
    connection: ScimConnection,
    org: Organization,
    items: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    known = set(rbac.known_role_ids(scope, org))
    checked: list[dict[str, Any]] = []
    for item in items:
        group_id, role_id = item.get("group_id"), item.get("role_id")
        if not isinstance(group_id, str) or not group_id:
            raise errors.ScimGroupRoleAssignmentMissingGroupId()
        if not isinstance(role_id, str) or not role_id:
            raise errors.ScimGroupRoleAssignmentMissingGroupId()
        group = scope.db.get(ScimGroup, group_id)
        if group is None or group.connection_id != connection.id:
            raise errors.ScimGroupRoleAssignmentGroupDoesNotExist()
        if role_id not in known:
            raise errors.ScimGroupRoleAssignmentInvalidRole(
                f"No role {role_id[:128]!r} in the project's policy or the organization's roles."
            )
        pair = {"group_id": group_id, "role_id": role_id}
        if pair not in checked:
            checked.append(pair)
    return checked
