from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class OutboxMessage(Base):
    """A message to send, written in the transaction of the token it carries.

    `payload` is the template context, sealed with the server key (`crypto.seal`): it holds
    magic links and codes, which must never sit readable in the database. `recipient` is the
    email address or E.164 number, in clear, for limits, the inbox and support.

    Status: pending → sending (claimed by a worker until `claimed_until`) → sent | pending again
    (a transient failure: retried at `next_attempt_at`) | failed (permanent refusal, too many
    tries, or the link/code expired first; `last_error` says which). `attempts` counts claims,
    so a worker that crashes mid-send still uses up a try. `claimed_by` names the claim (worker
    and batch): a worker marks only rows it still holds. `delivered_via` is `smtp`, `twilio` or
    `inbox` (kept in the development inbox, nothing left the server); `provider_message_id` is
    the Message-ID header or Twilio's message SID.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient_created", "recipient", "created_at"),
        # Only the failed messages (`outbox.failed_messages`): a message is inserted pending,
        # so a send writes no page of it (migration 0014).
        Index(
            "ix_outbox_project_failed",
            "project_id",
            "created_at",
            sqlite_where=text("status = 'failed'"),
            postgresql_where=text("status = 'failed'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))  # "email" | "sms"
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_via: Mapped[str | None] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
