"""Email one-time codes as a primary factor (stytch-b2b-api-more.md §2); rules in
`email_auth.otps`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.api.schemas import (
    EmailOtpAuthenticate,
    EmailOtpDiscoveryAuthenticate,
    EmailOtpDiscoverySend,
    EmailOtpLoginOrSignup,
)
from antechamber.email_auth import otps

# The four routes wait for nothing but the database (codes go out through the outbox), so their
# units of work may run on the event loop (`inline_write`); a session started here may make the
# project's first signing key, the one exception `inline_write` allows.
router = APIRouter(prefix="/v1/b2b/otps/email", tags=["email otp"], route_class=ApiRoute)


@router.post("/login_or_signup", response_model=responses.MagicLinkSendResponse)
@inline_write
def login_or_signup(
    request: Request, scope: ProjectScope, body: EmailOtpLoginOrSignup
) -> JSONResponse:
    sent = otps.login_or_signup(
        scope,
        organization_id=body.organization_id,
        email_address=body.email_address,
        locale=body.locale,
        login_expiration_minutes=body.login_expiration_minutes,
        signup_expiration_minutes=body.signup_expiration_minutes,
    )
    return serializers.member_response(
        request,
        scope.db,
        scope.clock.now(),
        sent.organization,
        sent.member,
        member_created=sent.member_created,
    )


@router.post("/authenticate", response_model=responses.EmailOtpAuthenticateResponse)
@inline_write
def authenticate(request: Request, scope: ProjectScope, body: EmailOtpAuthenticate) -> JSONResponse:
    done = otps.authenticate(
        scope,
        organization_id=body.organization_id,
        email_address=body.email_address,
        code=body.code,
        intermediate_session_token=body.intermediate_session_token,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
        locale=body.locale,
    )
    return ok(
        request,
        **serializers.auth_result(scope.db, done.result, scope.clock.now()),
        method_id=done.method_id,
        organization_id=done.result.organization.id,
        member_device=None,
    )


@router.post("/discovery/send", response_model=responses.EmptyResponse)
@inline_write
def discovery_send(
    request: Request, scope: ProjectScope, body: EmailOtpDiscoverySend
) -> JSONResponse:
    # The same answer whether or not anyone has this email: nothing is looked up.
    otps.discovery_send(
        scope,
        email_address=body.email_address,
        locale=body.locale,
        discovery_expiration_minutes=body.discovery_expiration_minutes,
    )
    return ok(request)


@router.post("/discovery/authenticate", response_model=responses.DiscoveryAuthenticateResponse)
@inline_write
def discovery_authenticate(
    request: Request, scope: ProjectScope, body: EmailOtpDiscoveryAuthenticate
) -> JSONResponse:
    found = otps.discovery_authenticate(scope, email_address=body.email_address, code=body.code)
    return ok(request, **serializers.discovery_login(scope.db, found, scope.clock.now()))
