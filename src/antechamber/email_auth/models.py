from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class EmailOtp(Base):
    """The one live email one-time code of an address in a project (`email_auth.otps`).

    A new send replaces it, whatever it was for; success deletes it. `organization_id` is the
    organization the code logs into, or None for a discovery code; `member_id` the member it
    was sent to (None for discovery). Only `code_digest` = HMAC(server key, address + code) is
    stored. `attempts` counts wrong guesses at this code; at the limit the row is deleted.
    """

    __tablename__ = "email_otps"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    email_address: Mapped[str] = mapped_column(String(320), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(String(80))
    member_id: Mapped[str | None] = mapped_column(String(80))
    code_digest: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
