"""The pages a person uses: sign in, check your email, the callback, discovery, the MFA step
(SMS, authenticator app or recovery code), the dashboard (its MFA confirmation, setting up an
authenticator app, regenerating recovery codes), and the not-found page.

Server-rendered from the same actions and cookies as the JSON API; forms post to `/api/*` and
work without JavaScript, which only adds inline messages, busy buttons and the resend
countdown (`static/app.js`). Failures of a page send the person where they can go on (the
sign-in page with the reason, mostly) or render a page that says what happened.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from antechamber.organizations.domains import is_common
from antechamber.webapp import (
    actions,
    admin_section,
    cookies,
    identity,
    inputs,
    render,
    totp_actions,
)
from antechamber.webapp.api import read_body, with_error
from antechamber.webapp.backend import BackendError
from antechamber.webapp.errors import MESSAGES, NOTICES, Failure, from_backend, message_of
from antechamber.webapp.inputs import Call
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.security import check_post, client_address
from antechamber.webapp.sessions import JwtExpired, JwtInvalid
from antechamber.webapp.totp_actions import Enrolment, NewCodes
from antechamber.webapp.views import (
    discovered_json,
    member_json,
    membership_label,
    mfa_status,
    organization_json,
)

router = APIRouter(route_class=WebappRoute, include_in_schema=False)

#: How long a texted code works, as the pages say it (Stytch's and Antechamber's default).
CODE_LIFETIME_MINUTES = 2


def _call(request: Request) -> Call:
    return Call(cookies=dict(request.cookies), client=client_address(request))


def _notes(request: Request) -> dict[str, Any]:
    """The failure or notice named in the query (`?error=`, `?info=`), as its sentence.

    Only known codes are shown: the words on a page never come from its URL.
    """
    error = request.query_params.get("error", "")
    info = request.query_params.get("info", "")
    return {
        "error": message_of(error) if error in MESSAGES else None,
        "error_code": error if error in MESSAGES else None,
        "notice": NOTICES.get(info),
    }


def not_found_page(request: Request, status_code: int = 404) -> Response:
    code = "not_found" if status_code == 404 else "method_not_allowed"
    return render.page(
        request,
        "error.html",
        status_code=status_code,
        title="Page not found" if status_code == 404 else "Not allowed",
        message=message_of(code),
    )


@router.get("/")
def sign_in(request: Request) -> Response:
    web = render.webapp_of(request)
    notes = _notes(request)
    token = cookies.session_jwt(web.config, dict(request.cookies))
    if token and not notes["error"]:
        try:
            web.verifier.verify(token)
        except JwtInvalid:
            pass
        except (JwtExpired, BackendError):  # the dashboard refreshes it, or says what failed
            return render.redirect("/dashboard")
        else:
            return render.redirect("/dashboard")
    return render.page(
        request, "signin.html", email=cookies.hint(web.config, dict(request.cookies)), **notes
    )


@router.get("/login")
def old_login() -> Response:
    """The tutorial's discovery page still sends people to /login, which it removed."""
    return render.redirect("/")


@router.get("/check-email")
def check_email(request: Request) -> Response:
    web = render.webapp_of(request)
    email = cookies.hint(web.config, dict(request.cookies))
    if not email:
        return render.redirect("/")
    return render.page(request, "check_email.html", email=email, **_notes(request))


@router.get("/auth/callback")
def callback(request: Request) -> Response:
    """The magic link lands here. A GET never redeems the token (mail scanners follow links):
    the page asks the person to press Continue, which posts it."""
    token = request.query_params.get("token", "")
    kind = request.query_params.get("stytch_token_type", "")
    problem = None
    if kind not in ("discovery", actions.ORGANIZATION_LINK):
        problem = "unsupported_link"
    elif not token or len(token) > inputs.MAX_TOKEN_LENGTH:
        problem = "link_invalid"
    return render.page(
        request,
        "callback.html",
        status_code=400 if problem else 200,
        referrer_policy="no-referrer",
        token=token if problem is None else "",
        token_type=kind if problem is None else "",
        problem=message_of(problem) if problem else None,
    )


