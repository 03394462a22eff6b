"""The unit of work's lean path (`db._Unit`): a unit whose Session holds no ORM state commits
through its connection, without SQLAlchemy's Session transaction, and keeps every guarantee
of `db.transaction` (commit, rollback, `keep_changes`, the audit rows in the same transaction,
one connection for the ORM and the statements)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, exc, insert, select
from sqlalchemy.orm import Session

from antechamber import db
from antechamber.audit import service as audit
from antechamber.audit.models import AuditEvent
from antechamber.errors import AntechamberError
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials

_INSERT_ORG = insert(cast(Table, Organization.__table__))


def _org(services: Services, project_id: str, name: str) -> dict[str, Any]:
    now = services.clock.now()
    return {
        "id": f"organization-test-{name.lower()}",
        "project_id": project_id,
        "name": name,
        "slug": name.lower(),
        "created_at": now,
        "updated_at": now,
    }


def _stored(services: Services, project_id: str) -> tuple[list[str], list[str]]:
    """The organizations' names and the audit events' types of the project, as committed."""
    with db.transaction(services.sessions, read_only=True) as session:
        names = sorted(
            session.scalars(select(Organization.name).where(Organization.project_id == project_id))
        )
        types = sorted(
            session.scalars(
                select(AuditEvent.event_type).where(
                    AuditEvent.project_id == project_id, AuditEvent.event_type.like("test.%")
                )
            )
        )
    return names, types


@contextmanager
def session_transactions() -> Iterator[list[Session]]:
    """The Sessions that began a transaction of SQLAlchemy's inside the block."""
    begun: list[Session] = []

    def created(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            begun.append(session)

    event.listen(Session, "after_transaction_create", created)
    try:
        yield begun
    finally:
        event.remove(Session, "after_transaction_create", created)


def test_a_unit_of_statements_commits_without_the_session_transaction(
    services: Services, project: Credentials
) -> None:
    """The fast path is taken (a Session transaction here means it was not), and the
    organization and its audit event both land."""
    with session_transactions() as begun:
        with services.scope(project.project_id, "test", "tester") as scope:
            db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Lean"))
            audit.record(scope, "test.created")
        assert begun == []
    assert _stored(services, project.project_id) == (["Lean"], ["test.created"])


def test_a_unit_of_statements_that_raises_leaves_nothing(
    services: Services, project: Credentials
) -> None:
    with pytest.raises(LookupError), services.scope(project.project_id, "test", "t") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Gone"))
        audit.record(scope, "test.created")
        raise LookupError
    assert _stored(services, project.project_id) == ([], [])


def test_a_keep_changes_error_commits_a_unit_of_statements(
    services: Services, project: Credentials
) -> None:
    with pytest.raises(AntechamberError), services.scope(project.project_id, "test", "t") as scope:
        db.connection(scope.db).execute(_INSERT_ORG, _org(services, project.project_id, "Kept"))
        audit.record(scope, "test.counted")
        raise AntechamberError(keep_changes=True)
    assert _stored(services, project.project_id) == (["Kept"], ["test.counted"])


@pytest.mark.parametrize("fails", [False, True])
def test_the_orm_and_the_statements_share_one_transaction(
    services: Services, project: Credentials, fails: bool
) -> None:
    """An ORM change, a statement that sees it (flushed first), an audit event: one
    connection checked out, all committed or all rolled back together."""
    checkouts: list[object] = []

    def checkout(*args: Any) -> None:
        checkouts.append(args)

    event.listen(services.engine, "checkout", checkout)
    try:
        with (
            pytest.raises(LookupError) if fails else _nothing(),
            services.scope(project.project_id, "test", "tester") as scope,
        ):
            scope.db.add(Organization(**_org(services, project.project_id, "Orm")))
            conn = db.connection(scope.db)  # flushes the organization
            found = conn.execute(select(Organization.name).where(Organization.slug == "orm"))
            assert found.scalar_one() == "Orm"
            conn.execute(_INSERT_ORG, _org(services, project.project_id, "Core"))
            audit.record(scope, "test.created")
            if fails:
                raise LookupError
    finally:
        event.remove(services.engine, "checkout", checkout)
    assert len(checkouts) == 1
    expected = ([], []) if fails else (["Core", "Orm"], ["test.created"])
    assert _stored(services, project.project_id) == expected


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def test_a_read_only_unit_of_statements_refuses_audit_rows(
    services: Services, project: Credentials
) -> None:
    with (
        pytest.raises(db.ReadOnlyViolation),
        services.scope(project.project_id, "test", "t", read_only=True) as scope,
    ):
        audit.record(scope, "test.read")
    assert _stored(services, project.project_id) == ([], [])


@pytest.mark.skipif(USE_PG, reason="SQLite's BEGIN IMMEDIATE")
def test_a_busy_begin_immediate_is_wrapped_as_the_engine_would(tmp_path: Any) -> None:
    """The writer's BEGIN goes straight to the driver; its error is still SQLAlchemy's."""
    path = tmp_path / "busy.sqlite"
    engine = db.make_engine(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            holder.execute("BEGIN IMMEDIATE")  # another program writing
            with pytest.raises(exc.OperationalError, match="locked"):
                conn.begin()
    finally:
        holder.close()
        engine.dispose()
