"""SCIM connection management (stytch-b2b-api-more.md §4.2): `/v1/b2b/scim/{organization_id}/
connection…`. The SCIM endpoints a directory calls are another face (`scim_provider`).

With a member's session headers each call needs that member's `stytch.scim` permission (§4.3,
`rbac.needs.scim_*`), checked before anything is written."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from antechamber.api import member_session
from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from antechamber.api.responses import Envelope, Shape
from antechamber.api.schemas import Body
from antechamber.rbac import needs
from antechamber.scim import connections
from antechamber.scim.models import ScimConnection, ScimGroup
from antechamber.scope import Scope

router = APIRouter(prefix="/v1/b2b/scim", tags=["scim"], route_class=ApiRoute)


# --- Request bodies and documented answers ------------------------------------------------


class ConnectionFields(Body):
    display_name: str | None = None
    identity_provider: str | None = None


class RoleAssignment(BaseModel):
    group_id: str | None = None
    role_id: str | None = None
    group_name: str | None = None


class ConnectionUpdate(ConnectionFields):
    scim_group_implicit_role_assignments: list[RoleAssignment] | None = None


class GroupRoleAssignment(Shape):
    role_id: str
    group_id: str
    group_name: str


class _ConnectionBase(Shape):
    organization_id: str
    connection_id: str
    status: str
    display_name: str
    identity_provider: str
    base_url: str
    scim_group_implicit_role_assignments: list[GroupRoleAssignment]
    bearer_token_expires_at: str | None


class Connection(_ConnectionBase):
    bearer_token_last_four: str
    next_bearer_token_last_four: str
    next_bearer_token_expires_at: str | None


class ConnectionWithToken(_ConnectionBase):
    bearer_token: str


class ConnectionWithNextToken(_ConnectionBase):
    bearer_token_last_four: str
    next_bearer_token: str
    next_bearer_token_expires_at: str | None


class ConnectionResponse(Envelope):
    connection: Connection | None


class CreateResponse(Envelope):
    connection: ConnectionWithToken


class RotateStartResponse(Envelope):
    connection: ConnectionWithNextToken


class DeleteResponse(Envelope):
    connection_id: str


class ScimGroupShape(Shape):
    group_id: str
    group_name: str
    organization_id: str
    connection_id: str


class GroupsResponse(Envelope):
    scim_groups: list[ScimGroupShape]
    next_cursor: str | None


# --- Serialisation -------------------------------------------------------------------------


def _base(scope: Scope, c: ScimConnection) -> dict[str, Any]:
    return {
        "organization_id": c.organization_id,
        "connection_id": c.id,
        "status": "active",
        "display_name": c.display_name,
        "identity_provider": c.identity_provider,
        "base_url": connections.base_url(scope, c),
        "scim_group_implicit_role_assignments": connections.role_assignments(scope, c),
        "bearer_token_expires_at": None,
    }


def connection_json(scope: Scope, c: ScimConnection) -> dict[str, Any]:
    return {
        **_base(scope, c),
        "bearer_token_last_four": c.token_last_four,
        "next_bearer_token_last_four": c.next_token_last_four,
        "next_bearer_token_expires_at": None,
    }


def _group_json(g: ScimGroup) -> dict[str, Any]:
    return {
        "group_id": g.id,
        "group_name": g.display_name,
        "organization_id": g.organization_id,
        "connection_id": g.connection_id,
    }


# --- Routes --------------------------------------------------------------------------------


@router.post("/{organization_id}/connection", response_model=CreateResponse)
def create(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    body: ConnectionFields | None = None,
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_create())
    fields = body or ConnectionFields()
    made = connections.create(
        scope,
        organization_id,
        display_name=fields.display_name,
        identity_provider=fields.identity_provider,
    )
    shown = {**_base(scope, made.connection), "bearer_token": made.token}
    return ok(request, connection=shown)


@router.get("/{organization_id}/connection", response_model=ConnectionResponse)
def get(request: Request, scope: ProjectScope, organization_id: str) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_get())
    found = connections.get(scope, organization_id)
    return ok(request, connection=connection_json(scope, found) if found else None)


@router.put("/{organization_id}/connection/{connection_id}", response_model=ConnectionResponse)
def update(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    connection_id: str,
    body: ConnectionUpdate | None = None,
) -> JSONResponse:
    fields = body or ConnectionUpdate()
    scope = member_session.authorize(
        request, scope, [organization_id], needs.scim_update(fields.fields())
    )
    assignments = (
        [a.model_dump() for a in fields.scim_group_implicit_role_assignments]
        if fields.scim_group_implicit_role_assignments is not None
        else None
    )
    c = connections.update(
        scope,
        organization_id,
        connection_id,
        display_name=fields.display_name,
        identity_provider=fields.identity_provider,
        group_role_assignments=assignments,
    )
    return ok(request, connection=connection_json(scope, c))


@router.delete("/{organization_id}/connection/{connection_id}", response_model=DeleteResponse)
def delete(
    request: Request, scope: ProjectScope, organization_id: str, connection_id: str
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_delete())
    return ok(
        request,
        connection_id=connections.delete_connection(scope, organization_id, connection_id),
    )


@router.get("/{organization_id}/connection/{connection_id}", response_model=GroupsResponse)
def get_groups(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    connection_id: str,
    cursor: str | None = None,
    limit: int | None = None,
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_get())
    page = connections.groups(scope, organization_id, connection_id, cursor, limit)
    return ok(
        request,
        scim_groups=[_group_json(g) for g in page.groups],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/{organization_id}/connection/{connection_id}/rotate/start",
    response_model=RotateStartResponse,
)
def rotate_start(
    request: Request, scope: ProjectScope, organization_id: str, connection_id: str
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_rotate())
    made = connections.rotate_start(scope, organization_id, connection_id)
    shown = {
        **_base(scope, made.connection),
        "bearer_token_last_four": made.connection.token_last_four,
        "next_bearer_token": made.token,
        "next_bearer_token_expires_at": None,
    }
    return ok(request, connection=shown)


@router.post(
    "/{organization_id}/connection/{connection_id}/rotate/complete",
    response_model=ConnectionResponse,
)
def rotate_complete(
    request: Request, scope: ProjectScope, organization_id: str, connection_id: str
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_rotate())
    c = connections.rotate_complete(scope, organization_id, connection_id)
    return ok(request, connection=connection_json(scope, c))


@router.post(
    "/{organization_id}/connection/{connection_id}/rotate/cancel",
    response_model=ConnectionResponse,
)
def rotate_cancel(
    request: Request, scope: ProjectScope, organization_id: str, connection_id: str
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.scim_rotate())
    c = connections.rotate_cancel(scope, organization_id, connection_id)
    return ok(request, connection=connection_json(scope, c))
