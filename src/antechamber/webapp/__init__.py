"""The reference app: the Stytch tutorial's B2B MFA app, in Python, with its holes closed.

Served at `/` by the same process as the API (`install`), or on its own against any
Stytch-compatible server (`standalone.create_app`, `antechamber webapp --backend stytch`).

    backend.py         the Backend protocol: the Stytch operations the app performs
    inprocess.py       … over this process's domain functions (the default)
    stytch_backend.py  … over HTTP, through the official stytch SDK
    actions.py         the tutorial's nine endpoints as actions (the rules live here)
    totp_actions.py    … the authenticator app and recovery codes (MFA step, dashboard)
    identity.py        who an action acts for: the signed-in member, the login in progress
    inputs.py          what an action takes in: the call, the body's fields parsed
    api.py             /api/*: JSON for scripts, 303 redirects for plain form posts
    pages.py           the pages; templates/ and static/ (one CSS file, one small script)
    cookies.py         session, signed pending-login and hint cookies
    sessions.py        the session JWT checked locally against the project's JWKS
    security.py        cross-site checks on POSTs and the tutorial's GET logout; CORS
    errors.py          failure codes → status and sentence, server error types → codes
    routing.py         the route class that answers whatever a handler did not

Paths: pages at `/`, `/check-email`, `/auth/callback`, `/discovery`, `/smsmfa`, `/dashboard`,
`/dashboard/mfa`, `/dashboard/totp` (and `/confirm`), `/dashboard/recovery-codes`, assets at
`/assets/*`, JSON at `/api/*`. They share the process with `/v1/*` (the API), `/admin`
(console), `/dev/outbox`, `/metrics`, `/healthz` and `/readyz`, which keep their own error
formats; any other unknown path gets the app's not-found page.
"""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from antechamber.services import Services
from antechamber.webapp import admin_section, api, email_code, pages, sso
from antechamber.webapp.backend import Backend
from antechamber.webapp.config import Webapp, WebappConfig, derived_key
from antechamber.webapp.errors import message_of
from antechamber.webapp.inprocess import InProcessBackend, configured_project
from antechamber.webapp.security import Cors
from antechamber.webapp.sessions import JwtVerifier

#: Paths whose own faces answer their errors (the API's envelope, the console's pages).
OTHER_FACES = ("/v1/", "/admin")


def build(config: WebappConfig, backend: Backend) -> Webapp:
    return Webapp(config, backend, JwtVerifier(backend, config.clock))


def for_services(services: Services) -> Webapp | None:
    """The in-process app for this server's settings, or None when it has no project to serve
    (outside development mode without `webapp_project_id`) or is turned off."""
    settings = services.settings
    if not settings.webapp or not (settings.dev or settings.webapp_project_id):
        return None
    config = WebappConfig(
        public_url=settings.webapp_public_url or settings.public_base_url,
        cookie_key=derived_key(settings.key_bytes(), "cookies"),
        dev=settings.dev,
        cors_origins=frozenset(settings.webapp_cors_origins),
        product_name=settings.product_name,
        inbox_url="/dev/outbox" if settings.dev else None,
        clock=services.clock,
        limiter=services.limiter,
    )
    return build(config, InProcessBackend(services, configured_project(services)))


def install(app: FastAPI, webapp: Webapp) -> None:
    """Serve `webapp` on `app` at `/`. Call after the other faces' exception handlers are
    installed: unknown paths outside them get the app's not-found page."""
    app.state.webapp = webapp
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(email_code.router)
    app.include_router(admin_section.router)
    app.include_router(sso.router)
    if webapp.config.cors_origins:
        app.add_middleware(Cors, origins=webapp.config.cors_origins)
    previous = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path
        status = getattr(exc, "status_code", 500)
        if status in (404, 405) and not path.startswith(OTHER_FACES):
            code = "not_found" if status == 404 else "method_not_allowed"
            if path.startswith("/api/"):
                return JSONResponse(
                    {"message": message_of(code), "error": code}, status_code=status
                )
            return pages.not_found_page(request, status)
        answered = previous(request, exc)
        if inspect.isawaitable(answered):
            answered = await answered
        return answered

    app.add_exception_handler(StarletteHTTPException, not_found)
