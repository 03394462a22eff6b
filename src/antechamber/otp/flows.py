"""SMS one-time codes as the second factor: send, authenticate, and deleting a member's phone.

The API face (`api/routes/otps.py`) and the reference app's in-process backend call exactly
these. Rules (docs/mfa.md has them for readers):

Send (`send_sms_otp`). The project's secret is enough, as with Stytch; an IST or session passed
along must be live and belong to this member and organization.
- The organization must allow `sms_otp` (`operation_restricted_by_organization_mfa_methods`).
- A verified phone is the only number codes go to: the same number given again is fine, a
  different one is refused (`mfa_phone_number_mismatch`), whoever asks. Changing it is deleting
  it first (`delete_mfa_phone_number`, an administrator's act), then enrolling a new one.
- With no phone, the number given is linked, unverified, until a code sent to it is
  authenticated. An *unverified* number may be replaced only by a caller presenting the
  member's own IST or session: then a stranger holding only the member's id cannot swap in a
  number during someone else's enrolment, while the person logging in can fix a typo.
  Either way nobody can *verify* a number without the member's IST or session (authenticate
  requires one), so a number planted by someone else never becomes the member's factor.
- Pending and invited members get a code only with their login's IST (they become active
  when that login's session starts); locked members get none.
- One live code per member, limits and the resend window: `otp.dispatch`.

Authenticate (`authenticate_sms_otp`). Exactly one of IST, session token, session JWT.
- The credential is checked first and consumes nothing, then the code (`otp.sms.verify_code`:
  6 digits, single use even under concurrency, counted wrong guesses, member lockout).
- With the IST: `sessions.login.complete_mfa` consumes it and starts a session whose factors
  are the IST's plus this SMS factor. With a session: step-up, the factor is added to that
  session (`sessions.service.add_factor`; same session, fresh JWT).
- Success marks the number verified and honours `set_mfa_enrollment` (ignored when policy
  requires MFA of the member: REQUIRED_FOR_ALL or a role in `mfa_required_roles`).

What every second factor (SMS here, TOTP and recovery codes in `totp`) shares lives here too:
who is calling (`resolve_caller`, `Caller`), the checks made before any read
(`check_session_arguments`), one read of the rows (`second_factor_rows`), and concluding with
the IST or stepping up the session (`finish`, `via`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from antechamber import db, rows
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.errors import AntechamberError
from antechamber.ids import new_id
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.mfa import lockout, policy
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp import dispatch, errors, sms
from antechamber.phones import canonical_phone, masked
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import factors, intermediate, login
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor
from antechamber.sessions.login import AuthResult
from antechamber.sessions.models import IntermediateSession, MemberSession

# Stytch's SMS locales (stytch-b2b-api.md §3.8); the text falls back to English where we have
# no translation yet (delivery/locales/).
LOCALES = ("en", "es", "pt-br", "fr")
ENROLLMENT_CHOICES = ("enroll", "unenroll")
CREDENTIALS = "intermediate_session_token, session_token and session_jwt"


@dataclass(frozen=True)
class Caller:
    """What the caller proved about the member, beyond holding the project's secret."""

    ist: IntermediateSession | None = None
    session: MemberSession | None = None

    @property
    def is_member(self) -> bool:
        return self.ist is not None or self.session is not None


def send_sms_otp(
    scope: Scope,
    *,
    organization_id: str,
    member_id: str,
    mfa_phone_number: str | None = None,
    locale: str = "en",
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
) -> tuple[Organization, Member]:
    """Text the member a 6-digit code (module docstring for who may, and to which number).

    A new code replaces the member's live one, except within the resend window for the same
    number (`otp.dispatch`). Nothing is consumed. Raises on refusal; nothing is then written
    but the refusal's audit event.
    """
    language = _locale(locale)
    at_most_one(intermediate_session_token, session_token, session_jwt)
    found = second_factor_rows(scope, organization_id, member_id, intermediate_session_token)
    org, member = found.organization, found.member
    _sms_allowed(org)
    caller = resolve_caller(
        scope, org, member, intermediate_session_token, session_token, session_jwt, read=found
    )
    if member.status != "active" and caller.ist is None:
        raise errors.ActionAvailableOnlyForActiveMembers()
    lockout.ensure_not_locked(scope, member)
    phone, member = _destination(scope, org, member, mfa_phone_number, caller)
    dispatch.send_code(scope, member, phone, locale=language, automatic=False)
    scope.db.flush()
    return org, member


