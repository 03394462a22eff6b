"""An organization's own email links: invite, login or sign-up, authenticate; and reactivating
a deleted member (stytch-b2b-api-more.md §1); rules in `email_auth.links`, `members.deleted`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import member_session, responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from antechamber.api.schemas import MagicLinkAuthenticate, MagicLinkInvite, MagicLinkLoginOrSignup
from antechamber.email_auth import links
from antechamber.members import service as members
from antechamber.organizations.service import get_organization
from antechamber.rbac import needs

router = APIRouter(prefix="/v1/b2b/magic_links", tags=["magic links"], route_class=ApiRoute)


@router.post("/email/invite", response_model=responses.MemberResponse)
def invite(request: Request, scope: ProjectScope, body: MagicLinkInvite) -> JSONResponse:
    # With a member's session, the roles the invite carries are checked against theirs.
    scope = member_session.authorize(
        request, scope, [body.organization_id], needs.invite(body.model_dump(exclude_none=True))
    )
    sent = links.invite(
        scope,
        organization_id=body.organization_id,
        email_address=body.email_address,
        invite_redirect_url=body.invite_redirect_url,
        invited_by_member_id=body.invited_by_member_id,
        name=body.name,
        trusted_metadata=body.trusted_metadata,
        untrusted_metadata=body.untrusted_metadata,
        roles=body.roles,
        locale=body.locale,
        invite_expiration_minutes=body.invite_expiration_minutes,
    )
    return serializers.member_response(
        request, scope.db, scope.clock.now(), sent.organization, sent.member
    )


@router.post("/email/login_or_signup", response_model=responses.MagicLinkSendResponse)
def login_or_signup(
    request: Request, scope: ProjectScope, body: MagicLinkLoginOrSignup
) -> JSONResponse:
    sent = links.login_or_signup(
        scope,
        organization_id=body.organization_id,
        email_address=body.email_address,
        login_redirect_url=body.login_redirect_url,
        signup_redirect_url=body.signup_redirect_url,
        pkce_code_challenge=body.pkce_code_challenge,
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


@router.post("/authenticate", response_model=responses.MagicLinkAuthenticateResponse)
def authenticate(
    request: Request, scope: ProjectScope, body: MagicLinkAuthenticate
) -> JSONResponse:
    done = links.authenticate_link(
        scope,
        body.magic_links_token,
        pkce_code_verifier=body.pkce_code_verifier,
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
        reset_sessions=False,
        member_device=None,
    )


members_router = APIRouter(prefix="/v1/b2b/organizations", tags=["members"], route_class=ApiRoute)


@members_router.put(
    "/{organization_id}/members/{member_id}/reactivate", response_model=responses.MemberResponse
)
def reactivate(
    request: Request, scope: ProjectScope, organization_id: str, member_id: str
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.reactivate())
    org = get_organization(scope, organization_id)
    member = members.reactivate_member(scope, org, member_id)
    return serializers.member_response(request, scope.db, scope.clock.now(), org, member)
