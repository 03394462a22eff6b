"""Finding a live session by token or JWT: the statements, built once, and the check's read.

Contract: a live session is one of the scope's project, not revoked, not expired at `now`,
found with its member and organization by one joined statement. A token is looked up by its
SHA-256 digest (the only form stored); a JWT only after `jwts.subject` accepts it, by the
session and member ids it names.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import column as sql_column
from sqlalchemy.dialects.postgresql import JSONB

from antechamber import db, statements, tokens
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.scope import Scope
from antechamber.sessions import errors, jwts, memos
from antechamber.sessions import known as known_rows
from antechamber.sessions.known import Known
from antechamber.sessions.models import MemberSession

try:  # greenlet comes with the `postgres` extra, as psycopg: `_narrow` runs only there
    from antechamber import loop_units
except ImportError:  # pragma: no cover (SQLite-only installs)
    loop_units = None  # type: ignore[assignment]

MAX_TOKEN_LENGTH = 256
SESSIONS = jwts.SESSIONS

# The hot path's statements, built once: constructing and keying a select costs more than
# running it on SQLite. Parameters: project_id, now, and digest or session_id + member_id.
# Each twice: for the ORM (`ORM`: objects in the unit of work) and as Core (`read`).
BY_TOKEN = "token"  # noqa: S105 (a key of `_statements`)
BY_ID = "id"


#: The parameters that name the session in each statement, after `project_id` and `now`, and
#: the session's columns they are compared with.
_NAMED_BY = {BY_TOKEN: ("digest",), BY_ID: ("session_id", "member_id")}
_SESSION_COLUMN = {"digest": "token_digest", "session_id": "id", "member_id": "member_id"}
_TYPES: dict[str, Any] = {"project_id": String, "now": DateTime(timezone=True)}


def _statements(*entities: Any, gathered: bool = False) -> dict[str, Select[Any]]:
    """The live-session statement for each way in, selecting `entities`. `gathered`
    (PostgreSQL): for many checks at once (`loop_units.gathered`), given as one parameter,
    `checks`, a JSON array of each check's parameters and its place among them (`at`, from
    0), which ends each row: the same rule, applied to each check's own values."""
    # On the tables: the Core flavour must carry no ORM entity (it would load objects).
    ms, m, o = (MemberSession.__table__.c, Member.__table__.c, Organization.__table__.c)
    out = {}
    for way, named_by in _NAMED_BY.items():
        names = ("project_id", "now", *named_by)
        checks: Any = None
        given: Any = {name: bindparam(name) for name in names}
        if gathered:
            # One JSON text of the checks (orjson's, in C; psycopg dumps a list parameter
            # element by element in Python, a regex each), each with its place as `at`.
            types = [_TYPES.get(name, String) for name in names]
            checks = given = (
                func.jsonb_to_recordset(sql_cast(bindparam("checks", type_=Text), JSONB))
                .table_valued(sql_column("at", Integer), *map(sql_column, names, types))
                .render_derived(with_types=True)
                .c
            )
        live = and_(
            ms.project_id == given["project_id"],
            ms.revoked_at.is_(None),
            ms.expires_at > given["now"],
            *(ms[_SESSION_COLUMN[name]] == given[name] for name in named_by),
        )
        query = (
            select(*entities).select_from(MemberSession.__table__).where(live)
            if checks is None
            else select(*entities, checks.at)
            .select_from(checks.at.table)
            .join(MemberSession.__table__, live)
        )
        out[way] = query.join(Member.__table__, m.id == ms.member_id).join(
            Organization.__table__, o.id == ms.organization_id
        )
    return out


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
# `_NARROW` for many checks at once (`_narrow`).
_NARROW_GATHERED = _statements(*map(_as_text, SESSIONS.columns), VERSIONS, gathered=True)
_MEMBER_AT = len(SESSIONS)
# The sessions (by the first parameter that names them, `_NAMED_BY`) whose rows a check
# remembered (`read`), oldest first, at most `known.KNOWN_KEPT`: a session not among them (its
# first check) is read whole at once, not by versions first and then again.
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
        key = params[_NAMED_BY[statement][0]]
        if key in _checked:
            row = _narrow(conn, statement, params)
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


def _narrow(conn: statements.Connection, statement: str, params: dict[str, Any]) -> Any:
    """`_NARROW`'s row for `params` (or None), read by one statement with those of the other
    session checks that reach it meanwhile (`loop_units.gathered`, PostgreSQL's loop units): a
    round trip costs the server and PostgreSQL each about 110 µs whatever it reads, a check's
    row in a gathered read a few µs. Each check's row is the one its own statement would
    read, by the same rule on its own values, as committed when the statement runs (after
    the check asked)."""
    return loop_units.gathered(
        (conn.sa.engine, statement),
        params,
        partial(gathered_rows, conn, statement),
        partial(_narrow_one, conn, statement),
    )


def _narrow_one(conn: statements.Connection, statement: str, params: dict[str, Any]) -> Any:
    return conn.execute(_NARROW[statement], params).first()


def gathered_rows(
    conn: statements.Connection, statement: str, checks: list[dict[str, Any]]
) -> list[Any]:
    """For each of `checks` (`find`'s parameters of `statement`), the row `_NARROW` reads for
    it (or None), read by one statement (`_NARROW_GATHERED`; PostgreSQL), each row with its
    check's place (from 0) after the columns `_NARROW` gives."""
    text = orjson.dumps([{**check, "at": at} for at, check in enumerate(checks)]).decode()
    found: list[Any] = [None] * len(checks)
    for row in conn.execute(_NARROW_GATHERED[statement], {"checks": text}):
        found[row[-1]] = row
    return found


def _shared_session(row: Any) -> MemberSession:
    # With `remember`, the session's JSON values too are shared (`known.shared_decoded`).
    return SESSIONS.make(known_rows.shared_decoded(row[:_MEMBER_AT], _SESSION_JSON))


def _digest(token: str) -> str:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return "-"
    return tokens.digest(token)