def authenticate_sms_otp(
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
) -> AuthResult:
    """Check the member's code and finish the login (IST) or step up the session.

    Consumes the code (once, even under concurrent requests) and, with an IST, the IST. A wrong
    code is `otp_code_not_found` (404) and counts against the code and the member's lockout
    even though the request fails; a used, replaced or expired one is `unable_to_auth_otp_code`
    (401); a locked member is `member_locked` (401). Any refusal before the code is checked
    (credential, organization, arguments) leaves everything as it was.
    """
    check_session_arguments(
        intermediate_session_token,
        session_token,
        session_jwt,
        set_mfa_enrollment,
        session_duration_minutes,
        session_custom_claims,
    )
    found = second_factor_rows(scope, organization_id, member_id, intermediate_session_token)
    org, member = found.organization, found.member
    _sms_allowed(org)
    caller = resolve_caller(
        scope, org, member, intermediate_session_token, session_token, session_jwt, read=found
    )
    if not member.mfa_phone_number:
        raise errors.MemberPhoneNumberNotFound()

    now = scope.clock.now()
    newly_verified = not member.mfa_phone_number_verified
    # What a right code changes in the member: written with the lockout reset, one UPDATE (none
    # for a returning member with a verified phone and no failures).
    verified: dict[str, Any] = {}
    if newly_verified:
        verified["mfa_phone_number_verified"] = True
    if member.phone_id is None:  # a number stored before phone ids existed
        verified["phone_id"] = new_id("phone-number", scope.environment)
    enrollment = apply_enrollment(scope.db, org, member, set_mfa_enrollment, verified)
    if verified:
        verified["updated_at"] = now
    try:
        phone = sms.verify_code(scope, member, code, also=verified)
    except AntechamberError:
        _count_mfa(scope, "failure")
        raise
    if phone != member.mfa_phone_number:
        # Cannot happen while every change of number deletes the live code; refuse if it does
        # (the error rolls the member's update back).
        raise errors.UnableToAuthOtpCode()
    assert member.phone_id is not None  # written with the code's redemption
    factor = factors.sms_otp(member.phone_id, phone, now)

    result = finish(
        scope,
        caller,
        org,
        member,
        factor,
        intermediate_session_token=intermediate_session_token,
        session_token=session_token,
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
    )
    _count_mfa(scope, "success")
    audit.record(
        scope,
        EventType.MFA_SMS_AUTHENTICATED,
        organization_id=org.id,
        member_id=member.id,
        phone_id=member.phone_id,
        phone=masked(phone),
        phone_verified_now=newly_verified,
        via=via(caller),
        member_session_id=result.session.id if result.session is not None else None,
        mfa_enrollment=enrollment,
    )
    scope.db.flush()
    return result


_ORGS = rows.Columns(Organization)
_MEMBERS = rows.Columns(Member)
_orgs = cast(Table, Organization.__table__)
_members = cast(Table, Member.__table__)
_where = (
    _orgs.c.project_id == bindparam("project_id"),
    _orgs.c.id == bindparam("organization_id"),
    _members.c.id == bindparam("member_id"),
)
# The same read, as rows for transient objects (`rows`).
_ORG_AND_MEMBER = (
    select(*_ORGS.columns, *_MEMBERS.columns)
    .select_from(_orgs.join(_members, _members.c.organization_id == _orgs.c.id))
    .where(*_where)
)
_ISTS = intermediate.ROWS
_ists = cast(Table, IntermediateSession.__table__)
#: A second factor's read (`second_factor_rows`): the organization, its member and the live
#: IST of the token passed along (columns None if there is none), one round trip. A caller may
#: join more rows of the member to it (`totp.service`), whose columns come last.
SECOND_FACTOR_READ = (
    select(*_ORGS.columns, *_MEMBERS.columns, *_ISTS.columns)
    .select_from(
        _orgs.join(_members, _members.c.organization_id == _orgs.c.id).outerjoin(
            _ists, intermediate.LIVE
        )
    )
    .where(*_where)
)


