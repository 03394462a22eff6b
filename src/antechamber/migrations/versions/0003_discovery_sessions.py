"""discovery sessions: redirect URLs, magic links, intermediate and member sessions, signing keys

Tokens are stored only as SHA-256 digests (unique, the lookup key); signing keys' private
halves are sealed with the server key. Sessions and ISTs go with their member or organization
(ON DELETE CASCADE).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:44:19.417657
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "magic_links",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("redirect_url", sa.String(length=2048), nullable=False),
        sa.Column("pkce_code_challenge", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("magic_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_magic_links_project_email", ["project_id", "email_address"], unique=False
        )

    op.create_table(
        "redirect_urls",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "type", "url", name="uq_redirect_urls_project_type_url"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signing_keys_project_created", ["project_id", "created_at"], unique=False
        )

    op.create_table(
        "intermediate_sessions",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=True),
        sa.Column("member_id", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    op.create_table(
        "member_sessions",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("custom_claims", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("member_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_sessions_member", ["member_id", "expires_at"], unique=False
        )
        batch_op.create_index("ix_member_sessions_org", ["organization_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("member_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_member_sessions_org")
        batch_op.drop_index("ix_member_sessions_member")

    op.drop_table("member_sessions")
    op.drop_table("intermediate_sessions")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_signing_keys_project_created")

    op.drop_table("signing_keys")
    op.drop_table("redirect_urls")
    with op.batch_alter_table("magic_links", schema=None) as batch_op:
        batch_op.drop_index("ix_magic_links_project_email")

    op.drop_table("magic_links")
