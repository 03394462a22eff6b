"""single sign-on: SAML and OIDC connections, logins, SSO tokens, registrations, public tokens

Every SSO table (sso/models.py): connections per organization (SAML with its certificates and
encryption keys, OIDC), logins waiting for the identity provider, single-use SSO tokens
(digests only), members' registrations at connections, SAML assertion ids already accepted,
and projects' public tokens. The organization gains its SSO settings and its active
connections; the member its `sso_registrations` ("[]" for every existing row).

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_saml_assertion_uses",
        sa.Column("connection_id", sa.String(length=96), nullable=False),
        sa.Column("assertion_id", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "assertion_id"),
    )
    op.create_table(
        "project_public_tokens",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_project_public_tokens_project_id"),
        "project_public_tokens",
        ["project_id"],
        unique=False,
    )
    op.create_table(
        "sso_logins",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("connection_id", sa.String(length=96), nullable=False),
        sa.Column("state_digest", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=96), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("pkce_code_challenge", sa.String(length=128), nullable=True),
        sa.Column("login_redirect_url", sa.String(length=2048), nullable=False),
        sa.Column("signup_redirect_url", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_digest"),
    )
    op.create_index(
        op.f("ix_sso_logins_connection_id"), "sso_logins", ["connection_id"], unique=False
    )
    op.create_table(
        "sso_oidc_connections",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("identity_provider", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=512), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=2048), nullable=False),
        sa.Column("authorization_url", sa.String(length=2048), nullable=False),
        sa.Column("token_url", sa.String(length=2048), nullable=False),
        sa.Column("userinfo_url", sa.String(length=2048), nullable=False),
        sa.Column("jwks_url", sa.String(length=2048), nullable=False),
        sa.Column("custom_scopes", sa.String(length=1024), nullable=False),
        sa.Column("attribute_mapping", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sso_oidc_connections_org",
        "sso_oidc_connections",
        ["organization_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "sso_saml_connections",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("identity_provider", sa.String(length=32), nullable=False),
        sa.Column("idp_entity_id", sa.String(length=1024), nullable=False),
        sa.Column("idp_sso_url", sa.String(length=2048), nullable=False),
        sa.Column("attribute_mapping", sa.JSON(), nullable=False),
        sa.Column("nameid_format", sa.String(length=256), nullable=False),
        sa.Column("alternative_audience_uri", sa.String(length=2048), nullable=False),
        sa.Column("alternative_acs_url", sa.String(length=2048), nullable=False),
        sa.Column("idp_initiated_auth_disabled", sa.Boolean(), nullable=False),
        sa.Column("allow_gateway_callback", sa.Boolean(), nullable=False),
        sa.Column("connection_role_assignments", sa.JSON(), nullable=False),
        sa.Column("group_role_assignments", sa.JSON(), nullable=False),
        sa.Column("signing_certificate", sa.Text(), nullable=False),
        sa.Column("signing_private_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sso_saml_connections_org",
        "sso_saml_connections",
        ["organization_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "sso_tokens",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("connection_id", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=1024), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("pkce_code_challenge", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    op.create_table(
        "sso_registrations",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("connection_id", sa.String(length=96), nullable=False),
        sa.Column("external_id", sa.String(length=1024), nullable=False),
        sa.Column("sso_attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection_id", "external_id", name="uq_sso_registrations_external"),
    )
    op.create_index(
        op.f("ix_sso_registrations_member_id"), "sso_registrations", ["member_id"], unique=False
    )
    op.create_table(
        "sso_saml_certificates",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("connection_id", sa.String(length=96), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["connection_id"], ["sso_saml_connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_sso_saml_certificates_connection_id"),
        "sso_saml_certificates",
        ["connection_id"],
        unique=False,
    )
    op.create_table(
        "sso_saml_encryption_keys",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("connection_id", sa.String(length=96), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["sso_saml_connections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_sso_saml_encryption_keys_connection_id"),
        "sso_saml_encryption_keys",
        ["connection_id"],
        unique=False,
    )
    op.add_column(
        "members", sa.Column("sso_registrations", sa.JSON(), nullable=False, server_default="[]")
    )
    op.add_column(
        "organizations", sa.Column("sso_default_connection_id", sa.String(length=96), nullable=True)
    )
    op.add_column(
        "organizations",
        sa.Column(
            "sso_jit_provisioning_allowed_connections",
            sa.JSON(),
            nullable=False,
            server_default="[]",
        ),
    )
    op.add_column(
        "organizations",
        sa.Column("sso_active_connections", sa.JSON(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_column("organizations", "sso_active_connections")
    op.drop_column("organizations", "sso_jit_provisioning_allowed_connections")
    op.drop_column("organizations", "sso_default_connection_id")
    op.drop_column("members", "sso_registrations")
    op.drop_index(
        op.f("ix_sso_saml_encryption_keys_connection_id"), table_name="sso_saml_encryption_keys"
    )
    op.drop_table("sso_saml_encryption_keys")
    op.drop_index(
        op.f("ix_sso_saml_certificates_connection_id"), table_name="sso_saml_certificates"
    )
    op.drop_table("sso_saml_certificates")
    op.drop_index(op.f("ix_sso_registrations_member_id"), table_name="sso_registrations")
    op.drop_table("sso_registrations")
    op.drop_table("sso_tokens")
    op.drop_index("ix_sso_saml_connections_org", table_name="sso_saml_connections")
    op.drop_table("sso_saml_connections")
    op.drop_index("ix_sso_oidc_connections_org", table_name="sso_oidc_connections")
    op.drop_table("sso_oidc_connections")
    op.drop_index(op.f("ix_sso_logins_connection_id"), table_name="sso_logins")
    op.drop_table("sso_logins")
    op.drop_index(op.f("ix_project_public_tokens_project_id"), table_name="project_public_tokens")
    op.drop_table("project_public_tokens")
    op.drop_table("sso_saml_assertion_uses")
