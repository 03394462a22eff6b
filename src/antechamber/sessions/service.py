"""Member sessions: start, authenticate (token or JWT), revoke, list, and their JWTs.

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

import json
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, ColumnElement, Select, Table, Text, bindparam, insert, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from antechamber import db, metadata, rows, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import as_utc, rfc3339
from antechamber.db import after_commit
from antechamber.ids import new_id
from antechamber.keys import service as keys
from antechamber.members.errors import MemberNotFound
from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import assignment, sso_grants
from antechamber.scim.errors import MemberDeactivated
from antechamber.scope import Scope
from antechamber.sessions import errors, factors
from antechamber.sessions import known as known_rows
from antechamber.sessions.factors import Factor
from antechamber.sessions.known import Known
from antechamber.sessions.models import MemberSession

DEFAULT_DURATION_MINUTES = 60
#: How stale a session's `last_accessed_at` may be before a check records it again: at most
#: TOUCH_INTERVAL, and more than TOUCH_INTERVAL - TOUCH_SPREAD, by an offset fixed per session
#: (`_touch_due`), so that sessions started together do not all come due together.
TOUCH_INTERVAL = timedelta(minutes=1)
TOUCH_SPREAD = timedelta(seconds=30)
#: How long a minted JWT is handed out again for the same session and claims (`mint_jwt`).
JWT_REUSE_SECONDS = 60
# Per process, most recently signed last; a session missing here just gets a fresh JWT. An
# entry is of no use after JWT_REUSE_SECONDS and leaves then (`_forget_old`): what the memo
# holds is the sessions checked in the last minute, at most this many.
_RECENT_JWTS_KEPT = 10_000
_recent_jwts: OrderedDict[str, tuple[tuple[str, str, dict[str, Any]], int, str]] = OrderedDict()
_recent_lock = threading.Lock()
# Per process: the last access this process recorded for a session (its write may still be on
# its way), oldest first; bounded as `_recent_jwts`.
_touched: dict[str, datetime] = {}
MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 527040  # 366 days
SESSION_TOKEN_BYTES = 33  # 44 base64url characters, as Stytch's session tokens
MAX_TOKEN_LENGTH = 256
SESSION_CLAIM = "https://stytch.com/session"
ORGANIZATION_CLAIM = "https://stytch.com/organization"
# Claims a caller may not set: the registered JWT claims and Stytch's own namespace.
_RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})
_STYTCH_NAMESPACE = "https://stytch.com/"
# `start`'s statements, built once (Core, on the unit of work's connection).
_INSERT_SESSION = insert(cast(Table, MemberSession.__table__))
_members = cast(Table, Member.__table__)
_SESSIONS = rows.Columns(MemberSession)


@dataclass(frozen=True)
class Started:
    """A new session. `session_token` is the only copy of the token there will be."""

    session: MemberSession
    session_token: str
    session_jwt: str
    #: The JWT's session claim (`session_claim`): what the answer's `member_session` repeats.
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
    #: The JWT's session claim (`session_claim`): what the answer's `member_session` repeats.
    claim: dict[str, Any] | None = None
    #: A read-only check's member and organization as `_read` knew them (`Known`), for what
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
    session = _SESSIONS.from_values(values)
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
    return Started(session, token, *minted(scope, session, member, org, roles=roles))


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
    `TOUCH_INTERVAL`, after the unit of work commits. The three objects it then returns are
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
        # The hot path: rows read apart from the unit of work's identity map (`_read`).
        lookup = _lookup(scope, session_token, session_jwt, now)
        session, member, org, known = _read(scope, lookup, remember)
        _touch_later(scope, session, now)
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
        *minted(scope, session, member, org, roles=_known_roles(known, session, member, org)),
        known,
    )


def _known_roles(
    known: Known | None, session: MemberSession, member: Member, org: Organization
) -> list[str] | None:
    """The session claim's roles (`policy.role_ids`) from `known`'s memo when they come of its
    two rows alone: when none of the session's factors is a SAML connection's (whose roles
    are read from the database). Else None: `session_claim` reads them."""
    if known is None or sso_grants.saml_connections(session.factors):
        return None
    roles = known.derived.get("roles")
    if roles is None:
        roles = known.derived["roles"] = tuple(assignment.role_ids(org, member))
    return list(roles)


def _touch_due(session_id: str) -> timedelta:
    """How old `last_accessed_at` gets before a check of this session records it again.

    Stable per session, in (TOUCH_INTERVAL - TOUCH_SPREAD, TOUCH_INTERVAL]: a burst of logins
    (a deploy, a morning, a benchmark's setup) would otherwise come due in the same second
    every minute, each check of it with a write and a freshly signed JWT (its claims carry
    the new time) in a burst of its own."""
    fraction = zlib.crc32(session_id.encode()) / 2**32  # in [0, 1)
    return TOUCH_INTERVAL - TOUCH_SPREAD * fraction


# Parameters: session_id, at. Built once; a plain Core UPDATE on the writer's connection.
_TOUCH = (
    update(cast(Table, MemberSession.__table__))
    .where(
        MemberSession.__table__.c.id == bindparam("session_id"),
        MemberSession.__table__.c.last_accessed_at < bindparam("at"),
    )
    .values(last_accessed_at=bindparam("at"))
)


def _touch_later(scope: Scope, session: MemberSession, now: datetime) -> None:
    # A session check is a read; writing on every one would put every check in the queue for
    # the write lock (one writer at a time on SQLite). The last-used time is only as precise
    # as TOUCH_INTERVAL (`_touch_due`), which is all anyone reads it for: nothing expires on
    # it (a member session ends at `expires_at` or when revoked; no idle timeout).
    last = as_utc(session.last_accessed_at)
    recorded = _touched.get(session.id)
    if recorded is not None and recorded > last:
        # This process recorded a later access whose write has not landed yet (it runs after
        # the answer, behind the write lock): the checks in between neither write it again nor,
        # as their claims would differ, sign a JWT each.
        last = recorded
        set_committed_value(session, "last_accessed_at", recorded)
    if now - last < _touch_due(session.id):
        return
    # The answer and the JWT show the new time; the row gets it after the commit.
    set_committed_value(session, "last_accessed_at", now)
    with _recent_lock:
        _touched.pop(session.id, None)  # to the end: the oldest go first
        _touched[session.id] = now
        _forget_old(_touched, lambda recorded: now - recorded >= TOUCH_INTERVAL)
    params = {"session_id": session.id, "at": now}

    def touch(db: Session) -> None:
        db.connection().execute(_TOUCH, params)

    after_commit(scope.db, touch)


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
    return mint_jwt(scope, session, member, org)


# The hot path's statements, built once: constructing and keying a select costs more than
# running it on SQLite. Parameters: project_id, now, and digest or session_id + member_id.
# Each twice: for the ORM (`resolve`: objects in the unit of work) and as Core (`_read`).
_BY_TOKEN = "token"  # noqa: S105 (a key of `_statements`)
_BY_ID = "id"


def _statements(*entities: Any) -> dict[str, Select[Any]]:
    # On the tables: the Core flavour must carry no ORM entity (it would load objects).
    ms, m, o = (MemberSession.__table__.c, Member.__table__.c, Organization.__table__.c)
    live = (
        select(*entities)
        .select_from(MemberSession.__table__)
        .join(Member.__table__, m.id == ms.member_id)
        .join(Organization.__table__, o.id == ms.organization_id)
        .where(
            ms.project_id == bindparam("project_id"),
            ms.revoked_at.is_(None),
            ms.expires_at > bindparam("now"),
        )
    )
    return {
        _BY_TOKEN: live.where(ms.token_digest == bindparam("digest")),
        _BY_ID: live.where(
            ms.id == bindparam("session_id"), ms.member_id == bindparam("member_id")
        ),
    }


_MEMBER_AT = len(_SESSIONS)
_ORM = _statements(MemberSession, Member, Organization)
_COLUMNS = (*_SESSIONS.columns, *known_rows.MEMBERS.columns, *known_rows.ORGANIZATIONS.columns)


def _as_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    # A JSON column as its text (`_read` decodes it: the engine's own `json_columns.loads`).
    return sql_cast(column, Text) if isinstance(column.type, JSON) else column


_CORE = _statements(*map(_as_text, _COLUMNS))
# Where the session's JSON texts are (the member's and organization's: `known.JSON_AT`).
_SESSION_JSON = tuple(i for i, c in enumerate(_SESSIONS.columns) if isinstance(c.type, JSON))


def resolve(
    scope: Scope, *, session_token: str | None = None, session_jwt: str | None = None
) -> tuple[MemberSession, Member, Organization]:
    """The live session (with member and organization) for a token or a JWT; no writes.

    One query joins the three rows, loaded into the unit of work (a caller may change them).
    Exactly one of the two arguments.
    """
    statement, params = _lookup(scope, session_token, session_jwt, scope.clock.now())
    row = scope.db.execute(_ORM[statement], params).one_or_none()
    if row is None:
        raise errors.SessionNotFound()
    session, member, org = row
    return session, member, org


def _lookup(
    scope: Scope, session_token: str | None, session_jwt: str | None, now: datetime
) -> tuple[str, dict[str, Any]]:
    """Which statement (`_BY_TOKEN` or `_BY_ID`) finds the session, with its parameters."""
    given = [v for v in (session_token, session_jwt) if v]
    if not given:
        raise errors.NoSessionArguments()
    if len(given) > 1:
        raise errors.TooManySessionArguments()
    live = {"project_id": scope.project_id, "now": now}
    if session_token:
        return _BY_TOKEN, {**live, "digest": _digest(session_token)}
    session_id, member_id = _jwt_subject(scope, str(session_jwt), now)
    return _BY_ID, {**live, "session_id": session_id, "member_id": member_id}


def _read(
    scope: Scope, lookup: tuple[str, dict[str, Any]], remember: bool = False
) -> tuple[MemberSession, Member, Organization, Known | None]:
    """`resolve`'s three rows by one Core statement on the unit of work's connection, made
    into transient objects: half the cost of the ORM's load (identity map, instance states,
    events), which a session check does not need as it changes nothing. The member's and
    organization's values come from `Known` when the same rows were read before (their JSON
    columns are read as text and decoded here, the session's each time), with the objects
    themselves when `remember` (`authenticate`); else they are the caller's own."""
    statement, params = lookup
    row = db.connection(scope.db).execute(_CORE[statement], params).first()
    if row is None:
        raise errors.SessionNotFound()
    # What the ORM's loader does for each column, without the unit of work (`rows`): every
    # column attribute is set, so reading one never tries to load it.
    session = _SESSIONS.make(known_rows.decoded(row[:_MEMBER_AT], _SESSION_JSON))
    raw = tuple(row[_MEMBER_AT:])
    if remember:
        found = known_rows.remembered(raw)
        return session, found.member, found.organization, found
    return session, *known_rows.fresh(raw), None


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


