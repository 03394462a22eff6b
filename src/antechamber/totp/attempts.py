"""What a TOTP and a recovery-code attempt share (`service.authenticate_totp`, `recovery.recover`).

- `check_session_arguments`: the checks that need no database, made first, so a bad request
  changes nothing and counts nothing; exactly one of IST, session token, session JWT.
- `failed`: a wrong code is one failure in the member's lock (`mfa.lockout`, shared with SMS),
  audited and counted; the caller raises with `keep_changes=True` so both are committed.
- `finish`: with the IST the login concludes (`sessions.login.complete_mfa`, which consumes
  it); with a session the factor is added to it (step-up).
- `via`, `count`: how the audit trail names the caller, and the MFA metric.
"""

from __future__ import annotations

from typing import Any

from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.organizations.models import Organization
from antechamber.otp import errors as otp_errors
from antechamber.otp.flows import ENROLLMENT_CHOICES, Caller, at_most_one
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import login
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor
from antechamber.sessions.login import AuthResult

CREDENTIALS = "intermediate_session_token, session_token and session_jwt"


def check_session_arguments(
    intermediate_session_token: str | None,
    session_token: str | None,
    session_jwt: str | None,
    set_mfa_enrollment: str | None,
    session_duration_minutes: int | None,
    session_custom_claims: dict[str, Any] | None,
) -> None:
    """The checks that need no database, so a bad request changes nothing and counts nothing."""
    if not (intermediate_session_token or session_token or session_jwt):
        raise session_errors.NoSessionArguments(f"Give one of {CREDENTIALS}.")
    at_most_one(intermediate_session_token, session_token, session_jwt)
    if set_mfa_enrollment not in (None, "", *ENROLLMENT_CHOICES):
        raise otp_errors.InvalidMfaEnrollment()
    sessions.duration(session_duration_minutes)
    if session_custom_claims is not None:
        sessions.merged_claims({}, session_custom_claims)


def failed(
    scope: Scope,
    member: Member,
    event: EventType,
    method: str,
    registration_id: str,
) -> None:
    """A wrong code: one failure in the member's lock (shared with SMS), audited. The caller
    raises with `keep_changes=True`, so both are committed although the request fails."""
    locked = lockout.record_failure(scope, member)
    audit.record(
        scope,
        event,
        organization_id=member.organization_id,
        member_id=member.id,
        totp_registration_id=registration_id,
        locked=locked,
    )
    count(scope, method, "failure")


def finish(
    scope: Scope,
    caller: Caller,
    org: Organization,
    member: Member,
    factor: Factor,
    *,
    intermediate_session_token: str | None,
    session_token: str | None,
    session_duration_minutes: int | None,
    session_custom_claims: dict[str, Any] | None,
) -> AuthResult:
    """With the IST: conclude the login (consumes it). With a session: step it up."""
    if caller.session is None:
        return login.complete_mfa(
            scope,
            intermediate_session_token or "",
            org,
            member,
            factor,
            session_duration_minutes=session_duration_minutes,
            session_custom_claims=session_custom_claims,
        )
    jwt = sessions.add_factor(
        scope,
        caller.session,
        member,
        org,
        factor,
        duration_minutes=session_duration_minutes,
        custom_claims=session_custom_claims,
    )
    return AuthResult(
        organization=org,
        member=member,
        session=caller.session,
        session_token=session_token or "",
        session_jwt=jwt,
    )


def via(caller: Caller) -> str:
    return "session" if caller.session is not None else "intermediate_session"


def count(scope: Scope, method: str, outcome: str) -> None:
    if scope.metrics is not None:
        scope.metrics.count_mfa(method, outcome)
