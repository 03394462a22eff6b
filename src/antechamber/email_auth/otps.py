"""Email one-time codes as a primary factor: organization login, and discovery.

    login_or_signup(org, email) ──▶ code in the outbox (member created `pending` where JIT
                                    allows it)
    authenticate(org, email, code) ──▶ the member becomes `active`; a session or the MFA step
    discovery_send(email)          ──▶ code in the outbox (nothing looked up)
    discovery_authenticate(email, code) ──▶ IST + discovered organizations

Contract:
- Six digits from `secrets`; only HMAC(server key, project + address + code) is stored
  (`EmailOtp`), the plaintext goes to the outbox sealed. One live code per address and
  project: a new send replaces it, whatever it was for. A code is for one destination: the
  organization it was sent for, or discovery.
- A code lives `email_otp_lifetime_minutes` (default 10) unless the request asks for 2 to 15.
- A correct, live code is accepted once, even under concurrent requests: one conditional
  DELETE removes the row and only one caller can. A malformed code (not exactly six digits;
  `re.fullmatch`, so a trailing newline is malformed) is `invalid_code` and counts nothing.
  A wrong guess counts against the code (dead after `otp_max_attempts_per_code`, the SMS
  limit) and, for an organization login, against the member's MFA lockout (the same counter
  as SMS codes); in discovery, against the client address's failure allowance. Those counts
  are committed although the request fails.
- `discovery_send` answers the same whoever owns the address: nothing is looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from antechamber import client_limits, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import as_utc
from antechamber.delivery import outbox
from antechamber.discovery import service as discovery
from antechamber.discovery.service import DiscoveryLogin
from antechamber.email_auth import errors
from antechamber.email_auth.links import (
    LinkLogin,
    Sent,
    check_auth_method,
    latest_of_each,
    member_for_login,
)
from antechamber.email_auth.models import EmailOtp
from antechamber.emails import canonical_email
from antechamber.magic_links import service as magic_links
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp.errors import InvalidCodeFormat, OtpCodeNotFound, UnableToAuthOtpCode
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import factors, intermediate, login
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor

TEMPLATE = "email_otp"
MIN_EXPIRATION_MINUTES = 2
MAX_EXPIRATION_MINUTES = 15
_CODE = re.compile(r"[0-9]{6}")
_PURPOSE = "email-otp"


@dataclass(frozen=True)
class Issued:
    code: str
    minutes: int


def login_or_signup(
    scope: Scope,
    *,
    organization_id: str,
    email_address: object,
    locale: str | None = None,
    login_expiration_minutes: int | None = None,
    signup_expiration_minutes: int | None = None,
) -> Sent:
    """Email a code for logging in to the organization (see `email_auth.links.login_or_signup`
    for who gets one: the same members and JIT rules). Refused where the organization's
    allowed auth methods leave out `email_otp`."""
    org = get_organization(scope, organization_id)
    email = canonical_email(email_address)
    check_auth_method(org, "email_otp")
    language = magic_links.locale(locale)
    login_minutes = _minutes(scope, login_expiration_minutes)
    signup_minutes = _minutes(scope, signup_expiration_minutes)
    member, created = member_for_login(scope, org, email)
    minutes = login_minutes if member.status == "active" else signup_minutes
    issued = _issue(scope, email, minutes, org=org, member=member)
    outbox.enqueue(
        scope,
        channel="email",
        recipient=email,
        template=TEMPLATE,
        context={
            "code": issued.code,
            "organization_name": org.name,
            "expiration_minutes": minutes,
        },
        locale=language,
    )
    return Sent(org, member, created)


def authenticate(
    scope: Scope,
    *,
    organization_id: str,
    email_address: object,
    code: object,
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    locale: str | None = None,
) -> LinkLogin:
    """Check an organization login code, then conclude the login as a redeemed link does
    (`email_auth.links.authenticate_link`: member `active`, session or MFA step; an IST of the
    same email joins its factors, a session of the same member too).

    The IST is looked at before the code and consumed only once the code is right, so a wrong
    code burns no IST. Raises `invalid_code` (400, not counted), `otp_code_not_found` (404, a
    wrong guess, counted), `unable_to_auth_otp_code` (401: used, replaced, expired, dead, or
    for another destination), `member_locked`, and the IST's errors.
    """
    if session_token and session_jwt:
        raise session_errors.TooManySessionArguments()
    sessions.duration(session_duration_minutes)
    text = _checked_code(code)
    org = get_organization(scope, organization_id)
    email = canonical_email(email_address)
    member = scope.db.scalar(
        select(Member).where(Member.organization_id == org.id, Member.email_address == email)
    )
    if intermediate_session_token:
        ist = intermediate.peek(scope, intermediate_session_token)
        if member is None or ist.email_address != email:
            raise session_errors.InvalidIntermediateSessionForOrganization()
        intermediate.check_binding(ist, org.id, member.id)
    if member is None:
        raise UnableToAuthOtpCode()  # nobody here was sent a code
    _verify(scope, email, text, org=org, member=member)
    login_factors: list[Factor] = []
    claimed = None
    if intermediate_session_token:
        claimed = intermediate.claim(scope, intermediate_session_token)
        login_factors += claimed.factors
    if session_token or session_jwt:
        current, current_member, _ = sessions.resolve(
            scope, session_token=session_token, session_jwt=session_jwt
        )
        if current_member.id == member.id:
            login_factors += current.factors
    if member.status != "active":
        members.set_status(scope, member, "active")
    login_factors.append(
        factors.email_otp(scope.environment, scope.project_id, email, scope.clock.now())
    )
    result = login.conclude(
        scope,
        org,
        member,
        latest_of_each(login_factors),
        ist=(claimed, str(intermediate_session_token)) if claimed is not None else None,
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
        locale=locale,
    )
    method_id = factors.email_id(scope.environment, scope.project_id, email)
    return LinkLogin(result, method_id)


def discovery_send(
    scope: Scope,
    *,
    email_address: object,
    locale: str | None = None,
    discovery_expiration_minutes: int | None = None,
) -> None:
    """Email a discovery code to `email_address`. Nothing is looked up, so the answer is the
    same for every address; counted per client address as discovery links are."""
    email = canonical_email(email_address)
    language = magic_links.locale(locale)
    minutes = _minutes(scope, discovery_expiration_minutes)
    client_limits.count_discovery_send(scope)
    issued = _issue(scope, email, minutes, org=None, member=None)
    outbox.enqueue(
        scope,
        channel="email",
        recipient=email,
        template=TEMPLATE,
        context={"code": issued.code, "organization_name": "", "expiration_minutes": minutes},
        locale=language,
    )


def discovery_authenticate(scope: Scope, *, email_address: object, code: object) -> DiscoveryLogin:
    """Check a discovery code (single use) for a new IST and the discovered organizations.

    Wrong guesses count against the code and the client address's failure allowance."""
    text = _checked_code(code)
    email = canonical_email(email_address)
    with client_limits.failures_counted(scope, OtpCodeNotFound, UnableToAuthOtpCode):
        _verify(scope, email, text, org=None, member=None)
    proof = [factors.email_otp(scope.environment, scope.project_id, email, scope.clock.now())]
    row, ist_token = intermediate.issue(scope, email=email, factors=proof)
    return DiscoveryLogin(
        email_address=email,
        intermediate_session_token=ist_token,
        intermediate_session_expires_at=row.expires_at,
        discovered_organizations=discovery.discovered_organizations(
            scope, email, proof, eligible=True
        ),
    )


