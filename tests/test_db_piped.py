"""PostgreSQL's writing units pipe their connection (`statements.Connection.pipeline`): the
unit's BEGIN goes with its first statement, and the INSERTs given to `insert_unread` go with
the unit's next statement, whichever way it runs, or with its COMMIT. The guarantees are
those of `db.transaction`: all or nothing, the same exception as before, and a connection
back in the pool exactly as psycopg leaves one. On SQLite `insert_unread` runs at once: the
same tests hold there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, exc, select, update
from sqlalchemy.orm import Session

from antechamber import db
from antechamber.audit import service as audit
from antechamber.errors import AntechamberError
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials
from tests.test_db_unit import _INSERT_ORG, _org, _stored


def _names(session: Session, project_id: str) -> list[str]:
    return sorted(
        session.scalars(select(Organization.name).where(Organization.project_id == project_id))
    )


def test_a_row_given_to_insert_unread_is_seen_by_the_units_next_statements(
    services: Services, project: Credentials
) -> None:
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Lean"))
        # The lean path's next statement, then the ORM's, see what was given before them.
        found = conn.execute(select(Organization.name).where(Organization.project_id == pid))
        assert found.all() == [("Lean",)]
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Orm"))
        assert _names(scope.db, pid) == ["Lean", "Orm"]
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Last"))
        audit.record(scope, "test.created")
    assert _stored(services, pid) == (["Last", "Lean", "Orm"], ["test.created"])


def test_insert_unread_takes_only_an_insert_that_returns_nothing(
    services: Services, project: Credentials
) -> None:
    table = Organization.__table__
    with services.scope(project.project_id, "test", "tester") as scope:
        conn = db.connection(scope.db)
        for statement in (update(table), _INSERT_ORG.returning(table.c.id)):
            with pytest.raises(TypeError):
                conn.insert_unread(statement, {})  # type: ignore[arg-type]


@pytest.mark.parametrize("then", ["commit", "statement", "orm"])
def test_a_failing_unread_insert_rolls_the_whole_unit_back_and_is_raised_as_before(
    services: Services, project: Credentials, then: str
) -> None:
    """A duplicate key, found when the INSERT reaches PostgreSQL (with the COMMIT, with the
    next lean statement, with the ORM's): IntegrityError, as an `execute` raised it, and
    nothing of the unit lands: not the row written before it, not the audit row."""
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, pid, "Taken"))
        audit.record(scope, "test.first")
    with (
        pytest.raises(exc.IntegrityError, match=r"organizations_pkey|UNIQUE"),
        services.scope(pid, "test", "tester") as scope,
    ):
        conn = db.connection(scope.db)
        conn.execute(_INSERT_ORG, _org(services, pid, "Written"))
        duplicate = {**_org(services, pid, "Taken"), "slug": "other"}
        conn.insert_unread(_INSERT_ORG, duplicate)
        audit.record(scope, "test.second")
        if then == "statement":
            conn.execute(select(Organization.id).where(Organization.project_id == pid)).all()
        elif then == "orm":
            _names(scope.db, pid)
    assert _stored(services, pid) == (["Taken"], ["test.first"])


_ORGS = Organization.__table__
_RENAME = (
    update(_ORGS)
    .where(_ORGS.c.project_id == bindparam("p_project"), _ORGS.c.name == bindparam("p_from"))
    .values(name=bindparam("p_to"))
)


def test_an_update_given_to_update_unread_comes_before_the_units_next_statements(
    services: Services, project: Credentials
) -> None:
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        conn.execute(_INSERT_ORG, _org(services, pid, "Old"))
        conn.update_unread(_RENAME, {"p_project": pid, "p_from": "Old", "p_to": "New"})
        # It runs ahead of this INSERT (which it would otherwise rename too), and ahead of the
        # lean and ORM reads after it.
        conn.insert_unread(_INSERT_ORG, {**_org(services, pid, "Old"), "id": "o2", "slug": "o2"})
        found = conn.execute(select(Organization.name).where(Organization.project_id == pid))
        assert sorted(found.all()) == [("New",), ("Old",)]
        conn.update_unread(_RENAME, {"p_project": pid, "p_from": "Old", "p_to": "Last"})
        assert _names(scope.db, pid) == ["Last", "New"]
        conn.update_unread(_RENAME, {"p_project": pid, "p_from": "New", "p_to": "Committed"})
        audit.record(scope, "test.renamed")
    assert _stored(services, pid) == (["Committed", "Last"], ["test.renamed"])


def test_update_unread_takes_only_an_update_that_returns_nothing(
    services: Services, project: Credentials
) -> None:
    with services.scope(project.project_id, "test", "tester") as scope:
        conn = db.connection(scope.db)
        for statement in (_INSERT_ORG, _RENAME.returning(_ORGS.c.id)):
            with pytest.raises(TypeError):
                conn.update_unread(statement, {})  # type: ignore[arg-type]


def test_a_failing_unread_update_rolls_the_whole_unit_back_and_is_raised_as_before(
    services: Services, project: Credentials
) -> None:
    """A name too long for its column, found when the UPDATE reaches the database with the
    COMMIT: DataError, as an `execute` raised it (PostgreSQL; SQLite does not check lengths),
    and nothing of the unit lands."""
    if not USE_PG:
        pytest.skip("SQLite does not check a VARCHAR's length")
    pid = project.project_id
    with pytest.raises(exc.DataError), services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        conn.execute(_INSERT_ORG, _org(services, pid, "Written"))
        conn.update_unread(_RENAME, {"p_project": pid, "p_from": "Written", "p_to": "x" * 5000})
        audit.record(scope, "test.renamed")
    assert _stored(services, pid) == ([], [])


def test_a_rolled_back_savepoint_takes_the_unread_insert_given_in_it(
    services: Services, project: Credentials
) -> None:
    """One given before the savepoint is written before it; one given in it is written in it
    (ahead of its ROLLBACK TO), so the savepoint's rollback undoes it."""
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        conn.insert_unread(_INSERT_ORG, _org(services, pid, "Before"))
        # The Session's SAVEPOINT is sent when the Session first uses its connection (the
        # ORM's first statement); statements of the lean path alone do not.
        with pytest.raises(LookupError), scope.db.begin_nested():
            scope.db.connection()
            conn.insert_unread(_INSERT_ORG, _org(services, pid, "Inside"))
            raise LookupError
        with scope.db.begin_nested():
            scope.db.connection()
            conn.insert_unread(_INSERT_ORG, _org(services, pid, "Released"))
        audit.record(scope, "test.created")
    assert _stored(services, pid) == (["Before", "Released"], ["test.created"])


def test_a_rolled_back_unit_never_sends_what_waits(
    services: Services, project: Credentials
) -> None:
    pid = project.project_id
    with pytest.raises(LookupError), services.scope(pid, "test", "tester") as scope:
        db.connection(scope.db).insert_unread(_INSERT_ORG, _org(services, pid, "Never"))
        audit.record(scope, "test.created")
        raise LookupError
    assert _stored(services, pid) == ([], [])


def test_a_keep_changes_error_commits_what_waits(services: Services, project: Credentials) -> None:
    pid = project.project_id
    with pytest.raises(AntechamberError), services.scope(pid, "test", "tester") as scope:
        db.connection(scope.db).insert_unread(_INSERT_ORG, _org(services, pid, "Kept"))
        audit.record(scope, "test.counted")
        raise AntechamberError(keep_changes=True)
    assert _stored(services, pid) == (["Kept"], ["test.counted"])


# A connection back in the pool (PostgreSQL: one connection, so every unit gets it) after each
# way a piped unit can fail: psycopg's flags as psycopg leaves them, no transaction, and the
# next unit on it still one transaction (a row it wrote goes when it fails).


@pytest.fixture
def one_connection(services: Services, project: Credentials) -> Iterator[Engine]:
    if not USE_PG:
        pytest.skip("PostgreSQL's pipelines")
    engine = db.make_engine(services.settings.database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _fails_first(session: Session, row: dict[str, Any]) -> None:
    db.connection(session).execute(_INSERT_ORG, row)  # BEGIN and this: one pipeline


def _fails_at_commit(session: Session, row: dict[str, Any]) -> None:
    db.connection(session).insert_unread(_INSERT_ORG, row)  # BEGIN, this, COMMIT


def _listener_fails(session: Session, row: dict[str, Any]) -> None:
    # BEGIN and the waiting row sent, then the COMMIT's listener raises in the pipeline.
    def fail(_session: Session) -> None:
        raise LookupError

    from sqlalchemy import event

    event.listen(session, "before_commit", fail, once=True)
    db.connection(session).insert_unread(_INSERT_ORG, {**row, "id": "o-fresh", "slug": "f"})


@pytest.mark.parametrize("fail", [_fails_first, _fails_at_commit, _listener_fails])
def test_a_failed_piped_unit_leaves_its_connection_as_psycopg_would(
    services: Services, project: Credentials, one_connection: Engine, fail: Any
) -> None:
    pid = project.project_id
    sessions = db.session_factory(one_connection)
    with db.transaction(sessions) as session:
        db.connection(session).execute(_INSERT_ORG, _org(services, pid, "Taken"))
    with pytest.raises((exc.IntegrityError, LookupError)), db.transaction(sessions) as session:
        driver: Any = db.connection(session).sa.connection.driver_connection
        fail(session, {**_org(services, pid, "Taken"), "slug": "dup"})
    assert driver.autocommit is False
    assert driver.info.transaction_status == driver.info.transaction_status.IDLE
    assert driver.pgconn.pipeline_status == 0
    with pytest.raises(LookupError), db.transaction(sessions) as session:
        assert db.connection(session).sa.connection.driver_connection is driver
        db.connection(session).execute(_INSERT_ORG, _org(services, pid, "Undone"))
        raise LookupError
    with db.transaction(sessions) as session:
        db.connection(session).insert_unread(_INSERT_ORG, _org(services, pid, "Next"))
    with db.transaction(sessions, read_only=True) as session:
        assert _names(session, pid) == ["Next", "Taken"]
