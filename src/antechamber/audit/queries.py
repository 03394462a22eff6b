"""Reading the audit trail of one project: filters, time range, newest first, keyset pages.

Kept apart from `audit.service` (which everything imports to write events) because resolving
an organization slug or a member's email needs the organization and member services, which
themselves write events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from antechamber.audit import time_blocks
from antechamber.audit.events import EventType
from antechamber.audit.models import AuditEvent
from antechamber.clock import as_utc
from antechamber.errors import InvalidArgument, NotFound
from antechamber.members import service as members
from antechamber.organizations import service as organizations
from antechamber.scope import Scope

MAX_LIMIT = 1000
EVENT_TYPES = tuple(sorted(e.value for e in EventType))


class UnknownEventType(InvalidArgument):
    error_type = "invalid_audit_event_type"
    default_message = "Unknown event type."


class InvalidTimeRange(InvalidArgument):
    error_type = "invalid_audit_time_range"
    default_message = "The start of the time range must be before its end."


class MemberEmailNeedsOrganization(InvalidArgument):
    error_type = "audit_member_email_needs_organization"
    default_message = "To find a member by email address, name the organization too."


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every field is optional and they combine with AND.

    `organization` is an id or slug; `member` is an id, or an email address when
    `organization` is given. Ids of deleted organizations and members still match their past
    events. `since` is inclusive, `until` exclusive; both timezone-aware.
    """

    organization: str | None = None
    member: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class EventPage:
    events: Sequence[AuditEvent]
    # Pass as `before` to get the next (older) page; None on the last page.
    next_before: int | None


def search(
    scope: Scope, filters: AuditFilter, *, before: int | None = None, limit: int = 50
) -> EventPage:
    """The project's events matching `filters`, newest first, at most `limit` of them,
    older than the event id `before` when given."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}.")
    if filters.event_type and filters.event_type not in EVENT_TYPES:
        raise UnknownEventType(
            f"Unknown event type {filters.event_type!r}; known types: {', '.join(EVENT_TYPES)}."
        )
    # Stored times are UTC; SQLite compares them as text, so a bound with another offset
    # (the console keeps the browser's) is turned to UTC first, or its offset would be dropped.
    since = _utc(filters.since)
    until = _utc(filters.until)
    if since and until and since >= until:
        raise InvalidTimeRange()
    query = select(AuditEvent).where(AuditEvent.project_id == scope.project_id)
    org_id = _organization_id(scope, filters.organization)
    if org_id is not None:
        query = query.where(AuditEvent.organization_id == org_id)
    member_id = _member_id(scope, org_id, filters.member)
    if member_id is not None:
        query = query.where(AuditEvent.member_id == member_id)
    if filters.event_type:
        query = query.where(AuditEvent.event_type == filters.event_type)
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    ranges = time_blocks.id_ranges(scope.db, since, until)
    if ranges is None:
        ranges = [(None, None)]
    rows: list[AuditEvent] = []
    # Newest first, range by range (each read in index order, with no sort), until the page
    # and one more are found: the ids skipped hold no event of the time range (`time_blocks`).
    for start, stop in ranges:
        if before is not None:
            stop = before if stop is None else min(stop, before)
        if start is not None and stop is not None and start >= stop:
            continue
        part = query
        if start is not None:
            part = part.where(AuditEvent.id >= start)
        if stop is not None:
            part = part.where(AuditEvent.id < stop)
        wanted = limit + 1 - len(rows)
        rows.extend(scope.db.scalars(part.order_by(AuditEvent.id.desc()).limit(wanted)))
        if len(rows) > limit:
            break
    if len(rows) > limit:
        return EventPage(rows[:limit], rows[limit - 1].id)
    return EventPage(rows, None)


def _utc(value: datetime | None) -> datetime | None:
    """A bound in UTC; a naive one is taken as UTC already."""
    return None if value is None else as_utc(value).astimezone(UTC)


def _organization_id(scope: Scope, ref: str | None) -> str | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    try:
        return organizations.get_organization(scope, ref).id
    except NotFound:
        if ref.startswith("organization-"):
            return ref  # a deleted organization's history is still worth reading
        raise


def _member_id(scope: Scope, org_id: str | None, ref: str | None) -> str | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    if "@" not in ref:
        return ref  # an id; a deleted member's events keep it
    if org_id is None:
        raise MemberEmailNeedsOrganization()
    org = organizations.get_organization(scope, org_id)
    return members.get_member(scope, org, email=ref).id
