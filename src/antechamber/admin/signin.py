"""Operator sign-in: the one seam between the console and Antechamber's own login flows.

Operators sign in the way every member signs in, in the operators organization (MFA
REQUIRED_FOR_ALL): a discovery magic link, then an SMS code. Whatever code runs those steps
admits the operator with exactly one call, `open_console_session`, and then `admit` sets the
cookie. Nothing else creates a console session (tests use `open_console_session` too).

TODO(lead, when discovery magic links and SMS MFA are merged): wire `send_sign_in_link` and
add the two later steps, all on the pre-session this module's page already sets:

1. POST /admin/signin {email} → `send_sign_in_link`: a discovery magic link in the operators
   project (`operators.service.find_home(db).project_id`), redirecting to
   `{public_base_url}/admin/signin/callback`, with a PKCE verifier bound to the pre-session
   so the link only works in the browser that asked. Always answer "check your email"
   (no enumeration).
2. GET /admin/signin/callback?token=… → authenticate the discovery link (IST), exchange the
   IST into the operators organization (REQUIRED_FOR_ALL, so always MFA-pending), keep the
   IST server-side against the pre-session (never in a URL), send the SMS code to the
   operator's enrolled phone, and render a code form.
3. POST /admin/signin/code {code} → authenticate the code with the IST; in that same
   transaction call `open_console_session(db, member_id=…, mfa_method="sms_otp", …)`; then
   `admit(response, issued, settings)` and redirect to `security.safe_next(next)`.

Build the scopes of these steps with `client_ip` set (`client_address.client_address(peer,
X-Forwarded-For values, settings.trusted_proxies)`), so the per-address limits on sends and on
failed link/IST presentations (`client_limits`) cover console sign-ins too.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from antechamber.admin.security import (
    CONSOLE_PATH,
    pre_session_cookie_name,
    set_session_cookie,
)
from antechamber.clock import Clock
from antechamber.errors import AntechamberError
from antechamber.operators import sessions
from antechamber.operators.sessions import IssuedConsoleSession
from antechamber.services import Services
from antechamber.settings import Settings


class SignInUnavailable(AntechamberError):
    status_code = 503
    error_type = "console_sign_in_unavailable"
    default_message = (
        "Operator sign-in needs discovery magic links and SMS codes, which this build of "
        "Antechamber does not include yet. The console cannot be opened until they are."
    )


def open_console_session(
    db: Session,
    *,
    member_id: str,
    mfa_method: str,
    clock: Clock,
    settings: Settings,
    user_agent: str = "",
    ip_address: str = "",
) -> IssuedConsoleSession:
    """THE SEAM: admit an operator to the console.

    Call it only after the member proved their email (magic link) and passed the second
    factor `mfa_method` ("sms_otp" or "totp") in this sign-in, inside the transaction that
    consumed that factor. Raises `operators.errors.NotAnOperator` unless `member_id` is an
    active member of the operators organization. Always a new session, never a reused one
    (session fixation, ASVS 7.2.4); the returned token goes into the cookie and nowhere else.
    """
    return sessions.start(
        db,
        member_id=member_id,
        mfa_method=mfa_method,
        clock=clock,
        settings=settings,
        user_agent=user_agent,
        ip_address=ip_address,
    )


def admit(response: Response, issued: IssuedConsoleSession, settings: Settings) -> None:
    """Hand the new session to the browser and end the pre-session it signed in with."""
    set_session_cookie(response, issued.token, settings)
    response.delete_cookie(
        pre_session_cookie_name(settings),
        path=CONSOLE_PATH,
        secure=not settings.dev,
        httponly=True,
        samesite="lax",
    )


def send_sign_in_link(services: Services, request: Request, email: str, pre_session: str) -> None:
    """Step 1 of the sign-in (see the module docstring). Not wired yet."""
    # TODO(lead): discovery magic link in the operators project; see step 1 above.
    raise SignInUnavailable()
