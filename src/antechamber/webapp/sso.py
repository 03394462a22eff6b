"""Sign in with SSO: the reference app's half of the browser flow (stytch-b2b-api-more §3.6).

    GET /sso/start?organization=<slug>   → a page linking to the server's /v1/public/sso/start,
                                           with a PKCE challenge whose verifier waits in a cookie
    GET /sso/start?organization=<email>  → the connections the address may sign in through
                                           (`sso.discovery`, the frontend SDK's
                                           discoverConnections): one → that page for it;
                                           several → a page to choose; none → a message
    GET /auth/sso?stytch_token_type=sso&token=…
                                         → sso/authenticate with the verifier → the dashboard,
                                           or the MFA step when the organization asks for it

The token comes from the server's redirect, never from a mail scanner, so the landing page
redeems it at once (no Continue button as for magic links). The verifier cookie binds the
login to this browser: a token taken elsewhere cannot be redeemed without it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.webapp import actions, cookies, render
from antechamber.webapp.backend import JSON, BackendError
from antechamber.webapp.config import Webapp, WebappConfig
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import Failure, from_backend
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.security import client_address

router = APIRouter(route_class=WebappRoute, include_in_schema=False)
VERIFIER_COOKIE = "sso_pkce"
VERIFIER_SECONDS = 600
MAX_SLUG = 128
MAX_EMAIL = 254
#: Connections a choice page lists at most (an address in many organizations).
MAX_CHOICES = 20
#: SSO lookups by email from one client address share the email sign-ins' allowance.
LOOKUP_LIMIT_NAME = "webapp:sso_lookup"


def landing_url(config: WebappConfig) -> str:
    """Where the server sends people back: register it as a `login` and `signup` redirect URL."""
    return f"{config.public_url.rstrip('/')}/auth/sso"


@router.get("/sso/start")
async def start(request: Request) -> Response:
    web = render.webapp_of(request)
    entered = request.query_params.get("organization", "").strip()
    if "@" in entered:
        return await _by_email(request, web, entered)
    organization = entered.lower()
    if not organization or len(organization) > MAX_SLUG:
        return render.redirect("/?error=sso_organization_required")
    verifier, challenge = _pkce()
    try:
        target = await run_in_threadpool(
            web.backend.sso_start_url, organization, landing_url(web.config), challenge
        )
    except BackendError as exc:
        return render.redirect(f"/?error={from_backend(exc, SSO_CODES).code}")
    # A page with a link rather than a redirect: the sign-in form's CSP (`form-action 'self'`)
    # rightly forbids a form from ending on another origin, and the identity provider is one.
    response = render.page(request, "sso_continue.html", organization=organization, target=target)
    _keep_verifier(web.config, response, verifier)
    return response


async def _by_email(request: Request, web: Webapp, email: str) -> Response:
    """The connections the address may use, limited per client like the email sign-ins (the
    lookup answers for any address). Every choice shares one PKCE pair: only the start the
    person follows is redeemed."""
    if len(email) > MAX_EMAIL:
        return render.redirect("/?error=invalid_email")
    limiter = web.config.limiter
    if limiter is not None:
        try:
            limiter.hit(LOOKUP_LIMIT_NAME, client_address(request), limit=web.config.start_limit)
        except TooManyRequests:
            return render.redirect("/?error=rate_limited")
        except AntechamberError:
            return render.redirect("/?error=unavailable")
    verifier, challenge = _pkce()
    landing = landing_url(web.config)

    def choices() -> list[tuple[JSON, str]]:
        found = web.backend.sso_connections_for_email(email)
        return [
            (c, web.backend.sso_connection_start_url(str(c["connection_id"]), landing, challenge))
            for c in found[:MAX_CHOICES]
        ]

    try:
        found = await run_in_threadpool(choices)
    except BackendError as exc:
        return render.redirect(f"/?error={from_backend(exc, SSO_CODES).code}")
    if not found:
        return render.redirect("/?error=sso_no_connection_for_email")
    if len(found) == 1:
        connection, target = found[0]
        response = render.page(
            request, "sso_continue.html", organization=None, connection=connection, target=target
        )
    else:
        response = render.page(request, "sso_choose.html", choices=found)
    _keep_verifier(web.config, response, verifier)
    return response


def _pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def _keep_verifier(config: WebappConfig, response: Response, verifier: str) -> None:
    response.set_cookie(
        VERIFIER_COOKIE,
        verifier,
        max_age=VERIFIER_SECONDS,
        path="/auth/sso",
        httponly=True,
        secure=not config.dev,
        samesite="lax",
    )


@router.get("/auth/sso")
async def land(request: Request) -> Response:
    web = render.webapp_of(request)
    token = request.query_params.get("token", "")
    verifier = request.cookies.get(VERIFIER_COOKIE, "")
    if request.query_params.get("stytch_token_type") != "sso" or not token or len(token) > 128:
        return render.redirect("/?error=sso_failed")
    try:
        step = await run_in_threadpool(web.backend.authenticate_sso, token, verifier)
        login = Pending(ist="", email=str(step.member.get("email_address", "")))
        reply = actions.conclude(web, login, step, "Signed in", "Signed in. Proceed for MFA")
    except BackendError as exc:
        return _failed(web.config, from_backend(exc, SSO_CODES).code)
    except Failure as failure:
        return _failed(web.config, failure.code)
    response = render.redirect(reply.redirect or "/dashboard", reply.cookie_ops)
    response.delete_cookie(VERIFIER_COOKIE, path="/auth/sso")
    return response


def _failed(config: WebappConfig, code: str) -> Response:
    response = render.redirect(f"/?error={code}", [lambda r: cookies.clear_pending(config, r)])
    response.delete_cookie(VERIFIER_COOKIE, path="/auth/sso")
    return response


#: Server refusals of the SSO flow, as the app's failure codes.
SSO_CODES = {
    "sso_token_not_found": "sso_failed",
    "pkce_mismatch": "sso_failed",
    "pkce_expected_code_verifier": "sso_failed",
    "pkce_did_not_expect_code_verifier": "sso_failed",
    "organization_not_found": "sso_not_configured",
    "no_sso_connection_exists_for_organization": "sso_not_configured",
    "indeterminate_sso_connection_for_organization": "sso_not_configured",
    "requires_active_sso_connection": "sso_not_configured",
    "no_match_for_provided_sso_url": "sso_not_configured",
    "no_login_redirect_urls_set": "sso_not_configured",
    "invalid_connection_for_jit_provisioning": "sso_failed",
    "sso_unavailable": "sso_not_configured",
}
