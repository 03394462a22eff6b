"""Ending and restoring a member's access on the directory's word.

`deactivate` runs inside the SCIM request's unit of work: the member's status becomes
`deactivated` (Stytch's word for a directory-deprovisioned member), its direct roles and its
SCIM group roles go (as Stytch: "revokes all current roles"), every live session is revoked
and every intermediate session bound to the member is consumed, all in the same transaction as
the audit event. From the commit on, `sessions.authenticate` refuses the session token and
every JWT of those sessions (the JWT path checks the session row), so an app that checks
sessions with the server signs the person out on their next request; and
`sessions.service.start` refuses the member, so no login brings them back. Only the directory
(`reactivate`) does, and it applies the group roles the member still qualifies for again
(Stytch: implicit grants are re-applied, explicit ones must be re-assigned).
"""

from __future__ import annotations

from sqlalchemy import update

from antechamber.audit import service as audit
from antechamber.members.models import Member
from antechamber.scim import group_roles
from antechamber.scim.models import ScimConnection
from antechamber.scope import Scope
from antechamber.sessions import service as sessions
from antechamber.sessions.models import IntermediateSession

DEACTIVATED = "deactivated"
EVENT_DEACTIVATED = "scim.member_deactivated"
EVENT_REACTIVATED = "scim.member_reactivated"


def deactivate(scope: Scope, connection: ScimConnection, member: Member, *, reason: str) -> None:
    """Deactivate `member` and end all of its sessions now (idempotent). `reason` is what the
    directory did: `active_false` or `deleted`."""
    now = scope.clock.now()
    was = member.status
    member.status = DEACTIVATED
    member.roles = []
    member.scim_group_roles = []
    member.updated_at = now
    scope.db.flush()
    revoked = sessions.revoke(scope, member_id=member.id)
    pending = scope.db.execute(
        update(IntermediateSession)
        .where(
            IntermediateSession.member_id == member.id,
            IntermediateSession.consumed_at.is_(None),
        )
        .values(consumed_at=now)
    )
    audit.record(
        scope,
        EVENT_DEACTIVATED,
        organization_id=member.organization_id,
        member_id=member.id,
        connection_id=connection.id,
        reason=reason,
        previous_status=was,
        sessions_revoked=len(revoked),
        intermediate_sessions_ended=int(getattr(pending, "rowcount", 0) or 0),
    )


def reactivate(scope: Scope, connection: ScimConnection, member: Member) -> None:
    """Make a deactivated member active again: their explicit roles are not restored, the
    roles their SCIM groups imply are."""
    if member.status != DEACTIVATED:
        return
    member.status = "active"
    member.updated_at = scope.clock.now()
    scope.db.flush()
    group_roles.refresh(scope, connection.id, member_ids=[member.id])
    audit.record(
        scope,
        EVENT_REACTIVATED,
        organization_id=member.organization_id,
        member_id=member.id,
        connection_id=connection.id,
    )
