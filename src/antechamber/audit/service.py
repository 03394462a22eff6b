"""Writing and reading the audit trail.

`record` does not write at once: the unit of work keeps its events and writes them all in one
multi-row INSERT just before it commits (inside the transaction, so they land or vanish with the
change). An ORM query of `AuditEvent` in the same unit of work writes them first, so a reader
in it sees them, as it would have with a flush. A rolled-back savepoint drops the events
recorded inside it; a rolled-back transaction drops them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from antechamber import db
from antechamber.audit.models import AuditEvent
from antechamber.scope import Scope

_PENDING = "antechamber.audit.pending"
_MARKS = "antechamber.audit.savepoint_marks"
_INSERT = insert(cast(Table, AuditEvent.__table__))
_AUDIT_MAPPER = AuditEvent.__mapper__


def record(
    scope: Scope,
    event_type: str,
    *,
    organization_id: str | None = None,
    member_id: str | None = None,
    **details: Any,
) -> None:
    """Add an event to the current transaction; it commits or rolls back with the change."""
    scope.db.info.setdefault(_PENDING, []).append(
        _row(scope, event_type, organization_id, member_id, details)
    )


def record_refusal(
    scope: Scope,
    event_type: str,
    *,
    organization_id: str | None = None,
    member_id: str | None = None,
    **details: Any,
) -> None:
    """Like `record`, for a refusal the caller is about to raise: the event is kept even though
    the raised error rolls the transaction back (see `db.on_rollback`)."""
    fields = _row(scope, event_type, organization_id, member_id, details)
    scope.db.info.setdefault(_PENDING, []).append(fields)
    kept = {**fields, "details": dict(details)}
    db.on_rollback(scope.db, lambda session: session.add(AuditEvent(**kept)))


def _row(
    scope: Scope,
    event_type: str,
    organization_id: str | None,
    member_id: str | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "project_id": scope.project_id,
        "organization_id": organization_id,
        "member_id": member_id,
        "actor": scope.actor,
        "event_type": str(event_type),
        "details": details,
        "created_at": scope.clock.now(),
    }


def write_pending(session: Session) -> None:
    """Write the events recorded in this unit of work so far (one INSERT for all of them)."""
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    if session.info.get(db.READ_ONLY):
        raise db.ReadOnlyViolation("a read-only unit of work tried to write audit events")
    # No flush: this runs in before_commit, ahead of the commit's own flush.
    db.connection(session, flush=False).execute(_INSERT, rows)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # A savepoint's release keeps its events pending for the enclosing transaction.
    if session.info.get(_PENDING) and not session.in_nested_transaction():
        write_pending(session)


@event.listens_for(Session, "do_orm_execute")
def _before_audit_query(state: ORMExecuteState) -> None:
    if state.session.info.get(_PENDING) and _AUDIT_MAPPER in state.all_mappers:
        write_pending(state.session)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        pending = session.info.get(_PENDING) or ()
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:
        mark = session.info.get(_MARKS, {}).pop(id(previous), None)
        pending = session.info.get(_PENDING)
        if mark is not None and pending:
            del pending[mark:]
    else:
        _forget(session)


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction: SessionTransaction) -> None:
    # Committed (written before), rolled back or closed: nothing is pending any more.
    if transaction.parent is None:
        _forget(session)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_MARKS, None)


def list_events(
    db: Session,
    *,
    project_id: str | None = None,
    organization_id: str | None = None,
    member_id: str | None = None,
    event_type: str | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if project_id:
        query = query.where(AuditEvent.project_id == project_id)
    if organization_id:
        query = query.where(AuditEvent.organization_id == organization_id)
    if member_id:
        query = query.where(AuditEvent.member_id == member_id)
    if event_type:
        query = query.where(AuditEvent.event_type == event_type)
    return db.scalars(query).all()
