"""The tutorial's nine JSON endpoints under `/api/` (and two of ours for the MFA step's
authenticator app and recovery codes), also accepting plain HTML form posts.

A JSON request (the tutorial's React frontend, our pages' script) gets JSON: the tutorial's
fields (`message`, `redirectPath`, `organizationId`, `discovered_organizations`,
`organization`, `member`) with a real status code. A form post (our pages without JavaScript)
gets a 303 to `redirectPath`, or on failure back to the page it came from with `?error=<code>`.
Every POST passes the cross-site check first (`webapp.security.check_post`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from antechamber.webapp import actions, render, totp_actions
from antechamber.webapp.actions import Reply
from antechamber.webapp.backend import BackendError
from antechamber.webapp.config import Webapp
from antechamber.webapp.errors import Failure, from_backend
from antechamber.webapp.inputs import Call
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.security import check_logout_get, check_post, client_address

#: Largest body accepted: the biggest legitimate one is a few hundred bytes.
MAX_BODY_BYTES = 16 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

router = APIRouter(prefix="/api", route_class=WebappRoute, include_in_schema=False)

Action = Callable[[Webapp, Call, Mapping[str, Any]], Reply]


def is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in FORM_TYPES


async def read_body(request: Request) -> dict[str, Any]:
    """The request's fields from a JSON object or a urlencoded form; `Failure` otherwise."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        raise Failure("too_large" if declared.isdigit() else "invalid_body")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise Failure("too_large")
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("invalid_body") from None
    if content_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=50))
        except ValueError:  # more fields than any form of ours has
            raise Failure("invalid_body") from None
    if content_type not in ("application/json", ""):
        raise Failure("unsupported_media_type")
    try:
        data = json.loads(text)
    except ValueError:
        raise Failure("invalid_body") from None
    if not isinstance(data, dict):
        raise Failure("invalid_body")
    return data


def _call(request: Request) -> Call:
    return Call(cookies=dict(request.cookies), client=client_address(request))


def with_error(location: str, code: str) -> str:
    """`location` with `error=<code>` in its query (kept if it already names one)."""
    parts = urlsplit(location)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key == "error" for key, _ in query):
        query = [(k, v) for k, v in query if k != "info"] + [("error", code)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def reply_response(request: Request, reply: Reply, *, form: bool, home: str) -> Response:
    if form:
        return render.redirect(reply.redirect or home, reply.cookie_ops)
    body: dict[str, Any] = {"message": reply.message}
    if reply.redirect:
        body["redirectPath"] = reply.redirect
    body.update(reply.fields)
    response = JSONResponse(body, headers={"Cache-Control": "no-store"})
    for op in reply.cookie_ops:
        op(response)
    return response


def failure_response(request: Request, failure: Failure, *, form: bool, home: str) -> Response:
    headers = {"Cache-Control": "no-store"}
    if failure.retry_after:
        headers["Retry-After"] = str(failure.retry_after)
    if form:
        response: Response = render.redirect(
            with_error(failure.redirect or home, failure.code), failure.cookie_ops
        )
        response.headers.update(headers)
        return response
    body: dict[str, Any] = {"message": failure.text, "error": failure.code}
    if failure.redirect:
        body["redirectPath"] = failure.redirect
    if failure.retry_after:
        body["retryAfter"] = failure.retry_after
    response = JSONResponse(body, status_code=failure.status, headers=headers)
    for op in failure.cookie_ops:
        op(response)
    return response


async def run(request: Request, action: Action, *, home: str) -> Response:
    """Check, parse, act (in a worker thread: backends block), answer."""
    web = render.webapp_of(request)
    form = is_form(request)
    try:
        check_post(request, web.config)
        body = await read_body(request)
        reply = await run_in_threadpool(action, web, _call(request), body)
    except Failure as failure:
        return failure_response(request, failure, form=form, home=home)
    except BackendError as exc:
        return failure_response(request, from_backend(exc), form=form, home=home)
    return reply_response(request, reply, form=form, home=home)


@router.post("/discovery/start")
async def start(request: Request) -> Response:
    return await run(request, actions.start, home="/")


@router.post("/auth/callback")
async def callback(request: Request) -> Response:
    return await run(request, actions.callback, home="/")


@router.post("/discovery/create")
async def create(request: Request) -> Response:
    return await run(request, actions.create, home="/discovery")


@router.post("/discovery/get-organization")
async def get_organization(request: Request) -> Response:
    return await run(request, actions.get_organization, home="/dashboard")


@router.post("/discovery/select-organization")
async def select_organization(request: Request) -> Response:
    return await run(request, actions.select_organization, home="/discovery")


@router.post("/mfa/send")
async def send_code(request: Request) -> Response:
    return await run(request, actions.send_code, home="/smsmfa")


@router.post("/mfa/authenticate")
async def authenticate_code(request: Request) -> Response:
    return await run(request, actions.authenticate_code, home="/smsmfa")


@router.post("/mfa/totp/authenticate")
async def authenticate_totp(request: Request) -> Response:
    """Not the tutorial's: finish the login with a code from the authenticator app."""
    return await run(request, totp_actions.authenticate_totp, home="/smsmfa?method=totp")


@router.post("/mfa/recover")
async def recover(request: Request) -> Response:
    """Not the tutorial's: finish the login with a recovery code."""
    return await run(request, totp_actions.recover, home="/smsmfa?method=recovery")


@router.post("/mfa/update")
async def update_mfa(request: Request) -> Response:
    return await run(request, actions.update_mfa, home="/dashboard")


@router.post("/auth/logout")
async def logout(request: Request) -> Response:
    return await run(request, lambda web, call, body: actions.logout(web, call), home="/")


@router.get("/auth/logout")
async def logout_get(request: Request) -> Response:
    """The tutorial's GET logout, for its frontend; refused when another site started it."""
    web = render.webapp_of(request)
    # A browser navigation (someone typed the address) gets pages; fetch() gets JSON.
    navigation = "text/html" in request.headers.get("accept", "")
    try:
        check_logout_get(request, web.config)
        reply = await run_in_threadpool(actions.logout, web, _call(request))
    except Failure as failure:
        return failure_response(request, failure, form=navigation, home="/")
    except BackendError as exc:
        return failure_response(request, from_backend(exc), form=navigation, home="/")
    return reply_response(request, reply, form=navigation, home="/")
