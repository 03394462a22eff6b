"""Writing and reading the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from antechamber import db
from antechamber.audit.models import AuditEvent
from antechamber.scope import Scope


def record(
    scope: Scope,
    event_type: str,
    *,
    organization_id: str | None = None,
    member_id: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an event to the current transaction; it commits or rolls back with the change."""
    event = AuditEvent(
        project_id=scope.project_id,
        organization_id=organization_id,
        member_id=member_id,
        actor=scope.actor,
        event_type=str(event_type),
        details=details,
        created_at=scope.clock.now(),
    )
    scope.db.add(event)
    return event


def record_refusal(
    scope: Scope,
    event_type: str,
    *,
    organization_id: str | None = None,
    member_id: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Like `record`, for a refusal the caller is about to raise: the event is kept even though
    the raised error rolls the transaction back (see `db.on_rollback`)."""
    event = record(
        scope, event_type, organization_id=organization_id, member_id=member_id, **details
    )
    fields = {
        "project_id": event.project_id,
        "organization_id": event.organization_id,
        "member_id": event.member_id,
        "actor": event.actor,
        "event_type": event.event_type,
        "details": dict(event.details),
        "created_at": event.created_at,
    }
    db.on_rollback(scope.db, lambda session: session.add(AuditEvent(**fields)))
    return event


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
