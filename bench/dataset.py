"""The pre-loaded data: organizations and members, with ids the driver can compute.

Organization j and its member k get deterministic ids, emails and phone numbers, so the client
processes need no list from the database: virtual user u of U takes every U-th member of the
kind its scenario needs. Even organizations are OPTIONAL, odd ones REQUIRED_FOR_ALL; members
of the latter already have a verified phone and are enrolled (a returning user, the common
case of a login).

Rows go in with SQLAlchemy Core in batches (the ORM would take minutes for 100k rows); columns
not named here take the table's defaults, so new columns added by later migrations need no
change here unless they are required without a default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, insert, text

BATCH = 5000
Kind = Literal["optional", "required"]


@dataclass(frozen=True)
class Shape:
    orgs: int
    members_per_org: int

    def count(self, kind: Kind) -> int:
        """How many members belong to organizations of that kind."""
        orgs = (self.orgs + 1) // 2 if kind == "optional" else self.orgs // 2
        return orgs * self.members_per_org

    def member(self, kind: Kind, i: int) -> tuple[int, int]:
        """The (org, member) indexes of the i-th member of that kind."""
        j = 2 * (i // self.members_per_org) + (0 if kind == "optional" else 1)
        return j, i % self.members_per_org


def org_id(j: int) -> str:
    return f"organization-test-00000000-0000-4000-8000-{j:012x}"


def member_id(j: int, k: int) -> str:
    return f"member-test-00000000-{k:04x}-4000-8000-{j:012x}"


def phone_id(j: int, k: int) -> str:
    return f"phone-number-test-00000000-{k:04x}-4000-8000-{j:012x}"


def email(j: int, k: int) -> str:
    return f"user{k}@org{j}.example.com"


def policy(j: int) -> str:
    return "OPTIONAL" if j % 2 == 0 else "REQUIRED_FOR_ALL"


def phone(shape: Shape, j: int, k: int) -> str:
    """A distinct valid US number per member (+1 202 XXX-XXXX, exchange 200–999), so reading
    "the newest code sent to this number" never picks up another user's code."""
    n = j * shape.members_per_org + k
    exchange, line = 200 + n // 10_000, n % 10_000
    if exchange > 999:
        raise ValueError("too many members for the phone number plan (8 million)")
    return f"+1202{exchange}{line:04d}"


def _org_rows(shape: Shape, project_id: str, now: datetime) -> Iterator[dict[str, Any]]:
    for j in range(shape.orgs):
        yield {
            "id": org_id(j),
            "project_id": project_id,
            "name": f"Org {j}",
            "slug": f"org-{j}",
            "mfa_policy": policy(j),
            "created_at": now,
            "updated_at": now,
        }


def _member_rows(shape: Shape, project_id: str, now: datetime) -> Iterator[dict[str, Any]]:
    for j in range(shape.orgs):
        required = policy(j) == "REQUIRED_FOR_ALL"
        for k in range(shape.members_per_org):
            yield {
                "id": member_id(j, k),
                "project_id": project_id,
                "organization_id": org_id(j),
                "email_address": email(j, k),
                "email_address_verified": True,
                "status": "active",
                "name": f"User {k} of org {j}",
                "mfa_enrolled": required,
                "mfa_phone_number": phone(shape, j, k) if required else "",
                "mfa_phone_number_verified": required,
                "phone_id": phone_id(j, k) if required else None,
                "default_mfa_method": "sms_otp" if required else "",
                "created_at": now,
                "updated_at": now,
            }


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def preload(engine: Engine, shape: Shape, project_id: str) -> None:
    """Insert the organizations and members of `shape` into `project_id`."""
    from antechamber.models import Member, Organization

    now = datetime.now(UTC)
    with engine.begin() as conn:
        for batch in _batches(_org_rows(shape, project_id, now)):
            conn.execute(insert(Organization), batch)
        for batch in _batches(_member_rows(shape, project_id, now)):
            conn.execute(insert(Member), batch)


#: Rows of history `grow` adds to each table the login path writes.
HISTORY = 5000


def grow(engine: Engine, project_id: str, rows: int = HISTORY) -> None:
    """PostgreSQL: give the tables a login writes the history a database in service has
    (used magic links, consumed intermediate sessions, outbox messages sent, audit events),
    none of it any virtual user's, before the run's VACUUM ANALYZE.

    Without it those tables are analyzed empty, and with autovacuum off (this machine's
    PostgreSQL, conf.d/90-ci.conf) never again: a statement's generic plan, made while a
    table held a page or two, stays a sequential scan of it while the run fills it, so a
    lookup by token digest costs more with every login (six such scans a login b,
    docs/performance.md, item 90). A deployment's autovacuum re-analyzes a table after 50 rows and a
    tenth of it change; its plans are index scans.
    """
    # A row a second over the two days before now: expired, used or sent, never due.
    statements = [
        """INSERT INTO magic_links (id, project_id, kind, email_address, token_digest,
            redirect_url, created_at, expires_at, used_at)
            SELECT 'magic-link-history-' || g, :p, 'discovery',
                'history' || g || '@history.example.com', md5('ml' || g) || md5('ml2' || g),
                'http://localhost:3000/discovery', t, t + interval '1 hour', t + interval '1 minute'
            FROM generate_series(1, :n) AS g,
                LATERAL (SELECT now() - interval '2 days' + g * interval '1 second' AS t) AS at""",
        """INSERT INTO intermediate_sessions (id, project_id, token_digest, email_address,
            factors, created_at, expires_at, consumed_at)
            SELECT 'intermediate-session-history-' || g, :p, md5('is' || g) || md5('is2' || g),
                'history' || g || '@history.example.com', '[]', t,
                t + interval '10 minutes', t + interval '1 minute'
            FROM generate_series(1, :n) AS g,
                LATERAL (SELECT now() - interval '2 days' + g * interval '1 second' AS t) AS at""",
        """INSERT INTO outbox_messages (id, project_id, channel, recipient, template, locale,
            payload, status, attempts, next_attempt_at, created_at, sent_at, delivered_via)
            SELECT 'message-history-' || g, :p, 'email',
                'history' || g || '@history.example.com', 'discovery_magic_link', 'en', '',
                'sent', 1, t, t, t, 'inbox'
            FROM generate_series(1, 2 * :n) AS g,
                LATERAL (SELECT now() - interval '2 days' + g * interval '1 second' AS t) AS at""",
        """INSERT INTO audit_events (project_id, actor, event_type, details, created_at)
            SELECT :p, 'history', 'magic_link.sent', '{}',
                now() - interval '2 days' + g * interval '1 second'
            FROM generate_series(1, 8 * :n) AS g""",
    ]
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql), {"p": project_id, "n": rows})


def fresh_statistics(engine: Engine, project_id: str, *, history: bool = True) -> None:
    """PostgreSQL: the statistics a database that grew over time would have, before a run:
    its history in the tables the run writes (`grow`, unless `history` is False), then
    VACUUM ANALYZE."""
    if history:
        grow(engine, project_id)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
