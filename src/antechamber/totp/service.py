"""TOTP registrations and recovery codes: create, authenticate, recover, rotate, delete.

The API face (`api/routes/totps.py`) calls these; the reference app and the admin console
should too. Rules (docs/mfa.md has them for readers):

Create (`create_totp`). Needs the member's own IST (a login waiting for MFA here) or session;
the project's secret alone is not enough, so nobody can plant an authenticator on a member.
A member who already has an MFA factor (a verified phone) must use a session that passed MFA:
an IST proves only the mailbox, and letting it add an authenticator would let whoever holds
the mailbox skip the phone (security research §2.3, enrolment hijack). One registration per
member: an active one is refused (`active_totp_exists`), a pending one is replaced. The new one
is *pending* until its first correct code, and unusable after `expiration_minutes`.

Authenticate (`authenticate_totp`). Exactly one of IST, session token, session JWT, which must
be the member's (consumes nothing until the code is right). RFC 6238, 6 digits, 30-second steps,
one step of drift either way. A code is accepted once: the registration's `last_used_step` moves
forward by one conditional UPDATE (`… WHERE last_used_step < :step`), so of concurrent requests
with one code exactly one wins and the others get `totp_code_already_authenticated`. A wrong
code counts in the member's lock (`mfa.lockout`, shared with SMS). The first correct code makes
a pending registration active. With the IST the login concludes (`sessions.login.complete_mfa`,
which consumes it); with a session the factor is added to it (step-up).

Recover (`recover`). A recovery code of the member's *active* registration stands in for the
app, once: the code's row is deleted by one conditional DELETE. Wrong codes count in the same
lock. Answers how many codes remain.

Rotate (`rotate_recovery_codes`): a new set of 10; the old ones stop working. Codes are stored
as HMAC digests and shown only by create and rotate (`get_recovery_codes` refuses).

Delete (`delete_member_totp`): an administrator's reset of a lost app; audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, NoReturn, cast

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, update

from antechamber import crypto, db, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import as_utc, rfc3339
from antechamber.ids import new_id
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp import errors as otp_errors
from antechamber.otp import flows
from antechamber.otp.flows import (
    ENROLLMENT_CHOICES,
    Caller,
    apply_enrollment,
    at_most_one,
    method_allowed,
    resolve_caller,
)
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import factors, login
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor
from antechamber.sessions.login import AuthResult
from antechamber.totp import codes, errors
from antechamber.totp.models import TotpRecoveryCode, TotpRegistration

DEFAULT_EXPIRATION_MINUTES = 60
MIN_EXPIRATION_MINUTES = 5
MAX_EXPIRATION_MINUTES = 1440
_SECRET_PURPOSE = "totp-secret"  # noqa: S105 (a key-derivation label)
_RECOVERY_PURPOSE = "totp-recovery-code"
_CREDENTIALS = "intermediate_session_token, session_token and session_jwt"

# The authenticate path's statements, built once and run on the unit of work's connection.
_regs = cast(Table, TotpRegistration.__table__)
_members = cast(Table, Member.__table__)
#: The member's registration (columns None if there is none) and lock, in one read.
_USABLE = (
    select(
        _regs.c.id,
        _regs.c.secret_sealed,
        _regs.c.status,
        _regs.c.expires_at,
        _members.c.lock_expires_at,
    )
    .select_from(
        _members.outerjoin(
            _regs,
            and_(_regs.c.member_id == _members.c.id, _regs.c.project_id == bindparam("b_project")),
        )
    )
    .where(_members.c.id == bindparam("b_member"))
)
_USABLE_COLUMNS = (_regs.c.id, _regs.c.secret_sealed, _regs.c.status, _regs.c.expires_at)
#: Authenticate's one read (`flows.second_factor_rows`): organization, member, the live IST
#: passed along and the member's registration (the `_USABLE_COLUMNS`, None if there is none).
_AUTHENTICATE_READ = flows.SECOND_FACTOR_READ.add_columns(*_USABLE_COLUMNS).outerjoin(
    _regs,
    and_(_regs.c.member_id == _members.c.id, _regs.c.project_id == bindparam("project_id")),
)
_NOW = bindparam("b_now", type_=_regs.c.activated_at.type)
#: A code's step is accepted once: only a step later than the last one moves the registration
#: on, so of concurrent requests with one code exactly one matches the row.
_CLAIM_STEP = (
    update(_regs)
    .where(
        _regs.c.id == bindparam("b_registration"),
        _regs.c.last_used_step < bindparam("b_step"),
        or_(
            _regs.c.status == "active",
            and_(_regs.c.status == "pending", _regs.c.expires_at > _NOW),
        ),
    )
    .values(
        last_used_step=bindparam("b_step"),
        status="active",
        expires_at=None,
        activated_at=func.coalesce(_regs.c.activated_at, _NOW),
    )
    .returning(_regs.c.id)
)


@dataclass(frozen=True)
class CreatedTotp:
    """A new pending registration. `secret`, `uri`, `qr_code` and `recovery_codes` are the
    only copies there will be in clear: show them to the member once."""

    organization: Organization
    member: Member
    registration: TotpRegistration
    secret: str
    uri: str
    qr_code: str
    recovery_codes: list[str]


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


def create_totp(
    scope: Scope,
    *,
    organization_id: str,
    member_id: str,
    expiration_minutes: int | None = None,
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
) -> CreatedTotp:
    """A pending TOTP registration for the member, with 10 recovery codes (module docstring
    for who may). Consumes nothing; a pending registration of the member is replaced."""
    minutes = _expiration(expiration_minutes)
    if not (intermediate_session_token or session_token or session_jwt):
        raise session_errors.NoSessionArguments(
            f"Give one of {_CREDENTIALS}: the member's own login or session."
        )
    at_most_one(intermediate_session_token, session_token, session_jwt)
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    method_allowed(org, "totp")
    caller = resolve_caller(
        scope, org, member, intermediate_session_token, session_token, session_jwt
    )
    if member.status != "active" and caller.ist is None:
        raise otp_errors.ActionAvailableOnlyForActiveMembers()
    existing = _registration(scope, member)
    if existing is not None and existing.status == "active":
        raise errors.ActiveTotpExists()
    if member.mfa_phone_number_verified and not (
        caller.session is not None and factors.has_mfa(caller.session.factors)
    ):
        raise errors.TotpEnrollmentRequiresMfa()

    now = scope.clock.now()
    if existing is not None:
        _delete_registration(scope, existing)
    registration_id = new_id("member-totp", scope.environment)
    secret = codes.new_secret()
    registration = TotpRegistration(
        id=registration_id,
        project_id=scope.project_id,
        organization_id=org.id,
        member_id=member.id,
        secret_sealed=crypto.seal(
            scope.settings.key_bytes(), _secret_purpose(registration_id), secret.encode()
        ),
        status="pending",
        last_used_step=-1,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        activated_at=None,
    )
    scope.db.add(registration)
    scope.db.flush()
    recovery = _new_recovery_codes(scope, registration)
    audit.record(
        scope,
        EventType.MFA_TOTP_CREATED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=registration_id,
        replaced_pending=existing.id if existing is not None else None,
        via=_via(caller),
        expires_at=rfc3339(registration.expires_at or now),
    )
    uri = codes.provisioning_uri(
        secret, account=member.email_address, issuer=scope.settings.product_name
    )
    return CreatedTotp(org, member, registration, secret, uri, codes.qr_code(uri), recovery)


def authenticate_totp(
    scope: Scope,
    *,
    organization_id: str,
    member_id: str,
    code: str,
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: dict[str, Any] | None = None,
    set_mfa_enrollment: str | None = None,
    set_default_mfa: bool | None = None,
) -> AuthResult:
    """Check a code from the member's authenticator app; finish the login (IST, consumed) or
    step up the session. Each code works once (module docstring). A wrong code is
    `unable_to_authenticate_totp` (401) and counts in the member's lock even though the request
    fails; a used one `totp_code_already_authenticated` (400, not counted)."""
    _check_session_arguments(
        intermediate_session_token,
        session_token,
        session_jwt,
        set_mfa_enrollment,
        session_duration_minutes,
        session_custom_claims,
    )
    found = flows.second_factor_rows(
        scope, organization_id, member_id, intermediate_session_token, _AUTHENTICATE_READ
    )
    org, member = found.organization, found.member
    method_allowed(org, "totp")
    caller = resolve_caller(
        scope, org, member, intermediate_session_token, session_token, session_jwt, read=found
    )
    if not codes.is_code_shaped(code):
        if codes.normalised_recovery_code(code) is not None:
            raise errors.RecoveryCodeUsedAsTotpCode()
        raise errors.InvalidTotpCode()
    now = scope.clock.now()
    if found.extra:  # read with the member: the member's lock is in its row
        registration = _usable(scope, (*found.extra, member.lock_expires_at))
    else:
        registration = _usable_registration(scope, member)
    lockout.refuse_if_locked(registration.lock_expires_at, now)

    secret = _secret(scope, registration.id, registration.secret_sealed)
    step = codes.matching_step(secret, code, now)
    if step is None:
        _failed(scope, member, EventType.MFA_TOTP_FAILED, "totp", registration.id)
        raise errors.UnableToAuthenticateTotp(keep_changes=True)
    claimed = (
        db.connection(scope.db)
        .execute(_CLAIM_STEP, {"b_registration": registration.id, "b_step": step, "b_now": now})
        .scalar_one_or_none()
    )
    if claimed is None:
        raise errors.TotpCodeAlreadyAuthenticated()
    # What the success changes in the member: written with the lockout reset, one UPDATE.
    changes: dict[str, Any] = {}
    activated = member.totp_registration_id != claimed
    if activated:
        changes.update(totp_registration_id=claimed, updated_at=now)
    if set_default_mfa:
        changes.update(default_mfa_method="totp", updated_at=now)
    enrollment = apply_enrollment(scope.db, org, member, set_mfa_enrollment, changes)
    lockout.reset(scope, member, changes)
    result = _finish(
        scope,
        caller,
        org,
        member,
        factors.totp(claimed, now),
        intermediate_session_token=intermediate_session_token,
        session_token=session_token,
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
    )
    _count(scope, "totp", "success")
    audit.record(
        scope,
        EventType.MFA_TOTP_AUTHENTICATED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=claimed,
        activated_now=activated,
        via=_via(caller),
        member_session_id=result.session.id if result.session is not None else None,
        mfa_enrollment=enrollment,
        default_mfa_method=member.default_mfa_method,
    )
    scope.db.flush()
    return result


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
    _check_session_arguments(
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
    registration = _active_registration(scope, member)
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
        _failed(scope, member, EventType.MFA_RECOVERY_CODE_FAILED, "recovery_code", registration.id)
        raise errors.UnableToAuthenticateRecoveryCode(keep_changes=True)
    lockout.reset(scope, member)
    remaining = _remaining(scope, registration)
    result = _finish(
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
    _count(scope, "recovery_code", "success")
    audit.record(
        scope,
        EventType.MFA_RECOVERY_CODE_USED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=registration.id,
        totp_recovery_code_id=str(used),
        recovery_codes_remaining=remaining,
        via=_via(caller),
        member_session_id=result.session.id if result.session is not None else None,
    )
    scope.db.flush()
    return Recovered(result, remaining)


def rotate_recovery_codes(scope: Scope, *, organization_id: str, member_id: str) -> RecoveryCodes:
    """A new set of 10 recovery codes for the member's active registration; every earlier code
    stops working. The codes are returned once (only their digests are kept)."""
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    registration = _active_registration(scope, member)
    scope.db.execute(
        delete(TotpRecoveryCode).where(TotpRecoveryCode.registration_id == registration.id)
    )
    fresh = _new_recovery_codes(scope, registration)
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


def delete_member_totp(
    scope: Scope, organization_id: str, member_id: str
) -> tuple[Organization, Member]:
    """Remove the member's TOTP registration (pending or active) and its recovery codes; an
    administrator's reset of a lost authenticator app. Clears `totp_registration_id` and a
    `totp` default MFA method; `mfa_enrolled` and sessions already started stay. Audited
    (`member.totp_reset`). A member without a registration is `totp_not_found`."""
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    registration = _registration(scope, member)
    if registration is None:
        raise errors.TotpNotFound("The member has no TOTP registration.")
    _delete_registration(scope, registration)
    member.totp_registration_id = ""
    if member.default_mfa_method == "totp":
        member.default_mfa_method = ""
    member.updated_at = scope.clock.now()
    audit.record(
        scope,
        EventType.MEMBER_TOTP_RESET,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=registration.id,
        status=registration.status,
    )
    scope.db.flush()
    return org, member


# --- helpers ---------------------------------------------------------------------------------


def _expiration(value: int | None) -> int:
    if value is None:
        return DEFAULT_EXPIRATION_MINUTES
    if isinstance(value, bool) or not MIN_EXPIRATION_MINUTES <= value <= MAX_EXPIRATION_MINUTES:
        raise errors.InvalidTotpExpiration()
    return value


def _check_session_arguments(
    intermediate_session_token: str | None,
    session_token: str | None,
    session_jwt: str | None,
    set_mfa_enrollment: str | None,
    session_duration_minutes: int | None,
    session_custom_claims: dict[str, Any] | None,
) -> None:
    """The checks that need no database, so a bad request changes nothing and counts nothing."""
    if not (intermediate_session_token or session_token or session_jwt):
        raise session_errors.NoSessionArguments(f"Give one of {_CREDENTIALS}.")
    at_most_one(intermediate_session_token, session_token, session_jwt)
    if set_mfa_enrollment not in (None, "", *ENROLLMENT_CHOICES):
        raise otp_errors.InvalidMfaEnrollment()
    sessions.duration(session_duration_minutes)
    if session_custom_claims is not None:
        sessions.merged_claims({}, session_custom_claims)


def _registration(scope: Scope, member: Member) -> TotpRegistration | None:
    return scope.db.scalar(
        select(TotpRegistration).where(
            TotpRegistration.member_id == member.id,
            TotpRegistration.project_id == scope.project_id,
        )
    )


def _usable_registration(scope: Scope, member: Member) -> Usable:
    """The member's active registration, or a pending one that has not expired (`id`,
    `secret_sealed`, `status`, `expires_at`), with the member's `lock_expires_at`: one read."""
    found = (
        db.connection(scope.db)
        .execute(_USABLE, {"b_member": member.id, "b_project": scope.project_id})
        .one_or_none()
    )
    return _usable(scope, None if found is None else tuple(found))


