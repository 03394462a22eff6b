"""The pages a person uses: sign in, check your email, the callback, discovery, the SMS step,
the dashboard (and its MFA confirmation), and the not-found page.

Server-rendered from the same actions and cookies as the JSON API; forms post to `/api/*` and
work without JavaScript, which only adds inline messages, busy buttons and the resend
countdown (`static/app.js`). Failures of a page send the person where they can go on (the
sign-in page with the reason, mostly) or render a page that says what happened.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from antechamber.organizations.domains import is_common
from antechamber.webapp import actions, cookies, render
from antechamber.webapp.actions import Call
from antechamber.webapp.backend import BackendError
from antechamber.webapp.errors import MESSAGES, NOTICES, Failure, from_backend, message_of
from antechamber.webapp.routing import WebappRoute
from antechamber.webapp.security import client_address
from antechamber.webapp.sessions import JwtExpired, JwtInvalid
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


def failure_page(request: Request, failure: Failure) -> Response:
    if failure.redirect:
        return render.redirect(failure.redirect, failure.cookie_ops)
    return render.page(
        request,
        "error.html",
        status_code=failure.status,
        cookie_ops=failure.cookie_ops,
        title=_title(failure.status),
        message=failure.text,
    )


def not_found_page(request: Request, status_code: int = 404) -> Response:
    code = "not_found" if status_code == 404 else "method_not_allowed"
    return render.page(
        request,
        "error.html",
        status_code=status_code,
        title="Page not found" if status_code == 404 else "Not allowed",
        message=message_of(code),
    )


def _title(status: int) -> str:
    if status in (401, 403, 423):
        return "You can't do that right now"
    if status == 404:
        return "Not found"
    if status == 429:
        return "Slow down a little"
    if status >= 500:
        return "Something went wrong"
    return "That didn't work"


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
    if kind != "discovery":
        problem = "unsupported_link"
    elif not token or len(token) > actions.MAX_TOKEN_LENGTH:
        problem = "link_invalid"
    return render.page(
        request,
        "callback.html",
        status_code=400 if problem else 200,
        referrer_policy="no-referrer",
        token=token if problem is None else "",
        problem=message_of(problem) if problem else None,
    )


@router.get("/discovery")
def discovery(request: Request) -> Response:
    web = render.webapp_of(request)
    login = actions.login_in_progress(web, _call(request))
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
        min_name=actions.MIN_ORG_NAME,
        max_name=actions.MAX_ORG_NAME,
        **_notes(request),
    )


def _joinable_domain(email: str) -> str | None:
    """The domain colleagues could join a new organization by (None for webmail)."""
    domain = email.rpartition("@")[2].lower()
    return None if not domain or is_common(domain) else domain


@router.get("/smsmfa")
def sms(request: Request) -> Response:
    web = render.webapp_of(request)
    login = actions.login_in_progress(web, _call(request), waiting_for_mfa=True)
    change = request.query_params.get("change") == "1" and not login.phone_verified
    mode = "code" if login.sent_at and not change else "phone"
    return render.page(
        request,
        "smsmfa.html",
        login=login,
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
    signed = actions.signed_in(web, _call(request))
    membership = actions.membership_of(web, signed)
    org = organization_json(membership.organization)
    return render.page(
        request,
        "dashboard.html",
        cookie_ops=signed.cookie_ops,
        organization=org,
        member=member_json(membership.member),
        status=mfa_status(membership.organization, membership.member),
        **_notes(request),
    )


@router.get("/dashboard/mfa")
def confirm_mfa(request: Request) -> Response:
    """Confirm before opting in or out (no script needed)."""
    web = render.webapp_of(request)
    opt_in = request.query_params.get("optIn") == "true"
    signed = actions.signed_in(web, _call(request))
    membership = actions.membership_of(web, signed)
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


@router.get("/assets/{name}")
def asset(request: Request, name: str) -> Response:
    if name not in render.ASSETS:
        return not_found_page(request)
    return render.asset(name)
