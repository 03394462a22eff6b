from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class SigningKey(Base):
    """An RS256 key pair that signs a project's session JWTs; `id` is the JWT `kid`.

    `private_key` is the PKCS#8 PEM sealed with the server key (`crypto.seal`): a database dump
    alone cannot mint JWTs. `public_jwk` is the key as published in the JWKS. The newest key
    without `retired_at` signs; a retired key stays published until every JWT it signed has
    expired.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (Index("ix_signing_keys_project_created", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(8), default="RS256")
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
