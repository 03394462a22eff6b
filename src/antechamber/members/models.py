from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class Member(Base):
    """A person's membership of one organization (Stytch's Member).

    `email_address` is stored in canonical form (`emails.canonical_email`), which is
    also the uniqueness key within an organization.
    """

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("organization_id", "email_address", name="uq_members_org_email"),
        Index("ix_members_project_email", "project_id", "email_address"),
        Index("ix_members_org_created", "organization_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email_address: Mapped[str] = mapped_column(String(320))
    email_address_verified: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    name: Mapped[str] = mapped_column(String(256), default="")
    external_id: Mapped[str | None] = mapped_column(String(128))
    trusted_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    untrusted_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_breakglass: Mapped[bool] = mapped_column(default=False)
    # Directly assigned roles beyond the implicit `stytch_member`.
    roles: Mapped[list[str]] = mapped_column(default=list)
    # Roles its SCIM groups imply, [{role_id, connection_id, group_id}]: kept by
    # `scim.group_roles.refresh` whenever membership or assignments change, so that a session
    # check (one query for session, member and organization) needs no second one.
    scim_group_roles: Mapped[list[dict[str, Any]]] = mapped_column(default=list)

    mfa_enrolled: Mapped[bool] = mapped_column(default=False)
    mfa_phone_number: Mapped[str] = mapped_column(String(32), default="")
    mfa_phone_number_verified: Mapped[bool] = mapped_column(default=False)
    phone_id: Mapped[str | None] = mapped_column(String(80))
    default_mfa_method: Mapped[str] = mapped_column(String(16), default="")
    # The member's *active* TOTP registration (`totp.models`), "" when none: kept here so every
    # serialisation of a member shows it without a join.
    totp_registration_id: Mapped[str] = mapped_column(String(80), default="")

    # MFA lockout after a run of failures (Stytch shows these as is_locked & co.).
    lock_created_at: Mapped[datetime | None]
    lock_expires_at: Mapped[datetime | None]
    mfa_failed_attempts: Mapped[int] = mapped_column(default=0)
    mfa_first_failure_at: Mapped[datetime | None]

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Stytch's `sso_registrations` ({connection_id, external_id, registration_id}), kept here
    # by `sso.provisioning` beside the indexed `sso_registrations` table.
    sso_registrations: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
