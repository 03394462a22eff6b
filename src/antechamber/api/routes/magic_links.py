"""Discovery email magic links (stytch-b2b-api.md §3.1–3.2)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import responses, serializers
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.api.schemas import DiscoveryAuthenticate, DiscoverySend
from antechamber.discovery import service as discovery
from antechamber.magic_links import service as magic_links

router = APIRouter(prefix="/v1/b2b/magic_links", tags=["magic links"], route_class=ApiRoute)


@router.post("/email/discovery/send", response_model=responses.EmptyResponse)
@inline_write
def send(request: Request, scope: ProjectScope, body: DiscoverySend) -> JSONResponse:
    # The same answer whether or not anyone has this email: nothing is looked up.
    magic_links.send_discovery(
        scope,
        email_address=body.email_address,
        discovery_redirect_url=body.discovery_redirect_url,
        discovery_expiration_minutes=body.discovery_expiration_minutes,
        locale=body.locale,
        pkce_code_challenge=body.pkce_code_challenge,
    )
    return ok(request)


@router.post("/discovery/authenticate", response_model=responses.DiscoveryAuthenticateResponse)
@inline_write
def authenticate(
    request: Request, scope: ProjectScope, body: DiscoveryAuthenticate
) -> JSONResponse:
    found = discovery.authenticate_magic_link(
        scope, body.discovery_magic_links_token, pkce_code_verifier=body.pkce_code_verifier
    )
    return ok(request, **serializers.discovery_login(scope.db, found, scope.clock.now()))
