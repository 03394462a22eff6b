"""Organization members (stytch-b2b-api.md §3.7)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import member_session, responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from antechamber.api.schemas import MemberFields, MemberSearch
from antechamber.members import service
from antechamber.organizations.service import get_organization, organizations_by_ids
from antechamber.otp import flows
from antechamber.rbac import needs

router = APIRouter(prefix="/v1/b2b/organizations", tags=["members"], route_class=ApiRoute)


@router.post("/members/search", response_model=responses.MemberSearchResponse)
def search(request: Request, scope: ProjectScope, body: MemberSearch) -> JSONResponse:
    query = body.query.model_dump() if body.query else None
    scope = member_session.authorize(
        request, scope, list(body.organization_ids), needs.member_search()
    )
    page = service.search_members(scope, body.organization_ids, query, body.cursor, body.limit)
    orgs = organizations_by_ids(scope, sorted({m.organization_id for m in page.members}))
    now = scope.clock.now()
    return ok(
        request,
        members=[serializers.member(scope.db, m, now) for m in page.members],
        results_metadata={"total": page.total, "next_cursor": page.next_cursor},
        organizations={oid: serializers.organization(o) for oid, o in orgs.items()},
    )


@router.post(
    "/{organization_id}/members",
    response_model=responses.MemberResponse,
    responses=responses.MEMBER_LINKS,
)
def create(
    request: Request, scope: ProjectScope, organization_id: str, body: MemberFields
) -> JSONResponse:
    fields = body.fields()
    scope = member_session.authorize(request, scope, [organization_id], needs.member_create(fields))
    org = get_organization(scope, organization_id)
    return serializers.member_response(
        request, scope.db, scope.clock.now(), org, service.create_member(scope, org, fields)
    )


@router.get("/{organization_id}/member", response_model=responses.MemberResponse)
def get(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    member_id: str | None = None,
    email_address: str | None = None,
) -> JSONResponse:
    org = get_organization(scope, organization_id)
    m = service.get_member(scope, org, member_id=member_id, email=email_address)
    return serializers.member_response(request, scope.db, scope.clock.now(), org, m)


@router.put(
    "/{organization_id}/members/{member_id}",
    response_model=responses.MemberResponse,
    responses=responses.MEMBER_LINKS,
)
def update(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    member_id: str,
    body: MemberFields,
) -> JSONResponse:
    fields = body.fields()
    scope = member_session.authorize(
        request, scope, [organization_id], needs.member_update(fields), target_member_id=member_id
    )
    org = get_organization(scope, organization_id)
    m = service.update_member(scope, org, member_id, fields)
    return serializers.member_response(request, scope.db, scope.clock.now(), org, m)


@router.delete(
    "/{organization_id}/members/mfa_phone_numbers/{member_id}",
    response_model=responses.MemberResponse,
)
def delete_mfa_phone_number(
    request: Request, scope: ProjectScope, organization_id: str, member_id: str
) -> JSONResponse:
    scope = member_session.authorize(
        request, scope, [organization_id], needs.delete_mfa_phone(), target_member_id=member_id
    )
    m = flows.delete_mfa_phone_number(scope, organization_id=organization_id, member_id=member_id)
    org = get_organization(scope, organization_id)
    return serializers.member_response(request, scope.db, scope.clock.now(), org, m)


@router.delete(
    "/{organization_id}/members/{member_id}", response_model=responses.MemberDeleteResponse
)
def delete(
    request: Request, scope: ProjectScope, organization_id: str, member_id: str
) -> JSONResponse:
    scope = member_session.authorize(
        request, scope, [organization_id], needs.member_delete(), target_member_id=member_id
    )
    org = get_organization(scope, organization_id)
    return ok(request, member_id=service.delete_member(scope, org, member_id))
