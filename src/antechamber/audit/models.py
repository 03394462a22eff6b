from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class AuditEvent(Base):
    """One security-relevant fact, written in the transaction that caused it.

    Never holds a token, a code or a secret: `details` carries ids and outcomes only.
    """

    __tablename__ = "audit_events"
    # The indexes `audit.queries.search` reads (a project's or an organization's events newest
    # first) and no more: each is a page more in the commit of every unit that records an event
    # (migration 0014). No AUTOINCREMENT: no `sqlite_sequence` row to update per insert. No
    # time index either: a search bounded by time skips id blocks instead (`time_blocks`).
    __table_args__ = (
        Index("ix_audit_project_id", "project_id", "id"),
        # A type filter over a large project: without it, a rare type reads every event.
        Index("ix_audit_project_type", "project_id", "event_type", "id"),
        Index(
            "ix_audit_org_id",
            "organization_id",
            "id",
            sqlite_where=text("organization_id IS NOT NULL"),
            postgresql_where=text("organization_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    project_id: Mapped[str | None] = mapped_column(String(64))
    organization_id: Mapped[str | None] = mapped_column(String(80))
    member_id: Mapped[str | None] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
