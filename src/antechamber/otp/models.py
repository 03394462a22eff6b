from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class SmsOtp(Base):
    """The one live SMS code of a member (a new send replaces it; success deletes it).

    Only `code_digest` = HMAC(server key, code) is stored. `attempts` counts wrong guesses at
    this code; at the limit the row is deleted and the code is dead.
    """

    __tablename__ = "sms_otps"

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(String(80))
    phone_number: Mapped[str] = mapped_column(String(32))
    code_digest: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
