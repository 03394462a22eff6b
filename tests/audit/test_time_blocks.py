"""A search bounded by time skips the id blocks that hold no event of the range
(`audit.time_blocks`): the same rows, pages and cursors as the plain query, on events whose ids
do not follow their times (ties, events recorded long before they were written), with the
summary built part by part and the trail growing between searches."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

from antechamber.audit import queries, time_blocks
from antechamber.audit.models import AuditEvent
from antechamber.audit.queries import AuditFilter
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = queries.EVENT_TYPES[:2]
ORGS = ("organization-a", "organization-b")
MEMBERS = ("member-a", "member-b")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 8 ids and 5 blocks a search: summaries built part by part, ranges merged."""
    monkeypatch.setattr(time_blocks, "BLOCK", 8)
    monkeypatch.setattr(time_blocks, "BUDGET", 40)
    monkeypatch.setattr(time_blocks, "MAX_RANGES", 4)


def add_events(engine: Engine, rng: random.Random, project_id: str, n: int, now: int) -> None:
    """`n` events, most near `now` (minutes after T0) and in order, some recorded long before
    they were written, many on the same second; a few in another project."""
    rows = []
    for _ in range(n):
        late = rng.random() < 0.2
        minute = rng.randint(0, now) if late else max(0, now - rng.randint(0, 3))
        rows.append(
            {
                "project_id": project_id if rng.random() < 0.9 else "project-other",
                "organization_id": rng.choice((*ORGS, None)),
                "member_id": rng.choice((*MEMBERS, None)),
                "actor": "test",
                "event_type": rng.choice(TYPES),
                "details": {},
                "created_at": T0 + timedelta(minutes=minute, seconds=rng.choice((0, 0, 30))),
            }
        )
        now += rng.random() < 0.3
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent.__table__), rows)  # type: ignore[arg-type]


def plain_search(
    session: Session, project_id: str, f: AuditFilter, before: int | None, limit: int
) -> tuple[list[int], int | None]:
    """The query as it was before `time_blocks`."""
    query = select(AuditEvent.id).where(AuditEvent.project_id == project_id)
    if f.organization:
        query = query.where(AuditEvent.organization_id == f.organization)
    if f.member:
        query = query.where(AuditEvent.member_id == f.member)
    if f.event_type:
        query = query.where(AuditEvent.event_type == f.event_type)
    if f.since:
        query = query.where(AuditEvent.created_at >= f.since)
    if f.until:
        query = query.where(AuditEvent.created_at < f.until)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    ids = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    if len(ids) > limit:
        return ids[:limit], ids[limit - 1]
    return ids, None


def pages(
    services: Services, project_id: str, f: AuditFilter, limit: int, *, plain: bool
) -> Iterator[tuple[list[int], int | None]]:
    before = None
    while True:
        with services.scope(project_id, "test", "test", read_only=True) as scope:
            if plain:
                ids, before = plain_search(scope.db, project_id, f, before, limit)
            else:
                page = queries.search(scope, f, before=before, limit=limit)
                ids, before = [e.id for e in page.events], page.next_before
        yield ids, before
        if before is None:
            return


def filters(rng: random.Random, now: int) -> Iterator[AuditFilter]:
    def moment() -> datetime:
        return T0 + timedelta(minutes=rng.randint(-1, now + 1), seconds=rng.choice((0, 30, 1)))

    for org, member, kind in itertools.product(
        (None, ORGS[0]), (None, MEMBERS[1]), (None, TYPES[0])
    ):
        for _ in range(3):
            since = moment() if rng.random() < 0.6 else None
            until = moment() if rng.random() < 0.6 or since is None else None
            if since and until and since >= until:
                since, until = until, since + timedelta(seconds=1)
            yield AuditFilter(org, member, kind, since, until)


def test_the_same_pages_as_the_plain_query(
    services: Services, engine: Engine, project: Credentials
) -> None:
    rng = random.Random(21)
    pid = project.project_id
    now = 0
    for batch in (150, 3, 120, 40):  # the trail grows between searches
        add_events(engine, rng, pid, batch, now)
        now += batch // 3
        for f in filters(rng, now):
            limit = rng.choice((1, 3, 7, 50))
            new = list(pages(services, pid, f, limit, plain=False))
            assert new == list(pages(services, pid, f, limit, plain=True)), f
    with services.scope(pid, "test", "test", read_only=True) as scope:
        ranges = time_blocks.id_ranges(scope.db, None, T0 + timedelta(minutes=1))
    assert ranges is not None
    assert len(ranges) > 1  # blocks were skipped


def test_the_summary_reaches_the_first_block_search_by_search(
    services: Services, engine: Engine, project: Credentials
) -> None:
    add_events(engine, random.Random(1), project.project_id, 200, 0)  # 25 blocks, 5 a search
    until = T0 + timedelta(minutes=1)
    lows = []
    for _ in range(6):
        with services.scope(project.project_id, "test", "test", read_only=True) as scope:
            time_blocks.id_ranges(scope.db, None, until)
        lows.append(time_blocks._summaries[engine].low)
    assert lows == [20, 15, 10, 5, 0, 0]


def test_no_time_bound_reads_as_before(services: Services, project: Credentials) -> None:
    with services.scope(project.project_id, "test", "test", read_only=True) as scope:
        assert time_blocks.id_ranges(scope.db, None, None) is None


@pytest.mark.postgres_only
def test_an_event_a_transaction_has_not_committed_yet_is_found_once_it_commits(
    services: Services, engine: Engine, project: Credentials
) -> None:
    """A transaction took an id and records an event of long ago; later ids commit first. The
    block holding its id is not settled until it ends: its event is not skipped once it has."""
    assert USE_PG
    pid = project.project_id
    table: Table = AuditEvent.__table__  # type: ignore[assignment]
    row: dict[str, Any] = {
        "project_id": pid,
        "organization_id": None,
        "member_id": None,
        "actor": "test",
        "event_type": TYPES[0],
        "details": {},
    }
    until = T0 + timedelta(minutes=1)
    slow = engine.connect()
    slow_tx = slow.begin()
    slow.execute(insert(table), [{**row, "created_at": T0}])  # an id, not committed
    with engine.begin() as conn:  # newer events, committed first, with higher ids
        conn.execute(insert(table), [{**row, "created_at": T0 + timedelta(hours=1)}] * 40)
    # Searched while the slow transaction is open: its block cannot be settled yet.
    found = list(pages(services, pid, AuditFilter(until=until), 50, plain=False))
    assert found == [([], None)]
    slow_tx.commit()
    slow.close()
    found = list(pages(services, pid, AuditFilter(until=until), 50, plain=False))
    assert [len(ids) for ids, _ in found] == [1]
    assert found == list(pages(services, pid, AuditFilter(until=until), 50, plain=True))
