"""SCIM group roles: `members.scim_group_roles`

The roles a member's SCIM groups imply ({role_id, connection_id, group_id}), kept on the
member's row by `scim.group_roles.refresh`, so that a session check still reads one row per
table (session, member, organization) and needs no query for the groups.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite adds a column in place).
    op.add_column(
        "members",
        sa.Column("scim_group_roles", sa.JSON(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_column("members", "scim_group_roles")
