"""The bench's history rows (bench/dataset.py `grow`): once analyzed, a token lookup's generic
plan is an index scan, as in a database in service; without them (tables analyzed empty, and
autovacuum off on the CI's PostgreSQL) it was a sequential scan that grew with the run."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from bench import dataset
from tests.conftest import Credentials

pytestmark = pytest.mark.postgres_only

TABLES = ("magic_links", "intermediate_sessions", "outbox_messages", "audit_events")

# The shape of the login's lookups by token digest (magic_links/service.py,
# sessions/intermediate.py): the project's condition beside the token's.
LOOKUPS = {
    "magic_links": "SELECT id FROM magic_links WHERE token_digest = $1 AND project_id = $2 "
    "AND used_at IS NULL AND superseded_at IS NULL",
    "intermediate_sessions": "SELECT id FROM intermediate_sessions WHERE token_digest = $1 "
    "AND project_id = $2 AND consumed_at IS NULL",
}


def _generic_plan(engine: Engine, sql: str) -> str:
    with engine.connect() as conn:
        conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        conn.exec_driver_sql(f"PREPARE lookup (text, text) AS {sql}")
        rows = conn.exec_driver_sql("EXPLAIN EXECUTE lookup ('x', 'y')").all()
        conn.exec_driver_sql("DEALLOCATE lookup")
        conn.rollback()
    return "\n".join(row[0] for row in rows)


def test_token_lookups_are_index_scans_after_the_history(
    engine: Engine, project: Credentials
) -> None:
    dataset.grow(engine, project.project_id, rows=2000)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"ANALYZE {', '.join(TABLES)}")
        counts = {
            t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()  # noqa: S608 (ours)
            for t in TABLES
        }
        project_events = conn.exec_driver_sql(
            "SELECT count(*) FROM audit_events WHERE actor <> 'history'"
        ).scalar()
        # None of it is a virtual user's: the driver reads the newest message a recipient got.
        bench_rows = conn.exec_driver_sql(
            "SELECT count(*) FROM outbox_messages WHERE recipient NOT LIKE '%%@history.example.com'"
            " OR status <> 'sent'"
        ).scalar()
    assert counts == {
        "magic_links": 2000,
        "intermediate_sessions": 2000,
        "outbox_messages": 4000,
        "audit_events": 16000 + project_events,
    }
    assert bench_rows == 0
    for table, sql in LOOKUPS.items():
        plan = _generic_plan(engine, sql)
        assert f"Index Scan using {table}_token_digest_key" in plan, plan


def test_analyzed_empty_the_same_lookups_scan_the_table(engine: Engine) -> None:
    """What `grow` is for: the plans a run kept when the tables were analyzed empty."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"ANALYZE {', '.join(TABLES)}")
    for sql in LOOKUPS.values():
        assert "Seq Scan" in _generic_plan(engine, sql)
