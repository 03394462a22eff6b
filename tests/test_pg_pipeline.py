"""PostgreSQL: a piped unit's pipelines hold their statements and send them in one write when
an answer is needed (`pg_pipeline.OneWritePipeline`): at the pipeline's end, at a result read
inside it, at a nested pipeline. Same statements, same order, same results and errors as
psycopg's own pipeline (tests/test_db_piped.py and test_db_pipeline.py run both ways)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import exc, select, text

from antechamber import db, pg_pipeline, statements
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.test_db_unit import _INSERT_ORG, _org, _stored

pytestmark = pytest.mark.postgres_only


def _counting_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a `OneWritePipeline` flushed libpq's buffer (psycopg's `send`)."""
    sends: list[int] = []
    real = pg_pipeline.send

    def counted(pgconn: Any) -> Any:
        sends.append(1)
        return real(pgconn)

    monkeypatch.setattr(pg_pipeline, "send", counted)
    return sends


def _names(conn: statements.Connection, pid: str) -> list[str]:
    rows = conn.execute(select(Organization.name).where(Organization.project_id == pid))
    return sorted(row[0] for row in rows)


def test_a_pipelines_statements_wait_for_its_end_and_go_in_one_write(
    services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = project.project_id
    sends = _counting_sends(monkeypatch)
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        raw: Any = conn.sa.connection.driver_connection
        with conn.pipeline("test"):
            pipeline = raw._pipeline
            assert isinstance(pipeline, pg_pipeline.OneWritePipeline)
            for name in ("One", "Two", "Three"):
                conn.execute(_INSERT_ORG, _org(services, pid, name))
            # BEGIN and three INSERTs (with psycopg's own commands, a preparation ...), none
            # sent yet.
            assert len(pipeline.result_queue) >= 4
            assert len(pipeline.command_queue) >= 4
            assert sends == []
        assert sends == [1]  # all of them and the Sync
        assert not pipeline.command_queue
        assert not pipeline.result_queue
        assert raw._pipeline is None
        assert raw.pgconn.pipeline_status == psycopg.pq.PipelineStatus.OFF
        assert _names(conn, pid) == ["One", "Three", "Two"]
    assert _stored(services, pid)[0] == ["One", "Three", "Two"]


def test_a_result_read_inside_the_pipeline_sends_what_is_held_first(
    services: Services, project: Credentials
) -> None:
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        with conn.pipeline("test"):
            conn.execute(_INSERT_ORG, _org(services, pid, "Held"))
            # A row read in the pipeline (psycopg's fetch): the held BEGIN and INSERT go first,
            # in order, so it sees the row.
            raw: Any = conn.sa.connection.driver_connection
            cursor = raw.cursor()
            cursor.execute("select name from organizations where project_id = %s", [pid])
            assert cursor.fetchall() == [("Held",)]
            conn.execute(_INSERT_ORG, _org(services, pid, "After"))
        assert _names(conn, pid) == ["After", "Held"]
    assert _stored(services, pid)[0] == ["After", "Held"]


def test_a_nested_pipeline_syncs_what_is_held(services: Services, project: Credentials) -> None:
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        raw: Any = conn.sa.connection.driver_connection
        with conn.pipeline("test"):
            conn.execute(_INSERT_ORG, _org(services, pid, "Outer"))
            with raw.pipeline():  # psycopg syncs the outer pipeline's statements first
                assert not raw._pipeline.command_queue
                cursor = raw.cursor()
                cursor.execute("select count(*) from organizations where project_id = %s", [pid])
            assert cursor.fetchone() == (1,)
    assert _stored(services, pid)[0] == ["Outer"]


def test_a_failure_in_one_write_is_raised_as_before_and_the_unit_rolls_back(
    services: Services, project: Credentials
) -> None:
    pid = project.project_id
    row = _org(services, pid, "Twice")
    with pytest.raises(exc.IntegrityError), services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        with conn.pipeline("test"):
            conn.execute(_INSERT_ORG, row)
            conn.execute(_INSERT_ORG, row)  # the same id: fails once PostgreSQL runs it
            conn.execute(_INSERT_ORG, _org(services, pid, "Skipped"))
    assert _stored(services, pid) == ([], [])
    with services.scope(pid, "test", "tester") as scope:  # the connection is usable again
        assert db.connection(scope.db).sa.execute(text("select 1")).scalar() == 1


def test_one_write_off_uses_psycopgs_pipeline(
    services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statements, "ONE_WRITE", False)
    pid = project.project_id
    with services.scope(pid, "test", "tester") as scope:
        conn = db.connection(scope.db)
        raw: Any = conn.sa.connection.driver_connection
        with conn.pipeline("test"):
            assert type(raw._pipeline) is psycopg.Pipeline
            conn.execute(_INSERT_ORG, _org(services, pid, "Plain"))
    assert _stored(services, pid)[0] == ["Plain"]
