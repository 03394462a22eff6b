"""Sign in with an emailed code instead of the link: discovery by email one-time code.

    /code                        the email (prefilled from the last one used)
    POST /api/discovery/code/start {email}   a six-digit code by email; then /code?step=enter
    POST /api/discovery/code/authenticate {code}   the code for the email of that send: the
                                 pending login (as a redeemed link gives) and /discovery

For people who read mail on a phone and sign in on a laptop, and for mail scanners that open
links. The email being signed in is the one the code was sent to (the hint cookie); the code
proves it, so nothing else is trusted from the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from antechamber.webapp import api, cookies, render
from antechamber.webapp.actions import Reply, end_previous_session, start_email
from antechamber.webapp.backend import BackendError
from antechamber.webapp.config import Webapp
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import (
    EMAIL_CODES,
    MESSAGES,
    NOTICES,
    Failure,
    from_backend,
    message_of,
)
from antechamber.webapp.inputs import CODE, Call
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.views import discovered_json

router = APIRouter(route_class=WebappRoute, include_in_schema=False)


def start(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """Email a sign-in code to `email` (limited per client like the link)."""
    email = start_email(web, call, body)
    web.backend.send_discovery_code(email)
    config = web.config
    return Reply(
        "Code sent",
        redirect="/code?step=enter",
        cookie_ops=[lambda r: cookies.set_hint(config, r, email)],
    )


def authenticate(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """The code for the email it was sent to: the login continues at /discovery."""
    email = cookies.hint(web.config, dict(call.cookies))
    if not email:
        raise Failure("login_expired", redirect="/code")
    code = body.get("code")
    code = code.strip().replace(" ", "") if isinstance(code, str) else ""
    if not CODE.fullmatch(code):
        raise Failure("invalid_email_code")
    try:
        found = web.backend.authenticate_discovery_code(email, code)
    except BackendError as exc:
        raise from_backend(exc, EMAIL_CODES) from exc
    end_previous_session(web, call)
    config = web.config
    login = Pending(ist=found.intermediate_session_token, email=found.email_address)
    return Reply(
        "Signed in",
        redirect="/discovery",
        fields={
            "email_address": found.email_address,
            "discovered_organizations": [discovered_json(d) for d in found.organizations],
        },
        cookie_ops=[
            lambda r: cookies.set_pending(config, r, login),
            lambda r: cookies.clear_session(config, r),
        ],
    )


@router.get("/code")
def code_page(request: Request) -> Response:
    web = render.webapp_of(request)
    email = cookies.hint(web.config, dict(request.cookies))
    enter = request.query_params.get("step") == "enter" and bool(email)
    error = request.query_params.get("error", "")
    info = request.query_params.get("info", "")
    return render.page(
        request,
        "code.html",
        email=email,
        enter=enter,
        error=message_of(error) if error in MESSAGES else None,
        notice=NOTICES.get(info),
    )


@router.post("/api/discovery/code/start")
async def start_route(request: Request) -> Response:
    return await api.run(request, start, home="/code")


@router.post("/api/discovery/code/authenticate")
async def authenticate_route(request: Request) -> Response:
    return await api.run(request, authenticate, home="/code?step=enter")
