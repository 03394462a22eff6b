"""TOTP recovery codes: recover, rotate, get (the API face, `api/routes/totps.py`, calls these).

Rules (docs/mfa.md has them for readers):

Recover (`recover`). A recovery code of the member's *active* registration stands in for the
app, once: the code's row is deleted by one conditional DELETE. Wrong codes count in the same
lock as TOTP and SMS codes. Answers how many codes remain.

Rotate (`rotate_recovery_codes`): a new set of 10; the old ones stop working. Codes are stored
as HMAC digests bound to their registration (`_recovery_digest`) and shown only by create
(`service.create_totp`, through `new_recovery_codes`) and rotate (`get_recovery_codes`
refuses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import delete, func, select

from antechamber import tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.ids import new_id
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp import flows
from antechamber.otp.flows import method_allowed, resolve_caller
from antechamber.scope import Scope
from antechamber.sessions import factors
from antechamber.sessions.login import AuthResult
from antechamber.totp import attempts, codes, errors, registrations
from antechamber.totp.models import TotpRecoveryCode, TotpRegistration

_RECOVERY_PURPOSE = "totp-recovery-code"


@dataclass(frozen=True)
class Recovered:
    result: AuthResult
    recovery_codes_remaining: int


@dataclass(frozen=True)
class RecoveryCodes:
    """A fresh set from rotation; `recovery_codes` are shown once."""

    organization: Organization
    member: Member
    recovery_codes: list[str]


def recover(
    scope: Scope,
    *,
    organization_id: str,
    member_id: str,
    recovery_code: str,
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: dict[str, Any] | None = None,
) -> Recovered:
    """Use one recovery code of the member's active TOTP registration as the second factor.

    The code is consumed (deleted; once, even under concurrent requests) and, with an IST, the
    IST. A wrong or used code is `unable_to_authenticate_recovery_code` (401), counted in the
    member's lock even though the request fails.
    """
    flows.check_session_arguments(
        intermediate_session_token,
        session_token,
        session_jwt,
        None,
        session_duration_minutes,
        session_custom_claims,
    )
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    method_allowed(org, "totp")
    caller = resolve_caller(
        scope, org, member, intermediate_session_token, session_token, session_jwt
    )
    if codes.is_code_shaped(recovery_code):
        raise errors.TotpCodeUsedAsRecoveryCode()
    registration = registrations.active_registration(scope, member)
    lockout.ensure_not_locked(scope, member)

    now = scope.clock.now()
    normalised = codes.normalised_recovery_code(recovery_code)
    used = None
    if normalised is not None:
        used = scope.db.execute(
            delete(TotpRecoveryCode)
            .where(
                TotpRecoveryCode.registration_id == registration.id,
                TotpRecoveryCode.code_digest == _recovery_digest(scope, registration, normalised),
            )
            .returning(TotpRecoveryCode.id)
        ).scalar_one_or_none()
    if used is None:
        attempts.failed(
            scope, member, EventType.MFA_RECOVERY_CODE_FAILED, "recovery_code", registration.id
        )
        raise errors.UnableToAuthenticateRecoveryCode(keep_changes=True)
    lockout.reset(scope, member)
    remaining = _remaining(scope, registration)
    result = flows.finish(
        scope,
        caller,
        org,
        member,
        factors.recovery_code(str(used), now),
        intermediate_session_token=intermediate_session_token,
        session_token=session_token,
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
    )
    attempts.count(scope, "recovery_code", "success")
    audit.record(
        scope,
        EventType.MFA_RECOVERY_CODE_USED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=registration.id,
        totp_recovery_code_id=str(used),
        recovery_codes_remaining=remaining,
        via=flows.via(caller),
        member_session_id=result.session.id if result.session is not None else None,
    )
    scope.db.flush()
    return Recovered(result, remaining)


def rotate_recovery_codes(scope: Scope, *, organization_id: str, member_id: str) -> RecoveryCodes:
    """A new set of 10 recovery codes for the member's active registration; every earlier code
    stops working. The codes are returned once (only their digests are kept)."""
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    registration = registrations.active_registration(scope, member)
    scope.db.execute(
        delete(TotpRecoveryCode).where(TotpRecoveryCode.registration_id == registration.id)
    )
    fresh = new_recovery_codes(scope, registration)
    audit.record(
        scope,
        EventType.MFA_RECOVERY_CODES_ROTATED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=registration.id,
        count=len(fresh),
    )
    scope.db.flush()
    return RecoveryCodes(org, member, fresh)


def get_recovery_codes(scope: Scope, *, organization_id: str, member_id: str) -> NoReturn:
    """Always refuses (`recovery_codes_not_retrievable`) for an existing member: codes are kept
    only as digests. Unknown organizations and members are still 404s."""
    org = get_organization(scope, organization_id)
    members.get_member(scope, org, member_id=member_id)
    raise errors.RecoveryCodesNotRetrievable()


def _recovery_digest(scope: Scope, registration: TotpRegistration, normalised: str) -> str:
    return tokens.keyed_digest(
        scope.settings.key_bytes(), f"{registration.id}:{normalised}", _RECOVERY_PURPOSE
    )


def new_recovery_codes(scope: Scope, registration: TotpRegistration) -> list[str]:
    now = scope.clock.now()
    fresh = codes.new_recovery_codes()
    for code in fresh:
        normalised = codes.normalised_recovery_code(code)
        assert normalised is not None  # our own format
        scope.db.add(
            TotpRecoveryCode(
                id=new_id("member-totp-recovery-code", scope.environment),
                registration_id=registration.id,
                member_id=registration.member_id,
                code_digest=_recovery_digest(scope, registration, normalised),
                created_at=now,
            )
        )
    scope.db.flush()
    return fresh


def _remaining(scope: Scope, registration: TotpRegistration) -> int:
    return int(
        scope.db.scalar(
            select(func.count())
            .select_from(TotpRecoveryCode)
            .where(TotpRecoveryCode.registration_id == registration.id)
        )
        or 0
    )