def _minutes(scope: Scope, value: int | None) -> int:
    if value is None:
        return scope.settings.email_otp_lifetime_minutes
    if isinstance(value, bool) or not MIN_EXPIRATION_MINUTES <= value <= MAX_EXPIRATION_MINUTES:
        raise errors.InvalidOtpExpiration()
    return value


def _checked_code(code: object) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidCodeFormat()
    return code


def _digest(scope: Scope, email: str, code: str) -> str:
    return tokens.keyed_digest(
        scope.settings.key_bytes(), f"{scope.project_id}:{email}:{code}", _PURPOSE
    )


def _issue(
    scope: Scope,
    email: str,
    minutes: int,
    *,
    org: Organization | None,
    member: Member | None,
) -> Issued:
    """A new code for the address; its earlier code (for whatever destination) dies."""
    now = scope.clock.now()
    code = tokens.new_numeric_code(6)
    scope.db.execute(
        delete(EmailOtp).where(
            EmailOtp.project_id == scope.project_id, EmailOtp.email_address == email
        )
    )
    scope.db.add(
        EmailOtp(
            project_id=scope.project_id,
            email_address=email,
            organization_id=org.id if org else None,
            member_id=member.id if member else None,
            code_digest=_digest(scope, email, code),
            attempts=0,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    audit.record(
        scope,
        EventType.EMAIL_OTP_SENT,
        organization_id=org.id if org else None,
        member_id=member.id if member else None,
        email=email,
        expiration_minutes=minutes,
    )
    scope.db.flush()
    return Issued(code, minutes)


def _verify(
    scope: Scope, email: str, code: str, *, org: Organization | None, member: Member | None
) -> None:
    """Consume the address's live code for this destination if `code` is it; else count the
    guess and raise (see the module docstring)."""
    if member is not None:
        lockout.ensure_not_locked(scope, member)
    now = scope.clock.now()
    limit = scope.settings.otp_max_attempts_per_code
    org_id = org.id if org is not None else None
    same_destination = (
        EmailOtp.organization_id.is_(None) if org_id is None else EmailOtp.organization_id == org_id
    )
    mine = (EmailOtp.project_id == scope.project_id, EmailOtp.email_address == email)
    used = scope.db.execute(
        delete(EmailOtp)
        .where(
            *mine,
            same_destination,
            EmailOtp.code_digest == _digest(scope, email, code),
            EmailOtp.attempts < limit,
            EmailOtp.expires_at > now,
        )
        .returning(EmailOtp.email_address)
    ).scalar_one_or_none()
    if used is not None:
        if member is not None:
            lockout.reset(scope, member)
        audit.record(
            scope,
            EventType.EMAIL_OTP_AUTHENTICATED,
            organization_id=org_id,
            member_id=member.id if member else None,
            email=email,
        )
        return
    live = scope.db.execute(
        select(EmailOtp.expires_at).where(*mine, same_destination)
    ).scalar_one_or_none()
    if live is None or as_utc(live) <= now:
        # Used, replaced, dead, expired, never sent or sent for elsewhere: all look the same.
        raise UnableToAuthOtpCode()
    attempts = scope.db.execute(
        update(EmailOtp)
        .where(*mine, same_destination, EmailOtp.attempts < limit)
        .values(attempts=EmailOtp.attempts + 1)
        .returning(EmailOtp.attempts)
    ).scalar_one_or_none()
    if attempts is None:
        raise UnableToAuthOtpCode()  # a concurrent guess used the last attempt
    dead = attempts >= limit
    if dead:
        scope.db.execute(delete(EmailOtp).where(*mine))
    locked = lockout.record_failure(scope, member) if member is not None else False
    audit.record(
        scope,
        EventType.EMAIL_OTP_FAILED,
        organization_id=org_id,
        member_id=member.id if member else None,
        code_dead=dead,
        locked=locked,
    )
    raise OtpCodeNotFound(keep_changes=True)
