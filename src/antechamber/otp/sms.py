"""SMS one-time codes: issue (one live code per member) and verify (once, with attempt limits).

Contract:
- `issue_code` replaces the member's live code; the plaintext is returned once, for the outbox
  (where it is sealed), and stored only as HMAC(server key, member id + code).
- `verify_code` accepts a correct, unexpired code exactly once, even under concurrent requests:
  the code row is deleted by a single conditional DELETE, and only one caller can delete it.
  A wrong code counts against the code (dead after `otp_max_attempts_per_code`) and against
  the member's lockout; those counts are committed even though the request fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

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
    scope.db.execute(delete(SmsOtp).where(SmsOtp.member_id == member.id))
    scope.db.add(
        SmsOtp(
            member_id=member.id,
            project_id=member.project_id,
            organization_id=member.organization_id,
            phone_number=phone_number,
            code_digest=_digest(scope, member.id, code),
            attempts=0,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    scope.db.flush()
    return IssuedCode(code, phone_number, now + timedelta(minutes=minutes), minutes)


def verify_code(scope: Scope, member: Member, code: str) -> str:
    """Redeem `code`; returns the phone number it was sent to. Raises on any failure."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidCodeFormat()
    lockout.ensure_not_locked(scope, member)
    now = scope.clock.now()
    limit = scope.settings.otp_max_attempts_per_code
    phone = scope.db.execute(
        delete(SmsOtp)
        .where(
            SmsOtp.member_id == member.id,
            SmsOtp.code_digest == _digest(scope, member.id, code),
            SmsOtp.attempts < limit,
            SmsOtp.expires_at > now,
        )
        .returning(SmsOtp.phone_number)
    ).scalar_one_or_none()
    if phone is not None:
        lockout.reset(scope, member)
        _release_spacing(scope, member.id, str(phone))
        return str(phone)

    live = scope.db.execute(
        select(SmsOtp.expires_at).where(SmsOtp.member_id == member.id)
    ).scalar_one_or_none()
    if live is None or as_utc(live) <= now:
        # Used, replaced, dead, expired or never sent: all look the same to the caller.
        raise UnableToAuthOtpCode()
    attempts = scope.db.execute(
        update(SmsOtp)
        .where(SmsOtp.member_id == member.id, SmsOtp.attempts < limit)
        .values(attempts=SmsOtp.attempts + 1)
        .returning(SmsOtp.attempts)
    ).scalar_one_or_none()
    if attempts is None:
        raise UnableToAuthOtpCode()  # a concurrent guess used the last attempt
    dead = attempts >= limit
    if dead:
        scope.db.execute(delete(SmsOtp).where(SmsOtp.member_id == member.id))
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
