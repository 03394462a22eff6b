"""TOTP and recovery codes as second factors (stytch-b2b-api.md §3.10); rules in `totp.service`
and `totp.recovery`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import member_session, responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.api.schemas import (
    RecoveryCodeRecover,
    RecoveryCodesRotate,
    TotpAuthenticate,
    TotpCreate,
)
from antechamber.rbac import needs
from antechamber.totp import recovery, service

router = APIRouter(prefix="/v1/b2b", tags=["totp"], route_class=ApiRoute)


@router.post("/totp", response_model=responses.TotpCreateResponse)
def create(request: Request, scope: ProjectScope, body: TotpCreate) -> JSONResponse:
    created = service.create_totp(
        scope,
        organization_id=body.organization_id,
        member_id=body.member_id,
        expiration_minutes=body.expiration_minutes,
        intermediate_session_token=body.intermediate_session_token,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
    )
    return serializers.member_response(
        request,
        scope.db,
        scope.clock.now(),
        created.organization,
        created.member,
        totp_registration_id=created.registration.id,
        secret=created.secret,
        qr_code=created.qr_code,
        recovery_codes=created.recovery_codes,
    )


@router.post("/totp/authenticate", response_model=responses.TotpAuthenticateResponse)
@inline_write
def authenticate(request: Request, scope: ProjectScope, body: TotpAuthenticate) -> JSONResponse:
    result = service.authenticate_totp(
        scope,
        organization_id=body.organization_id,
        member_id=body.member_id,
        code=body.code,
        intermediate_session_token=body.intermediate_session_token,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
        set_mfa_enrollment=body.set_mfa_enrollment,
        set_default_mfa=body.set_default_mfa,
    )
    return ok(
        request, **serializers.auth_result(scope.db, result, scope.clock.now()), member_device=None
    )


@router.post("/recovery_codes/recover", response_model=responses.RecoveryCodeRecoverResponse)
def recover(request: Request, scope: ProjectScope, body: RecoveryCodeRecover) -> JSONResponse:
    recovered = recovery.recover(
        scope,
        organization_id=body.organization_id,
        member_id=body.member_id,
        recovery_code=body.recovery_code,
        intermediate_session_token=body.intermediate_session_token,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
    )
    return ok(
        request,
        **serializers.auth_result(scope.db, recovered.result, scope.clock.now()),
        member_device=None,
        recovery_codes_remaining=recovered.recovery_codes_remaining,
    )


@router.post("/recovery_codes/rotate", response_model=responses.RecoveryCodesResponse)
def rotate(request: Request, scope: ProjectScope, body: RecoveryCodesRotate) -> JSONResponse:
    rotated = recovery.rotate_recovery_codes(
        scope, organization_id=body.organization_id, member_id=body.member_id
    )
    return ok(
        request,
        member_id=rotated.member.id,
        member=serializers.member(scope.db, rotated.member, scope.clock.now()),
        organization=serializers.organization(rotated.organization),
        recovery_codes=rotated.recovery_codes,
    )


@router.get(
    "/recovery_codes/{organization_id}/{member_id}",
    response_model=responses.RecoveryCodesResponse,
)
def get(scope: ProjectScope, organization_id: str, member_id: str) -> JSONResponse:
    """Refused for every existing member (`recovery_codes_not_retrievable`): codes are stored
    hashed and shown once, at creation or rotation (docs/api-compatibility.md)."""
    recovery.get_recovery_codes(scope, organization_id=organization_id, member_id=member_id)


@router.delete(
    "/organizations/{organization_id}/members/{member_id}/totp",
    response_model=responses.MemberResponse,
)
def delete_member_totp(
    request: Request, scope: ProjectScope, organization_id: str, member_id: str
) -> JSONResponse:
    scope = member_session.authorize(
        request, scope, [organization_id], needs.delete_totp(), target_member_id=member_id
    )
    org, member = service.delete_member_totp(scope, organization_id, member_id)
    return serializers.member_response(request, scope.db, scope.clock.now(), org, member)
