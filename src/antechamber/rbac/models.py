from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class RbacPolicy(Base):
    """A project's RBAC policy, when it has one of its own (else Stytch's defaults apply).

    `document` holds the roles and the project's own resources (`Policy.custom_json`); the
    `stytch.*` resources are implied. Written only by `rbac.service.set_policy`, which checks it.
    """

    __tablename__ = "rbac_policies"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")
