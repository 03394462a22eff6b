"""A session's `last_accessed_at`, recorded by checks at most once a minute, after the answer.

Contract: a check (`sessions.service.authenticate` on its read-only path) writes nothing in
its own unit of work. When the session's last access is older than its due time (`due`: at
most TOUCH_INTERVAL), the check's answer and JWT show the new time, and one conditional UPDATE
(`last_accessed_at < at`, so it never moves the time back) runs after the unit commits
(`db.after_commit`). Nothing expires on this time: a member session ends at `expires_at` or
when revoked.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from antechamber.clock import as_utc
from antechamber.db import after_commit
from antechamber.scope import Scope
from antechamber.sessions import memos
from antechamber.sessions.models import MemberSession

#: How stale a session's `last_accessed_at` may be before a check records it again: at most
#: TOUCH_INTERVAL, and more than TOUCH_INTERVAL - TOUCH_SPREAD, by an offset fixed per session
#: (`due`), so that sessions started together do not all come due together.
TOUCH_INTERVAL = timedelta(minutes=1)
TOUCH_SPREAD = timedelta(seconds=30)

# Per process: the last access this process recorded for a session (its write may still be on
# its way), oldest first; bounded (`memos.forget_old`).
_touched: dict[str, datetime] = {}

# Parameters: session_id, at. Built once; a plain Core UPDATE on the writer's connection.
_TOUCH = (
    update(cast(Table, MemberSession.__table__))
    .where(
        MemberSession.__table__.c.id == bindparam("session_id"),
        MemberSession.__table__.c.last_accessed_at < bindparam("at"),
    )
    .values(last_accessed_at=bindparam("at"))
)


def due(session_id: str) -> timedelta:
    """How old `last_accessed_at` gets before a check of this session records it again.

    Stable per session, in (TOUCH_INTERVAL - TOUCH_SPREAD, TOUCH_INTERVAL]: a burst of logins
    (a deploy, a morning, a benchmark's setup) would otherwise come due in the same second
    every minute, each check of it with a write and a freshly signed JWT (its claims carry
    the new time) in a burst of its own."""
    fraction = zlib.crc32(session_id.encode()) / 2**32  # in [0, 1)
    return TOUCH_INTERVAL - TOUCH_SPREAD * fraction


def later(scope: Scope, session: MemberSession, now: datetime) -> None:
    """Record the access at `now` after the unit of work commits, if it is due (`due`); the
    `session` object shows the time the answer and JWT should carry either way."""
    # A session check is a read; writing on every one would put every check in the queue for
    # the write lock (one writer at a time on SQLite). The last-used time is only as precise
    # as TOUCH_INTERVAL, which is all anyone reads it for.
    session_id = session.id
    last = as_utc(session.last_accessed_at)
    recorded = _touched.get(session_id)
    if recorded is not None and recorded > last:
        # This process recorded a later access whose write has not landed yet (it runs after
        # the answer, behind the write lock): the checks in between neither write it again nor,
        # as their claims would differ, sign a JWT each.
        last = recorded
        set_committed_value(session, "last_accessed_at", recorded)
    if now - last < due(session_id):
        return
    # The answer and the JWT show the new time; the row gets it after the commit.
    set_committed_value(session, "last_accessed_at", now)
    with memos.lock:
        _touched.pop(session_id, None)  # to the end: the oldest go first
        _touched[session_id] = now
        memos.forget_old(_touched, lambda recorded: now - recorded >= TOUCH_INTERVAL)
    params = {"session_id": session_id, "at": now}

    def touch(db: Session) -> None:
        db.connection().execute(_TOUCH, params)

    after_commit(scope.db, touch)
