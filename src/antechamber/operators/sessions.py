"""Console sessions: server-side, hashed, with idle and absolute timeouts, revocable.

Contract:
- `start` is called only after the operator proved their email and passed a second factor;
  it returns the token once (for the cookie) and stores its SHA-256 digest.
- `authenticate` accepts a token while its session is unrevoked, younger than
  `console_absolute_hours`, used within the last `console_idle_minutes`, and its member is
  still an active operator; anything else raises `ConsoleSessionInvalid` (or `…Expired`).
  Timeouts are enforced here, never by cookie expiry.
- `end` (sign-out) and `revoke_all` stop a session at once, on every server process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from antechamber import tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import Clock, as_utc
from antechamber.ids import new_id
from antechamber.members.models import Member
from antechamber.operators import service as operators
from antechamber.operators.errors import (
    ConsoleSessionExpired,
    ConsoleSessionInvalid,
    NotAnOperator,
)
from antechamber.operators.models import ConsoleSession
from antechamber.settings import Settings

SECOND_FACTORS = ("sms_otp", "totp")
# last_seen_at is written at most this often: idle timeouts are counted in minutes, and a
# write per page view would be wasted work.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedConsoleSession:
    """A new session; `token` is the only copy of the cookie value there will be."""

    session_id: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Operator:
    """Who a valid console session belongs to."""

    session_id: str
    member_id: str
    email: str
    name: str
    expires_at: datetime

    @property
    def actor(self) -> str:
        """How console actions name the operator in the audit trail."""
        return f"operator:{self.member_id}"


def start(
    db: Session,
    *,
    member_id: str,
    mfa_method: str,
    clock: Clock,
    settings: Settings,
    user_agent: str = "",
    ip_address: str = "",
) -> IssuedConsoleSession:
    """A new console session for an operator who just signed in with `mfa_method`.

    Raises `NotAnOperator` for anyone outside the operators organization, and `ValueError`
    for a second factor that is not one (the console needs AAL2)."""
    if mfa_method not in SECOND_FACTORS:
        raise ValueError(f"mfa_method must be one of {SECOND_FACTORS}")
    home = operators.find_home(db)
    member = db.get(Member, member_id)
    if (
        home is None
        or member is None
        or member.organization_id != home.organization.id
        or member.status != "active"
    ):
        raise NotAnOperator()
    now = clock.now()
    token = tokens.new_token(32)
    row = ConsoleSession(
        id=new_id("console-session", "live"),
        token_digest=tokens.digest(token),
        member_id=member.id,
        mfa_method=mfa_method,
        user_agent=user_agent[:256],
        ip_address=ip_address[:64],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.console_absolute_hours),
        revoked_at=None,
        flash=None,
    )
    db.add(row)
    actor = f"operator:{member.id}"
    audit.record(
        home.scope(db, actor, clock, settings),
        EventType.CONSOLE_SIGNED_IN,
        organization_id=home.organization.id,
        member_id=member.id,
        console_session_id=row.id,
        mfa_method=mfa_method,
        ip_address=row.ip_address,
    )
    db.flush()
    return IssuedConsoleSession(row.id, token, row.expires_at)


def authenticate(db: Session, token: str, *, clock: Clock, settings: Settings) -> Operator:
    """The operator behind a cookie's token; see the module's contract."""
    if not token:
        raise ConsoleSessionInvalid()
    home = operators.find_home(db)
    found = db.execute(
        select(ConsoleSession, Member)
        .join(Member, Member.id == ConsoleSession.member_id)
        .where(ConsoleSession.token_digest == tokens.digest(token))
    ).first()
    if found is None or home is None:
        raise ConsoleSessionInvalid()
    session, member = found
    if (
        session.revoked_at is not None
        or member.organization_id != home.organization.id
        or member.status != "active"
    ):
        raise ConsoleSessionInvalid()
    now = clock.now()
    idle_limit = timedelta(minutes=settings.console_idle_minutes)
    last_seen = as_utc(session.last_seen_at)
    if now >= as_utc(session.expires_at) or now - last_seen >= idle_limit:
        raise ConsoleSessionExpired()
    if now - last_seen >= TOUCH_EVERY:
        session.last_seen_at = now
    return Operator(
        session.id, member.id, member.email_address, member.name, as_utc(session.expires_at)
    )


def end(db: Session, session_id: str, *, clock: Clock, settings: Settings) -> None:
    """Sign-out: the session stops working now."""
    session = db.get(ConsoleSession, session_id)
    if session is None or session.revoked_at is not None:
        return
    session.revoked_at = clock.now()
    home = operators.find_home(db)
    if home is not None:
        audit.record(
            home.scope(db, f"operator:{session.member_id}", clock, settings),
            EventType.CONSOLE_SIGNED_OUT,
            organization_id=home.organization.id,
            member_id=session.member_id,
            console_session_id=session.id,
        )
    db.flush()


def revoke_all(db: Session, member_id: str, *, actor: str, clock: Clock, settings: Settings) -> int:
    """End every live console session of an operator; returns how many there were."""
    now = clock.now()
    result = cast(
        CursorResult[Any],
        db.execute(
            update(ConsoleSession)
            .where(
                ConsoleSession.member_id == member_id,
                ConsoleSession.revoked_at.is_(None),
                ConsoleSession.expires_at > now,
            )
            .values(revoked_at=now)
        ),
    )
    ended = result.rowcount
    home = operators.find_home(db)
    if home is not None:
        audit.record(
            home.scope(db, actor, clock, settings),
            EventType.CONSOLE_SESSION_REVOKED,
            organization_id=home.organization.id,
            member_id=member_id,
            sessions=ended,
        )
    return ended


def live_session_count(db: Session, member_id: str, *, clock: Clock) -> int:
    """Sessions not revoked and not past their absolute timeout (idle ones included)."""
    rows = db.scalars(
        select(ConsoleSession.id).where(
            ConsoleSession.member_id == member_id,
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.expires_at > clock.now(),
        )
    ).all()
    return len(rows)


def set_flash(db: Session, session_id: str, message: str) -> None:
    """A message for the operator's next page (after a redirect)."""
    db.execute(
        update(ConsoleSession).where(ConsoleSession.id == session_id).values(flash=message[:512])
    )


def take_flash(db: Session, session_id: str) -> str | None:
    """The pending message, cleared as it is read."""
    session = db.get(ConsoleSession, session_id)
    if session is None or session.flash is None:
        return None
    message = session.flash
    session.flash = None
    return message
