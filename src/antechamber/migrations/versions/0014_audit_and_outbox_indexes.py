"""Fewer index pages per login: the audit trail's and the outbox's indexes fit their queries

Every unit of work of a login inserts 1-3 audit rows and some an outbox message; each index on
those tables is another page in the commit's WAL frames (docs/perf-notes/pages.md).

`audit_events`: its one reader, `audit.queries.search` (console, CLI, a member's page), asks
for a project's events newest first by id, optionally of one organization, member, type or time
range. `(project_id, created_at)` made SQLite sort all of a project's events for every page
(1 s at 240,000 events); `(project_id, id)` reads them in order and stops after the page.
`(organization_id, id)`, only where there is an organization (most discovery events have none),
does the same for one organization. The `event_type` index becomes `(project_id, event_type, id)`:
a filter by a rare type over a large project reads only that type's events, newest first (without
it, 300 ms at 240,000 events).

`outbox_messages`: `(project_id, created_at)` served only the list of a project's failed
messages; it now holds the failed ones only (a message is inserted pending, so a send no longer
writes it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_ORG = sa.text("organization_id IS NOT NULL")
_FAILED = sa.text("status = 'failed'")


def upgrade() -> None:
    op.create_index("ix_audit_project_id", "audit_events", ["project_id", "id"])
    op.create_index(
        "ix_audit_org_id",
        "audit_events",
        ["organization_id", "id"],
        sqlite_where=_HAS_ORG,
        postgresql_where=_HAS_ORG,
    )
    op.create_index("ix_audit_project_type", "audit_events", ["project_id", "event_type", "id"])
    op.drop_index("ix_audit_project_created", table_name="audit_events")
    op.drop_index("ix_audit_org_created", table_name="audit_events")
    op.drop_index("ix_audit_events_event_type", table_name="audit_events")
    op.create_index(
        "ix_outbox_project_failed",
        "outbox_messages",
        ["project_id", "created_at"],
        sqlite_where=_FAILED,
        postgresql_where=_FAILED,
    )
    op.drop_index("ix_outbox_project_created", table_name="outbox_messages")


def downgrade() -> None:
    op.create_index("ix_outbox_project_created", "outbox_messages", ["project_id", "created_at"])
    op.drop_index("ix_outbox_project_failed", table_name="outbox_messages")
    op.create_index("ix_audit_events_event_type", "audit_events", ["event_type"])
    op.create_index("ix_audit_org_created", "audit_events", ["organization_id", "created_at"])
    op.create_index("ix_audit_project_created", "audit_events", ["project_id", "created_at"])
    op.drop_index("ix_audit_project_type", table_name="audit_events")
    op.drop_index("ix_audit_org_id", table_name="audit_events")
    op.drop_index("ix_audit_project_id", table_name="audit_events")
