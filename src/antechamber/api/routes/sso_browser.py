"""The browser half of SSO (stytch-b2b-api-more.md §3.6): routes no SDK calls.

    GET  /v1/public/sso/start                  → 302 to the identity provider
    GET  /v1/b2b/sso/callback/{connection_id}  ← OIDC (code, state)       → 302 to the app
    POST /v1/b2b/sso/callback/{connection_id}  ← SAML (SAMLResponse, RelayState, form)

No project secret here: the start names its project by public token, the callback by the
login it answers. The login's state is also set as a cookie at start and must come back with
the callback (`oidc_csrf_cookie_mismatch` otherwise), so a callback URL made by someone else
(their identity, their state) cannot sign a victim's browser in (login CSRF). The SAML POST
is cross-site, so its cookie needs `SameSite=None; Secure`: it is set and checked only when
the public base URL is https. A SAML POST without RelayState is IdP-initiated
(`flow.finish_unsolicited`): accepted only without InResponseTo and where the connection
allows it.

Start refusals answer Stytch's error envelope (the app's developer reads them); callback
refusals a short page for the person in the browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from antechamber import db, tokens
from antechamber.api.auth import client_ip_of, services_of
from antechamber.errors import AntechamberError
from antechamber.ids import environment_of
from antechamber.scope import Scope
from antechamber.sso import errors, flow, public_tokens, saml_flow
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import SamlConnection, SsoLogin

# Not in the OpenAPI document: browser redirects and pages, not the JSON API the SDKs call.
router = APIRouter(tags=["sso-browser"], include_in_schema=False)
T = TypeVar("T")
COOKIE_PATH = "/v1/b2b/sso/callback/"
COOKIE_SECONDS = flow.LOGIN_MINUTES * 60


@router.get("/v1/public/sso/start", status_code=302, response_class=RedirectResponse)
def start(
    request: Request,
    public_token: Annotated[str | None, Query()] = None,
    connection_id: Annotated[str | None, Query()] = None,
    organization_id: Annotated[str | None, Query()] = None,
    login_redirect_url: Annotated[str | None, Query()] = None,
    signup_redirect_url: Annotated[str | None, Query()] = None,
    pkce_code_challenge: Annotated[str | None, Query()] = None,
    custom_scopes: Annotated[str | None, Query()] = None,
) -> Response:
    services = services_of(request)
    with db.transaction(services.sessions, read_only=True) as session:
        project_id, environment = public_tokens.project_of(session, public_token)
    with services.scope(project_id, environment, "public") as scope:
        started = flow.start(
            _with_ip(request, scope),
            connection_id=connection_id,
            organization_id=organization_id,
            login_redirect_url=login_redirect_url,
            signup_redirect_url=signup_redirect_url,
            pkce_code_challenge=pkce_code_challenge,
            custom_scopes=custom_scopes,
        )
    response = RedirectResponse(started.redirect_url, status_code=302)
    secure = services.settings.public_base_url.startswith("https://")
    if started.connection_id.startswith("oidc-"):
        response.set_cookie(
            _cookie_name(started.state),
            started.state,
            max_age=COOKIE_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            secure=secure,
            samesite="lax",
        )
    elif secure:
        response.set_cookie(
            _cookie_name(started.state),
            started.state,
            max_age=COOKIE_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            secure=True,
            samesite="none",
        )
    return response


@router.get("/v1/b2b/sso/callback/{connection_id}", response_class=HTMLResponse)
def oidc_callback(
    request: Request,
    connection_id: str,
    state: Annotated[str | None, Query()] = None,
    code: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
) -> Response:
    def run() -> str:
        if not state:
            raise errors.MissingState()
        _check_cookie(request, state)
        with _login_scope(request, state, read_only=True) as scope:
            pending = flow.pending(scope, connection_id, state)
            if error:
                raise errors.OidcAuthCodeError(
                    f"The identity provider refused the sign-in ({error[:64]})."
                )
            # The provider is asked with no transaction open (flow.py).
        identity = flow.oidc_identity(scope, pending, code)
        with _login_scope(request, state) as scope:
            return flow.finish(scope, state, identity)

    return _answer(request, run, state)


@router.post("/v1/b2b/sso/callback/{connection_id}", response_class=HTMLResponse)
def saml_callback(
    request: Request,
    connection_id: str,
    saml_response: Annotated[str | None, Form(alias="SAMLResponse")] = None,
    relay_state: Annotated[str | None, Form(alias="RelayState")] = None,
) -> Response:
    def run() -> str:
        if not relay_state:
            # IdP-initiated: no login of ours to answer (flow.finish_unsolicited).
            with _connection_scope(request, connection_id) as scope:
                return flow.finish_unsolicited(scope, connection_id, saml_response)
        if services_of(request).settings.public_base_url.startswith("https://"):
            _check_cookie(request, relay_state)
        with _login_scope(request, relay_state) as scope:
            pending = flow.pending(scope, connection_id, relay_state)
            identity = saml_flow.identity(scope, pending, saml_response)
            return flow.finish(scope, relay_state, identity)

    return _answer(request, run, relay_state)


def _answer(request: Request, run: Callable[[], str], state: str | None) -> Response:
    try:
        target = run()
    except AntechamberError as exc:
        _record_refusal(request, exc, state)
        return _error_page(exc)
    response = RedirectResponse(target, status_code=302)
    if state:
        response.delete_cookie(_cookie_name(state), path=COOKIE_PATH)
    return response


@contextmanager
def _login_scope(request: Request, state: str, *, read_only: bool = False) -> Iterator[Scope]:
    """A unit of work in the project of the login that `state` names."""
    services = services_of(request)
    with db.transaction(services.sessions, read_only=True) as session:
        login = session.query(SsoLogin).filter_by(state_digest=tokens.digest(state[:128])).first()
        if login is None:
            raise errors.SsoLoginNotFound()
        project_id = login.project_id
    environment = environment_of(project_id)
    with services.scope(project_id, environment, "public", read_only=read_only) as scope:
        yield _with_ip(request, scope)


@contextmanager
def _connection_scope(request: Request, connection_id: str) -> Iterator[Scope]:
    """A unit of work in the project of a SAML connection (an IdP-initiated response names
    nothing else)."""
    services = services_of(request)
    with db.transaction(services.sessions, read_only=True) as session:
        connection = session.get(SamlConnection, connection_id[:96])
        if connection is None:
            raise errors.UnsolicitedSamlResponse()
        project_id = connection.project_id
    with services.scope(project_id, environment_of(project_id), "public") as scope:
        yield _with_ip(request, scope)


def _with_ip(request: Request, scope: Scope) -> Scope:
    import dataclasses

    return dataclasses.replace(scope, client_ip=client_ip_of(request, services_of(request)))


def _cookie_name(state: str) -> str:
    return f"ac_sso_{tokens.digest(state)[:16]}"


def _check_cookie(request: Request, state: str) -> None:
    cookie = request.cookies.get(_cookie_name(state))
    if cookie is None or not tokens.same(tokens.digest(cookie), tokens.digest(state)):
        raise errors.CsrfCookieMismatch()


def _record_refusal(request: Request, exc: AntechamberError, state: str | None) -> None:
    """Keep a refused callback in the project's audit trail when the login is known."""
    if not state:
        return
    services = services_of(request)
    with db.transaction(services.sessions, read_only=True) as session:
        login = session.query(SsoLogin).filter_by(state_digest=tokens.digest(state[:128])).first()
        if login is None:
            return
        project_id, organization_id, connection_id = (
            login.project_id,
            login.organization_id,
            login.connection_id,
        )
    environment = environment_of(project_id)
    from antechamber.audit import service as audit

    with services.scope(project_id, environment, "public") as scope:
        audit.record(
            scope,
            SsoEvent.LOGIN_REFUSED,
            organization_id=organization_id,
            connection_id=connection_id,
            error_type=exc.error_type,
        )


def _error_page(exc: AntechamberError) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Sign-in failed</title></head><body>"
        "<h1>Sign-in failed</h1>"
        f"<p>{html.escape(exc.message)}</p>"
        f"<p><code>{html.escape(exc.error_type)}</code></p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=exc.status_code)
