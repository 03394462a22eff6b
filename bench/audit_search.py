"""Time the audit trail's search (`audit.queries.search`: console, CLI) over a large trail.

    PYTHONPATH=src python -m bench.audit_search sqlite:////tmp/a.sqlite 266667
    PYTHONPATH=src python -m bench.audit_search postgresql+psycopg://postgres@/scratch 266667

Fills a fresh database (a SQLite file is removed first; on PostgreSQL the `public` schema of
the database named is dropped: give it a scratch database) with N events, 90% in one project,
one a second, then times the first time-bounded searches of the process (which build
`audit.time_blocks`' summary, `BUDGET` ids each) and the median of 7 runs of each filter.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert

from antechamber import db, migrations
from antechamber.audit import queries
from antechamber.audit.models import AuditEvent
from antechamber.services import Services
from antechamber.settings import load_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fill(url: str, n: int) -> Services:
    if url.startswith("sqlite:////"):
        path = url[len("sqlite:///") :]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    engine = db.make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrations.upgrade(engine)
    rows: list[dict[str, Any]] = [
        {
            "project_id": "project-p" if i % 10 else "project-q",
            "organization_id": f"organization-{i % 50}" if i % 3 else None,
            "member_id": None,
            "actor": "bench",
            "event_type": "member.created" if i % 7 else "member.deleted",
            "details": {},
            "created_at": T0 + timedelta(seconds=i),
        }
        for i in range(n)
    ]
    table: Table = AuditEvent.__table__  # type: ignore[assignment]
    with engine.begin() as conn:
        for k in range(0, n, 20_000):
            conn.execute(insert(table), rows[k : k + 20_000])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE audit_events")
    return Services.build(load_settings(database_url=url), engine=engine)


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    services = fill(url, n)
    f = queries.AuditFilter
    cases = {
        "page (no filter)": f(),
        "until far back": f(until=T0 + timedelta(seconds=100)),
        "until mid-way": f(until=T0 + timedelta(seconds=n // 2)),
        "org + until far back": f(organization="organization-1", until=T0 + timedelta(seconds=100)),
        "type + until far back": f(event_type="member.created", until=T0 + timedelta(seconds=100)),
        "since in the future": f(since=T0 + timedelta(seconds=n + 10)),
        "an old window": f(since=T0 + timedelta(seconds=1000), until=T0 + timedelta(seconds=2000)),
    }

    def run(filters: queries.AuditFilter) -> tuple[float, int]:
        with services.scope("project-p", "test", "bench", read_only=True) as scope:
            start = time.perf_counter()
            page = queries.search(scope, filters)
            return time.perf_counter() - start, len(page.events)

    for i in range(6):
        took, _ = run(cases["until far back"])
        print(f"time-bounded search {i + 1} of the process: {took * 1000:7.1f} ms")
    for name, filters in cases.items():
        times, found = [], 0
        for _ in range(7):
            took, found = run(filters)
            times.append(took)
        median = statistics.median(times) * 1000
        print(f"{name:24s} rows {found:3d}  median {median:8.2f} ms  min {min(times) * 1000:8.2f}")


if __name__ == "__main__":
    main()
