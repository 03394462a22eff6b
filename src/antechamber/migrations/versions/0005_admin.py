"""admin console: console sessions, and the mark on the operators' internal project

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 01:51:50.381908
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("mfa_method", sa.String(length=16), nullable=False),
        sa.Column("user_agent", sa.String(length=256), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flash", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_sessions_member_id"), ["member_id"], unique=False
        )

    # Nullable: every existing project is a customer's (NULL); NULLs never collide.
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("internal_purpose", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint("uq_projects_internal_purpose", ["internal_purpose"])


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_projects_internal_purpose", type_="unique")
        batch_op.drop_column("internal_purpose")

    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_member_id"))

    op.drop_table("console_sessions")