@router.get("/discovery")
def discovery(request: Request) -> Response:
    web = render.webapp_of(request)
    login = identity.login_in_progress(web, _call(request))
    try:
        found = web.backend.list_discovered(login.ist)
    except BackendError as exc:
        failure = from_backend(exc)
        if failure.code == "login_expired":
            failure.cookie_ops = [lambda r: cookies.clear_pending(web.config, r)]
        raise failure from exc
    organizations = []
    for item in found.organizations:
        shown = discovered_json(item)
        shown["label"] = membership_label(shown)
        organizations.append(shown)
    return render.page(
        request,
        "discovery.html",
        email=found.email_address,
        organizations=organizations,
        pending=login if login.waiting_for_mfa else None,
        join_domain=_joinable_domain(found.email_address),
        min_name=inputs.MIN_ORG_NAME,
        max_name=inputs.MAX_ORG_NAME,
        **_notes(request),
    )


def _joinable_domain(email: str) -> str | None:
    """The domain colleagues could join a new organization by (None for webmail)."""
    domain = email.rpartition("@")[2].lower()
    return None if not domain or is_common(domain) else domain


@router.get("/smsmfa")
def sms(request: Request) -> Response:
    """The MFA step: the SMS code (the tutorial's page), or, for a member with an
    authenticator app, its code or a recovery code (`?method=totp|recovery|sms`; the page
    opens on what `totp_actions.mfa_choices` says, and offers only what the member has and the
    organization allows)."""
    web = render.webapp_of(request)
    login = identity.login_in_progress(web, _call(request), waiting_for_mfa=True)
    choices = totp_actions.mfa_choices(login)
    method = choices.shown(request.query_params.get("method", ""))
    change = request.query_params.get("change") == "1" and not login.phone_verified
    mode = "code" if login.sent_at and not change else "phone"
    return render.page(
        request,
        "smsmfa.html",
        status_code=200 if method else 403,
        login=login,
        method=method,
        choices=choices,
        no_method=message_of("no_mfa_method"),
        mode=mode,
        wait=actions.resend_wait(web, login),
        known_phone=login.phone if login.phone_verified else "",
        can_change=not login.phone_verified,
        lifetime_minutes=CODE_LIFETIME_MINUTES,
        **_notes(request),
    )


@router.get("/dashboard")
def dashboard(request: Request) -> Response:
    web = render.webapp_of(request)
    signed = identity.signed_in(web, _call(request))
    membership = identity.membership_of(web, signed)
    org = organization_json(membership.organization)
    return render.page(
        request,
        "dashboard.html",
        cookie_ops=signed.cookie_ops,
        organization=org,
        member=member_json(membership.member),
        status=mfa_status(membership.organization, membership.member),
        admin=admin_section.section(web, signed, membership),
        sso_connections=list(membership.organization.get("sso_active_connections") or []),
        **_notes(request),
    )


@router.get("/dashboard/mfa")
def confirm_mfa(request: Request) -> Response:
    """Confirm before opting in or out (no script needed)."""
    web = render.webapp_of(request)
    opt_in = request.query_params.get("optIn") == "true"
    signed = identity.signed_in(web, _call(request))
    membership = identity.membership_of(web, signed)
    status = mfa_status(membership.organization, membership.member)
    if not (status.can_opt_in if opt_in else status.can_opt_out):
        return render.redirect("/dashboard", signed.cookie_ops)
    return render.page(
        request,
        "confirm_mfa.html",
        cookie_ops=signed.cookie_ops,
        opt_in=opt_in,
        organization=organization_json(membership.organization),
        status=status,
    )


# -- the dashboard's authenticator app and recovery codes ---------------------------------------
#
# Posted from forms of our pages (checked like the API's: `check_post`), answered with a page
# rather than a redirect: the secret and the codes must not travel in a URL. These pages are
# `no-store` and `no-referrer`; reloading one posts again (the browser asks first).


def _back(failure: Failure, home: str = "/dashboard") -> Response:
    """A failed dashboard post: back to where the person can go on, with the reason."""
    return render.redirect(with_error(failure.redirect or home, failure.code), failure.cookie_ops)