@dataclass(frozen=True)
class SecondFactorRows:
    """What `second_factor_rows` read: `ist_read` says whether `ist` is the live IST of the
    token (None: no live IST has it) or was not looked for; `extra` the joined columns."""

    organization: Organization
    member: Member
    ist: IntermediateSession | None = None
    ist_read: bool = False
    extra: tuple[Any, ...] = ()


def second_factor_rows(
    scope: Scope,
    organization_ref: str,
    member_id: str,
    intermediate_session_token: str | None,
    statement: Select[Any] = SECOND_FACTOR_READ,
) -> SecondFactorRows:
    """`organization_and_member` and, with an IST, its live row, in one round trip when the
    organization is given by id (`statement` is `SECOND_FACTOR_READ` or one built from it).
    The IST is only read: `resolve_caller` checks it, and nothing is consumed. Otherwise (an
    organization by slug or external id, or no IST) the usual reads, and `ist_read` is False."""
    if intermediate_session_token:
        params = {
            "project_id": scope.project_id,
            "organization_id": organization_ref,
            "member_id": member_id,
            "p_digest": intermediate.digest_of(intermediate_session_token),
            "p_project": scope.project_id,
            "p_now": scope.clock.now(),
        }
        row = db.connection(scope.db).execute(statement, params).first()
        if row is not None:
            n, m = len(_ORGS), len(_ORGS) + len(_MEMBERS)
            k = m + len(_ISTS)
            return SecondFactorRows(
                _ORGS.make(row[:n]),
                _MEMBERS.make(row[n:m]),
                _ISTS.make_or_none(row[m:k]),
                ist_read=True,
                extra=tuple(row[k:]),
            )
    org, member = organization_and_member(scope, organization_ref, member_id)
    return SecondFactorRows(org, member)


def organization_and_member(
    scope: Scope, organization_ref: str, member_id: str
) -> tuple[Organization, Member]:
    """The organization (by id, slug or external id, in the scope's project) and its member by
    id: `get_organization` and `members.get_member`, in one round trip when the organization
    is given by id (the SDKs' way), with the same errors otherwise.

    By id they are transient objects (`rows`: changing one writes nothing; the second-factor
    paths write the member's changes explicitly, or change the member of the unit of work:
    `_destination`)."""
    params = {
        "project_id": scope.project_id,
        "organization_id": organization_ref,
        "member_id": member_id,
    }
    row = db.connection(scope.db).execute(_ORG_AND_MEMBER, params).first()
    if row is not None:
        n = len(_ORGS)
        return _ORGS.make(row[:n]), _MEMBERS.make(row[n:])
    org = get_organization(scope, organization_ref)
    return org, members.get_member(scope, org, member_id=member_id)


def _count_mfa(scope: Scope, result: str) -> None:
    """The one place SMS second-factor outcomes are counted (`antechamber_mfa_total`)."""
    if scope.metrics is not None:
        scope.metrics.count_mfa("sms_otp", result)


def delete_mfa_phone_number(scope: Scope, *, organization_id: str, member_id: str) -> Member:
    """Reset the member's SMS MFA (Stytch's `members/mfa_phone_numbers` delete); audited.

    See `members.service.reset_sms_phone`: number, verified flag, phone id and live code go;
    the member's next login that needs MFA enrols a number afresh.
    """
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    if not member.mfa_phone_number:
        raise errors.MemberPhoneNumberNotFound()
    return members.reset_sms_phone(scope, org, member)


def _locale(value: str | None) -> str:
    if not value:
        return "en"
    if value not in LOCALES:
        raise errors.InvalidSmsLocale()
    return value


def at_most_one(*credentials: str | None) -> None:
    if len([v for v in credentials if v]) > 1:
        raise session_errors.TooManySessionArguments(f"Give only one of {CREDENTIALS}.")


