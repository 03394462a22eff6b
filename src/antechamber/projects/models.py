from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from antechamber.db import Base


class Project(Base):
    """A tenant of the server: its own organizations, members, keys and secrets."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    environment: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]

    secrets: Mapped[list[ProjectSecret]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectSecret.created_at"
    )


class ProjectSecret(Base):
    """An API secret. Only its SHA-256 digest is stored; the secret is shown once at creation.

    A project may hold several live secrets, so a new one can be deployed before the old one is
    revoked (rotation without downtime).
    """

    __tablename__ = "project_secrets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    secret_digest: Mapped[str] = mapped_column(String(64), unique=True)
    last_four: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(back_populates="secrets")
