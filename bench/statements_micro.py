# ruff: noqa
"""Per-statement cost of a pre-built Core statement in a unit of work: SQLAlchemy's
Connection.execute against antechamber.statements (lean), on SQLite, in turns.

    cd <tree> && PYTHONPATH=src python -m bench.statements_micro [N]
        process_time per statement (best of 5 rounds of N), each way: db.connection(session)
        .execute(...) of a one-row SELECT by primary key (all member columns: JSON, booleans,
        datetimes) and of an UPDATE ... RETURNING.
"""

from __future__ import annotations
import sys, time, gc
from datetime import UTC, datetime
from typing import cast
from sqlalchemy import Table, bindparam, select, update

from antechamber import db, statements
from antechamber.clock import SystemClock
from antechamber.members.models import Member
from bench.inproc_setup import project_database
from antechamber.services import Services
from tests.factories import make_member, make_org

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
_tmp, settings, engine, project, _ = project_database("stmts-micro-")
services = Services.build(settings, engine, SystemClock())
org = make_org(services, project.id)
member = make_member(services, project.id, org)
_m = cast(Table, Member.__table__)
SELECT = select(*_m.c).where(_m.c.id == bindparam("b_id"))
UPDATE = (
    update(_m)
    .where(_m.c.id == bindparam("b_id"))
    .values(updated_at=bindparam("b_now"))
    .returning(_m.c.id, _m.c.updated_at)
)
now = datetime.now(UTC)


def run(lean: bool, stmt, params, via_db_connection: bool) -> float:
    statements.LEAN = lean
    with db.transaction(services.sessions) as s:
        db.connection(s).execute(stmt, params).first()  # compiled, begun
        gc.disable()
        t = time.process_time()
        if via_db_connection:
            for _ in range(N):
                db.connection(s).execute(stmt, params).first()
        else:
            conn = db.connection(s)
            for _ in range(N):
                conn.execute(stmt, params).first()
        t = time.process_time() - t
        gc.enable()
    return t / N * 1e6


for label, stmt, params in (
    ("select member", SELECT, {"b_id": member.id}),
    ("update returning", UPDATE, {"b_id": member.id, "b_now": now}),
):
    for via in (False, True):
        best = {True: 1e9, False: 1e9}
        for _ in range(5):
            for lean in (False, True):
                best[lean] = min(best[lean], run(lean, stmt, params, via))
        how = "db.connection(s).execute" if via else "conn.execute"
        print(f"{label:17s} {how:25s} sqlalchemy {best[False]:6.1f} us   lean {best[True]:6.1f} us")
