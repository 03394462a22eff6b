"""The PostgreSQL engine's connections (`pg_loop.LoopConnection`): a session zone that is
another name of UTC becomes `UTC` itself (values loaded in `datetime.UTC`, every SQL answer as
before), another zone is left alone; and the cursors a connection keeps for lean SELECTs answer
as fresh ones would, also after a failed statement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, select

from antechamber import db, models, statements
from antechamber.services import Services

pytestmark = pytest.mark.postgres_only

#: Answers that depend on the session's zone (its rules, not its name).
_ZONE_SENSITIVE = (
    "SELECT %s::timestamptz::date::text, %s::timestamptz::timestamp::text,"
    " to_char(%s::timestamptz, 'YYYY-MM-DD HH24:MI:SS OF'), date_trunc('day', %s::timestamptz),"
    " '2026-03-29 02:30:00'::timestamp::timestamptz, extract(epoch from %s::timestamptz)"
)


def _plain(url: str, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(url.replace("+psycopg", ""), autocommit=True, **kwargs)


@pytest.fixture
def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_utc_alias_becomes_utc_and_answers_as_before(engine: Engine, url: str) -> None:
    from antechamber.pg_loop import UTC_ALIASES

    with _plain(url, options="-c TimeZone=Etc/UTC") as plain:
        assert plain.pgconn.parameter_status(b"TimeZone") in UTC_ALIASES
        moments = [datetime(2026, 3, 29, 1, 30, tzinfo=UTC) + timedelta(hours=h) for h in (0, 23)]
        expected = [plain.execute(_ZONE_SENSITIVE, [m] * 5).fetchone() for m in moments]
        their_now = plain.execute("SELECT now()").fetchone()
        assert their_now is not None
        assert their_now[0].tzinfo is not UTC  # ZoneInfo('Etc/UTC')
    ours = db.make_engine(url, connect_args={"options": "-c TimeZone=Etc/UTC"})
    try:
        with ours.connect() as conn:
            raw: Any = conn.connection.driver_connection
            assert raw.pgconn.parameter_status(b"TimeZone") == b"UTC"
            assert raw.info.transaction_status == 0  # the SET left no transaction behind
            got = [raw.execute(_ZONE_SENSITIVE, [m] * 5).fetchone() for m in moments]
            assert got == expected
            loaded = raw.execute("SELECT %s::timestamptz", [moments[0]]).fetchone()[0]
            assert loaded == moments[0]
            assert loaded.tzinfo is UTC
            assert loaded.isoformat() == moments[0].isoformat()
            assert loaded.tzname() == "UTC"
    finally:
        ours.dispose()


def test_another_zone_is_left_alone(url: str) -> None:
    ours = db.make_engine(url, connect_args={"options": "-c TimeZone=Europe/Paris"})
    try:
        with ours.connect() as conn:
            raw: Any = conn.connection.driver_connection
            assert raw.pgconn.parameter_status(b"TimeZone") == b"Europe/Paris"
            loaded = raw.execute("SELECT '2026-07-01 12:00:00+00'::timestamptz").fetchone()[0]
            assert loaded.utcoffset() == timedelta(hours=2)
    finally:
        ours.dispose()


_BY_ID = select(models.Project.id, models.Project.name, models.Project.created_at).where(
    models.Project.id == bindparam("id")
)


@pytest.fixture
def lean(services: Services) -> Iterator[statements.Connection]:
    with services.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield statements.Connection(conn)


def test_a_kept_cursor_answers_as_sqlalchemy(
    services: Services, lean: statements.Connection
) -> None:
    from antechamber.projects import service as projects_service

    with db.transaction(services.sessions) as session:
        projects = [
            projects_service.create_project(
                session,
                name=f"p{i}",
                environment="test",
                actor="test",
                clock=services.clock,
                settings=services.settings,
            )[0]
            for i in range(3)
        ]
    raw: Any = lean.sa.connection.dbapi_connection
    for _ in range(3):  # past psycopg's prepare threshold, on the same kept cursor
        for project in projects:
            row = lean.execute(_BY_ID, {"id": project.id}).one()
            assert tuple(row) == tuple(lean.sa.execute(_BY_ID, {"id": project.id}).one())
    assert lean.execute(_BY_ID, {"id": "nobody"}).first() is None
    kept = raw.__dict__["_lean_cursors"]
    assert len(kept) == 1
    assert not next(iter(kept.values())).closed


def test_a_kept_cursor_after_an_error(lean: statements.Connection) -> None:
    from sqlalchemy import exc

    bad = select(models.Project.id).where(models.Project.created_at == bindparam("at"))
    with pytest.raises(exc.DataError):
        lean.execute(bad, {"at": "not a time"})
    assert lean.execute(bad, {"at": datetime.now(UTC)}).all() == []


def test_json_columns_load_through_the_engines_decoder(lean: statements.Connection) -> None:
    """JSON and JSONB come out of the engine's connections as `json_columns.loads` reads their
    text (psycopg's loader is `pg_cursor.JsonColumnLoader`)."""
    from sqlalchemy import text

    from antechamber import json_columns
    from antechamber.pg_cursor import JsonColumnLoader

    raw: Any = lean.sa.connection.dbapi_connection
    assert raw.adapters.get_loader(raw.adapters.types["jsonb"].oid, 0) is JsonColumnLoader
    texts = ['{"a": [1, 2.5, null, true]}', "[12345678901234567890123]", "[]", '"é"', "null"]
    for kind in ("json", "jsonb"):
        row = lean.sa.execute(
            text(
                ", ".join(f"CAST(:t{i} AS {kind})" for i in range(len(texts))).join(["SELECT ", ""])
            ),
            {f"t{i}": t for i, t in enumerate(texts)},
        ).one()
        stored = lean.sa.execute(
            text(
                ", ".join(f"CAST(CAST(:t{i} AS {kind}) AS text)" for i in range(len(texts))).join(
                    ["SELECT ", ""]
                )
            ),
            {f"t{i}": t for i, t in enumerate(texts)},
        ).one()
        assert [repr(v) for v in row] == [repr(json_columns.loads(s)) for s in stored]


def test_commit_with_nothing_to_commit_and_with_something(url: str) -> None:
    """`LoopConnection.commit` as psycopg's: idle, nothing (not even the lock); inside a
    transaction it commits; inside `transaction()` it refuses."""
    import psycopg

    from antechamber.pg_loop import LoopConnection

    with LoopConnection.connect(url.replace("+psycopg", "")) as conn:
        conn.commit()  # idle, outside any transaction
        conn.execute("CREATE TEMP TABLE t (n int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.pgconn.transaction_status != 0
        conn.commit()
        assert conn.pgconn.transaction_status == 0
        conn.rollback()
        assert conn.execute("SELECT n FROM t").fetchall() == [(1,)]
        conn.commit()
        with pytest.raises(psycopg.ProgrammingError), conn.transaction():
            conn.commit()
