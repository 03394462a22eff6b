"""The lean path's cursors and pipelines (`statement_plans.cursor_for`,
`pg_loop.LoopConnection.lean_cursor`, `pg_loop.BatchedPipeline`).

PostgreSQL's connection keeps one cursor a plan for every lean statement, in pipelines too,
and a writing unit's pipeline hands its statements to the server together at its sync. What
must hold: a kept cursor never mixes the results of two statements (two statements of one
plan in one pipeline each get their own answer), a failed statement leaves neither the kept
cursor nor the connection in a state the next unit sees, and a pipeline's statements run in
the order given with their results where psycopg puts them. SQLite makes a cursor per
statement: the unit-level tests hold there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, exc, select, update
from sqlalchemy.orm import Session

from antechamber import db, statements
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.statement_plans import collect, cursor_for, plan_of, send
from tests.conftest import USE_PG, Credentials
from tests.test_db_unit import _INSERT_ORG, _org, _stored

_NAME_BY_ID = select(Organization.name).where(Organization.id == bindparam("id"))
_RENAME = (
    update(Organization)
    .where(Organization.id == bindparam("oid"))
    .values(name=bindparam("new_name"))
)


def _names(session: Session, project_id: str) -> list[str]:
    return sorted(
        session.scalars(select(Organization.name).where(Organization.project_id == project_id))
    )


@pytest.fixture
def one_connection(services: Services, project: Credentials) -> Iterator[Engine]:
    """An engine of one connection: every unit meets the connection (and its kept cursors)
    the one before it left."""
    engine = db.make_engine(services.settings.database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_one_plan_twice_in_a_unit_answers_each_statement(
    services: Services, project: Credentials
) -> None:
    """Two unread INSERTs of one plan wait together, go in the round trip of a SELECT, and the
    same SELECT's plan, run again, answers for its own parameters each time."""
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "First"))
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Second"))
        first = conn.execute(_NAME_BY_ID, {"id": "organization-test-first"}).all()
        second = conn.execute(_NAME_BY_ID, {"id": "organization-test-second"}).all()
        nobody = conn.execute(_NAME_BY_ID, {"id": "organization-test-nobody"}).all()
        assert (first, second, nobody) == ([("First",)], [("Second",)], [])
        renamed = conn.execute(_RENAME, {"oid": "organization-test-first", "new_name": "One"})
        assert renamed.rowcount == 1
        missed = conn.execute(_RENAME, {"oid": "organization-test-nobody", "new_name": "No"})
        assert missed.rowcount == 0
    assert _stored(services, pid)[0] == ["One", "Second"]


@pytest.mark.parametrize("where", ["first statement", "unread", "at commit"])
def test_a_failed_statement_leaves_nothing_the_next_unit_sees(
    services: Services, project: Credentials, one_connection: Engine, where: str
) -> None:
    """A unique violation on a kept cursor (the plan's, used before), in each place a piped
    unit can meet it; the next unit on the same connection runs the same plans and gets its
    own answers, rowcounts and rows, and commits."""
    pid = project.project_id
    sessions = db.session_factory(one_connection)
    with db.transaction(sessions) as session:
        conn = db.connection(session)
        conn.execute(_INSERT_ORG, _org(services, pid, "Taken"))
        assert conn.execute(_NAME_BY_ID, {"id": "organization-test-taken"}).all() == [("Taken",)]
    dup = {**_org(services, pid, "Taken"), "slug": "dup"}
    with pytest.raises(exc.IntegrityError), db.transaction(sessions) as session:
        conn = db.connection(session)
        if where == "first statement":
            conn.execute(_INSERT_ORG, dup)
        elif where == "unread":
            conn.insert_unread(_INSERT_ORG, dup)
            conn.execute(_NAME_BY_ID, {"id": "organization-test-taken"})
        else:
            conn.execute(_NAME_BY_ID, {"id": "organization-test-taken"})
            conn.insert_unread(_INSERT_ORG, dup)
    with db.transaction(sessions) as session:
        conn = db.connection(session)
        driver: Any = conn.sa.connection.driver_connection
        conn.execute(_INSERT_ORG, _org(services, pid, "Next"))
        assert conn.execute(_NAME_BY_ID, {"id": "organization-test-next"}).all() == [("Next",)]
        assert conn.execute(_NAME_BY_ID, {"id": "organization-test-taken"}).all() == [("Taken",)]
        renamed = conn.execute(_RENAME, {"oid": "organization-test-next", "new_name": "Later"})
        assert renamed.rowcount == 1
    assert _stored(services, pid)[0] == ["Later", "Taken"]
    if USE_PG:
        assert driver.pgconn.pipeline_status == 0
        assert driver.info.transaction_status == driver.info.transaction_status.IDLE


