from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from antechamber.db import Base


class Project(Base):
    """A tenant of the server: its own organizations, members, keys and secrets."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("internal_purpose", name="uq_projects_internal_purpose"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    environment: Mapped[str] = mapped_column(String(8))
    # None for the projects people create; "operators" for the console's own project (whose
    # one organization holds the operators). Unique, so there is at most one of each purpose.
    internal_purpose: Mapped[str | None] = mapped_column(String(16))
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
