"""SMS one-time codes as the second factor (stytch-b2b-api.md §3.8); rules in `otp.flows`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.api.schemas import SmsAuthenticate, SmsSend
from antechamber.otp import flows

router = APIRouter(prefix="/v1/b2b/otps/sms", tags=["sms otp"], route_class=ApiRoute)


@router.post("/send", response_model=responses.MemberResponse)
@inline_write
def send(request: Request, scope: ProjectScope, body: SmsSend) -> JSONResponse:
    org, member = flows.send_sms_otp(
        scope,
        organization_id=body.organization_id,
        member_id=body.member_id,
        mfa_phone_number=body.mfa_phone_number,
        locale=body.locale or "en",
        intermediate_session_token=body.intermediate_session_token,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
    )
    return serializers.member_response(request, scope.db, scope.clock.now(), org, member)


@router.post("/authenticate", response_model=responses.SmsAuthenticateResponse)
@inline_write
def authenticate(request: Request, scope: ProjectScope, body: SmsAuthenticate) -> JSONResponse:
    result = flows.authenticate_sms_otp(
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
    )
    return ok(
        request, **serializers.auth_result(scope.db, result, scope.clock.now()), member_device=None
    )