def session_claim(
    db: Session,
    session: MemberSession,
    member: Member,
    org: Organization | None = None,
    *,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    """The JWT's session claim; the API's `member_session` shows the same times, factors and
    roles (`api.serializers.member_session`). `roles`: `policy.role_ids` of the member, the
    organization and the session's factors, if the caller has read them (`start`)."""
    started_at, last_accessed_at = session.started_at, session.last_accessed_at
    started = rfc3339(started_at)
    return {
        "id": session.id,
        "started_at": started,
        # The same instant at a session's start: formatted once.
        "last_accessed_at": started
        if last_accessed_at is started_at
        else rfc3339(last_accessed_at),
        "expires_at": rfc3339(session.expires_at),
        "attributes": {"user_agent": "", "ip_address": ""},
        "authentication_factors": list(session.factors),
        # The session's SAML connections' roles too (`rbac.sso_grants`).
        "roles": policy.role_ids(db, member, org, session.factors) if roles is None else roles,
    }


def mint_jwt(scope: Scope, session: MemberSession, member: Member, org: Organization) -> str:
    """A 5-minute JWT for the session (`minted`)."""
    return minted(scope, session, member, org)[0]


def minted(
    scope: Scope,
    session: MemberSession,
    member: Member,
    org: Organization,
    *,
    roles: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A 5-minute JWT for the session (never outliving it); claims as §2.11.

    Fresh, unless this process signed one with the same claims for the same session less than
    `JWT_REUSE_SECONDS` ago (by the injected clock): that one is returned again, with at least
    four of its five minutes left. Signing is the costliest step of a session check, and an app
    checks the same session on every request. Returns the JWT and its session claim
    (`session_claim`, given `roles` as it takes them), which the answer's `member_session`
    repeats.
    """
    issued = int(scope.clock.now().timestamp())
    custom = session.custom_claims or {}
    claim = session_claim(scope.db, session, member, org, roles=roles)
    timeless: dict[str, Any] = {
        **custom,
        "aud": [scope.project_id],
        "iss": keys.issuer(scope.project_id),
        "sub": member.id,
        SESSION_CLAIM: claim,
        ORGANIZATION_CLAIM: {"organization_id": org.id, "slug": org.slug},
    }
    # The kid too: after a rotation, JWTs come from the new key at once. The claims compare
    # as values (cheaper than serialising them), but the caller's custom claims as JSON text
    # too, where `1` and `true` differ as they do in the JWT.
    fingerprint = (
        keys.signing_kid(scope),
        json.dumps(custom, sort_keys=True) if custom else "",
        timeless,
    )
    with _recent_lock:
        recent = _recent_jwts.get(session.id)
    if (
        recent is not None
        and recent[0] == fingerprint
        and 0 <= issued - recent[1] < JWT_REUSE_SECONDS
    ):
        return recent[2], claim
    expires = min(issued + int(keys.JWT_LIFETIME.total_seconds()), _epoch(session.expires_at))
    token = keys.sign(scope, {**timeless, "iat": issued, "nbf": issued, "exp": expires})
    with _recent_lock:
        _recent_jwts[session.id] = (fingerprint, issued, token)
        _recent_jwts.move_to_end(session.id)
        _forget_old(_recent_jwts, lambda entry: issued - entry[1] >= JWT_REUSE_SECONDS)
    return token, claim


_V = TypeVar("_V")


def _forget_old(memo: dict[str, _V], old: Callable[[_V], bool], kept: int | None = None) -> None:
    """Drop a memo's entries from the oldest while `old` says they are (they are kept oldest
    first), and the oldest beyond `kept` (`_RECENT_JWTS_KEPT` unless given): a memo's size
    follows the sessions in use within its period, and is steady once the traffic is (a
    soak's memory flat after a minute, not after the 10,000th session). The caller holds
    `_recent_lock`."""
    bound = _RECENT_JWTS_KEPT if kept is None else kept
    while memo:
        oldest = next(iter(memo))
        if len(memo) <= bound and not old(memo[oldest]):
            return
        del memo[oldest]


# Per process: JWTs `keys.verify` accepted, by their exact text: (project, `nbf`, session id,
# member id). Oldest first, each kept for JWT_LIFETIME (process time), at most
# `_VERIFIED_KEPT`.
_verified: OrderedDict[str, tuple[str, Any, str, str, float]] = OrderedDict()
_VERIFIED_KEPT = 4096


def _jwt_subject(scope: Scope, token: str, now: datetime) -> tuple[str, str]:
    """The session and member ids of a JWT `keys.verify` accepts for the scope's project.

    A token it accepted before, for the same project, is not decoded and checked again: its
    outcome is the same but for `nbf` (against `now`), which is checked again. (Only the
    exact text matches; `verify` itself knows the tokens this process signed.)"""
    seen = _verified.get(token) if type(token) is str else None
    if seen is not None and seen[0] == scope.project_id:
        # `verify`'s test of `nbf`, with its value (an int or a float, never a bool).
        if not seen[1] <= now.timestamp() + 1:
            raise keys.InvalidSessionJwt()
        return seen[2], seen[3]
    claims = keys.verify(scope, token, now=now)
    session = claims.get(SESSION_CLAIM)
    session_id = session.get("id") if isinstance(session, dict) else None
    member_id = claims.get("sub")
    if not isinstance(session_id, str) or not isinstance(member_id, str):
        raise keys.InvalidSessionJwt()
    at = time.monotonic()
    expired = at - keys.JWT_LIFETIME.total_seconds()
    with _recent_lock:
        _verified[token] = (scope.project_id, claims["nbf"], session_id, member_id, at)
        _verified.move_to_end(token)
        _forget_old(_verified, lambda entry: entry[4] < expired, _VERIFIED_KEPT)
    return session_id, member_id


def _digest(token: str) -> str:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return "-"
    return tokens.digest(token)


def _epoch(value: datetime) -> int:
    return int(as_utc(value).timestamp())
