"""Discovery: list organizations, create one, exchange an IST (stytch-b2b-api.md §3.3–3.5)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.api.schemas import DiscoveryCreate, DiscoveryList, IntermediateSessionExchange
from antechamber.discovery import service as discovery

router = APIRouter(prefix="/v1/b2b/discovery", tags=["discovery"], route_class=ApiRoute)


@router.post("/organizations", response_model=responses.DiscoveryListResponse)
def list_organizations(request: Request, scope: ProjectScope, body: DiscoveryList) -> JSONResponse:
    listing = discovery.list_organizations(
        scope,
        intermediate_session_token=body.intermediate_session_token,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
    )
    now = scope.clock.now()
    return ok(
        request,
        email_address=listing.email_address,
        discovered_organizations=[
            serializers.discovered_organization(scope.db, d, now)
            for d in listing.discovered_organizations
        ],
        organization_id_hint=listing.organization_id_hint,
    )


@router.post("/organizations/create", response_model=responses.AuthResultResponse)
def create(request: Request, scope: ProjectScope, body: DiscoveryCreate) -> JSONResponse:
    result = discovery.create_organization(
        scope,
        body.intermediate_session_token,
        body.organization_fields(),
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
    )
    return ok(request, **serializers.auth_result(scope.db, result, scope.clock.now()))


@router.post("/intermediate_sessions/exchange", response_model=responses.AuthResultResponse)
@inline_write
def exchange(
    request: Request, scope: ProjectScope, body: IntermediateSessionExchange
) -> JSONResponse:
    result = discovery.exchange(
        scope,
        body.intermediate_session_token,
        body.organization_id,
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
        locale=body.locale,
    )
    return ok(request, **serializers.auth_result(scope.db, result, scope.clock.now()))
