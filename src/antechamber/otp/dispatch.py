"""Texting a member a code: the one path from (member, number) to a message in the outbox.

Used by `otp.flows.send_sms_otp` (a code asked for) and by `sessions.login.conclude` (the
automatic send when a login stops for MFA). Contract:

- One live code per member: a new code replaces the old one (`otp.sms.issue_code`); only its
  keyed digest is stored, and the plaintext goes to the outbox sealed.
- A send for the same member and number within `sms_otp_resend_seconds` of the last one sends
  nothing new: the code already on its way stays the one to use. An app that asks for a code
  right after a login sent one automatically (the tutorial's app does) costs one SMS, not two,
  and its user is not told to wait.
- Limits, before anything is written: per member (`sms:member`, any number), then the outbox's
  per number, per number range and per project, and its number policy (E.164 mobile of an
  allowed region). A refusal raises (`TooManyRequests` carries `retry_after`), is audited as
  `delivery.refused` even if the caller rolls back, and no code survives it.
"""

from __future__ import annotations

from datetime import timedelta

from antechamber import db
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import as_utc
from antechamber.delivery import outbox
from antechamber.errors import AntechamberError
from antechamber.members.models import Member
from antechamber.mfa import lockout, policy
from antechamber.organizations.models import Organization
from antechamber.otp import sms
from antechamber.phones import masked
from antechamber.ratelimit import Check
from antechamber.scope import Scope

TEMPLATE = "sms_otp"
MEMBER_LIMIT = "sms:member"


def send_code(
    scope: Scope,
    member: Member,
    phone: str,
    *,
    locale: str,
    automatic: bool,
    state: sms.CodeState | None = None,
) -> bool:
    """Text `member` a code at `phone` (canonical E.164, already the member's number).

    Refuses a locked member (`MemberLocked`), read with the member's live code (`state`: that
    read, made by the caller in this unit of work, with the member).

    Returns False when nothing new was sent because the same number got a code less than
    `sms_otp_resend_seconds` ago (that code stays valid), True when a new code went to the
    outbox. Raises the refusals described in the module docstring.
    """
    now = scope.clock.now()
    # The member's lock and live code in one read (a locked member gets no code).
    live = state
    if live is None:
        row = db.connection(scope.db).execute(sms.STATE, {"b_member": member.id}).one_or_none()
        live = sms.CodeState(*row) if row is not None else sms.CodeState(None, None, None, None)
    lockout.refuse_if_locked(live.lock_expires_at, now)
    recent = now - timedelta(seconds=scope.settings.sms_otp_resend_seconds)
    if (
        live.phone_number == phone
        and live.created_at is not None
        and live.expires_at is not None
        and as_utc(live.created_at) > recent
        and as_utc(live.expires_at) > now
    ):
        _record(scope, member, phone, new=False, automatic=automatic)
        return False
    # The member's limit is checked first (a refusal audited with the member), then counted
    # by the outbox with its own limits, all or none: a text the outbox refuses (the number
    # policy, its own limits) does not use up the member's allowance.
    _member_limit(scope, member, phone)
    issued = sms.issue_code(scope, member, phone)
    try:
        outbox.enqueue(
            scope,
            channel="sms",
            recipient=phone,
            template=TEMPLATE,
            context={"code": issued.code, "expiration_minutes": issued.lifetime_minutes},
            locale=locale,
            also=(Check(MEMBER_LIMIT, member.id),),
        )
    except AntechamberError:
        # Nothing was written to the outbox; no code may be live either, even if the caller
        # keeps the transaction (an automatic send that failed does not fail the login).
        sms.discard_code(scope, member)
        raise
    _record(scope, member, phone, new=True, automatic=automatic)
    return True


def auto_send(
    scope: Scope,
    org: Organization,
    member: Member,
    *,
    locale: str | None,
    state: sms.CodeState | None = None,
) -> bool:
    """The automatic send of a login that stops for MFA; True if a code is on its way.
    `state`: as for `send_code`.

    Only when `mfa.policy.sms_sent_automatically` says so. Never fails the login: a locked
    member, a limit or a number the SMS policy no longer accepts means no automatic code (the
    refusal is audited), and the app asks for one with `otps/sms/send`, which says why.
    """
    if not policy.sms_sent_automatically(org, member):
        return False
    try:
        send_code(
            scope,
            member,
            member.mfa_phone_number,
            locale=locale or "en",
            automatic=True,
            state=state,
        )
    except AntechamberError:
        return False
    return True


def _member_limit(scope: Scope, member: Member, phone: str) -> None:
    """The per-member limit, checked (the outbox counts it); a refusal is audited."""
    if scope.limiter is None:
        raise RuntimeError("this Scope has no rate limiter; build it with Services.scope")
    try:
        scope.limiter.check(MEMBER_LIMIT, member.id)
    except AntechamberError as exc:
        reason = str(exc.details.get("limit") or exc.error_type)
        audit.record_refusal(
            scope,
            EventType.DELIVERY_REFUSED,
            organization_id=member.organization_id,
            member_id=member.id,
            channel="sms",
            template=TEMPLATE,
            reason=reason,
            recipient=masked(phone),
        )
        if scope.metrics is not None:
            scope.metrics.refused.labels("sms", reason).inc()
        raise


def _record(scope: Scope, member: Member, phone: str, *, new: bool, automatic: bool) -> None:
    audit.record(
        scope,
        EventType.MFA_SMS_SENT,
        organization_id=member.organization_id,
        member_id=member.id,
        phone_id=member.phone_id,
        phone=masked(phone),
        automatic=automatic,
        new_code=new,
    )
