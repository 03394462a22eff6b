"""`/v1/b2b/organizations`: create, get, update, delete, search (stytch-b2b-api.md §3.6)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import member_session, responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from antechamber.api.schemas import OrganizationSearch, OrganizationSettings
from antechamber.organizations import service
from antechamber.rbac import needs

router = APIRouter(prefix="/v1/b2b/organizations", tags=["organizations"], route_class=ApiRoute)


@router.post(
    "", response_model=responses.OrganizationResponse, responses=responses.ORGANIZATION_LINKS
)
def create(request: Request, scope: ProjectScope, body: OrganizationSettings) -> JSONResponse:
    org = service.create_organization(scope, body.fields())
    return ok(request, organization=serializers.organization(org))


@router.post("/search", response_model=responses.OrganizationSearchResponse)
def search(request: Request, scope: ProjectScope, body: OrganizationSearch) -> JSONResponse:
    query = body.query.model_dump() if body.query else None
    page = service.search_organizations(scope, query, body.cursor, body.limit)
    return ok(
        request,
        organizations=[serializers.organization(o) for o in page.organizations],
        results_metadata={"total": page.total, "next_cursor": page.next_cursor},
    )


@router.get("/{organization_id}", response_model=responses.OrganizationResponse)
def get(request: Request, scope: ProjectScope, organization_id: str) -> JSONResponse:
    org = service.read_organization(scope, organization_id)
    return ok(request, organization=serializers.organization(org))


@router.put(
    "/{organization_id}",
    response_model=responses.OrganizationResponse,
    responses=responses.ORGANIZATION_LINKS,
)
def update(
    request: Request, scope: ProjectScope, organization_id: str, body: OrganizationSettings
) -> JSONResponse:
    fields = body.fields()
    scope = member_session.authorize(
        request, scope, [organization_id], needs.organization_update(fields)
    )
    org = service.update_organization(scope, organization_id, fields)
    return ok(request, organization=serializers.organization(org))


@router.delete("/{organization_id}", response_model=responses.OrganizationDeleteResponse)
def delete(request: Request, scope: ProjectScope, organization_id: str) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.organization_delete())
    return ok(request, organization_id=service.delete_organization(scope, organization_id))
