from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class ScimConnection(Base):
    """An organization's SCIM connection (Stytch's SCIMConnection); at most one per organization.

    Bearer tokens are never stored: `token_digest` is the SHA-256 of the live token and
    `next_token_digest` that of the token a rotation started (both authenticate until the
    rotation is completed or cancelled). `*_last_four` are shown to operators to tell them apart.
    """

    __tablename__ = "scim_connections"
    __table_args__ = (UniqueConstraint("organization_id", name="uq_scim_connections_org"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    identity_provider: Mapped[str] = mapped_column(String(32), default="generic")
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    token_last_four: Mapped[str] = mapped_column(String(4))
    next_token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    next_token_last_four: Mapped[str] = mapped_column(String(4), default="")
    # [{group_id, role_id}] as Stytch's `scim_group_implicit_role_assignments` (names are
    # joined from scim_groups when shown).
    group_role_assignments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScimUser(Base):
    """A SCIM User resource: the directory's record of one member of the organization.

    `id` is the SCIM resource id (Stytch's `registration_id`). `attributes` is the resource as
    the directory last sent it, normalised by scim2-models (without `id` and `meta`), so what
    it reads back is what it wrote. `user_name_key` (lowercased: userName is case-insensitive,
    RFC 7643 §4.1.1) and `email` (canonical) are the lookup columns for filters.
    """

    __tablename__ = "scim_users"
    __table_args__ = (
        UniqueConstraint("connection_id", "user_name_key", name="uq_scim_users_user_name"),
        UniqueConstraint("member_id", name="uq_scim_users_member"),
        Index("ix_scim_users_external_id", "connection_id", "external_id"),
        Index("ix_scim_users_email", "connection_id", "email"),
        Index("ix_scim_users_created", "connection_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("scim_connections.id", ondelete="CASCADE")
    )
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    user_name_key: Mapped[str] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScimGroup(Base):
    """A SCIM Group resource (Stytch's SCIMGroup); its members are `ScimGroupMember` rows."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        Index("ix_scim_groups_created", "connection_id", "created_at", "id"),
        Index("ix_scim_groups_name", "connection_id", "display_name_key"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("scim_connections.id", ondelete="CASCADE")
    )
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScimGroupMember(Base):
    """Membership of a SCIM user in a SCIM group, as the directory pushes it."""

    __tablename__ = "scim_group_members"
    __table_args__ = (Index("ix_scim_group_members_user", "user_id"),)

    group_id: Mapped[str] = mapped_column(
        ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("scim_users.id", ondelete="CASCADE"), primary_key=True
    )
    # The member's `display` as the directory sent it ("" when it sent none).
    display: Mapped[str] = mapped_column(String(256), default="")


class ScimRequest(Base):
    """The outcome of one request to a connection's SCIM endpoint, for operators: when, what
    (method and resource type), the resource id, the status. Never the token, a body or
    personal data. Kept for the last `scim.connections.REQUESTS_KEPT` per connection."""

    __tablename__ = "scim_requests"
    __table_args__ = (Index("ix_scim_requests_connection", "connection_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("scim_connections.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(8))
    operation: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[int] = mapped_column(Integer)
    scim_type: Mapped[str] = mapped_column(String(32), default="")
