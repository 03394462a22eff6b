"""Intermediate session tokens (ISTs): issue, look at, claim (single use), bind.

Contract:
- A token is 256 random bits from `secrets`, given to its holder once; the database keeps its
  SHA-256 digest. Lookups go by digest and project, so another project's token is unknown.
- An IST lives `LIFETIME` (10 minutes) from its issue; binding does not extend it.
- `claim` consumes the IST with one atomic conditional UPDATE (`… WHERE consumed_at IS NULL
  AND expires_at > now RETURNING …`): of concurrent claims exactly one gets the row, and on
  PostgreSQL the row stays locked until that transaction ends, so the others then see it
  consumed. If the claiming transaction rolls back, the IST is untouched.
- `bind` turns a claimed IST back into a live one, bound to one organization and member, when a
  login still needs a factor (MFA). A bound IST finishes a login into that organization and
  member only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, case, insert, select, update
from sqlalchemy.sql import Executable

from antechamber import client_limits, db, rows, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.ids import new_id
from antechamber.scope import Scope
from antechamber.sessions import errors
from antechamber.sessions.factors import Factor
from antechamber.sessions.models import IntermediateSession

LIFETIME = timedelta(minutes=10)
MAX_TOKEN_LENGTH = 256

# The statements of the login paths, built once (Core, on the unit of work's connection). The
# rows they return become transient `IntermediateSession` objects (`rows`): no identity map.
_ists = cast(Table, IntermediateSession.__table__)
_ISTS = rows.Columns(IntermediateSession)
_INSERT = insert(_ists)
_live = (
    _ists.c.token_digest == bindparam("p_digest"),
    _ists.c.project_id == bindparam("p_project"),
    _ists.c.consumed_at.is_(None),
    _ists.c.expires_at > bindparam("p_now"),
)
_PEEK = select(*_ISTS.columns).where(*_live)
#: For a read that joins the live IST of a token to other rows (`otp.flows`): its columns (in
#: `ROWS`'s order) and the join condition, with parameters `p_digest` (`digest_of`), `p_project`
#: and `p_now`. `pending_of` then checks the row found as `pending_for` checks its own.
ROWS = _ISTS
LIVE = and_(*_live)
# Single use: of concurrent claims, one UPDATE matches the row; the others match nothing.
_CLAIM = (
    update(_ists).where(*_live).values(consumed_at=bindparam("p_now")).returning(*_ISTS.columns)
)
_BIND = (
    update(_ists)
    .where(_ists.c.id == bindparam("p_id"))
    .values(
        consumed_at=None,
        organization_id=bindparam("p_organization"),
        member_id=bindparam("p_member"),
    )
)

# An unbound IST takes (organization, member); a bound one keeps its own, which the caller
# compares (the SET's right-hand sides read the row as it was).
_unbound = _ists.c.organization_id.is_(None)
_BIND_LIVE = (
    update(_ists)
    .where(
        _ists.c.id == bindparam("p_id"),
        _ists.c.consumed_at.is_(None),
        _ists.c.expires_at > bindparam("p_now"),
    )
    .values(
        organization_id=case(
            (_unbound, bindparam("p_organization")), else_=_ists.c.organization_id
        ),
        member_id=case((_unbound, bindparam("p_member")), else_=_ists.c.member_id),
    )
    .returning(_ists.c.organization_id, _ists.c.member_id)
)


def issue(
    scope: Scope,
    *,
    email: str,
    factors: Sequence[Factor],
    organization_id: str | None = None,
    member_id: str | None = None,
) -> tuple[IntermediateSession, str]:
    """A new IST for `email` proven by `factors`; returns (row, token). The token is not stored."""
    now = scope.clock.now()
    token = tokens.new_token()
    values = {
        "id": new_id("intermediate-session", scope.environment),
        "project_id": scope.project_id,
        "token_digest": tokens.digest(token),
        "email_address": email,
        "factors": list(factors),
        "organization_id": organization_id,
        "member_id": member_id,
        "created_at": now,
        "expires_at": now + LIFETIME,
        "consumed_at": None,
    }
    db.connection(scope.db).insert_unread(_INSERT, values)  # with the next statement, or COMMIT
    # Not added to the ORM session: the row is written; this is the caller's copy of it.
    row = _ISTS.from_values(values)
    audit.record(
        scope,
        EventType.INTERMEDIATE_SESSION_ISSUED,
        organization_id=organization_id,
        member_id=member_id,
        intermediate_session_id=row.id,
        email=email,
    )
    return row, token


def peek(scope: Scope, token: object) -> IntermediateSession:
    """The live IST for `token`, without consuming it; else `IntermediateSessionNotFound`.

    A miss counts against the client address's allowance of failures (`client_limits`); an
    address over it gets `TooManyRequests` before the lookup. The same holds for `claim`.
    """
    with client_limits.failures_counted(scope, errors.IntermediateSessionNotFound):
        return _peek(scope, token)


def _peek(scope: Scope, token: object) -> IntermediateSession:
    return _found(scope, _PEEK, token)


def claim(scope: Scope, token: object) -> IntermediateSession:
    """Consume the live IST for `token` in this transaction (single use, see the module doc).

    Raises `IntermediateSessionNotFound` for an unknown, consumed or expired token. Whatever
    the caller raises afterwards rolls the claim back with the rest of the transaction.
    """
    with client_limits.failures_counted(scope, errors.IntermediateSessionNotFound):
        return _claim(scope, token)


def _claim(scope: Scope, token: object) -> IntermediateSession:
    return _found(scope, _CLAIM, token)


def _found(scope: Scope, statement: Executable, token: object) -> IntermediateSession:
    """The live IST for `token` that `statement` (`_PEEK` or `_CLAIM`) finds, as a plain object."""
    found = (
        db.connection(scope.db)
        .execute(
            statement,
            {"p_digest": _digest(token), "p_project": scope.project_id, "p_now": scope.clock.now()},
        )
        .one_or_none()
    )
    if found is None:
        raise errors.IntermediateSessionNotFound()
    return _ISTS.make(found)


def bind(scope: Scope, ist: IntermediateSession, organization_id: str, member_id: str) -> None:
    """Make a claimed IST live again, bound to (organization, member): the login waits there."""
    check_binding(ist, organization_id, member_id)
    db.connection(scope.db).execute(
        _BIND, {"p_id": ist.id, "p_organization": organization_id, "p_member": member_id}
    )
    ist.consumed_at = None
    ist.organization_id = organization_id
    ist.member_id = member_id


def check_binding(ist: IntermediateSession, organization_id: str, member_id: str | None) -> None:
    """Refuse an IST bound to another organization (or, given `member_id`, another member)."""
    if ist.organization_id is None:
        return
    if ist.organization_id != organization_id or (
        member_id is not None and ist.member_id != member_id
    ):
        raise errors.InvalidIntermediateSessionForOrganization()


def pending_for(
    scope: Scope, token: object, organization_id: str, member_id: str
) -> IntermediateSession:
    """The live IST of a login waiting for MFA in (organization, member), not consumed.

    For second-factor calls to check the IST *before* checking a code. Raises
    `IntermediateSessionNotFound` or `InvalidIntermediateSessionForOrganization` (also for an
    IST not bound yet: exchange it into the organization first).
    """
    return pending_of(scope, peek(scope, token), organization_id, member_id)


def pending_of(
    scope: Scope, found: IntermediateSession | None, organization_id: str, member_id: str
) -> IntermediateSession:
    """`pending_for` on the live IST of the token that a read joining `LIVE` found (None: no
    live IST has that token): the same errors, and the same failure counted for a miss."""
    ist = live_of(scope, found)
    if ist.organization_id != organization_id or ist.member_id != member_id:
        raise errors.InvalidIntermediateSessionForOrganization()
    return ist


def live_of(scope: Scope, found: IntermediateSession | None) -> IntermediateSession:
    """`peek` on the row a read joining `LIVE` found: `found`, or `IntermediateSessionNotFound`
    for None, counted as `peek` counts a miss. An address over its allowance is refused even
    with the right token, as by `peek`."""
    with client_limits.failures_counted(scope, errors.IntermediateSessionNotFound):
        if found is None:
            raise errors.IntermediateSessionNotFound()
    return found


def claim_for(scope: Scope, token: object, organization_id: str, member_id: str) -> None:
    """Consume the live IST of `token` (`claim`) for a session in (organization, member), after
    a read that found it live: it may have been consumed since (`IntermediateSessionNotFound`)
    or bound elsewhere (`InvalidIntermediateSessionForOrganization`)."""
    check_binding(claim(scope, token), organization_id, member_id)


def bind_live(scope: Scope, ist: IntermediateSession, organization_id: str, member_id: str) -> None:
    """`bind` for an IST that was read live but not claimed: one conditional UPDATE binds it
    if it is still live and unbound or bound to exactly (organization, member); else
    `IntermediateSessionNotFound` (consumed or expired since) or
    `InvalidIntermediateSessionForOrganization` (bound elsewhere since). Of a concurrent
    claim and bind, whichever the database orders second sees the other's outcome."""
    check_binding(ist, organization_id, member_id)
    bound = (
        db.connection(scope.db)
        .execute(
            _BIND_LIVE,
            {
                "p_id": ist.id,
                "p_now": scope.clock.now(),
                "p_organization": organization_id,
                "p_member": member_id,
            },
        )
        .one_or_none()
    )
    if bound is None:
        raise errors.IntermediateSessionNotFound()
    if tuple(bound) != (organization_id, member_id):
        raise errors.InvalidIntermediateSessionForOrganization()
    ist.organization_id = organization_id
    ist.member_id = member_id


def digest_of(token: object) -> str:
    """What `LIVE`'s `p_digest` is for `token` (a token we cannot have issued matches none)."""
    return _digest(token)


def _digest(token: object) -> str:
    # A non-string or oversized "token" cannot be one we issued; hash a constant so the
    # lookup simply misses.
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return "-"
    return tokens.digest(token)
