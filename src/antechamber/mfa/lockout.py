"""Member lockout after a run of failed second-factor attempts (NIST 800-63B §5.2.2 ceiling).

A member who fails `mfa_lockout_threshold` times within `mfa_lockout_window_minutes` is locked
for `mfa_lockout_minutes`. Counting is one atomic UPDATE, so concurrent failures are counted
exactly. Only a caller holding a valid intermediate session or session for the member can make
attempts, so a stranger cannot lock a victim out without the victim's mailbox.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, select, update

from antechamber.clock import as_utc
from antechamber.members.models import Member
from antechamber.otp.errors import MemberLocked
from antechamber.scope import Scope


def ensure_not_locked(scope: Scope, member: Member) -> None:
    now = scope.clock.now()
    expires = scope.db.scalar(select(Member.lock_expires_at).where(Member.id == member.id))
    if expires is not None and as_utc(expires) > now:
        raise MemberLocked(lock_expires_at=as_utc(expires).isoformat())


def record_failure(scope: Scope, member: Member) -> bool:
    """Count one failure; lock the member when the run reaches the threshold. True if locked."""
    s = scope.settings
    now = scope.clock.now()
    window_start = now - timedelta(minutes=s.mfa_lockout_window_minutes)
    in_window = Member.mfa_first_failure_at > window_start
    count = scope.db.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(
            mfa_failed_attempts=case((in_window, Member.mfa_failed_attempts + 1), else_=1),
            mfa_first_failure_at=case((in_window, Member.mfa_first_failure_at), else_=now),
        )
        .returning(Member.mfa_failed_attempts)
    ).scalar_one()
    if count < s.mfa_lockout_threshold:
        return False
    scope.db.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(
            lock_created_at=now,
            lock_expires_at=now + timedelta(minutes=s.mfa_lockout_minutes),
            mfa_failed_attempts=0,
            mfa_first_failure_at=None,
        )
    )
    return True


def reset(scope: Scope, member: Member) -> None:
    """After a success: forget the run of failures (NIST: disregard earlier failures)."""
    scope.db.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(mfa_failed_attempts=0, mfa_first_failure_at=None)
    )


def unlock(scope: Scope, member: Member) -> None:
    member.lock_created_at = None
    member.lock_expires_at = None
    member.mfa_failed_attempts = 0
    member.mfa_first_failure_at = None
