"""PostgreSQL: a writing unit's last rows (the audit's, from `before_commit`) and its COMMIT go
in one libpq pipeline, one round trip (`units._before_commit_and_commit`), with the transaction's
guarantees unchanged: everything lands, or on any failure nothing does."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import psycopg
import pytest
from sqlalchemy import bindparam, event, exc, func, select, update
from sqlalchemy.orm import Session

from antechamber import db, statements
from antechamber.audit import service as audit
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.test_db_unit import _INSERT_ORG, _org, _stored

pytestmark = pytest.mark.postgres_only


class _Wire:
    """The round trips a unit's connection makes from `start` to `stop` (after the unit's
    end), from libpq's trace: each a list of the statements sent in it (a `Query`, or the
    extended protocol's statements up to a `Sync`): BEGIN, COMMIT, ROLLBACK and DEALLOCATE by
    name, any other statement as "S" (a prepared one is sent by name, without its text)."""

    def __init__(self) -> None:
        self.trace = tempfile.TemporaryFile("w+")  # noqa: SIM115  # closed by `stop`
        self.driver: Any = None

    def start(self, session: Session) -> None:
        self.driver = db.connection(session).sa.connection.driver_connection
        assert isinstance(self.driver, psycopg.Connection)
        self.driver.pgconn.trace(self.trace.fileno())
        self.driver.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    def stop(self) -> list[list[str]]:
        self.driver.pgconn.untrace()
        trips: list[list[str]] = []
        current: list[str] = []
        parsed = False  # the last message was a Parse: its Bind is the same statement
        self.trace.seek(0)
        for line in self.trace.read().splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] != "F":
                continue
            kind, rest = parts[2], parts[3] if len(parts) > 3 else ""
            if kind == "Query":
                trips.append([_word(rest.strip(' "'))])
            elif kind == "Parse":
                current.append(_word(rest.split('"')[3]))
            elif kind == "Bind" and not parsed:
                current.append("S")
            elif kind == "Sync":
                trips.append(current)
                current = []
            parsed = kind == "Parse"
        self.trace.close()
        return trips


def _word(sql: str) -> str:
    word = sql.split(None, 1)[0].upper() if sql else ""
    return word if word in ("BEGIN", "COMMIT", "ROLLBACK", "DEALLOCATE") else "S"


@pytest.mark.parametrize("events", [1, 2])
def test_the_audit_rows_and_the_commit_take_one_round_trip(
    services: Services, project: Credentials, events: int
) -> None:
    wire = _Wire()
    with services.scope(project.project_id, "test", "tester") as scope:
        wire.start(scope.db)
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Piped"))
        for n in range(events):
            audit.record(scope, f"test.created{n}")
    # The BEGIN with the INSERT, then the audit rows (one executemany) and the COMMIT: no
    # BEGIN or COMMIT of its own.
    assert wire.stop() == [["BEGIN", "S"], ["S"] * events + ["COMMIT"]]
    assert _stored(services, project.project_id) == (
        ["Piped"],
        [f"test.created{n}" for n in range(events)],
    )


def test_a_row_that_fails_in_the_pipeline_leaves_nothing_and_is_raised_as_sqlalchemy_would(
    services: Services, project: Credentials
) -> None:
    # The audit's insert fails only once PostgreSQL runs it (a value too long for its column):
    # PostgreSQL skips the COMMIT queued behind it, and the unit rolls back.
    with (
        pytest.raises(exc.DataError),
        services.scope(project.project_id, "test", "tester") as scope,
    ):
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Lost"))
        audit.record(scope, "test." + "x" * 80)
    assert _stored(services, project.project_id) == ([], [])
    # The connection went back to the pool out of any transaction: the next unit writes.
    with services.scope(project.project_id, "test", "tester") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Next"))
        audit.record(scope, "test.next")
    assert _stored(services, project.project_id) == (["Next"], ["test.next"])


def test_orm_state_a_listener_leaves_is_flushed_and_committed_with_the_rest(
    services: Services, project: Credentials
) -> None:
    def add_one(session: Session) -> None:
        session.add(Organization(**_org(services, project.project_id, "Late")))

    with services.scope(project.project_id, "test", "tester") as scope:
        event.listen(scope.db, "before_commit", add_one, once=True)
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Early"))
        audit.record(scope, "test.created")
    assert _stored(services, project.project_id) == (["Early", "Late"], ["test.created"])


def test_a_commit_that_fails_leaves_nothing(services: Services, project: Credentials) -> None:
    # A constraint checked at COMMIT (deferred): PostgreSQL rolls the transaction back.
    table = f"deferred_{os.getpid()}"
    ddl = f"CREATE TABLE {table} (n int CONSTRAINT positive UNIQUE DEFERRABLE INITIALLY DEFERRED)"
    with services.engine.begin() as conn:
        conn.exec_driver_sql(ddl)
    try:
        with (
            pytest.raises(exc.IntegrityError),
            services.scope(project.project_id, "test", "tester") as scope,
        ):
            lean: Any = db.connection(scope.db)
            lean.execute(_INSERT_ORG, _org(services, project.project_id, "Undone"))
            lean.sa.exec_driver_sql(f"INSERT INTO {table} VALUES (1), (1)")  # noqa: S608
            audit.record(scope, "test.created")
        assert _stored(services, project.project_id) == ([], [])
    finally:
        with services.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")


@pytest.mark.parametrize("read_only", [True, False])
def test_a_unit_that_ran_no_write_sends_no_commit(
    services: Services, project: Credentials, read_only: bool
) -> None:
    # A read-only unit runs in autocommit; a writing unit that wrote nothing has nothing to
    # commit: either way nothing after the statement (no COMMIT, no pipeline's Sync).
    # (A statement without parameters goes as a simple `Query`.)
    wire = _Wire()
    with services.scope(project.project_id, "test", "t", read_only=read_only) as scope:
        wire.start(scope.db)
        if read_only:
            db.connection(scope.db).sa.exec_driver_sql("SELECT 1").all()
    assert wire.stop() == ([["S"]] if read_only else [])


@pytest.mark.parametrize("then", ["nothing", "lean", "orm"])
def test_unread_inserts_go_in_the_round_trip_of_the_next_statement_or_of_the_commit(
    services: Services, project: Credentials, then: str
) -> None:
    """`insert_unread`: the unit's BEGIN and two INSERTs ride with its next lean statement (a
    SELECT that sees them), or with the audit rows and the COMMIT; a statement of the ORM's
    sends them first (its own round trip: SQLAlchemy runs it outside any pipeline)."""
    pid = project.project_id
    wire = _Wire()
    with services.scope(pid, "test", "tester") as scope:
        wire.start(scope.db)
        conn = db.connection(scope.db)
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "One"))
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Two"))
        if then == "lean":
            assert conn.execute(select(func.count()).select_from(Organization)).scalar() == 2
        elif then == "orm":
            assert scope.db.scalar(select(func.count()).select_from(Organization)) == 2
        audit.record(scope, "test.created")
    expected = {
        "nothing": [["BEGIN", "S", "S", "S", "COMMIT"]],
        "lean": [["BEGIN", "S", "S", "S"], ["S", "COMMIT"]],
        # The ORM's statement began the Session's transaction: its commit (as before this)
        # sends the audit rows and the COMMIT in round trips of their own.
        "orm": [["BEGIN", "S", "S"], ["S"], ["S"], ["COMMIT"]],
    }
    assert wire.stop() == expected[then]
    assert _stored(services, pid) == (["One", "Two"], ["test.created"])


def test_an_unread_update_goes_with_the_inserts_after_it_in_the_commits_round_trip(
    services: Services, project: Credentials
) -> None:
    """`update_unread` (a magic link's superseding of the address's earlier links): the
    unit's first statement carries its BEGIN; the UPDATE, the INSERT and the audit row wait
    for the COMMIT, in the order given: two round trips where `execute` made three."""
    pid = project.project_id
    wire = _Wire()
    rename = (
        update(Organization.__table__)
        .where(Organization.project_id == pid)
        .values(name=bindparam("p_to"))
    )
    with services.scope(pid, "test", "tester") as scope:
        wire.start(scope.db)
        conn = db.connection(scope.db)
        assert conn.execute(select(func.count()).select_from(Organization)).scalar() == 0
        conn.update_unread(rename, {"p_to": "Renamed"})
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "New"))
        audit.record(scope, "test.created")
    assert wire.stop() == [["BEGIN", "S"], ["S", "S", "S", "COMMIT"]]
    assert _stored(services, pid) == (["New"], ["test.created"])


def test_a_first_statement_that_fails_with_its_begin_leaves_nothing(
    services: Services, project: Credentials
) -> None:
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, pid, "Taken"))
    wire = _Wire()
    with (
        pytest.raises(exc.IntegrityError),
        services.scope(pid, "test", "tester") as scope,
    ):
        wire.start(scope.db)
        audit.record(scope, "test.lost")
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, pid, "Taken"))
    # BEGIN and the INSERT, then psycopg's ROLLBACK (a Query): the transaction had begun
    # (and psycopg forgets the statements it had prepared, if it had: DEALLOCATE ALL).
    assert wire.stop()[:2] == [["BEGIN", "S"], ["ROLLBACK"]]
    assert _stored(services, pid) == (["Taken"], [])


def test_a_pipeline_aborted_over_the_first_failure_is_raised_as_the_first() -> None:
    """psycopg reads a pipeline's results as they arrive: if the failing statement's answer
    comes alone and the skipped statements' later, `PipelineAborted` is raised over the
    first error; the unit must still raise the first error's type (DataError here)."""
    try:
        try:
            raise psycopg.errors.StringDataRightTruncation("value too long")
        except psycopg.Error:
            raise psycopg.errors.PipelineAborted("pipeline aborted")  # noqa: B904
    except psycopg.Error as e:
        aborted = e
    cause = statements._cause(aborted, psycopg.Error)
    assert isinstance(cause, psycopg.errors.StringDataRightTruncation)
    assert statements._cause(cause, psycopg.Error) is cause
