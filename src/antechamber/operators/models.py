from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class ConsoleSession(Base):
    """An operator signed in to the console.

    The browser holds a 256-bit random token in a cookie; only its SHA-256 digest is stored.
    A session ends at `expires_at` (absolute timeout), after `console_idle_minutes` without a
    request, when revoked (sign-out, `operators sign-out`), or when the operator is removed
    (the row goes with the member).
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # The second factor that admitted this session (sms_otp, totp): the sign-in was AAL2.
    mfa_method: Mapped[str] = mapped_column(String(16))
    user_agent: Mapped[str] = mapped_column(String(256), default="")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # One message for the next page the operator sees (post/redirect/get), then cleared.
    flash: Mapped[str | None] = mapped_column(String(512))
