"""The delivery worker's statements, built once (`worker` runs them).

They run lean on the unit of work's connection (`db.connection`, antechamber/statements.py):
through an ORM Session, building and compiling them cost more than SQLite's own work, and that
time was spent holding the writer lock the server's requests queue on.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import cast

from sqlalchemy import Table, Update, and_, bindparam, or_, select, update
from sqlalchemy.sql.elements import BindParameter

from antechamber.delivery.models import OutboxMessage

TABLE = cast(Table, OutboxMessage.__table__)
T = TABLE.c

_now: BindParameter[datetime] = bindparam("p_now")
_due = or_(
    and_(T.status == "pending", T.next_attempt_at <= _now),
    and_(T.status == "sending", T.claimed_until <= _now),
)
#: The claim, one statement: the due messages' ids (oldest due first, at most `p_limit`; on
#: PostgreSQL the rows other workers' claims have locked are skipped) → sending, leased to
#: `p_token` until `p_until`, one more attempt; it returns what the sender needs.
CLAIM = (
    update(TABLE)
    .where(
        T.id.in_(
            select(T.id)
            .where(_due)
            .order_by(T.next_attempt_at)
            .limit(bindparam("p_limit"))
            .with_for_update(skip_locked=True)
        )
    )
    .values(
        status="sending",
        claimed_until=bindparam("p_until"),
        claimed_by=bindparam("p_token"),
        attempts=T.attempts + 1,
    )
    .returning(
        T.id,
        T.channel,
        T.recipient,
        T.template,
        T.locale,
        T.payload,
        T.attempts,
        T.created_at,
        T.next_attempt_at,
    )
)
#: Only rows this batch still holds the claim of (`p_ids`, `p_token`).
_held = (
    T.id.in_(bindparam("p_ids", expanding=True)),
    T.claimed_by == bindparam("p_token"),
    T.status == "sending",
)
RELEASE = (
    update(TABLE)
    .where(*_held)
    .values(status="pending", claimed_until=None, attempts=T.attempts - 1)
)


@functools.cache
def mark_statement(columns: tuple[str, ...]) -> Update:
    """An outcome's UPDATE setting `columns` (each from the parameter `v_<column>`)."""
    return update(TABLE).where(*_held).values({c: bindparam(f"v_{c}") for c in columns})
