"""Which ids can hold an event of a time range: a per-process summary of settled id blocks.

`audit_events` has no time index (each index is a page more in the commit of every unit that
records an event, migration 0014), so a search bounded by time (`until` far in the past, or a
`since` few events pass) walks a project's events newest first and checks each one's time: 150
to 320 ms at 240,000 events. Ids do not follow time exactly, so a time cannot be turned into an
id: `created_at` is read from the clock when the event is recorded, its id when the unit of
work commits (a long unit, a refusal written after the rollback, another process's clock, and
on PostgreSQL concurrent transactions committing out of their sequence order).

What is exact instead: the ids are cut into blocks of `BLOCK` and, for each block no event can
ever be added to any more ("settled"), the earliest and latest `created_at` in it are kept. A
block whose events are all at or after `until` (or all before `since`) holds no match now or
later, and the search skips it; every other id stays a candidate and the query keeps its own
time conditions, so the rows are those of the plain query (`tests/audit/test_time_blocks.py`
compares both on random events with ties and out-of-order times).

Settled: an event's id is above every id committed when it was inserted. On SQLite the writes
are serialised and a rowid is the largest plus one, so every id at or below the largest id a
reader sees is settled (audit events are never deleted, so the largest is never freed for
reuse). On PostgreSQL an id comes from a sequence when the INSERT runs, and a transaction that
took a smaller id may commit later: the largest id is read under a `SHARE` lock on the table,
which is granted only when no transaction is inserting into it, and lets no new one start until
it is released, a moment later. It is asked with `NOWAIT`, so it never queues (a waiting
`SHARE` request would hold every login's INSERT behind it): a few tries a few milliseconds
apart, after which nothing new is settled this time.

The summary is kept per engine in this process (a restored database needs a restart), grows
from the newest settled block down, at most `BUDGET` ids a search, and is read in the search's
own transaction. Comparisons are made as the database makes them: on SQLite between the stored
text and the bound parameter's text, on PostgreSQL between `timestamptz` values.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, bindparam, func, select, text, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from antechamber import db
from antechamber.audit.models import AuditEvent

BLOCK = 1024
#: Ids summarised at most per search, newest first: the first searches of a process over a large
#: trail read this many events more each (about 50 ms on SQLite), the next ones only new blocks.
BUDGET = 65_536
#: At most this many id ranges (one query each) in a search; the oldest are merged beyond it.
MAX_RANGES = 8
#: PostgreSQL: tries at the lock that settles new blocks, and the pause between them (seconds).
LOCK_TRIES = 3
LOCK_PAUSE = 0.003

_ID = AuditEvent.__table__.c.id
_AT = AuditEvent.__table__.c.created_at


@dataclass
class _Summary:
    """Blocks `low` to `high - 1`, each (earliest, latest) or None when it holds no event."""

    low: int = 0
    high: int = 0
    blocks: dict[int, tuple[Any, Any] | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_summaries: weakref.WeakKeyDictionary[Engine, _Summary] = weakref.WeakKeyDictionary()
_summaries_lock = threading.Lock()


def id_ranges(
    session: Session, since: datetime | None, until: datetime | None
) -> list[tuple[int | None, int | None]] | None:
    """The id ranges `[start, stop)` (None: unbounded), newest first, outside which no event
    has `since <= created_at < until`; None when nothing can be skipped (no time bound, or a
    comparison this module does not make as the database would)."""
    if since is None and until is None:
        return None
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    assert isinstance(engine, Engine)
    dialect = engine.dialect.name
    if dialect == "sqlite":
        to_db = _AT.type._cached_bind_processor(engine.dialect)
        if to_db is None:
            return None
        since_db, until_db = (to_db(t) if t is not None else None for t in (since, until))
    elif dialect == "postgresql":
        if any(t is not None and t.tzinfo is None for t in (since, until)):
            return None  # a naive time is read in the session's time zone: leave it to SQL
        since_db, until_db = since, until
    else:
        return None
    summary = _summary(engine)
    with summary.lock:
        _extend(engine, summary)
        return _ranges(summary, since_db, until_db)


def _ranges(
    summary: _Summary, since_db: Any, until_db: Any
) -> list[tuple[int | None, int | None]] | None:
    low, high, blocks = summary.low, summary.high, summary.blocks
    if low == high:
        return None

    def may_hold(block: int) -> bool:
        span = blocks[block]
        if span is None:
            return False
        earliest, latest = span
        if until_db is not None and not earliest < until_db:
            return False
        return since_db is None or latest >= since_db

    # Newest first: the unsettled tail, then each run of summarised blocks that may hold a
    # match, then everything below the summary.
    ranges: list[tuple[int | None, int | None]] = [(high * BLOCK, None)]
    for block in range(high - 1, low - 1, -1):
        if not may_hold(block):
            continue
        start, stop = block * BLOCK, (block + 1) * BLOCK
        last_start, last_stop = ranges[-1]
        if last_start == stop:
            ranges[-1] = (start, last_stop)
        else:
            ranges.append((start, stop))
    if low > 0:  # never summarised: every id below is a candidate
        if ranges[-1][0] == low * BLOCK:
            ranges[-1] = (None, ranges[-1][1])
        else:
            ranges.append((None, low * BLOCK))
    if len(ranges) > MAX_RANGES:  # one range over the oldest ones, and the blocks between
        ranges[MAX_RANGES - 1 :] = [(ranges[-1][0], ranges[MAX_RANGES - 1][1])]
    return ranges


def _summary(engine: Engine) -> _Summary:
    with _summaries_lock:
        summary = _summaries.get(engine)
        if summary is None:
            summary = _summaries[engine] = _Summary()
        return summary


def _extend(engine: Engine, summary: _Summary) -> None:
    """Summarise the blocks settled since the last call, newest first, within `BUDGET`; on a
    connection of its own, so that only committed events are summarised (a block summarised
    with the search's own uncommitted events would be wrong if it rolled back)."""
    with db.read_connection(engine) as connection:  # SQLite: no write lock; PostgreSQL: autocommit
        settled = _settled_max_id(engine, connection, summary)
        budget = BUDGET // BLOCK
        if settled is not None:
            top = (settled + 1) // BLOCK  # blocks below `top` are whole and settled
            if top < summary.high:  # fewer ids than before: not the trail summarised; restart
                summary.low = summary.high = 0
            if summary.low == summary.high:  # empty: start from the newest settled block
                summary.blocks.clear()
                summary.low = summary.high = top
            if top > summary.high:
                start = max(summary.high, top - budget)
                if start > summary.high:  # too far behind: start again from the top
                    summary.blocks.clear()
                    summary.low = start
                _read_blocks(connection, summary, start, top)
                summary.high = top
                budget -= top - start
        if budget > 0 and summary.low > 0:  # then the older blocks, down to the first
            start = max(0, summary.low - budget)
            _read_blocks(connection, summary, start, summary.low)
            summary.low = start


def _read_blocks(connection: Connection, summary: _Summary, start: int, stop: int) -> None:
    """Summarise blocks `start` to `stop - 1` (settled: any snapshot from now on sees them
    whole)."""
    earliest: ColumnElement[Any] = func.min(_AT)
    latest: ColumnElement[Any] = func.max(_AT)
    for number in range(start, stop):
        summary.blocks[number] = None
    if connection.dialect.name == "postgresql":
        block = _ID // BLOCK
        query = (
            select(block, earliest, latest)
            .where(_ID.between(start * BLOCK, stop * BLOCK - 1))
            .group_by(block)
        )
        with connection.begin():
            for number, first, last in connection.execute(query):
                summary.blocks[int(number)] = (first, last)
        return
    # SQLite: one query a block, a range of the primary key read in order (one GROUP BY over
    # them all sorts every row, twice as slow), and the stored text, as SQLite compares it.
    text_query = select(type_coerce(earliest, String), type_coerce(latest, String)).where(
        _ID.between(bindparam("low"), bindparam("high"))
    )
    with connection.begin():
        for number in range(start, stop):
            first, last = connection.execute(
                text_query, {"low": number * BLOCK, "high": (number + 1) * BLOCK - 1}
            ).one()
            if first is not None:
                summary.blocks[number] = (first, last)


def _settled_max_id(engine: Engine, connection: Connection, summary: _Summary) -> int | None:
    """The largest id at or below which no event can be added any more; None when no block
    could be settled beyond the summary's (or it is not known)."""
    with connection.begin():
        visible = connection.execute(select(func.max(_ID))).scalar()
    if visible is None or (int(visible) + 1) // BLOCK <= summary.high:
        return None  # no new whole block (and on PostgreSQL, no lock taken for nothing)
    if connection.dialect.name == "sqlite":
        return int(visible)  # committed, and every later rowid is above it
    for attempt in range(LOCK_TRIES):
        if attempt:
            time.sleep(LOCK_PAUSE)
        try:  # a transaction of its own: the lock is held until its end, a moment later
            with engine.connect() as locking, locking.begin():
                locking.execute(text("LOCK TABLE audit_events IN SHARE MODE NOWAIT"))
                value = locking.execute(select(func.max(_ID))).scalar()
        except DBAPIError:  # an INSERT in flight (or any other refusal): try again, or go without
            continue
        return None if value is None else int(value)
    return None
