"""invites, organization login links, email one-time codes, deleted members

`magic_links` gains the organization and member an organization's own link (invite, login,
signup) was sent for, and `superseded_at` (a newer link to the same address ended it);
`email_otps` holds the one live email code of each address; `deleted_members` keeps what a
deleted member was, for `organizations.members.reactivate`.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (nullable columns, no constraints): no batch rebuild on SQLite.
    op.add_column("magic_links", sa.Column("organization_id", sa.String(80), nullable=True))
    op.add_column("magic_links", sa.Column("member_id", sa.String(80), nullable=True))
    op.add_column(
        "magic_links", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "email_otps",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=True),
        sa.Column("member_id", sa.String(length=80), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "email_address"),
    )
    op.create_table(
        "deleted_members",
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=80), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("email_address_verified", sa.Boolean(), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index("ix_deleted_members_organization_id", "deleted_members", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_deleted_members_organization_id", table_name="deleted_members")
    op.drop_table("deleted_members")
    op.drop_table("email_otps")
    op.drop_column("magic_links", "superseded_at")
    op.drop_column("magic_links", "member_id")
    op.drop_column("magic_links", "organization_id")
