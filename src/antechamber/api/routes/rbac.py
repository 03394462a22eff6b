"""`/v1/b2b/rbac`: the project's policy and organizations' custom roles (§5.1, §5.2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

from antechamber.api import member_session
from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from antechamber.organizations.service import get_organization
from antechamber.rbac import needs
from antechamber.rbac import service as rbac

router = APIRouter(prefix="/v1/b2b/rbac", tags=["rbac"], route_class=ApiRoute)


class _Permission(BaseModel):
    resource_id: str
    actions: list[str]


class _Role(BaseModel):
    role_id: str
    description: str
    permissions: list[_Permission]


class _Resource(BaseModel):
    resource_id: str
    description: str
    actions: list[str]


class _Scope(BaseModel):
    scope: str
    description: str
    permissions: list[_Permission]


class _Policy(BaseModel):
    roles: list[_Role]
    resources: list[_Resource]
    scopes: list[_Scope]


class _OrgPolicy(BaseModel):
    roles: list[_Role]


class PolicyResponse(BaseModel):
    status_code: int
    request_id: str
    policy: _Policy


class OrgPolicyResponse(BaseModel):
    status_code: int
    request_id: str
    org_policy: _OrgPolicy


class OrgPolicyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    org_policy: dict[str, Any]


@router.get("/policy", response_model=PolicyResponse)
def policy(request: Request, scope: ProjectScope) -> JSONResponse:
    return ok(request, policy=rbac.get_policy(scope).to_json())


@router.get("/organizations/{organization_id}", response_model=OrgPolicyResponse)
def get_org_policy(request: Request, scope: ProjectScope, organization_id: str) -> JSONResponse:
    """Served for every organization, `{"roles": []}` without custom roles: both SDKs fetch
    it on every local authorization check."""
    org = get_organization(scope, organization_id)
    return ok(request, org_policy={"roles": [r.to_json() for r in rbac.org_roles(org)]})


@router.put("/organizations/{organization_id}", response_model=OrgPolicyResponse)
def set_org_policy(
    request: Request, scope: ProjectScope, organization_id: str, body: OrgPolicyBody
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.set_org_roles())
    org = get_organization(scope, organization_id)
    roles = rbac.set_org_roles(scope, org, body.org_policy)
    return ok(request, org_policy={"roles": [r.to_json() for r in roles]})
