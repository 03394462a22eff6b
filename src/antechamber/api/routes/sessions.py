"""Member sessions and the public JWKS (stytch-b2b-api.md §3.11, §2.11)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from antechamber.api import member_session, responses, serializers
from antechamber.api.auth import (
    ApiRoute,
    ProjectScope,
    authenticated_scope,
    inline_write,
    run_read,
    run_write,
    services_of,
)
from antechamber.api.envelope import ok
from antechamber.api.schemas import SessionAuthenticate, SessionExchange, SessionRevoke
from antechamber.db import Defer
from antechamber.errors import InvalidArgument
from antechamber.ids import environment_of
from antechamber.keys import service as keys
from antechamber.projects import service as projects
from antechamber.rbac import acting, needs
from antechamber.rbac import service as rbac
from antechamber.services import Services
from antechamber.sessions import login
from antechamber.sessions import service as sessions

router = APIRouter(prefix="/v1/b2b/sessions", tags=["sessions"], route_class=ApiRoute)
PUBLIC_ACTOR = "public"


class InvalidAuthorizationCheck(InvalidArgument):
    default_message = (
        "authorization_check needs organization_id, resource_id and action, each a string."
    )


def _authorization_check(value: dict[str, Any] | None) -> tuple[str, str, str] | None:
    if value is None:
        return None
    fields = tuple(value.get(k) for k in ("organization_id", "resource_id", "action"))
    if not all(isinstance(f, str) and f for f in fields):
        raise InvalidAuthorizationCheck()
    return (str(fields[0]), str(fields[1]), str(fields[2]))


@router.post("/authenticate", response_model=responses.SessionAuthenticateResponse)
async def authenticate(request: Request, body: SessionAuthenticate) -> JSONResponse:
    _authorization_check(body.authorization_check)  # a malformed check: 400 before anything
    # The hot path. A plain check only reads, so it runs beside writers (db.transaction), and
    # on the event loop (run_read: SQLite's inline, PostgreSQL's as a loop unit); its
    # bookkeeping write, if any, goes to a background task (a thread) after the answer. A check
    # that extends the session writes: on the loop too when SQLite's writer lock is free
    # (run_write). Else a thread.
    read_only = body.session_duration_minutes is None and body.session_custom_claims is None
    if read_only and services_of(request).reads_on_loop:
        background = BackgroundTasks()
        response = await run_read(
            request,
            _authenticate,
            request=request,
            body=body,
            read_only=True,
            defer=background.add_task,
        )
        response.background = background
        return response
    if not read_only:
        return await run_write(request, _authenticate, request, body, read_only=False)
    return await run_in_threadpool(_authenticate, request, body, read_only=read_only)


def _authenticate(
    request: Request, body: SessionAuthenticate, *, read_only: bool, defer: Defer | None = None
) -> JSONResponse:
    with authenticated_scope(request, read_only=read_only, defer=defer) as scope:
        found = sessions.authenticate(
            scope,
            session_token=body.session_token,
            session_jwt=body.session_jwt,
            session_duration_minutes=body.session_duration_minutes,
            session_custom_claims=body.session_custom_claims,
            remember=True,  # its answer is encoded here, and keeps nothing of them
        )
        s, member, org = found.session, found.member, found.organization
        verdict = None
        check = _authorization_check(body.authorization_check)
        if check is not None:
            # The SDKs' local rule over the same roles (rbac.service.authorize); a refusal is
            # a 403 and the session is left as it was (the unit of work rolls back).
            granted = rbac.authorize(
                scope,
                org,
                member,
                session_factors=s.factors,
                organization_id=check[0],
                resource_id=check[1],
                action=check[2],
            )
            verdict = {"authorized": True, "granting_roles": granted}
        return ok(
            request,
            member_session=serializers.member_session(scope.db, s, member, org, found.claim),
            session_token=found.session_token,
            session_jwt=found.session_jwt,
            # A read-only check's member and organization: encoded once for their rows.
            member=serializers.member_part(scope.db, member, scope.clock.now(), org, found.known),
            organization=serializers.organization_part(org, found.known),
            verdict=verdict,
        )


@router.post("/revoke", response_model=responses.EmptyResponse)
def revoke(request: Request, scope: ProjectScope, body: SessionRevoke) -> JSONResponse:
    # With a member's session: revoking a member's sessions, or one by its id, needs
    # revoke-sessions (on stytch.self for one's own); a session named by its own token or JWT
    # needs nothing more (holding it is the proof).
    target = body.member_id or (
        acting.session_owner(scope, body.member_session_id)
        if body.member_session_id and member_session.present(request)
        else None
    )
    scope = member_session.authorize(
        request,
        scope,
        [],
        needs.revoke_sessions() if target else [],
        target_member_id=target,
    )
    sessions.revoke(
        scope,
        member_session_id=body.member_session_id,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
        member_id=body.member_id,
    )
    return ok(request)


@router.get("", response_model=responses.SessionListResponse)
def get(
    request: Request,
    scope: ProjectScope,
    organization_id: str = "",
    member_id: str = "",
) -> JSONResponse:
    org, member, rows = sessions.list_sessions(scope, organization_id, member_id)
    return ok(
        request,
        member_sessions=[serializers.member_session(scope.db, s, member, org) for s in rows],
    )


@router.post("/exchange", response_model=responses.AuthResultResponse)
@inline_write
def exchange(request: Request, scope: ProjectScope, body: SessionExchange) -> JSONResponse:
    result = login.exchange_session(
        scope,
        body.organization_id,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
        locale=body.locale,
    )
    return ok(request, **serializers.auth_result(scope.db, result, scope.clock.now()))


@router.get("/jwks/{project_id}", response_model=responses.JwksResponse)
async def jwks(request: Request, project_id: str) -> JSONResponse:
    """Public (no Basic auth): the SDKs fetch it anonymously to verify JWTs offline. A read
    (beside the writer, on the event loop on SQLite), but for a project's very first request,
    which makes its first key."""
    services = services_of(request)
    published = await run_read(request, _jwks, services=services, project_id=project_id)
    if not published:
        published = await run_in_threadpool(
            _jwks, services=services, project_id=project_id, make_first=True
        )
    response = ok(request, keys=published)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _jwks(services: Services, project_id: str, make_first: bool = False) -> list[dict[str, Any]]:
    environment = environment_of(project_id)
    with services.scope(project_id, environment, PUBLIC_ACTOR, read_only=not make_first) as scope:
        if not make_first:
            published = keys.jwks(scope, make_first=False)
            if published:  # the usual case, one read: a project with keys exists
                return published
        projects.get_project(scope.db, project_id)  # 404 for an unknown project
        return keys.jwks(scope) if make_first else []
