"""organizations.email_allowed_domains

The organization's allowed email domains as a list on its own row, so reading an organization
(every session check answers with one) needs no second query; `organization_domains` stays as
the index discovery searches by domain. Filled from `organization_domains`, in order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE on every database: SQLite adds and drops a column in place, where a
    # batch rebuild would copy the whole table.
    op.add_column(
        "organizations",
        sa.Column("email_allowed_domains", sa.JSON(), nullable=False, server_default="[]"),
    )
    organizations = sa.table(
        "organizations", sa.column("id", sa.String), sa.column("email_allowed_domains", sa.JSON)
    )
    domains = sa.table(
        "organization_domains",
        sa.column("organization_id", sa.String),
        sa.column("domain", sa.String),
        sa.column("position", sa.Integer),
    )
    conn = op.get_bind()
    by_org: dict[str, list[str]] = {}
    rows = conn.execute(
        sa.select(domains.c.organization_id, domains.c.domain).order_by(
            domains.c.organization_id, domains.c.position
        )
    )
    for org_id, domain in rows:
        by_org.setdefault(org_id, []).append(domain)
    for org_id, listed in by_org.items():
        conn.execute(
            organizations.update()
            .where(organizations.c.id == org_id)
            .values(email_allowed_domains=listed)
        )


def downgrade() -> None:
    op.drop_column("organizations", "email_allowed_domains")
