"""Member lockout after a run of failed second-factor attempts (NIST 800-63B §5.2.2 ceiling).

A member who fails `mfa_lockout_threshold` times within `mfa_lockout_window_minutes` is locked
for `mfa_lockout_minutes`. Counting is one atomic UPDATE, so concurrent failures are counted
exactly. Only a caller holding a valid intermediate session or session for the member can make
attempts, so a stranger cannot lock a victim out without the victim's mailbox.

The second-factor paths fold the lock into statements they run anyway (`NOT_LOCKED` in the
DELETE that redeems an SMS code; `Member.lock_expires_at` read with the member's code or TOTP
registration and checked by `refuse_if_locked`) and the reset into the member's update after a
success (`reset(also=...)`), so a lock costs no round trip of its own on the way to a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, exists, select, update

from antechamber import db, rows
from antechamber.clock import as_utc
from antechamber.members.models import Member
from antechamber.otp.errors import MemberLocked
from antechamber.scope import Scope

_members = cast(Table, Member.__table__)

#: "The member (`:b_member`) is not locked at `:b_now`", for the WHERE of a statement that
#: redeems a code: a locked member's right code redeems nothing. (Parameter names that are no
#: column's: an UPDATE's SET reserves those.)
NOT_LOCKED = ~exists(
    select(_members.c.id).where(
        _members.c.id == bindparam("b_member"),
        _members.c.lock_expires_at > bindparam("b_now", type_=_members.c.lock_expires_at.type),
    )
)

_LOCK_EXPIRES = select(_members.c.lock_expires_at).where(_members.c.id == bindparam("b_member"))


def refuse_if_locked(expires: datetime | None, now: datetime) -> None:
    """Raise `MemberLocked` if a lock ending at `expires` (the member's `lock_expires_at`, read
    in this transaction) still holds at `now`."""
    if expires is not None and as_utc(expires) > now:
        raise MemberLocked(lock_expires_at=as_utc(expires).isoformat())


def ensure_not_locked(scope: Scope, member: Member) -> None:
    """Raise `MemberLocked` while the member's lock holds (read from the database, not from
    `member`, which may have been loaded before a concurrent failure locked it)."""
    expires = db.connection(scope.db).execute(_LOCK_EXPIRES, {"b_member": member.id}).scalar()
    refuse_if_locked(expires, scope.clock.now())


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


def reset(scope: Scope, member: Member, also: Mapping[str, Any] | None = None) -> None:
    """After a success: forget the run of failures (NIST: disregard earlier failures).

    `also` are further columns of the member (attribute names of `Member`) that the success
    changes: they are written by the same UPDATE, one round trip (`rows.write`). `member`
    shows every value written, as loaded (nothing left for the ORM to flush), whether it is
    in the unit of work or transient. Pending ORM changes are flushed first, so they come
    before this write.

    With no failure on record in `member` (read in this unit of work) and nothing in `also`,
    nothing is written: the usual login costs no statement here. On SQLite the member was read
    under the write lock, so that is exact; on PostgreSQL a failure that a concurrent request
    commits after the read stays counted (it is no earlier failure than this success).
    """
    values: dict[str, Any] = {}
    if member.mfa_failed_attempts or member.mfa_first_failure_at is not None:
        values.update(mfa_failed_attempts=0, mfa_first_failure_at=None)
    values.update(also or {})
    if values:
        rows.write(scope.db, member, values)


def unlock(scope: Scope, member: Member) -> None:
    member.lock_created_at = None
    member.lock_expires_at = None
    member.mfa_failed_attempts = 0
    member.mfa_first_failure_at = None
