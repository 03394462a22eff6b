"""A unit of work's audit events are written together, at commit, inside its transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from antechamber.audit import service as audit
from antechamber.services import Services
from tests.conftest import Credentials


@contextmanager
def inserts_into_audit(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO audit_events"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def trail(services: Services, project_id: str) -> list[str]:
    with services.sessions() as session:
        return [e.event_type for e in reversed(audit.list_events(session, project_id=project_id))]


def test_events_of_a_unit_of_work_are_one_insert_in_order(
    services: Services, project: Credentials, engine: Engine
) -> None:
    with (
        inserts_into_audit(engine) as inserts,
        services.scope(project.project_id, "test", "cli") as scope,
    ):
        audit.record(scope, "test.first", n=1)
        audit.record(scope, "test.second", n=2)
        audit.record(scope, "test.third", n=3)
        assert inserts == []  # nothing written before the commit
    assert len(inserts) == 1
    assert trail(services, project.project_id)[-3:] == ["test.first", "test.second", "test.third"]


def test_a_rolled_back_unit_of_work_leaves_no_event(
    services: Services, project: Credentials
) -> None:
    before = trail(services, project.project_id)
    with (
        pytest.raises(RuntimeError),
        services.scope(project.project_id, "test", "cli") as scope,
    ):
        audit.record(scope, "test.lost")
        raise RuntimeError("refused")
    assert trail(services, project.project_id) == before


def test_a_rolled_back_savepoint_drops_only_its_own_events(
    services: Services, project: Credentials
) -> None:
    with services.scope(project.project_id, "test", "cli") as scope:
        audit.record(scope, "test.before")
        with pytest.raises(RuntimeError), scope.db.begin_nested():
            audit.record(scope, "test.inside")
            raise RuntimeError("conflict")
        with scope.db.begin_nested():
            audit.record(scope, "test.kept_inside")
        audit.record(scope, "test.after")
    assert trail(services, project.project_id)[-3:] == [
        "test.before",
        "test.kept_inside",
        "test.after",
    ]


def test_a_query_in_the_unit_of_work_sees_its_events(
    services: Services, project: Credentials
) -> None:
    with services.scope(project.project_id, "test", "cli") as scope:
        audit.record(scope, "test.visible")
        [latest] = audit.list_events(scope.db, project_id=project.project_id, limit=1)
        assert latest.event_type == "test.visible"
