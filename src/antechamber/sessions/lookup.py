"""Finding a live session by token or JWT: the statements, built once, and the check's read.

Contract: a live session is one of the scope's project, not revoked, not expired at `now`,
found with its member and organization by one joined statement. A token is looked up by its
SHA-256 digest (the only form stored); a JWT only after `jwts.subject` accepts it, by the
session and member ids it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, Text, bindparam, literal_column, select
from sqlalchemy import cast as sql_cast

from antechamber import db, tokens
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.scope import Scope
from antechamber.sessions import errors, jwts, memos
from antechamber.sessions import known as known_rows
from antechamber.sessions.known import Known
from antechamber.sessions.models import MemberSession

MAX_TOKEN_LENGTH = 256
SESSIONS = jwts.SESSIONS

# The hot path's statements, built once: constructing and keying a select costs more than
# running it on SQLite. Parameters: project_id, now, and digest or session_id + member_id.
# Each twice: for the ORM (`ORM`: objects in the unit of work) and as Core (`read`).
BY_TOKEN = "token"  # noqa: S105 (a key of `_statements`)
BY_ID = "id"


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
        BY_TOKEN: live.where(ms.token_digest == bindparam("digest")),
        BY_ID: live.where(ms.id == bindparam("session_id"), ms.member_id == bindparam("member_id")),
    }


def _as_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    # A JSON column as its text (`read` decodes it: the engine's own `json_columns.loads`).
    return sql_cast(column, Text) if isinstance(column.type, JSON) else column


#: PostgreSQL: the versions of the member's and organization's rows as one text, the server's
#: start time then each row's `xmin` and `ctid`. Every write of a row (an UPDATE, even of
#: nothing, in any transaction that commits) makes a new version of it, with the writing
#: transaction's id as its `xmin`, at a `ctid` of its own: two reads of the same row that give
#: the same versions give the same contents. The start time keeps a process from comparing
#: versions across servers (a failover, a restore); a transaction id comes around again only
#: after 2**32 transactions, and then at the same `ctid` too for a false match.
VERSIONS: ColumnElement[str] = literal_column(
    "pg_postmaster_start_time()::text"
    + "".join(
        f" || ' ' || {table}.xmin::text || ' ' || {table}.ctid::text"
        for table in (Member.__tablename__, Organization.__tablename__)
    )
)

#: The three rows as ORM objects, loaded into the unit of work (`service.resolve`).
ORM = _statements(MemberSession, Member, Organization)
_COLUMNS = (*SESSIONS.columns, *known_rows.MEMBERS.columns, *known_rows.ORGANIZATIONS.columns)
_CORE = _statements(*map(_as_text, _COLUMNS))
# PostgreSQL, for `remember`: the session's columns and the other two rows' versions (`_NARROW`,
# the check's one statement while those are remembered), or every column and the versions.
_NARROW = _statements(*map(_as_text, SESSIONS.columns), VERSIONS)
_VERSIONED = _statements(*map(_as_text, _COLUMNS), VERSIONS)
_MEMBER_AT = len(SESSIONS)
# The parameter that names the session in each statement, and the sessions (by it) whose rows
# a check remembered (`read`), oldest first, at most `known.KNOWN_KEPT`: a session not among
# them (its first check) is read whole at once, not by versions first and then again.
_KEYS = {BY_TOKEN: "digest", BY_ID: "session_id"}
_checked: dict[str, bool] = {}
_IDS_AT = (SESSIONS.keys.index("member_id"), SESSIONS.keys.index("organization_id"))
# Where the session's JSON texts are (the member's and organization's: `known.JSON_AT`).
_SESSION_JSON = tuple(i for i, c in enumerate(SESSIONS.columns) if isinstance(c.type, JSON))


def find(
    scope: Scope, session_token: str | None, session_jwt: str | None, now: datetime
) -> tuple[str, dict[str, Any]]:
    """Which statement (`BY_TOKEN` or `BY_ID`) finds the session, with its parameters.
    Exactly one of the two arguments; a JWT must pass `jwts.subject`."""
    given = [v for v in (session_token, session_jwt) if v]
    if not given:
        raise errors.NoSessionArguments()
    if len(given) > 1:
        raise errors.TooManySessionArguments()
    live = {"project_id": scope.project_id, "now": now}
    if session_token:
        return BY_TOKEN, {**live, "digest": _digest(session_token)}
    session_id, member_id = jwts.subject(scope, str(session_jwt), now)
    return BY_ID, {**live, "session_id": session_id, "member_id": member_id}


def read(
    scope: Scope, found: tuple[str, dict[str, Any]], remember: bool = False
) -> tuple[MemberSession, Member, Organization, Known | None]:
    """The three rows of `find`'s statement by one Core statement on the unit of work's
    connection, made into transient objects: half the cost of the ORM's load (identity map,
    instance states, events), which a session check does not need as it changes nothing. The
    member's and organization's values come from `Known` when the same rows were read before
    (their JSON columns are read as text and decoded here), with the objects themselves when
    `remember` (`service.authenticate`), and the session's JSON values then from the texts
    decoded before (`known.shared_decoded`); else they are the caller's own. Raises
    `SessionNotFound` when no live session matches.

    On PostgreSQL, with `remember`, a session checked before (`_checked`) is read as its columns
    and the other two rows' `VERSIONS` (a sixth of the columns): while those are remembered,
    that is the check's one round trip; else, as for a session not checked before, one
    statement reads all three rows with their versions (the session's columns then come from
    that later read)."""
    statement, params = found
    conn = db.connection(scope.db)
    if remember and conn.dialect.name == "postgresql":
        key = params[_KEYS[statement]]
        if key in _checked:
            row = conn.execute(_NARROW[statement], params).first()
            if row is None:
                raise errors.SessionNotFound()
            known = known_rows.by_version((row[_IDS_AT[0]], row[_IDS_AT[1]]), row[_MEMBER_AT])
            if known is not None:
                return _shared_session(row), known.member, known.organization, known
        row = conn.execute(_VERSIONED[statement], params).first()
        if row is None:
            raise errors.SessionNotFound()
        known = known_rows.remembered(tuple(row[_MEMBER_AT:-1]), row[-1])
        if key not in _checked:
            with memos.lock:
                memos.forget_old(_checked, None, known_rows.KNOWN_KEPT - 1)
                _checked[key] = True
        return _shared_session(row), known.member, known.organization, known
    row = conn.execute(_CORE[statement], params).first()
    if row is None:
        raise errors.SessionNotFound()
    # What the ORM's loader does for each column, without the unit of work (`rows`): every
    # column attribute is set, so reading one never tries to load it.
    raw = tuple(row[_MEMBER_AT:])
    if remember:
        known = known_rows.remembered(raw)
        return _shared_session(row), known.member, known.organization, known
    session = SESSIONS.make(known_rows.decoded(row[:_MEMBER_AT], _SESSION_JSON))
    return session, *known_rows.fresh(raw), None


def _shared_session(row: Any) -> MemberSession:
    # With `remember`, the session's JSON values too are shared (`known.shared_decoded`).
    return SESSIONS.make(known_rows.shared_decoded(row[:_MEMBER_AT], _SESSION_JSON))


def _digest(token: str) -> str:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return "-"
    return tokens.digest(token)
