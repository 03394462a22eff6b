"""Sign-in, sign-out, the console's front door and its stylesheet."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from antechamber.admin import render, signin
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.routes import console_router, public_router
from antechamber.admin.security import (
    ConsoleDep,
    clear_session_cookie,
    console_cookie_name,
    csrf_token,
    pre_session,
    remember_pre_session,
    safe_next,
    services_of,
)
from antechamber.errors import AntechamberError
from antechamber.operators import sessions
from antechamber.settings import Settings

public = public_router()
router = console_router()

_CSS = resources.files("antechamber.admin").joinpath("static/console.css").read_bytes()

REASONS = {
    "expired": "Your console session ended. Sign in again to continue.",
    "signed_out": "You are signed out.",
}


@public.get("/static/console.css")
def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})


def _signin_page(
    request: Request,
    *,
    email: str = "",
    next_: str = "",
    status_code: int = 200,
    error: FormError | None = None,
    sent: bool = False,
) -> Response:
    settings = services_of(request).settings
    nonce, new = pre_session(request, settings)
    response = render.page(
        request,
        "signin.html",
        status_code=status_code,
        console=None,
        email=email,
        next=safe_next(next_),
        notice=REASONS.get(str(request.query_params.get("reason", ""))),
        csrf=csrf_token(settings, nonce, pre_session=True),
        error=error,
        sent=sent,
    )
    if new:
        remember_pre_session(response, nonce, settings)
    return response


@public.get("/signin")
def signin_form(request: Request, next: str = "") -> Response:
    return _signin_page(request, next_=next)


@public.post("/signin")
def signin_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    services = services_of(request)
    nonce, _ = pre_session(request, services.settings)
    try:
        signin.send_sign_in_link(services, request, email, nonce)
    except AntechamberError as exc:
        return _signin_page(
            request,
            email=email,
            next_=next,
            status_code=exc.status_code,
            error=form_error(exc, {"invalid_email": "email"}),
        )
    response = _signin_page(request, email=email, next_=next, sent=True)
    # The link opens in a new tab without the page asked for; the code step reads it back.
    _set_signin_cookie(
        response, _next_cookie(services.settings), safe_next(next), services.settings
    )
    return response


def _pending_cookie(settings: Settings) -> str:
    return console_cookie_name(settings, "antechamber_console_signin")


def _next_cookie(settings: Settings) -> str:
    """Where to go once signed in (`safe_next`, checked again when read)."""
    return console_cookie_name(settings, "antechamber_console_next")


def _set_signin_cookie(response: Response, name: str, value: str, settings: Settings) -> None:
    response.set_cookie(
        name,
        value,
        max_age=600,
        path="/admin/signin",
        secure=not settings.dev,
        httponly=True,
        samesite="strict",
    )


def _delete_signin_cookie(response: Response, name: str, settings: Settings) -> None:
    response.delete_cookie(
        name, path="/admin/signin", secure=not settings.dev, httponly=True, samesite="strict"
    )


def _code_page(
    request: Request,
    pending: signin.PendingSignIn,
    *,
    status_code: int = 200,
    error: FormError | None = None,
) -> Response:
    settings = services_of(request).settings
    nonce, _ = pre_session(request, settings)
    return render.page(
        request,
        "signin_code.html",
        status_code=status_code,
        console=None,
        masked_phone=pending.masked_phone,
        csrf=csrf_token(settings, nonce, pre_session=True),
        error=error,
    )


@public.get("/signin/callback")
def signin_callback(request: Request, token: str = "") -> Response:
    """The link from the email lands here. Nothing is redeemed on a GET (mail scanners follow
    links); the page asks for a click that POSTs the token. The token is in this page's URL,
    so the page sends no Referer at all."""
    settings = services_of(request).settings
    nonce, new = pre_session(request, settings)
    response = render.page(
        request,
        "signin_callback.html",
        console=None,
        token=token,
        csrf=csrf_token(settings, nonce, pre_session=True),
        error=None
        if token
        else FormError("This sign-in link is incomplete.", "invalid_token", None),
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    if new:
        remember_pre_session(response, nonce, settings)
    return response


@public.post("/signin/callback")
def signin_callback_submit(request: Request, token: Annotated[str, Form()] = "") -> Response:
    services = services_of(request)
    settings = services.settings
    nonce, _ = pre_session(request, settings)
    try:
        pending = signin.start_second_factor(services, token, nonce)
    except AntechamberError as exc:
        return render.page(
            request,
            "signin_callback.html",
            status_code=exc.status_code,
            console=None,
            token="",
            csrf=csrf_token(settings, nonce, pre_session=True),
            error=form_error(exc),
        )
    response = _code_page(request, pending)
    _set_signin_cookie(
        response, _pending_cookie(settings), signin.seal_pending(settings, nonce, pending), settings
    )
    return response


@public.post("/signin/code")
def signin_code_submit(request: Request, code: Annotated[str, Form()] = "") -> Response:
    services = services_of(request)
    settings = services.settings
    nonce, _ = pre_session(request, settings)
    pending = signin.open_pending(
        settings, nonce, request.cookies.get(_pending_cookie(settings), "")
    )
    if pending is None:
        return render.redirect(render.url("signin", reason="expired"))
    try:
        issued = signin.finish_with_code(
            services,
            pending,
            code.strip(),
            user_agent=request.headers.get("user-agent", "")[:256],
            ip_address=request.client.host if request.client else "",
        )
    except AntechamberError as exc:
        return _code_page(
            request,
            pending,
            status_code=exc.status_code,
            error=form_error(exc, {"otp_code_not_found": "code", "invalid_code": "code"}),
        )
    response = render.redirect(safe_next(request.cookies.get(_next_cookie(settings))))
    signin.admit(response, issued, settings)
    for name in (_pending_cookie(settings), _next_cookie(settings)):
        _delete_signin_cookie(response, name, settings)
    return response


@router.get("")
@router.get("/")
def home() -> Response:
    return render.redirect("/admin/projects")


@router.post("/signout")
def signout(request: Request, console: ConsoleDep) -> Response:
    with console.unit() as session:
        sessions.end(
            session,
            console.operator.session_id,
            clock=console.services.clock,
            settings=console.settings,
        )
    response = render.redirect(render.url("signin", reason="signed_out"))
    clear_session_cookie(response, console.settings)
    return response
