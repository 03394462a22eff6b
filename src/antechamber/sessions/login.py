"""How a login ends: a session, or an intermediate session waiting for another factor.

Every login path goes through `conclude`: discovery exchange and create, session exchange, and
the second-factor calls (through `complete_mfa`). It is the one choke point that compares the
factors presented with what the organization requires of this member:

- `primary_required`: the organization restricts `allowed_auth_methods` and none of the primary
  factors is allowed, or no factor proves the member's email;
- `mfa_required`: `mfa.policy.mfa_required(org, member)` and no second factor yet; when the
  member has a verified phone and SMS is their default method, a code is texted with this
  answer (`secondary_auth_initiated: "sms_otp"`, `otp.dispatch.auto_send`);
- otherwise a session (`sessions.service.start`, which checks the same rules again).

When a factor is missing, the login's IST is bound to (organization, member) and handed back;
it can then finish this login only. `AuthResult` is what the API renders as Stytch's
"authenticated vs mfa_required" shape (stytch-b2b-api.md §2.8; `api.serializers.auth_result`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from antechamber import rows
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.members.errors import MemberNotFound
from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations import rules
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp import dispatch
from antechamber.otp.sms import CodeState
from antechamber.scope import Scope
from antechamber.sessions import errors, factors, intermediate
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor
from antechamber.sessions.models import IntermediateSession, MemberSession


@dataclass(frozen=True)
class AuthResult:
    """The outcome of a login step, in one of two shapes.

    Authenticated: `session`, `session_token`, `session_jwt` set; `intermediate_session_token`
    is `""`. Pending: `session` is None, tokens are `""`, `intermediate_session_token` is the
    IST bound to (organization, member), and `mfa_required` or `primary_required` (the
    organization's allowed auth methods) says what is missing. `secondary_auth_initiated` is
    `"sms_otp"` when a code was texted automatically with the MFA answer.
    """

    organization: Organization
    member: Member
    session: MemberSession | None = None
    session_token: str = ""
    session_jwt: str = ""
    intermediate_session_token: str = ""
    intermediate_session_expires_at: datetime | None = None
    mfa_required: bool = False
    primary_required: tuple[str, ...] | None = None
    secondary_auth_initiated: str | None = None
    #: The session JWT's session claim, when this step started the session (`sessions.start`):
    #: the answer's `member_session` repeats its times, factors and roles.
    session_claim: dict[str, Any] | None = None

    @property
    def member_authenticated(self) -> bool:
        return self.session is not None


def primary_required(
    org: Organization, member: Member, login_factors: Sequence[Factor]
) -> tuple[str, ...] | None:
    """The auth methods the organization would accept, if the factors do not satisfy it."""
    restricted = org.auth_methods == "RESTRICTED"
    allowed = tuple(org.allowed_auth_methods) if restricted else rules.AUTH_METHOD_NAMES
    if not factors.proves_member(login_factors, member):
        return allowed
    if restricted and not factors.auth_methods(login_factors) & set(allowed):
        return allowed
    return None


def mfa_pending(
    db: Session, org: Organization, member: Member, login_factors: Sequence[Factor]
) -> bool:
    """Whether the organization needs a second factor of this member that is not there yet."""
    return _mfa_pending(db, org, member, login_factors)[0]


def _mfa_pending(
    db: Session, org: Organization, member: Member, login_factors: Sequence[Factor]
) -> tuple[bool, list[str] | None]:
    """`mfa_pending`, and the login's roles if deciding it read them (`policy.mfa_decision`)."""
    required, roles = policy.mfa_decision(db, org, member, login_factors)
    return required and not policy.mfa_satisfied(org, login_factors), roles


def conclude(
    scope: Scope,
    org: Organization,
    member: Member,
    login_factors: Sequence[Factor],
    *,
    ist: tuple[IntermediateSession, str] | None = None,
    ist_claimed: bool = True,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    locale: str | None = None,
    sms_state: CodeState | None = None,
) -> AuthResult:
    """Finish a login step: a session if the factors suffice, else a bound IST.

    `ist` is the login's claimed IST and its token (`intermediate.claim`), if it has one: it
    stays consumed when a session starts, and is bound and handed back otherwise. With
    `ist_claimed=False` it was only read live (`discovery.exchange`): it is claimed here when a
    session starts (`intermediate.claim_for`), else bound if still live
    (`intermediate.bind_live`), one statement either way. Without one
    (session exchange) a new bound IST is issued when a factor is missing.
    `session_duration_minutes` (default 60) and `session_custom_claims` apply to the session
    only; they are ignored when a factor is missing, as with Stytch. `locale` is the language
    of an automatically texted code; `sms_state`, the member's lock and live code if the caller
    read them with the member (`otp.dispatch.send_code`).
    """
    sessions.duration(session_duration_minutes)  # a bad value is refused in either branch
    primary = primary_required(org, member, login_factors)
    mfa, roles = False, None
    if primary is None:
        # The roles deciding MFA are the session's too: read once (`sessions.start`'s `roles`).
        mfa, roles = _mfa_pending(scope.db, org, member, login_factors)
    if primary is not None or mfa:
        if ist is not None:
            row, token = ist
            if ist_claimed:
                intermediate.bind(scope, row, org.id, member.id)
            else:
                intermediate.bind_live(scope, row, org.id, member.id)
        else:
            row, token = intermediate.issue(
                scope,
                email=member.email_address,
                factors=factors.primary_only(login_factors),
                organization_id=org.id,
                member_id=member.id,
            )
        initiated = None
        if mfa:
            # Here, the one place a login stops for MFA, so every path (discovery create and
            # exchange, session exchange) texts the code the same way.
            if dispatch.auto_send(scope, org, member, locale=locale, state=sms_state):
                initiated = "sms_otp"
            audit.record(
                scope,
                EventType.MEMBER_MFA_PENDING,
                organization_id=org.id,
                member_id=member.id,
                intermediate_session_id=row.id,
                secondary_auth_initiated=initiated,
            )
        _count_login(scope, "mfa_required" if mfa else "primary_required")
        return AuthResult(
            organization=org,
            member=member,
            intermediate_session_token=token,
            intermediate_session_expires_at=row.expires_at,
            mfa_required=mfa,
            primary_required=primary,
            secondary_auth_initiated=initiated,
        )
    if ist is not None and not ist_claimed:
        intermediate.claim_for(scope, ist[1], org.id, member.id)
    started = sessions.start(
        scope,
        org,
        member,
        login_factors,
        duration_minutes=session_duration_minutes,
        custom_claims=session_custom_claims,
        roles=roles,
    )
    _count_login(scope, "session")
    return AuthResult(
        organization=org,
        member=member,
        session=started.session,
        session_token=started.session_token,
        session_jwt=started.session_jwt,
        session_claim=started.claim,
    )


def _count_login(scope: Scope, result: str) -> None:
    """The one place login outcomes are counted (`antechamber_logins_total`): every login
    path, MFA completion included, ends in `conclude`."""
    if scope.metrics is not None:
        scope.metrics.count_login(result)


def complete_mfa(
    scope: Scope,
    ist_token: str,
    org: Organization,
    member: Member,
    factor: Factor,
    *,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
) -> AuthResult:
    """Finish a login waiting for MFA, once the caller has verified the second factor.

    `org` and `member` are rows read in this scope (in its unit of work, or transient objects:
    `rows`; the enrolment is written explicitly). Claims (consumes) the IST, which must be
    bound to exactly this organization and member, and concludes with the IST's factors plus
    `factor` (an MFA factor such as `factors.sms_otp(...)`): normally a session. Under a policy
    that requires MFA of the member (REQUIRED_FOR_ALL, or a role) the member becomes
    `mfa_enrolled`. Raises `IntermediateSessionNotFound` (unknown, used or expired IST),
    `InvalidIntermediateSessionForOrganization` (bound elsewhere, or not bound yet), or
    `InsufficientFactors` (`factor` is not a second factor). Check the IST first with
    `intermediate.pending_for` (consumes nothing), then the code, then call this.
    """
    if factor.get("type") not in factors.MFA_TYPES:
        raise errors.InsufficientFactors()
    row = intermediate.claim(scope, ist_token)
    if row.organization_id != org.id or row.member_id != member.id:
        raise errors.InvalidIntermediateSessionForOrganization()
    if policy.required_by_policy(scope.db, org, member) and not member.mfa_enrolled:
        rows.write(scope.db, member, {"mfa_enrolled": True, "updated_at": scope.clock.now()})
    return conclude(
        scope,
        org,
        member,
        [*row.factors, factor],
        ist=(row, ist_token),
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
    )


def exchange_session(
    scope: Scope,
    organization_ref: str,
    *,
    session_token: str | None = None,
    session_jwt: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    locale: str | None = None,
) -> AuthResult:
    """From a live session into another organization where the same email is a member.

    Only the session's primary factors carry over (a second factor belongs to one member), so
    an organization that requires MFA of the target member asks for it again. Members are not
    created here (no JIT; use discovery); an invited or pending member becomes active once a
    session starts. The original session stays as it is.
    """
    source, source_member, _ = sessions.resolve(
        scope, session_token=session_token, session_jwt=session_jwt
    )
    org = get_organization(scope, organization_ref)
    member = scope.db.scalar(
        select(Member).where(
            Member.organization_id == org.id,
            Member.email_address == source_member.email_address,
        )
    )
    if member is None:
        raise MemberNotFound()
    result = conclude(
        scope,
        org,
        member,
        factors.primary_only(source.factors),
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
        locale=locale,
    )
    audit.record(
        scope,
        EventType.SESSION_EXCHANGED,
        organization_id=org.id,
        member_id=member.id,
        from_member_session_id=source.id,
        from_organization_id=source.organization_id,
        outcome=outcome(result),
    )
    return result


def outcome(result: AuthResult) -> str:
    """`session`, `mfa_required` or `primary_required`: for audit details."""
    if result.session is not None:
        return "session"
    return "primary_required" if result.primary_required is not None else "mfa_required"
