from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class MagicLink(Base):
    """An emailed magic link. Only the SHA-256 digest of its token is stored.

    Single use: `used_at` is set by one atomic conditional UPDATE, so of any number of
    concurrent redemptions exactly one succeeds. `kind` is `discovery`, or for an
    organization's own links (`email_auth.links`) `invite`, `login` or `signup`, which carry the
    `organization_id` and `member_id` they were sent for (no foreign key: a deleted member's
    link stays unusable because redemption looks the member up again).
    `pkce_code_challenge` (base64url SHA-256 of the verifier), when set, must be answered by
    the verifier on redemption. `superseded_at` is set when a newer link of the same kind went
    to the same address for the same destination (project, or organization): one live link each.
    """

    __tablename__ = "magic_links"
    __table_args__ = (Index("ix_magic_links_project_email", "project_id", "email_address"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    email_address: Mapped[str] = mapped_column(String(320))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    redirect_url: Mapped[str] = mapped_column(String(2048))
    pkce_code_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    organization_id: Mapped[str | None] = mapped_column(String(80))
    member_id: Mapped[str | None] = mapped_column(String(80))
    superseded_at: Mapped[datetime | None]
