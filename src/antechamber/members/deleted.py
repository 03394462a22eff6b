"""Deleted members, kept so that `organizations.members.reactivate` can bring one back.

A deleted member leaves the `members` table (every read of members stays as it was: a deleted
member is simply not there, cannot log in, and its sessions, codes and authenticator app go
with it). What `members.service.delete_member` removes is copied here first, in the same
transaction. `reactivate` puts the member back, active, under the same id, when:

- its email was verified (Stytch's rule: an invitation never accepted cannot be reactivated,
  `email_unverified_for_reactivation`), and
- no other member of the organization uses that email now
  (`reactivation_email_belongs_to_another_member`).

The authenticator app does not come back (it was deleted with the member); the MFA phone
does, as it was. Deleting the organization removes its deleted members too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.db import Base
from antechamber.errors import BadRequest, NotFound
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.scope import Scope

# Not restored: state that belonged to rows deleted with the member, or to a past lockout.
_NOT_RESTORED = frozenset(
    {
        "totp_registration_id",
        "lock_created_at",
        "lock_expires_at",
        "mfa_failed_attempts",
        "mfa_first_failure_at",
    }
)


class DeletedMember(Base):
    """A deleted member's row, as it was (`row`: column → JSON value)."""

    __tablename__ = "deleted_members"

    member_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email_address: Mapped[str] = mapped_column(String(320))
    email_address_verified: Mapped[bool]
    row: Mapped[dict[str, Any]]
    deleted_at: Mapped[datetime]


class NoDeletedMember(NotFound):
    error_type = "no_deleted_member_found_for_reactivation"
    default_message = "This organization has no deleted member with that member_id."


class EmailUnverifiedForReactivation(BadRequest):
    error_type = "email_unverified_for_reactivation"
    default_message = (
        "Only a member whose email was verified can be reactivated (an invitation that was "
        "never accepted cannot); invite them again instead."
    )


class EmailBelongsToAnotherMember(BadRequest):
    error_type = "reactivation_email_belongs_to_another_member"
    default_message = "Another member of the organization uses this member's email address now."


def remember(scope: Scope, member: Member) -> None:
    """Keep `member` (about to be deleted) for a later reactivation; replaces an older copy."""
    row: dict[str, Any] = {}
    for column in Member.__table__.columns:
        value = getattr(member, column.key)
        row[column.key] = value.isoformat() if isinstance(value, datetime) else value
    previous = scope.db.get(DeletedMember, member.id)
    if previous is not None:
        scope.db.delete(previous)
        scope.db.flush()
    scope.db.add(
        DeletedMember(
            member_id=member.id,
            project_id=member.project_id,
            organization_id=member.organization_id,
            email_address=member.email_address,
            email_address_verified=member.email_address_verified,
            row=row,
            deleted_at=scope.clock.now(),
        )
    )


def reactivate(scope: Scope, org: Organization, member_id: str) -> Member:
    """Bring a deleted member of `org` back, active (see the module docstring for when)."""
    kept = scope.db.get(DeletedMember, member_id)
    if kept is None or kept.organization_id != org.id or kept.project_id != scope.project_id:
        raise NoDeletedMember()
    if not kept.email_address_verified:
        raise EmailUnverifiedForReactivation()
    clash = scope.db.scalar(
        select(Member.id).where(
            Member.organization_id == org.id, Member.email_address == kept.email_address
        )
    )
    if clash is not None:
        raise EmailBelongsToAnotherMember()
    values: dict[str, Any] = {}
    for column in Member.__table__.columns:
        if column.key in _NOT_RESTORED or column.key not in kept.row:
            continue
        value = kept.row[column.key]
        if isinstance(column.type, DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[column.key] = value
    now = scope.clock.now()
    member = Member(**values)
    member.status = "active"
    member.updated_at = now
    scope.db.delete(kept)
    scope.db.add(member)
    scope.db.flush()
    audit.record(scope, EventType.MEMBER_REACTIVATED, organization_id=org.id, member_id=member.id)
    return member
