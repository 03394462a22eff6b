from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from antechamber.db import Base


class Organization(Base):
    """A customer organization with its authentication settings (Stytch's Organization)."""

    __tablename__ = "organizations"
    __table_args__ = (
        UniqueConstraint("project_id", "slug", name="uq_organizations_project_slug"),
        UniqueConstraint("project_id", "external_id", name="uq_organizations_project_external_id"),
        Index("ix_organizations_project_created", "project_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    slug: Mapped[str] = mapped_column(String(128))
    logo_url: Mapped[str] = mapped_column(String(2048), default="")
    external_id: Mapped[str | None] = mapped_column(String(128))
    trusted_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)

    sso_jit_provisioning: Mapped[str] = mapped_column(String(32), default="ALL_ALLOWED")
    email_jit_provisioning: Mapped[str] = mapped_column(String(32), default="NOT_ALLOWED")
    email_invites: Mapped[str] = mapped_column(String(32), default="ALL_ALLOWED")
    auth_methods: Mapped[str] = mapped_column(String(32), default="ALL_ALLOWED")
    allowed_auth_methods: Mapped[list[str]] = mapped_column(default=list)
    mfa_policy: Mapped[str] = mapped_column(String(32), default="OPTIONAL")
    mfa_methods: Mapped[str] = mapped_column(String(32), default="ALL_ALLOWED")
    allowed_mfa_methods: Mapped[list[str]] = mapped_column(default=list)
    # Beyond Stytch: roles whose members must pass MFA even when mfa_policy is OPTIONAL.
    mfa_required_roles: Mapped[list[str]] = mapped_column(default=list)
    rbac_email_implicit_role_assignments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    # The organization's own RBAC roles (Stytch's org policy), checked by `rbac.service`.
    custom_roles: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    oauth_tenant_jit_provisioning: Mapped[str] = mapped_column(String(32), default="NOT_ALLOWED")
    allowed_oauth_tenants: Mapped[dict[str, Any]] = mapped_column(default=dict)
    claimed_email_domains: Mapped[list[str]] = mapped_column(default=list)
    first_party_connected_apps_allowed_type: Mapped[str] = mapped_column(
        String(32), default="ALL_ALLOWED"
    )
    allowed_first_party_connected_apps: Mapped[list[str]] = mapped_column(default=list)
    third_party_connected_apps_allowed_type: Mapped[str] = mapped_column(
        String(32), default="ALL_ALLOWED"
    )
    allowed_third_party_connected_apps: Mapped[list[str]] = mapped_column(default=list)

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # The list as given, read with the row (every answer that shows an organization shows it);
    # `domains` holds the same list as rows, indexed for discovery by domain. Written together
    # by `organizations.service` only.
    email_allowed_domains: Mapped[list[str]] = mapped_column(default=list)
    domains: Mapped[list[OrganizationDomain]] = relationship(
        cascade="all, delete-orphan", order_by="OrganizationDomain.position"
    )

    # SSO (sso/): the default connection, the connections JIT may use under RESTRICTED, and
    # the active connections as Stytch lists them, kept here by `sso.connections` whenever a
    # connection changes (every answer that shows an organization shows them).
    sso_default_connection_id: Mapped[str | None] = mapped_column(String(96))
    sso_jit_provisioning_allowed_connections: Mapped[list[str]] = mapped_column(default=list)
    sso_active_connections: Mapped[list[dict[str, Any]]] = mapped_column(default=list)


class OrganizationDomain(Base):
    """One entry of an organization's `email_allowed_domains`, a row so discovery can index it."""

    __tablename__ = "organization_domains"
    __table_args__ = (Index("ix_organization_domains_project_domain", "project_id", "domain"),)

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int]
