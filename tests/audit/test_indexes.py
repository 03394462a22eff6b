"""The audit trail's and the outbox's indexes (migration 0014): the ones their readers use, in
the order those readers want, so that a page of the audit log never sorts the project's events,
and no index a send or a login would write for nothing."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, literal_column, select
from sqlalchemy.sql import Select

from antechamber import db, migrations, models
from antechamber.audit.models import AuditEvent
from antechamber.delivery.models import OutboxMessage

NEW = {"ix_audit_project_id", "ix_audit_org_id", "ix_audit_project_type"}
OLD = {"ix_audit_project_created", "ix_audit_org_created", "ix_audit_events_event_type"}


def indexes(engine: Engine, table: str) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes(table) if i["name"]}


def test_0014_matches_the_models_and_downgrades(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    assert [d for d in diff if "audit_events" in str(d) or "outbox_messages" in str(d)] == []
    assert indexes(engine, "audit_events") == NEW
    assert "ix_outbox_project_failed" in indexes(engine, "outbox_messages")
    migrations.downgrade(engine, "0013")
    assert indexes(engine, "audit_events") == OLD
    assert "ix_outbox_project_created" in indexes(engine, "outbox_messages")
    migrations.upgrade(engine)
    assert migrations.is_current(engine)
    engine.dispose()


def plan(engine: Engine, query: Select[tuple[object]]) -> str:
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        return "; ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def test_a_page_of_the_audit_log_reads_an_index_in_order(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrations.upgrade(engine)
    newest = select(AuditEvent).where(AuditEvent.project_id == "p").order_by(AuditEvent.id.desc())
    project = plan(engine, newest.where(AuditEvent.id < 10).limit(51))
    assert "USING INDEX ix_audit_project_id" in project
    assert "TEMP B-TREE" not in project
    org = plan(engine, newest.where(AuditEvent.organization_id == "o").limit(51))
    assert "USING INDEX ix_audit_org_id" in org
    assert "TEMP B-TREE" not in org
    of_type = plan(engine, newest.where(AuditEvent.event_type == "member.created").limit(51))
    assert "USING INDEX ix_audit_project_type" in of_type
    assert "TEMP B-TREE" not in of_type
    failed = plan(
        engine,
        select(OutboxMessage).where(
            OutboxMessage.project_id == "p", OutboxMessage.status == literal_column("'failed'")
        ),
    )
    assert "USING INDEX ix_outbox_project_failed" in failed
    engine.dispose()
