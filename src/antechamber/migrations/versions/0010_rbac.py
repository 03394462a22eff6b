"""RBAC: the project's policy (rbac_policies) and organizations' custom roles

`rbac_policies` holds a project's own policy (without a row, Stytch's defaults apply);
`organizations.custom_roles` the organization's roles (Stytch's org policy), on the row so an
organization answer needs no second query.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rbac_policies",
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False, server_default=""),
    )
    # Plain ALTER TABLE (SQLite adds a column in place).
    op.add_column(
        "organizations",
        sa.Column("custom_roles", sa.JSON(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_column("organizations", "custom_roles")
    op.drop_table("rbac_policies")
