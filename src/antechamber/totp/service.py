"""TOTP registrations: create, authenticate, delete.

The API face (`api/routes/totps.py`) calls these; the reference app and the admin console
should too. Recovery codes (recover, rotate, get) are `recovery`'s; the registration row and
its sealed secret `registrations`'; what authenticate and recover share (the arguments'
checks, a wrong code counted, the login concluded or the session stepped up) `attempts`'.
Rules (docs/mfa.md has them for readers):

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

Delete (`delete_member_totp`): an administrator's reset of a lost app; audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, update

from antechamber import crypto, db
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import rfc3339
from antechamber.ids import new_id
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp import errors as otp_errors
from antechamber.otp import flows
from antechamber.otp.flows import (
    apply_enrollment,
    at_most_one,
    method_allowed,
    resolve_caller,
)
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import factors
from antechamber.sessions.login import AuthResult
from antechamber.totp import attempts, codes, errors, registrations
from antechamber.totp.models import TotpRegistration
from antechamber.totp.recovery import new_recovery_codes

DEFAULT_EXPIRATION_MINUTES = 60
MIN_EXPIRATION_MINUTES = 5
MAX_EXPIRATION_MINUTES = 1440

# The authenticate path's statements, built once and run on the unit of work's connection.
_regs = cast(Table, TotpRegistration.__table__)
_members = cast(Table, Member.__table__)
#: Authenticate's one read (`flows.second_factor_rows`): organization, member, the live IST
#: passed along and the member's registration (`registrations.USABLE_COLUMNS`, None if there
#: is none).
_AUTHENTICATE_READ = flows.SECOND_FACTOR_READ.add_columns(*registrations.USABLE_COLUMNS).outerjoin(
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
            f"Give one of {flows.CREDENTIALS}: the member's own login or session."
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
    existing = registrations.registration_of(scope, member)
    if existing is not None and existing.status == "active":
        raise errors.ActiveTotpExists()
    if member.mfa_phone_number_verified and not (
        caller.session is not None and factors.has_mfa(caller.session.factors)
    ):
        raise errors.TotpEnrollmentRequiresMfa()

    now = scope.clock.now()
    if existing is not None:
        registrations.delete_registration(scope, existing)
    registration_id = new_id("member-totp", scope.environment)
    secret = codes.new_secret()
    registration = TotpRegistration(
        id=registration_id,
        project_id=scope.project_id,
        organization_id=org.id,
        member_id=member.id,
        secret_sealed=crypto.seal(
            scope.settings.key_bytes(),
            registrations.secret_purpose(registration_id),
            secret.encode(),
        ),
        status="pending",
        last_used_step=-1,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        activated_at=None,
    )
    scope.db.add(registration)
    scope.db.flush()
    recovery = new_recovery_codes(scope, registration)
    audit.record(
        scope,
        EventType.MFA_TOTP_CREATED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=registration_id,
        replaced_pending=existing.id if existing is not None else None,
        via=flows.via(caller),
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
    flows.check_session_arguments(
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
        registration = registrations.usable(scope, (*found.extra, member.lock_expires_at))
    else:
        registration = registrations.usable_registration(scope, member)
    lockout.refuse_if_locked(registration.lock_expires_at, now)

    secret = registrations.secret(scope, registration.id, registration.secret_sealed)
    step = codes.matching_step(secret, code, now)
    if step is None:
        attempts.failed(scope, member, EventType.MFA_TOTP_FAILED, "totp", registration.id)
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
    result = flows.finish(
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
    attempts.count(scope, "totp", "success")
    audit.record(
        scope,
        EventType.MFA_TOTP_AUTHENTICATED,
        organization_id=org.id,
        member_id=member.id,
        totp_registration_id=claimed,
        activated_now=activated,
        via=flows.via(caller),
        member_session_id=result.session.id if result.session is not None else None,
        mfa_enrollment=enrollment,
        default_mfa_method=member.default_mfa_method,
    )
    scope.db.flush()
    return result


def delete_member_totp(
    scope: Scope, organization_id: str, member_id: str
) -> tuple[Organization, Member]:
    """Remove the member's TOTP registration (pending or active) and its recovery codes; an
    administrator's reset of a lost authenticator app. Clears `totp_registration_id` and a
    `totp` default MFA method; `mfa_enrolled` and sessions already started stay. Audited
    (`member.totp_reset`). A member without a registration is `totp_not_found`."""
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    registration = registrations.registration_of(scope, member)
    if registration is None:
        raise errors.TotpNotFound("The member has no TOTP registration.")
    registrations.delete_registration(scope, registration)
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
