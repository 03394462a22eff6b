"""Fewer index pages per login: the audit trail's and the outbox's indexes fit their queries

Every unit of work of a login inserts 1-3 audit rows and some an outbox message; each index on
those tables is another page in the commit's WAL frames (docs/performance.md, eighth round,
item 45).

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

On PostgreSQL the four new indexes are built with `CREATE INDEX CONCURRENTLY` before the
migration's transaction, so that an upgrade of a large installation does not stop its logins
for the length of the builds (`migrations.online`; added after this revision shipped, with the
same resulting schema). Dropping the old indexes inside the transaction is quick.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

from alembic import op

from antechamber.migrations.online import OnlineIndex, create_index

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONLINE_INDEXES = (
    OnlineIndex("ix_audit_project_id", "audit_events", ("project_id", "id")),
    OnlineIndex(
        "ix_audit_org_id", "audit_events", ("organization_id", "id"), "organization_id IS NOT NULL"
    ),
    OnlineIndex("ix_audit_project_type", "audit_events", ("project_id", "event_type", "id")),
    OnlineIndex(
        "ix_outbox_project_failed",
        "outbox_messages",
        ("project_id", "created_at"),
        "status = 'failed'",
    ),
)


def upgrade() -> None:
    for index in ONLINE_INDEXES[:3]:
        create_index(index)
    op.drop_index("ix_audit_project_created", table_name="audit_events")
    op.drop_index("ix_audit_org_created", table_name="audit_events")
    op.drop_index("ix_audit_events_event_type", table_name="audit_events")
    create_index(ONLINE_INDEXES[3])
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