def _grouped(secret: str) -> str:
    """A base32 secret in groups of four, as people type it (apps ignore the spaces)."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _setup_page(request: Request, found: Enrolment, failure: Failure | None = None) -> Response:
    return render.page(
        request,
        "totp_setup.html",
        status_code=failure.status if failure is not None else 200,
        referrer_policy="no-referrer",
        cookie_ops=found.cookie_ops,
        organization=organization_json(found.membership.organization),
        qr_code=found.setup.qr_code,
        secret_groups=_grouped(found.setup.secret),
        uri=found.setup.uri if found.setup.uri.startswith("otpauth://") else "",
        sealed=found.sealed,
        error=failure.text if failure is not None else None,
    )


def _codes_page(request: Request, done: NewCodes, *, confirmed: bool) -> Response:
    organization = organization_json(done.membership.organization)
    slug = str(organization.get("organization_slug") or "organization")
    text = "\n".join(
        [
            f"Recovery codes for {organization.get('organization_name', '')}"
            f" ({done.membership.member.get('email_address', '')})",
            "Each code signs you in once instead of your authenticator app.",
            "",
            *done.recovery_codes,
            "",
        ]
    )
    return render.page(
        request,
        "recovery_codes.html",
        referrer_policy="no-referrer",
        cookie_ops=done.cookie_ops,
        organization=organization,
        recovery_codes=done.recovery_codes,
        confirmed=confirmed,
        # A data: URL: the download needs no second request and nothing kept on the server.
        download_url="data:text/plain;charset=utf-8," + quote(text),
        download_name=f"{slug}-recovery-codes.txt",
    )


async def _checked_body(request: Request) -> dict[str, Any]:
    check_post(request, render.webapp_of(request).config)
    return await read_body(request)


@router.post("/dashboard/totp")
async def totp_setup(request: Request) -> Response:
    """Start adding an authenticator app: the QR code and the secret, and the confirm form."""
    web = render.webapp_of(request)
    try:
        await _checked_body(request)
        found = await run_in_threadpool(totp_actions.begin_totp, web, _call(request))
    except Failure as failure:
        return _back(failure)
    except BackendError as exc:
        return _back(from_backend(exc))
    return _setup_page(request, found)


@router.post("/dashboard/totp/confirm")
async def totp_confirm(request: Request) -> Response:
    """Confirm with the app's first code: the recovery codes, shown this once. A wrong code
    shows the same setup again (the app has it already)."""
    web = render.webapp_of(request)
    try:
        body = await _checked_body(request)
        found = await run_in_threadpool(totp_actions.opened_setup, web, _call(request), body)
    except Failure as failure:
        return _back(failure)
    except BackendError as exc:
        return _back(from_backend(exc))
    try:
        done = await run_in_threadpool(totp_actions.confirm_totp, web, found, body)
    except Failure as failure:
        if failure.redirect:
            return _back(failure)
        return _setup_page(request, found, failure)
    return _codes_page(request, done, confirmed=True)


@router.get("/dashboard/recovery-codes")
def confirm_recovery_codes(request: Request) -> Response:
    """Confirm before regenerating recovery codes (the old ones stop working)."""
    web = render.webapp_of(request)
    signed = identity.signed_in(web, _call(request))
    membership = identity.membership_of(web, signed)
    if not mfa_status(membership.organization, membership.member).totp:
        return render.redirect("/dashboard", signed.cookie_ops)
    return render.page(
        request,
        "confirm_recovery_codes.html",
        cookie_ops=signed.cookie_ops,
        organization=organization_json(membership.organization),
    )


@router.post("/dashboard/recovery-codes")
async def rotate_recovery_codes(request: Request) -> Response:
    """A new set of recovery codes, shown this once."""
    web = render.webapp_of(request)
    try:
        await _checked_body(request)
        done = await run_in_threadpool(totp_actions.rotate_recovery_codes, web, _call(request))
    except Failure as failure:
        return _back(failure)
    except BackendError as exc:
        return _back(from_backend(exc))
    return _codes_page(request, done, confirmed=False)


@router.get("/assets/{name}")
def asset(request: Request, name: str) -> Response:
    if name not in render.ASSETS:
        return not_found_page(request)
    return render.asset(name)
