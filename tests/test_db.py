"""The unit of work: read-only units, writes deferred to after a commit, and SQLite writers
queueing on one lock instead of polling the file lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from antechamber import db, writer_lock
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials, another_thread_writing
from tests.factories import make_org
from tests.locks import another_process_holds_the_writer_lock, another_process_sees


def _names(services: Services) -> list[str]:
    with db.transaction(services.sessions, read_only=True) as session:
        return sorted(session.scalars(select(Organization.name)))


def _renaming(org_id: str) -> Callable[[Session], None]:
    def rename(session: Session) -> None:
        row = session.get(Organization, org_id)
        assert row is not None
        row.name = "After"

    return rename


def test_a_read_only_unit_refuses_to_write(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id, organization_name="Before")
    with (
        pytest.raises(db.ReadOnlyViolation),
        db.transaction(services.sessions, read_only=True) as session,
    ):
        row = session.get(Organization, org.id)
        assert row is not None
        row.name = "After"
        session.flush()
    assert "Before" in _names(services)


def test_after_commit_writes_run_once_the_unit_commits(
    services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_name="Before")
    with db.transaction(services.sessions, read_only=True) as session:
        db.after_commit(session, _renaming(org.id))
        assert "After" not in _names(services)  # not yet: the read is still open
    assert "After" in _names(services)


def test_after_commit_writes_do_not_run_when_the_unit_rolls_back(
    services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_name="Before")
    with pytest.raises(LookupError), db.transaction(services.sessions) as session:
        db.after_commit(session, _renaming(org.id))
        raise LookupError
    assert "Before" in _names(services)


def test_a_failed_after_commit_write_leaves_the_commit_alone(
    services: Services, project: Credentials
) -> None:
    def broken(_session: Session) -> None:
        raise RuntimeError("bookkeeping failed")

    with db.transaction(services.sessions) as session:
        db.after_commit(session, broken)
        session.add(
            Organization(
                id="organization-test-kept",
                project_id=project.project_id,
                name="Kept",
                slug="kept",
                created_at=services.clock.now(),
                updated_at=services.clock.now(),
            )
        )
    assert "Kept" in _names(services)


@pytest.mark.skipif(USE_PG, reason="SQLite's single writer")
def test_a_read_only_unit_reads_while_a_writer_holds_the_lock(
    services: Services, project: Credentials
) -> None:
    make_org(services, project.project_id, organization_name="Committed")
    with another_thread_writing(services) as writer_gave_up:
        # A session check must not queue behind writes: this returns while the writer waits.
        assert _names(services) == ["Committed"]
        assert not writer_gave_up.is_set()


def test_concurrent_writers_all_land(services: Services, project: Credentials) -> None:
    """Twelve threads each create organizations at once: none fails with "database is locked"
    (SQLite writers queue on the engine's lock), none is lost."""
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            for i in range(5):
                make_org(services, project.project_id, organization_name=f"T{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len([n for n in _names(services) if n.startswith("T")]) == 60


@pytest.mark.skipif(USE_PG, reason="SQLite's writers only")
def test_writers_of_other_processes_queue_on_a_lock_file_beside_the_database(
    services: Services, project: Credentials
) -> None:
    """`serve --workers 2` on one SQLite file: another process's writer finds the queue taken
    while a unit of work writes, and free once it commits (rather than polling SQLite)."""

    def other_process_sees() -> str:
        return another_process_sees(services.engine.url.database)

    with db.transaction(services.sessions) as session:
        session.execute(select(func.count()).select_from(Organization))  # BEGIN IMMEDIATE
        assert other_process_sees() == "held"
    assert other_process_sees() == "free"
    with db.transaction(services.sessions, read_only=True) as session:
        assert other_process_sees() == "free"  # readers take no lock


@pytest.mark.skipif(USE_PG, reason="SQLite's writers only")
def test_the_writer_lock_held_if_free_is_held_by_the_block_and_its_units_pass_through(
    services: Services, project: Credentials
) -> None:
    """`writer_held_if_free` (a write on the event loop): the lock, thread and file, is held
    for the block; the block's own units of work run inside it; another thread's queues."""
    with db.writer_held_if_free(services.engine) as held:
        assert held
        assert another_process_sees(services.engine.url.database) == "held"
        make_org(services, project.project_id, organization_name="Inside")  # passes through
        other = threading.Thread(
            target=make_org, args=(services, project.project_id), kwargs={"organization_name": "X"}
        )
        other.start()
        other.join(0.3)
        assert other.is_alive()  # queued behind the hold
    other.join(10)
    assert not other.is_alive()
    assert {"Inside", "X"} <= set(_names(services))


@pytest.mark.skipif(USE_PG, reason="SQLite's writers only")
def test_the_writer_lock_held_if_free_takes_nothing_while_another_unit_writes(
    services: Services,
) -> None:
    with another_thread_writing(services), db.writer_held_if_free(services.engine) as held:
        assert not held


@pytest.mark.skipif(USE_PG, reason="SQLite's writers only")
def test_the_writer_lock_held_if_free_takes_nothing_while_another_process_writes(
    services: Services, project: Credentials
) -> None:
    """Another process (`serve --workers 2`, the delivery process) holds the lock file: no
    wait, and the thread lock taken on the way is given back at once."""
    with (
        another_process_holds_the_writer_lock(services.engine),
        db.writer_held_if_free(services.engine) as held,
    ):
        assert not held
    with db.writer_held_if_free(services.engine) as held:  # the thread lock was given back
        assert held
        make_org(services, project.project_id, organization_name="After the other")
    assert "After the other" in _names(services)


@pytest.mark.skipif(not USE_PG, reason="PostgreSQL")
def test_postgresql_never_holds_a_writer_lock_for_the_event_loop(services: Services) -> None:
    with db.writer_held_if_free(services.engine) as held:
        assert not held


@pytest.mark.skipif(USE_PG, reason="SQLite's writers only")
def test_the_event_loop_waits_for_a_thread_holding_the_writer_lock_without_blocking(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`writer_held_on_the_loop`: woken by the thread's release; the loop runs meanwhile;
    `DatabaseBusy` after the busy timeout, as for a thread."""

    async def hold_after_the_thread(released: threading.Event) -> list[str]:
        steps: list[str] = []

        async def meanwhile() -> None:
            await asyncio.sleep(0.05)
            steps.append("the loop ran")
            released.set()  # the thread commits and lets go

        other = asyncio.create_task(meanwhile())
        async with db.writer_held_on_the_loop(services.engine) as held:
            steps.append(f"held {held}")
        await other
        return steps

    with another_thread_writing(services) as released:
        assert asyncio.run(hold_after_the_thread(released)) == ["the loop ran", "held True"]

    async def hold() -> bool:
        async with db.writer_held_on_the_loop(services.engine) as held:
            return held

    monkeypatch.setattr(writer_lock, "BUSY_TIMEOUT_SECONDS", 0.2)
    with another_thread_writing(services), pytest.raises(writer_lock.DatabaseBusy):
        asyncio.run(hold())
    assert asyncio.run(hold()) is True
