"""The one SSO route of Stytch's frontend SDK API (stytch-b2b-api-more.md §3.9):

    GET /sdk/v1/b2b/sso/discovery/connections?email_address=…   (sso.discoverConnections)

The frontend SDK runs in the browser, so it authenticates by the project's public token, not
its secret: HTTP Basic `public_token:public_token` (or `public_token:<session token>` when
signed in; the second half is not used here). The caller is anonymous; what it may learn is
bounded in `sso.discovery`.

Answers are the SDK API's: a success is wrapped as `{"data": {request_id, status_code, …}}`,
a refusal is Stytch's usual error envelope.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from antechamber import db
from antechamber.api.auth import basic_credentials, client_ip_of, services_of
from antechamber.api.envelope import request_id_of
from antechamber.errors import Unauthorized
from antechamber.sso import discovery, errors, public_tokens

# Not in the OpenAPI document, which describes the backend API (`/v1/b2b`) the SDKs call with
# the project secret.
router = APIRouter(tags=["sso-sdk"], include_in_schema=False)


@router.get("/sdk/v1/b2b/sso/discovery/connections")
def discover_connections(
    request: Request, email_address: Annotated[str | None, Query()] = None
) -> JSONResponse:
    services = services_of(request)
    with db.transaction(services.sessions, read_only=True) as session:
        project_id, environment = public_tokens.project_of(session, _public_token(request))
    with services.scope(project_id, environment, "public", read_only=True) as scope:
        scope = dataclasses.replace(scope, client_ip=client_ip_of(request, services))
        found = discovery.connections_for_email(scope, email_address)
    body = {
        "data": {
            "request_id": request_id_of(request),
            "status_code": 200,
            "connections": [dataclasses.asdict(c) for c in found],
        }
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _public_token(request: Request) -> str:
    """The public token the SDK sends as the Basic user name."""
    if not request.headers.get("authorization"):
        raise errors.PublicTokenRequired()
    try:
        token, _ = basic_credentials(request)
    except Unauthorized:
        raise errors.PublicTokenNotFound() from None
    return token
