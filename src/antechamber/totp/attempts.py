"""What a TOTP and a recovery-code attempt share (`service.authenticate_totp`, `recovery.recover`)
beyond what every second factor shares (`otp.flows`: the arguments' checks, `finish`, `via`).

- `failed`: a wrong code is one failure in the member's lock (`mfa.lockout`, shared with SMS),
  audited and counted; the caller raises with `keep_changes=True` so both are committed.
- `count`: the MFA metric.
"""

from __future__ import annotations

from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.scope import Scope


def failed(
    scope: Scope,
    member: Member,
    event: EventType,
    method: str,
    registration_id: str,
) -> None:
    """A wrong code: one failure in the member's lock (shared with SMS), audited. The caller
    raises with `keep_changes=True`, so both are committed although the request fails."""
    locked = lockout.record_failure(scope, member)
    audit.record(
        scope,
        event,
        organization_id=member.organization_id,
        member_id=member.id,
        totp_registration_id=registration_id,
        locked=locked,
    )
    count(scope, method, "failure")


def count(scope: Scope, method: str, outcome: str) -> None:
    if scope.metrics is not None:
        scope.metrics.count_mfa(method, outcome)
