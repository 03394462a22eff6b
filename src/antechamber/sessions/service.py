"""Member sessions: start, authenticate (token or JWT), step up, revoke, list.

Finding a session is `lookup`'s, its JWTs `jwts`', recording its last access `touch`'s.

Contract:
- A session token is 264 random bits from `secrets` (44 characters, as Stytch's), shown once;
  the database keeps its SHA-256 digest. The token is authoritative: revocation and expiry
  take effect on the next call.
- A session JWT is RS256, signed by the project's key (`keys.service`), valid 5 minutes (never
  past the session's own expiry), with the claims of stytch-b2b-api.md §2.11. An app may check
  it offline until it expires; `authenticate` checks the session row behind it every time.
- `start` is the only way a session comes to exist, and it refuses factors that do not meet
  the organization's requirements (a primary factor that proves the member's email, and a
  second factor whenever `mfa.policy.mfa_required`), whatever the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from antechamber import db, metadata, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import rfc3339
from antechamber.ids import new_id
from antechamber.members.errors import MemberNotFound
from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import assignment, sso_grants
from antechamber.scim.errors import MemberDeactivated
from antechamber.scope import Scope
from antechamber.sessions import errors, factors, jwts, lookup, touch
from antechamber.sessions.factors import Factor
from antechamber.sessions.known import Known
from antechamber.sessions.models import MemberSession

DEFAULT_DURATION_MINUTES = 60
MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 527040  # 366 days
SESSION_TOKEN_BYTES = 33  # 44 base64url characters, as Stytch's session tokens
# Claims a caller may not set: the registered JWT claims and Stytch's own namespace.
_RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})
_STYTCH_NAMESPACE = "https://stytch.com/"
# `start`'s statements, built once (Core, on the unit of work's connection).
_INSERT_SESSION = insert(cast(Table, MemberSession.__table__))
_members = cast(Table, Member.__table__)


@dataclass(frozen=True)
class Started:
    """A new session. `session_token` is the only copy of the token there will be."""

    session: MemberSession
    session_token: str
    session_jwt: str
    #: The JWT's session claim (`jwts.session_claim`): what the answer's `member_session` repeats.
    claim: dict[str, Any] | None = None


@dataclass(frozen=True)
class Authenticated:
    """A live session with its member and organization, and a fresh JWT.

    `session_token` is the token when the caller presented it, else `""` (only its digest is
    stored, so it cannot be given back to a caller who presented a JWT).
    """

    session: MemberSession
    member: Member
    organization: Organization
    session_token: str
    session_jwt: str
    #: The JWT's session claim (`jwts.session_claim`): what the answer's `member_session` repeats.
    claim: dict[str, Any] | None = None
    #: A read-only check's member and organization as `lookup.read` knew them (`Known`), for what
    #: the caller derives from those two rows alone; None on the writing path.
    known: Known | None = None


def duration(value: int | None, *, default: int | None = DEFAULT_DURATION_MINUTES) -> int | None:
    """`session_duration_minutes` checked (5 to 527040), or `default` when not given."""
    if value is None:
        return default
    if isinstance(value, bool) or not MIN_DURATION_MINUTES <= value <= MAX_DURATION_MINUTES:
        raise errors.InvalidSessionDuration()
    return value


def merged_claims(current: Mapping[str, Any], changes: Any) -> dict[str, Any]:
    """Custom claims after `changes` (null deletes a key); reserved claims are dropped."""
    if changes is None:
        return dict(current)
    checked = metadata.checked(changes, "session_custom_claims")
    allowed = {
        k: v
        for k, v in checked.items()
        if k not in _RESERVED_CLAIMS and not k.startswith(_STYTCH_NAMESPACE)
    }
    return metadata.merged(dict(current), allowed, "session_custom_claims")


def start(
    scope: Scope,
    org: Organization,
    member: Member,
    session_factors: Sequence[Factor],
    *,
    duration_minutes: int | None = None,
    custom_claims: Any = None,
    roles: list[str] | None = None,
) -> Started:
    """Start a session for `member` in `org` with `session_factors`.

    Raises `InsufficientFactors` unless a primary factor proves the member (their email, or
    an SSO registration: `factors.proves_member`) and, when
    the organization requires MFA of this member, a second factor of a method it allows is
    present. Makes a pending
    or invited member active (they have now logged in) and marks the email verified.

    `roles`: `mfa.policy.role_ids(scope.db, member, org, session_factors)`, if the caller has
    just worked them out for the same login (`sessions.login.conclude`); read here otherwise.
    """
    if member.organization_id != org.id or member.project_id != scope.project_id:
        raise errors.InsufficientFactors()
    if not factors.has_primary(session_factors) or not factors.proves_member(
        session_factors, member
    ):
        raise errors.InsufficientFactors()
    # The roles of the session (its JWT's claim) decide the policy's MFA too: read once.
    if roles is None:
        roles = policy.role_ids(scope.db, member, org, session_factors)
    if policy.mfa_required_of(org, member, roles) and not policy.mfa_satisfied(
        org, session_factors
    ):
        # A second factor of a method the organization allows: an SMS code, a TOTP code or a
        # TOTP recovery code (sessions.factors.mfa_methods).
        raise errors.InsufficientFactors()
    if member.status == "deactivated":
        # Deprovisioned by the organization's directory (scim.deprovision): only the
        # directory brings the member back; a login must not reactivate them.
        raise MemberDeactivated()
    minutes = duration(duration_minutes) or DEFAULT_DURATION_MINUTES
    now = scope.clock.now()
    activated = member.status != "active"
    conn = db.connection(scope.db)  # flushes whatever the caller changed on the member
    if activated or not member.email_address_verified:
        changes: dict[str, Any] = {"status": "active", "email_address_verified": True}
        if activated:
            changes["updated_at"] = now
        conn.execute(update(_members).where(_members.c.id == member.id).values(**changes))
        # The member object shows what the row now holds, without a flush of its own.
        for key, value in changes.items():
            set_committed_value(member, key, value)
    token = tokens.new_token(SESSION_TOKEN_BYTES)
    values = {
        "id": new_id("member-session", scope.environment),
        "project_id": scope.project_id,
        "organization_id": org.id,
        "member_id": member.id,
        "token_digest": tokens.digest(token),
        "factors": list(session_factors),
        "custom_claims": merged_claims({}, custom_claims),
        "started_at": now,
        "last_accessed_at": now,
        "expires_at": now + timedelta(minutes=minutes),
        "revoked_at": None,
    }
    conn.insert_unread(_INSERT_SESSION, values)  # with the next statement, or the COMMIT
    # Not added to the ORM session: the row is written; this is the caller's copy of it.
    session = lookup.SESSIONS.from_values(values)
    audit.record(
        scope,
        EventType.SESSION_STARTED,
        organization_id=org.id,
        member_id=member.id,
        member_session_id=session.id,
        factors=factors.types(session_factors),
        expires_at=rfc3339(session.expires_at),
        activated=activated,
    )
    return Started(session, token, *jwts.minted(scope, session, member, org, roles=roles))


def authenticate(
    scope: Scope,
    *,
    session_token: str | None = None,
    session_jwt: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    remember: bool = False,
) -> Authenticated:
    """Check a session by token or JWT (exactly one); refresh it and return a fresh JWT.

    `session_duration_minutes`, when given, moves the expiry to now + that many minutes;
    `session_custom_claims` are merged in. Raises `SessionNotFound` for an unknown, revoked or
    expired session, `InvalidSessionJwt` for a JWT this project did not sign.

    Without either, the check writes nothing in the caller's unit of work (which may be
    read-only, `db.transaction`): `last_accessed_at` is recorded at most once per
    `touch.TOUCH_INTERVAL`, after the unit of work commits. The three objects it then returns are
    transient (in no unit of work: changing them writes nothing); whoever needs the database
    for them takes it explicitly (`mfa.policy.role_ids(db, ...)`).

    `remember`: a caller that only reads the member and organization it gets back, and keeps
    nothing of them past its answer (the API's check), may have them from `Known` (shared
    with other checks of the same rows), with `Authenticated.known` for what it derives.
    """
    minutes = duration(session_duration_minutes, default=None)
    now = scope.clock.now()
    known: Known | None = None
    if minutes is None and session_custom_claims is None:
        # The hot path: rows read apart from the unit of work's identity map (`lookup.read`).
        found = lookup.find(scope, session_token, session_jwt, now)
        session, member, org, known = lookup.read(scope, found, remember)
        touch.later(scope, session, now)
    else:
        session, member, org = resolve(scope, session_token=session_token, session_jwt=session_jwt)
        # Plain attribute changes: the unit of work writes them as one UPDATE by primary key.
        session.last_accessed_at = now
        if minutes is not None:
            session.expires_at = now + timedelta(minutes=minutes)
        if session_custom_claims is not None:
            session.custom_claims = merged_claims(session.custom_claims, session_custom_claims)
    return Authenticated(
        session,
        member,
        org,
        session_token or "",
        *jwts.minted(scope, session, member, org, roles=_known_roles(known, session, member, org)),
        known,
    )


def _known_roles(
    known: Known | None, session: MemberSession, member: Member, org: Organization
) -> list[str] | None:
    """The session claim's roles (`policy.role_ids`) from `known`'s memo when they come of its
    two rows alone: when none of the session's factors is a SAML connection's (whose roles
    are read from the database). Else None: `jwts.session_claim` reads them."""
    if known is None or sso_grants.saml_connections(session.factors):
        return None
    roles = known.derived.get("roles")
    if roles is None:
        roles = known.derived["roles"] = tuple(assignment.role_ids(org, member))
    return list(roles)


def add_factor(
    scope: Scope,
    session: MemberSession,
    member: Member,
    org: Organization,
    factor: Factor,
    *,
    duration_minutes: int | None = None,
    custom_claims: Any = None,
) -> str:
    """Step-up: record a second factor on a live session; returns a fresh JWT.

    The session keeps its id and token (as Stytch's step-up does); `factor` replaces an earlier
    factor of the same type and delivery method, so the list says when each was last proven.
    `duration_minutes`, when given, moves the expiry to now + that many minutes; custom claims
    merge. The caller has resolved `session` for this member and organization and verified the
    factor.
    """
    minutes = duration(duration_minutes, default=None)
    now = scope.clock.now()
    kind = (factor.get("type"), factor.get("delivery_method"))
    session.factors = [
        *(f for f in session.factors if (f.get("type"), f.get("delivery_method")) != kind),
        factor,
    ]
    session.last_accessed_at = now
    if minutes is not None:
        session.expires_at = now + timedelta(minutes=minutes)
    if custom_claims is not None:
        session.custom_claims = merged_claims(session.custom_claims, custom_claims)
    scope.db.flush()
    audit.record(
        scope,
        EventType.SESSION_STEPPED_UP,
        organization_id=org.id,
        member_id=member.id,
        member_session_id=session.id,
        factors=factors.types(session.factors),
    )
    return jwts.mint_jwt(scope, session, member, org)


def resolve(
    scope: Scope, *, session_token: str | None = None, session_jwt: str | None = None
) -> tuple[MemberSession, Member, Organization]:
    """The live session (with member and organization) for a token or a JWT; no writes.

    One query joins the three rows, loaded into the unit of work (a caller may change them).
    Exactly one of the two arguments.
    """
    statement, params = lookup.find(scope, session_token, session_jwt, scope.clock.now())
    row = scope.db.execute(lookup.ORM[statement], params).one_or_none()
    if row is None:
        raise errors.SessionNotFound()
    session, member, org = row
    return session, member, org


def revoke(
    scope: Scope,
    *,
    member_session_id: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
    member_id: str | None = None,
) -> list[str]:
    """Revoke one session (by id, token or JWT) or all of a member's; returns the ids revoked.

    Takes effect at once for the token and for `authenticate`; a JWT already handed out stays
    verifiable offline until it expires (at most 5 minutes), as with Stytch.
    """
    given = [v for v in (member_session_id, session_token, session_jwt, member_id) if v]
    if not given:
        raise errors.NoSessionRevokeArguments()
    if len(given) > 1:
        raise errors.TooManySessionRevokeArguments()
    now = scope.clock.now()
    live = (
        MemberSession.project_id == scope.project_id,
        MemberSession.revoked_at.is_(None),
        MemberSession.expires_at > now,
    )
    if member_id:
        member = scope.db.get(Member, member_id)
        if member is None or member.project_id != scope.project_id:
            raise MemberNotFound()
        targets = list(
            scope.db.scalars(
                select(MemberSession).where(*live, MemberSession.member_id == member_id)
            )
        )
    elif member_session_id:
        found = scope.db.scalar(
            select(MemberSession).where(*live, MemberSession.id == member_session_id)
        )
        if found is None:
            raise errors.SessionNotFound()
        targets = [found]
    else:
        targets = [resolve(scope, session_token=session_token, session_jwt=session_jwt)[0]]
    for session in targets:
        session.revoked_at = now
        audit.record(
            scope,
            EventType.SESSION_REVOKED,
            organization_id=session.organization_id,
            member_id=session.member_id,
            member_session_id=session.id,
        )
    scope.db.flush()
    return [s.id for s in targets]


def list_sessions(
    scope: Scope, organization_ref: str, member_id: str
) -> tuple[Organization, Member, list[MemberSession]]:
    """A member's live sessions, oldest first."""
    org = get_organization(scope, organization_ref)
    member = scope.db.get(Member, member_id) if member_id else None
    if member is None or member.organization_id != org.id:
        raise MemberNotFound()
    rows = scope.db.scalars(
        select(MemberSession)
        .where(
            MemberSession.member_id == member.id,
            MemberSession.revoked_at.is_(None),
            MemberSession.expires_at > scope.clock.now(),
        )
        .order_by(MemberSession.started_at, MemberSession.id)
    )
    return org, member, list(rows)


def revoke_member_sessions(
    scope: Scope, organization_ref: str, member_id: str, member_session_id: str | None = None
) -> list[str]:
    """Revoke one live session of this member (`member_session_id`) or all of them; returns the
    ids revoked (each an audited `session.revoked`). A session id of another member, or one
    already revoked or expired, is `SessionNotFound`: the console and CLI cannot reach past the
    member they name."""
    _, member, live = list_sessions(scope, organization_ref, member_id)
    if member_session_id is None:
        return revoke(scope, member_id=member.id) if live else []
    if member_session_id not in {s.id for s in live}:
        raise errors.SessionNotFound()
    return revoke(scope, member_session_id=member_session_id)
