"""SMS one-time codes: issue (one live code per member) and verify (once, with attempt limits).

Contract:
- `issue_code` replaces the member's live code; the plaintext is returned once, for the outbox
  (where it is sealed), and stored only as HMAC(server key, member id + code).
- `verify_code` accepts a correct, unexpired code exactly once, even under concurrent requests:
  the code row is deleted by a single conditional DELETE (which also requires the member not
  to be locked), and only one caller can delete it.
  A wrong code counts against the code (dead after `otp_max_attempts_per_code`) and against
  the member's lockout; those counts are committed even though the request fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import BindParameter, Insert, Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from antechamber import db, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import as_utc
from antechamber.members.models import Member
from antechamber.mfa import lockout
from antechamber.otp.errors import InvalidCodeFormat, OtpCodeNotFound, UnableToAuthOtpCode
from antechamber.otp.models import SmsOtp
from antechamber.ratelimit import Check
from antechamber.scope import Scope

_CODE = re.compile(r"[0-9]{6}")
_PURPOSE = "sms-otp"

# Pre-built statements, run on the unit of work's connection (no ORM objects, no identity map):
# a code is one row per member, written and redeemed by one statement each.
_otps = cast(Table, SmsOtp.__table__)
_members = cast(Table, Member.__table__)
_MEMBER: BindParameter[str] = bindparam(
    "b_member"
)  # not a column's name: the UPDATE's SET has those


def _issue(dialect: Any) -> Insert:
    """The member's new code replaces the old one in place (INSERT … ON CONFLICT DO UPDATE)."""
    statement = dialect.insert(_otps)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[_otps.c.member_id],
        set_={c.name: statement.excluded[c.name] for c in _otps.c if c.name != "member_id"},
    )


_ISSUE = {"sqlite": _issue(sqlite), "postgresql": _issue(postgresql)}

#: A right, live, not exhausted code of a member who is not locked: deleted, so redeemed once.
_REDEEM = (
    delete(_otps)
    .where(
        _otps.c.member_id == _MEMBER,
        _otps.c.code_digest == bindparam("b_digest"),
        _otps.c.attempts < bindparam("b_limit"),
        _otps.c.expires_at > bindparam("b_now"),
        lockout.NOT_LOCKED,
    )
    .returning(_otps.c.phone_number)
)

#: The member's lock and live code (if any), read together: what a send or a miss must know.
STATE = (
    select(
        _members.c.lock_expires_at,
        _otps.c.phone_number,
        _otps.c.created_at,
        _otps.c.expires_at,
    )
    .select_from(_members.outerjoin(_otps, _otps.c.member_id == _members.c.id))
    .where(_members.c.id == _MEMBER)
)

#: `STATE`'s columns of the live code, for a read that joins the member's code to its member
#: (`discovery.exchange`): `CodeState` of the member's `lock_expires_at` and these.
LIVE_CODE_COLUMNS = (_otps.c.phone_number, _otps.c.created_at, _otps.c.expires_at)
LIVE_CODE_JOIN = (_otps, _otps.c.member_id == _members.c.id)


class CodeState(NamedTuple):
    """A `STATE` row: the member's lock and live code (None: none)."""

    lock_expires_at: datetime | None
    phone_number: str | None
    created_at: datetime | None
    expires_at: datetime | None


_COUNT_ATTEMPT = (
    update(_otps)
    .where(_otps.c.member_id == _MEMBER, _otps.c.attempts < bindparam("b_limit"))
    .values(attempts=_otps.c.attempts + 1)
    .returning(_otps.c.attempts)
)

_DISCARD = delete(_otps).where(_otps.c.member_id == _MEMBER)


@dataclass(frozen=True)
class IssuedCode:
    code: str
    phone_number: str
    expires_at: datetime
    lifetime_minutes: int


def _digest(scope: Scope, member_id: str, code: str) -> str:
    return tokens.keyed_digest(scope.settings.key_bytes(), f"{member_id}:{code}", _PURPOSE)


def issue_code(scope: Scope, member: Member, phone_number: str) -> IssuedCode:
    """A new code for `member` at `phone_number`; any earlier code of the member stops working."""
    now = scope.clock.now()
    minutes = scope.settings.sms_otp_lifetime_minutes
    code = tokens.new_numeric_code(6)
    conn = db.connection(scope.db)
    conn.insert_unread(  # with the next statement, or the COMMIT
        _ISSUE[conn.dialect.name],
        {
            "member_id": member.id,
            "project_id": member.project_id,
            "organization_id": member.organization_id,
            "phone_number": phone_number,
            "code_digest": _digest(scope, member.id, code),
            "attempts": 0,
            "created_at": now,
            "expires_at": now + timedelta(minutes=minutes),
        },
    )
    return IssuedCode(code, phone_number, now + timedelta(minutes=minutes), minutes)


def discard_code(scope: Scope, member: Member) -> None:
    """The member's live code, if any, stops working."""
    db.connection(scope.db).execute(_DISCARD, {"b_member": member.id})


def verify_code(
    scope: Scope, member: Member, code: str, *, also: Mapping[str, Any] | None = None
) -> str:
    """Redeem `code`; returns the phone number it was sent to. Raises on any failure.

    A locked member redeems nothing (`MemberLocked`). On success the member's run of failures
    is forgotten (`mfa.lockout.reset`), and `also` (further member columns the success
    changes) is written by the same UPDATE.
    """
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidCodeFormat()
    now = scope.clock.now()
    limit = scope.settings.otp_max_attempts_per_code
    conn = db.connection(scope.db)
    params = {"b_member": member.id, "b_limit": limit, "b_now": now}
    phone = conn.execute(
        _REDEEM, {**params, "b_digest": _digest(scope, member.id, code)}
    ).scalar_one_or_none()
    if phone is not None:
        lockout.reset(scope, member, also)
        _release_spacing(scope, member.id, str(phone))
        return str(phone)

    state = conn.execute(STATE, {"b_member": member.id}).one_or_none()
    lockout.refuse_if_locked(state.lock_expires_at if state else None, now)
    live = state.expires_at if state else None
    if live is None or as_utc(live) <= now:
        # Used, replaced, dead, expired or never sent: all look the same to the caller.
        raise UnableToAuthOtpCode()
    attempts = conn.execute(_COUNT_ATTEMPT, params).scalar_one_or_none()
    if attempts is None:
        raise UnableToAuthOtpCode()  # a concurrent guess used the last attempt
    dead = attempts >= limit
    if dead:
        conn.execute(_DISCARD, {"b_member": member.id})
    locked = lockout.record_failure(scope, member)
    audit.record(
        scope,
        EventType.MFA_SMS_FAILED,
        organization_id=member.organization_id,
        member_id=member.id,
        code_dead=dead,
        locked=locked,
    )
    raise OtpCodeNotFound(keep_changes=True)


#: Windows at most this long are spacing between two texts, not a volume cap.
SPACING_SECONDS = 60


def _release_spacing(scope: Scope, member_id: str, phone: str) -> None:
    """Once a code is used (and its unit of work committed), the short spacing its send
    imposed on the member and the number is over: the member's next login (a sign-out and
    back in within 30 seconds) gets its code. The hourly and daily caps keep counting, and a
    code never used still holds back the next one, so SMS pumping gains nothing."""
    limiter = scope.limiter
    if limiter is None:
        return
    checks = [Check("sms:member", member_id), Check("sms:recipient", phone)]
    db.on_commit(scope.db, lambda: limiter.release(checks, windows_up_to=SPACING_SECONDS))
