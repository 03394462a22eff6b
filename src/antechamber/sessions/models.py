from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class IntermediateSession(Base):
    """Proof of an email (and the factors used), before a session in an organization.

    The token is stored only as its SHA-256 digest. Lives 10 minutes. Unbound after discovery;
    bound to one organization and member (`organization_id`, `member_id`) once that login is
    waiting for MFA (or for another primary factor), and from then on it can finish a login
    into that organization only. `consumed_at` is set by one atomic conditional UPDATE when a
    session is started from it; it is never accepted where a session token is expected (it
    lives in another table).
    """

    __tablename__ = "intermediate_sessions"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    email_address: Mapped[str] = mapped_column(String(320))
    # Stytch AuthenticationFactor objects, in the order they were passed.
    factors: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]


class MemberSession(Base):
    """A member's session in one organization (Stytch's MemberSession).

    The opaque session token is stored only as its SHA-256 digest and is authoritative: once
    `revoked_at` is set or `expires_at` has passed, neither the token nor any JWT of the
    session authenticates. Deleting the member or organization deletes its sessions.
    """

    __tablename__ = "member_sessions"
    __table_args__ = (
        Index("ix_member_sessions_member", "member_id", "expires_at"),
        Index("ix_member_sessions_org", "organization_id"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    factors: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    custom_claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime]
    last_accessed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
