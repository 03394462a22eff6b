from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class RedirectUrl(Base):
    """One allowed redirect URL of a project, for one type of link (`discovery` first).

    A link is only ever built on a URL listed here, compared exactly. At most one URL per
    (project, type) is the default, used when a request names none.
    """

    __tablename__ = "redirect_urls"
    __table_args__ = (
        UniqueConstraint("project_id", "type", "url", name="uq_redirect_urls_project_type_url"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