class Usable(NamedTuple):
    """The member's usable registration and lock, as `_usable_registration` reads them."""

    id: str
    secret_sealed: str
    status: str
    expires_at: datetime | None
    lock_expires_at: datetime | None


def _usable(scope: Scope, values: tuple[Any, ...] | None) -> Usable:
    """`values` (`_USABLE`'s columns; `id` None: no registration) as `Usable`, or `TotpNotFound`
    unless the registration is active, or pending and not expired."""
    if values is None or values[0] is None:
        raise errors.TotpNotFound()
    registration = Usable(*values)
    if registration.status == "pending":
        expires = registration.expires_at
        if expires is None or as_utc(expires) <= scope.clock.now():
            raise errors.TotpNotFound(
                "The member's TOTP registration was never confirmed and has expired; create "
                "a new one."
            )
    return registration


def _active_registration(scope: Scope, member: Member) -> TotpRegistration:
    registration = _registration(scope, member)
    if registration is None or registration.status != "active":
        raise errors.NoActiveRecoveryCodeBackedFactor()
    return registration


def _delete_registration(scope: Scope, registration: TotpRegistration) -> None:
    scope.db.execute(
        delete(TotpRecoveryCode).where(TotpRecoveryCode.registration_id == registration.id)
    )
    scope.db.execute(delete(TotpRegistration).where(TotpRegistration.id == registration.id))
    scope.db.expunge(registration)


def _secret_purpose(registration_id: str) -> str:
    # Bound to the row: a sealed seed copied onto another registration does not open.
    return f"{_SECRET_PURPOSE}:{registration_id}"


def _secret(scope: Scope, registration_id: str, sealed: str) -> str:
    return crypto.unseal(
        scope.settings.key_bytes(), _secret_purpose(registration_id), sealed
    ).decode()


def _recovery_digest(scope: Scope, registration: TotpRegistration, normalised: str) -> str:
    return tokens.keyed_digest(
        scope.settings.key_bytes(), f"{registration.id}:{normalised}", _RECOVERY_PURPOSE
    )


def _new_recovery_codes(scope: Scope, registration: TotpRegistration) -> list[str]:
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


def _failed(
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
    _count(scope, method, "failure")


def _finish(
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


def _via(caller: Caller) -> str:
    return "session" if caller.session is not None else "intermediate_session"


def _count(scope: Scope, method: str, outcome: str) -> None:
    if scope.metrics is not None:
        scope.metrics.count_mfa(method, outcome)