def _pg_only() -> None:
    if not USE_PG:
        pytest.skip("PostgreSQL's kept cursors and pipelines")


def test_two_statements_of_one_plan_in_one_pipeline_get_their_own_cursors(
    services: Services, project: Credentials, one_connection: Engine
) -> None:
    """While the kept cursor's statement waits in the open pipeline, the plan's next statement
    gets a cursor of its own; after the pipeline, the kept one is handed out again."""
    _pg_only()
    pid = project.project_id
    with db.transaction(db.session_factory(one_connection)) as session:
        for name in ("Ann", "Bob"):
            db.connection(session).execute(_INSERT_ORG, _org(services, pid, name))
        conn = db.connection(session)
        raw: Any = conn.sa.connection.dbapi_connection
        plan = plan_of(conn.dialect, _NAME_BY_ID, {"id": ""}, False)
        kept = raw.lean_cursor(plan)
        sent = []
        with conn.pipeline("test"):
            for oid in ("organization-test-ann", "organization-test-bob"):
                cursor, _kept = cursor_for(raw, plan)
                sql, args = send(conn.sa, cursor, *plan.fast_args({"id": oid}, False), False)
                sent.append((cursor, sql, args))
        assert sent[0][0] is kept
        assert sent[1][0] is not kept
        answers = [collect(conn.sa, plan, *s, False, True).all() for s in sent]
        assert answers == [[("Ann",)], [("Bob",)]]
        assert cursor_for(raw, plan)[0] is kept


def test_a_batched_pipeline_sends_at_its_sync_and_answers_in_order(
    services: Services, one_connection: Engine
) -> None:
    """Statements queued in a `BatchedPipeline` wait in psycopg's queue until a result is
    asked for (then everything before it goes), the sync, or the end; each cursor gets its
    own result; a failure is raised at the end, the statements after it skipped, and the
    connection is usable after."""
    _pg_only()
    import psycopg

    with one_connection.connect() as connection:
        raw: Any = connection.connection.dbapi_connection
        raw.autocommit = True
        raw.execute("CREATE TEMPORARY TABLE kept_t (k int PRIMARY KEY, v text)")
        cursors = [raw.cursor() for _ in range(4)]
        with raw.batched_pipeline() as pipeline:
            cursors[0].execute("INSERT INTO kept_t VALUES (%s, %s)", (1, "one"))
            cursors[1].execute("INSERT INTO kept_t VALUES (%s, %s)", (2, "two"))
            assert len(pipeline.command_queue) >= 2  # not sent yet
            cursors[2].execute("SELECT v FROM kept_t ORDER BY k")
            assert cursors[2].fetchall() == [("one",), ("two",)]  # what it needed went first
            assert not pipeline.command_queue
            cursors[3].execute("UPDATE kept_t SET v = %s WHERE k = %s", ("uno", 1))
            pipeline.sync()
            assert cursors[3].rowcount == 1
        assert [c.rowcount for c in cursors[:2]] == [1, 1]
        with pytest.raises(psycopg.errors.UniqueViolation), raw.batched_pipeline():
            cursors[0].execute("INSERT INTO kept_t VALUES (%s, %s)", (1, "again"))
            cursors[1].execute("INSERT INTO kept_t VALUES (%s, %s)", (3, "three"))
        assert raw.pgconn.pipeline_status == 0
        assert raw.execute("SELECT k, v FROM kept_t ORDER BY k").fetchall() == [
            (1, "uno"),
            (2, "two"),
        ]
        raw.execute("DROP TABLE kept_t")


def test_psycopgs_own_pipelines_still_serve_when_batching_is_off(
    services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`statements.BATCHED` off (bench comparisons): the same unit, the same rows."""
    monkeypatch.setattr(statements, "BATCHED", False)
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Plain"))
        assert conn.execute(_NAME_BY_ID, {"id": "organization-test-plain"}).all() == [("Plain",)]
        assert _names(scope.db, pid) == ["Plain"]
    assert _stored(services, pid)[0] == ["Plain"]
