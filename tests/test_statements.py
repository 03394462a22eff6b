"""Lean execution of pre-built statements (antechamber.statements): the same values in and out
as SQLAlchemy's Connection.execute, its exceptions, and every statement seen by the engine's
cursor events (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, bindparam, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from antechamber import db, statement_plans, statements
from antechamber.audit.models import AuditEvent
from antechamber.clock import as_utc
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_member, make_org

_members = cast(Table, Member.__table__)
_orgs = cast(Table, Organization.__table__)
_audit = cast(Table, AuditEvent.__table__)
_MEMBER = select(*_members.c).where(_members.c.id == bindparam("b_id"))
_BY_STATUS = select(_members.c.id).where(
    _members.c.organization_id == bindparam("b_org"),
    _members.c.status.in_(bindparam("b_statuses", expanding=True)),
)
_MARK = (
    update(_members)
    .where(_members.c.id == bindparam("b_id"))
    .values(mfa_enrolled=bindparam("b_enrolled"), lock_expires_at=bindparam("b_until"))
    .returning(_members.c.mfa_enrolled, _members.c.lock_expires_at, _members.c.roles)
)
_AUDIT = insert(_audit)


@pytest.fixture
def member(services: Services, project: Credentials) -> Member:
    org = make_org(services, project.project_id)
    return make_member(services, project.project_id, org, trusted_metadata={"a": [1, True]})


@pytest.fixture
def unit(services: Services, member: Member) -> Iterator[Session]:
    """A unit of work, opened after the member is written (SQLite: one writer at a time)."""
    with db.transaction(services.sessions) as session:
        yield session


@pytest.fixture
def lean_seen(engine: Engine) -> Iterator[list[str]]:
    """Statements the engine's cursor events saw run by the lean path (no execution context)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if context is None:
            seen.append(statement.split(None, 1)[0])

    event.listen(engine, "before_cursor_execute", before)
    yield seen
    event.remove(engine, "before_cursor_execute", before)


def test_a_row_reads_as_sqlalchemy_reads_it(
    unit: Session, member: Member, lean_seen: list[str]
) -> None:
    lean = db.connection(unit).execute(_MEMBER, {"b_id": member.id}).one()
    plain = unit.connection().execute(_MEMBER, {"b_id": member.id}).one()
    assert tuple(lean) == tuple(plain)
    assert lean.trusted_metadata == {"a": [1, True]}
    assert isinstance(lean.created_at, datetime)
    assert lean.mfa_enrolled is False
    assert lean_seen == ["SELECT"]  # run lean, and seen by the engine's listeners


def test_written_values_come_back_the_same(unit: Session, member: Member) -> None:
    until = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    conn = db.connection(unit)
    back = conn.execute(_MARK, {"b_id": member.id, "b_enrolled": True, "b_until": until}).one()
    assert back.mfa_enrolled is True
    assert as_utc(back.lock_expires_at) == until
    assert back.roles == []
    plain = unit.connection().execute(_MEMBER, {"b_id": member.id}).one()
    assert tuple(conn.execute(_MEMBER, {"b_id": member.id}).one()) == tuple(plain)
    gone = conn.execute(_MARK, {"b_id": "nobody", "b_enrolled": False, "b_until": None})
    assert gone.one_or_none() is None


def test_an_expanding_in_takes_lists_of_any_length(
    unit: Session, member: Member, lean_seen: list[str]
) -> None:
    conn = db.connection(unit)
    org = member.organization_id
    for statuses, found in (
        (["active"], 1),
        (["pending", "active"], 1),
        (["invited"], 0),
        (["active", "invited"], 1),
        (["a", "b", "active"], 1),
    ):
        rows = conn.execute(_BY_STATUS, {"b_org": org, "b_statuses": statuses}).all()
        assert [row.id for row in rows] == [member.id] * found
    assert lean_seen == ["SELECT"] * 5


def test_an_insert_fills_python_defaults_and_takes_many_rows(
    unit: Session, project: Credentials
) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    row = {"project_id": project.project_id, "organization_id": None, "member_id": None}
    conn = db.connection(unit)
    conn.execute(_AUDIT, {**row, "actor": "t", "event_type": "one", "created_at": now})
    conn.execute(
        _AUDIT,
        [
            {**row, "actor": "t", "event_type": "two", "details": {"n": 2}, "created_at": now},
            {**row, "actor": "t", "event_type": "three", "details": {"n": 3}, "created_at": now},
        ],
    )
    found = unit.connection().execute(
        select(_audit.c.event_type, _audit.c.details)
        .where(_audit.c.actor == "t")
        .order_by(_audit.c.id)
    )
    assert [tuple(r) for r in found] == [("one", {}), ("two", {"n": 2}), ("three", {"n": 3})]


def test_a_unique_violation_raises_sqlalchemys_integrity_error(
    services: Services, member: Member
) -> None:
    with pytest.raises(IntegrityError), db.transaction(services.sessions) as unit:
        conn = db.connection(unit)
        values = dict(conn.execute(select(*_orgs.c)).first()._asdict())
        conn.execute(insert(_orgs), values)


def test_off_runs_through_sqlalchemy(
    unit: Session, member: Member, lean_seen: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statements, "LEAN", False)
    row = db.connection(unit).execute(_MEMBER, {"b_id": member.id}).one()
    assert row.id == member.id
    assert lean_seen == []


def test_text_runs_through_sqlalchemy(unit: Session, lean_seen: list[str]) -> None:
    assert db.connection(unit).execute(text("SELECT 1")).scalar_one() == 1
    assert lean_seen == []


def test_plans_bind_by_straight_line_functions_as_by_their_loop(engine: Engine) -> None:
    # Each kind of parameter source: the caller's key (with and without a processor), a
    # statement's own value (_OR), an expanding IN's items, a constant and a Python default.
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    own = select(_members.c.id).where(
        _members.c.id == bindparam("b_id"), _members.c.status == bindparam("b_s", "active")
    )
    cases: list[tuple[Any, dict[str, Any]]] = [
        (_MEMBER, {"b_id": "m"}),
        (_MARK, {"b_id": "m", "b_enrolled": True, "b_until": at}),
        (_BY_STATUS, {"b_org": "o", "b_statuses": ["a", "b", "c"]}),
        (own, {"b_id": "m"}),
        (own, {"b_id": "m", "b_s": "pending"}),
        (
            update(_members).values(name="x").where(_members.c.id == bindparam("b_id")),
            {"b_id": "m"},
        ),
    ]
    for statement, params in cases:
        plan = statement_plans.plan_of(engine.dialect, statement, params, False)
        assert plan is not statement_plans.UNPLANNED, statement
        assert plan.fast != plan.values, statement  # the straight-line function is used
        assert plan.fast(params) == plan.values(params), statement
    # A Python default (the audit row's created_at, details): called once per execution.
    row = {"project_id": "p", "organization_id": None, "member_id": None, "actor": "t"}
    plan = statement_plans.plan_of(engine.dialect, _AUDIT, {**row, "event_type": "e"}, False)
    assert plan.fast != plan.values
    sql, fast = plan.fast({**row, "event_type": "e"})
    assert sql == plan.values({**row, "event_type": "e"})[0]
    assert len(fast) == len(plan.binds)