def check_session_arguments(
    intermediate_session_token: str | None,
    session_token: str | None,
    session_jwt: str | None,
    set_mfa_enrollment: str | None,
    session_duration_minutes: int | None,
    session_custom_claims: dict[str, Any] | None,
) -> None:
    """A second factor's checks that need no database (SMS, TOTP, a recovery code), made
    first, so a bad request changes nothing and counts nothing: exactly one of IST, session
    token, session JWT; the enrollment choice; the session's duration and custom claims."""
    if not (intermediate_session_token or session_token or session_jwt):
        raise session_errors.NoSessionArguments(f"Give one of {CREDENTIALS}.")
    at_most_one(intermediate_session_token, session_token, session_jwt)
    if set_mfa_enrollment not in (None, "", *ENROLLMENT_CHOICES):
        raise errors.InvalidMfaEnrollment()
    sessions.duration(session_duration_minutes)
    if session_custom_claims is not None:
        sessions.merged_claims({}, session_custom_claims)


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


def _sms_allowed(org: Organization) -> None:
    method_allowed(org, "sms_otp")


def method_allowed(org: Organization, method: str) -> None:
    """Refuse `method` (sms_otp, totp) where the organization's RESTRICTED mfa_methods lack it."""
    if not policy.method_allowed(org, method):
        raise errors.OperationRestrictedByMfaMethods(
            f"The organization's allowed_mfa_methods do not include {method}."
        )


def resolve_caller(
    scope: Scope,
    org: Organization,
    member: Member,
    intermediate_session_token: str | None,
    session_token: str | None,
    session_jwt: str | None,
    *,
    read: SecondFactorRows | None = None,
) -> Caller:
    """Check the credential passed along, if any; it must be this member's, in this org.

    An IST must be live and bound to exactly this organization and member (a login waiting
    for MFA here), and past its primary factor; a session must be live and this member's.
    Nothing is consumed. `read`: what `second_factor_rows` read, whose IST (if read) is
    checked instead of reading it again.
    """
    if intermediate_session_token:
        if read is not None and read.ist_read:
            ist = intermediate.pending_of(scope, read.ist, org.id, member.id)
        else:
            ist = intermediate.pending_for(scope, intermediate_session_token, org.id, member.id)
        if login.primary_required(org, member, ist.factors) is not None:
            raise errors.PrimaryAuthenticationNotMet()
        return Caller(ist=ist)
    if session_token or session_jwt:
        session, _, _ = sessions.resolve(
            scope, session_token=session_token, session_jwt=session_jwt
        )
        if session.member_id != member.id or session.organization_id != org.id:
            raise errors.InvalidSessionForMember()
        return Caller(session=session)
    return Caller()


def _destination(
    scope: Scope, org: Organization, member: Member, given: str | None, caller: Caller
) -> tuple[str, Member]:
    """The number to text, linking `given` to the member where the rules allow it; and the
    member, which linking changes: then the member of the unit of work (`members.link_mfa_phone`
    changes it through the ORM; `member` may be a transient object, `rows`)."""
    wanted = canonical_phone(given) if given else None
    current = member.mfa_phone_number or None
    if current is not None and member.mfa_phone_number_verified:
        if wanted is not None and wanted != current:
            raise errors.MfaPhoneNumberMismatch()
        return current, member
    if current is not None and (wanted is None or wanted == current):
        return current, member
    if wanted is None:
        raise errors.MfaPhoneNumberRequired()
    if current is not None and not caller.is_member:
        raise errors.MfaPhoneNumberMismatch(
            "The member's phone number is not verified yet; only the member's own "
            "intermediate_session_token or session may replace it with another number."
        )
    attached = scope.db.get_one(Member, member.id)
    members.link_mfa_phone(scope, org, attached, wanted)
    return wanted, attached


def apply_enrollment(
    db: Session, org: Organization, member: Member, choice: str | None, changes: dict[str, Any]
) -> str | None:
    """`set_mfa_enrollment`, unless policy requires MFA of the member (then it is ignored):
    added to `changes`, the member's columns a success writes (with the lockout reset, one
    UPDATE). Returns the choice applied, if any."""
    if not choice or policy.required_by_policy(db, org, member):
        return None
    changes["mfa_enrolled"] = choice == "enroll"
    return choice
