"""Operator sign-in: the one seam between the console and Antechamber's own login flows.

Operators sign in the way every member signs in, in the operators organization (MFA
REQUIRED_FOR_ALL), through the same domain functions the Stytch API uses:

1. `send_sign_in_link`: a discovery magic link in the operators project, to
   `{public_base_url}/admin/signin/callback`, with a PKCE challenge derived from this browser's
   pre-session, so the link works only in the browser that asked. Only operators get a link,
   but the page answers the same for anyone (no enumeration).
2. `start_second_factor` (the callback, after a click on an interstitial page, so a mail
   scanner's GET redeems nothing): redeems the link, exchanges the IST into the operators
   organization (always MFA-pending) and texts a code to the operator's enrolled phone. The
   IST is kept in a cookie sealed with the server key and bound to the pre-session (never in
   a URL or a page), for its own 10 minutes.
3. `finish_with_code`: authenticates the code with the IST and, in the same transaction,
   opens the console session with `open_console_session`, the only way one is made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from antechamber import crypto, db, tokens
from antechamber.admin.security import (
    CONSOLE_PATH,
    pre_session_cookie_name,
    set_session_cookie,
)
from antechamber.clock import Clock
from antechamber.discovery import service as discovery
from antechamber.emails import canonical_email
from antechamber.errors import AntechamberError
from antechamber.ids import environment_of
from antechamber.magic_links import service as magic_links
from antechamber.members import service as members
from antechamber.operators import service as operators
from antechamber.operators import sessions
from antechamber.operators.service import Home
from antechamber.operators.sessions import IssuedConsoleSession
from antechamber.otp import flows as otp_flows
from antechamber.phones import masked
from antechamber.redirects import service as redirects
from antechamber.scope import Scope
from antechamber.services import Services
from antechamber.settings import Settings


class SignInUnavailable(AntechamberError):
    status_code = 503
    error_type = "console_sign_in_unavailable"
    default_message = "Operator sign-in is not available."


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


CALLBACK_PATH = CONSOLE_PATH + "/signin/callback"
LINK_MINUTES = 15
_IST_PURPOSE = "console-signin-ist"


@dataclass(frozen=True)
class PendingSignIn:
    """Between the link and the code: the IST (sealed in a cookie) and whose it is."""

    intermediate_session_token: str
    member_id: str
    masked_phone: str


def _home(services: Services) -> Home:
    with db.transaction(services.sessions) as session:
        home = operators.find_home(session)
    if home is None:
        raise SignInUnavailable(
            "No operator exists yet. Someone with the server's command line runs: "
            "antechamber operators add EMAIL --phone +E164"
        )
    return home


@contextmanager
def _operators_scope(services: Services, home: Home) -> Iterator[Scope]:
    with services.scope(home.project_id, environment_of(home.project_id), "console-signin") as s:
        yield s


def _verifier(settings: Settings, pre_session: str) -> str:
    return tokens.keyed_digest(settings.key_bytes(), pre_session, "console-pkce")


def send_sign_in_link(services: Services, request: Request, email: str, pre_session: str) -> None:
    """Step 1: email a sign-in link if `email` is an operator; silently nothing otherwise."""
    home = _home(services)
    address = canonical_email(email)
    callback = services.settings.public_base_url + CALLBACK_PATH
    with _operators_scope(services, home) as scope:
        known = [
            m
            for m in members.members_with_email(scope, address)
            if m.organization_id == home.organization.id and m.status == "active"
        ]
        if not known:
            return
        registered = {r.url for r in redirects.list_redirect_urls(scope, kind="discovery")}
        if callback not in registered:
            redirects.add_redirect_url(scope, callback, kind="discovery")
        magic_links.send_discovery(
            scope,
            email_address=address,
            discovery_redirect_url=callback,
            discovery_expiration_minutes=LINK_MINUTES,
            pkce_code_challenge=magic_links.pkce_challenge(
                _verifier(services.settings, pre_session)
            ),
        )


def start_second_factor(services: Services, token: str, pre_session: str) -> PendingSignIn:
    """Step 2: redeem the link (in this browser only), enter the operators organization and
    text the code. Raises the domain's errors (used or expired link, not an operator …)."""
    home = _home(services)
    with _operators_scope(services, home) as scope:
        login = discovery.authenticate_magic_link(
            scope, token, pkce_code_verifier=_verifier(services.settings, pre_session)
        )
        result = discovery.exchange(scope, login.intermediate_session_token, home.organization.id)
        ist = result.intermediate_session_token
        if result.member_authenticated or not ist:
            # The operators organization requires MFA of everyone; a session here means its
            # policy was changed by hand. Refuse rather than admit on one factor.
            raise SignInUnavailable("The operators organization must require MFA.")
        if result.secondary_auth_initiated != "sms_otp":
            otp_flows.send_sms_otp(
                scope,
                organization_id=home.organization.id,
                member_id=result.member.id,
                mfa_phone_number=result.member.mfa_phone_number or None,
                intermediate_session_token=ist,
            )
        return PendingSignIn(ist, result.member.id, masked(result.member.mfa_phone_number))


def finish_with_code(
    services: Services, pending: PendingSignIn, code: str, *, user_agent: str, ip_address: str
) -> IssuedConsoleSession:
    """Step 3: the code, then the console session, in one transaction."""
    home = _home(services)
    with _operators_scope(services, home) as scope:
        otp_flows.authenticate_sms_otp(
            scope,
            organization_id=home.organization.id,
            member_id=pending.member_id,
            code=code,
            intermediate_session_token=pending.intermediate_session_token,
        )
        return open_console_session(
            scope.db,
            member_id=pending.member_id,
            mfa_method="sms_otp",
            clock=services.clock,
            settings=services.settings,
            user_agent=user_agent,
            ip_address=ip_address,
        )


def seal_pending(settings: Settings, pre_session: str, pending: PendingSignIn) -> str:
    payload = json.dumps(
        [pending.intermediate_session_token, pending.member_id, pending.masked_phone]
    ).encode()
    return crypto.seal(settings.key_bytes(), f"{_IST_PURPOSE}:{pre_session}", payload)


def open_pending(settings: Settings, pre_session: str, sealed: str) -> PendingSignIn | None:
    """The pending sign-in of this browser, or None (absent, tampered with, other browser)."""
    if not sealed:
        return None
    try:
        raw = crypto.unseal(settings.key_bytes(), f"{_IST_PURPOSE}:{pre_session}", sealed)
        ist, member_id, masked_phone = json.loads(raw)
    except (crypto.Unsealable, ValueError, TypeError):
        return None
    return PendingSignIn(str(ist), str(member_id), str(masked_phone))
