"""Units of work on the event loop (`loop_units`, `pg_loop`): a call's result and errors come
back as from a thread; a cancellation lets the unit finish first; on PostgreSQL a unit waiting
for the database (a lock, an exhausted pool) lets the loop serve others meanwhile, and nothing
it wrote survives its rollback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from antechamber import db, in_flight, loop_units
from antechamber.services import Services
from antechamber.settings import Settings


def test_a_call_returns_and_raises_as_it_would_anywhere() -> None:
    def double(x: int, *, plus: int) -> int:
        assert loop_units.current() is not None
        return 2 * x + plus

    def fail() -> None:
        raise KeyError("nope")

    async def main() -> int:
        assert loop_units.current() is None  # the loop itself is no unit
        with pytest.raises(KeyError, match="nope"):
            await loop_units.run(fail)
        return await loop_units.run(double, 20, plus=2)

    assert asyncio.run(main()) == 42
    assert loop_units.current() is None


def test_a_cancelled_unit_runs_to_its_end_then_the_cancellation_is_raised() -> None:
    steps: list[str] = []

    def unit(started: asyncio.Event) -> None:
        steps.append("begun")
        started.set()
        here = loop_units.current()
        assert here is not None
        here.sleep(0.001)  # the loop runs: the cancellation arrives here
        steps.append("ended")

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(loop_units.run(unit, started))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert steps == ["begun", "ended"]


@pytest.fixture
def pg_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    return engine


def _locked(engine: Engine, key: int) -> Iterator[None]:
    """Hold advisory lock `key` on a connection of its own for the block."""
    with engine.connect() as holder:
        holder.execution_options(isolation_level="AUTOCOMMIT")
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


@pytest.mark.postgres_only
def test_a_unit_waiting_for_a_lock_leaves_the_loop_to_the_others(pg_engine: Engine) -> None:
    factory = db.session_factory(pg_engine)
    order: list[str] = []

    def waits_for_the_lock(waiting: asyncio.Event) -> None:
        with db.transaction(factory) as session:
            connection = db.connection(session)
            waiting.set()  # its next statement waits for the lock
            connection.sa.execute(text("SELECT pg_advisory_xact_lock(7)"))
            order.append("locked")

    def reads() -> int:
        with db.transaction(factory, read_only=True) as session:
            value = db.connection(session).sa.execute(text("SELECT 1")).scalar_one()
        order.append("read")
        return int(value)

    async def main() -> None:
        holding = _locked(pg_engine, 7)
        next(holding)
        waiting = asyncio.Event()
        blocked = asyncio.create_task(loop_units.run(waits_for_the_lock, waiting))
        await waiting.wait()
        # The first unit waits on PostgreSQL for the lock; the loop serves another meanwhile.
        assert await loop_units.run(reads) == 1
        assert not blocked.done()
        next(holding, None)  # releases the lock
        await blocked

    asyncio.run(main())
    assert order == ["read", "locked"]


@pytest.mark.postgres_only
def test_an_exhausted_pool_makes_a_unit_on_the_loop_wait_without_blocking_it(
    database_url: str, pg_engine: Engine
) -> None:
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    factory = db.session_factory(engine)
    order: list[str] = []

    def holds_the_connection(waiting: asyncio.Event) -> None:
        with db.transaction(factory) as session:
            connection = db.connection(session)
            waiting.set()
            connection.sa.execute(text("SELECT pg_advisory_xact_lock(8)"))
            order.append("first")

    def wants_one() -> None:
        with db.transaction(factory) as session:
            db.connection(session).sa.execute(text("SELECT 1"))
            order.append("second")

    async def main() -> None:
        holding = _locked(pg_engine, 8)  # another engine's connection
        next(holding)
        waiting = asyncio.Event()
        first = asyncio.create_task(loop_units.run(holds_the_connection, waiting))
        await waiting.wait()
        second = asyncio.create_task(loop_units.run(wants_one))
        for _ in range(3):  # the loop keeps running while the second waits for the pool
            await asyncio.sleep(0)
        assert not second.done()
        order.append("loop ran")
        next(holding, None)  # the first unit gets its lock, commits and gives its
        await first  # connection back: the second takes it
        await second

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    assert order == ["loop ran", "first", "second"]


@pytest.mark.postgres_only
def test_a_failed_unit_on_the_loop_rolls_back_and_raises_what_the_database_said(
    pg_engine: Engine,
) -> None:
    factory = db.session_factory(pg_engine)
    with pg_engine.begin() as setup:
        setup.execute(text("CREATE TABLE loop_units_t (k int PRIMARY KEY)"))
        setup.execute(text("INSERT INTO loop_units_t VALUES (1)"))

    def writes_twice() -> None:
        with db.transaction(factory) as session:
            connection = db.connection(session).sa
            connection.execute(text("INSERT INTO loop_units_t VALUES (2)"))
            connection.execute(text("INSERT INTO loop_units_t VALUES (1)"))  # a duplicate

    async def main() -> None:
        with pytest.raises(IntegrityError):
            await loop_units.run(writes_twice)

    asyncio.run(main())
    with pg_engine.connect() as check:
        assert check.execute(text("SELECT k FROM loop_units_t ORDER BY k")).scalars().all() == [1]


@pytest.mark.postgres_only
def test_units_on_a_fresh_engine_connect_side_by_side(database_url: str) -> None:
    # The engine's first connection runs the dialect's first queries under a thread lock of
    # SQLAlchemy's; a second unit connecting meanwhile must not find that lock held across a
    # wait handed to the loop (the loop's thread would block on it for good).
    engine = db.make_engine(database_url)
    factory = db.session_factory(engine)

    def reads() -> int:
        with db.transaction(factory, read_only=True) as session:
            return int(db.connection(session).sa.execute(text("SELECT 1")).scalar_one())

    async def main() -> list[int]:
        return list(await asyncio.gather(*(loop_units.run(reads) for _ in range(4))))

    try:
        assert asyncio.run(main()) == [1, 1, 1, 1]
    finally:
        engine.dispose()


def test_units_run_on_the_loop_only_on_postgresql_and_only_if_set(
    settings: Settings, engine: Engine
) -> None:
    on_pg = engine.dialect.name == "postgresql"
    assert Services(settings, engine, db.session_factory(engine)).loop_units is on_pg
    off = settings.model_copy(update={"database_units_on_loop": False})
    assert Services(off, engine, db.session_factory(engine)).loop_units is False


def test_units_are_reused_one_call_at_a_time_each_in_its_callers_context() -> None:
    """An ended unit runs the next call (no greenlet made per call), in that call's context;
    units in flight at once are distinct; one whose call raised is reused too."""
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[tuple[int, str, bool]] = []

    def unit(label: str, after: str = "") -> int:
        here = loop_units.current()
        assert here is not None
        assert not here.blocking
        # Waits on the loop until `after` has run: the order of two in flight is set by the
        # test, not by timers a busy machine may fire late.
        while after and after not in [s[1] for s in seen]:
            here.sleep(0.001)
        seen.append((id(here), var.get(), here.blocking))
        here.blocking = True  # reset for the next call
        var.set("inner")  # in the unit's copy of the context only
        if label == "fail":
            raise ValueError(label)
        return id(here)

    async def labelled(label: str, after: str = "") -> int:
        var.set(label)
        return await loop_units.run(unit, label, after)

    async def main() -> None:
        first = await labelled("a")
        assert var.get() == "a"  # the unit's own set stayed in its copy
        assert await labelled("b") == first  # the same greenlet, idle in between
        with pytest.raises(ValueError, match="fail"):
            await labelled("fail")
        assert await labelled("c") == first
        both = await asyncio.gather(labelled("x", after="y"), labelled("y"))
        assert len(set(both)) == 2  # two in flight: two units

    asyncio.run(main())
    assert [s[1] for s in seen] == ["a", "b", "fail", "c", "y", "x"]


def _asker(
    many_calls: list[list[int]], ones: list[int], ended: list[int], fail: bool = False
) -> Any:
    """A unit's call that asks `loop_units.gathered` under `key` for `item`: `many` multiplies
    each by 10 (or fails), `one` negates it; each call records what it did."""

    def many(items: list[int]) -> list[int]:
        many_calls.append(list(items))
        if fail:
            raise RuntimeError("the gathered read failed")
        return [10 * i for i in items]

    def one(item: int) -> int:
        ones.append(item)
        return -item

    def ask(key: str, item: int) -> int:
        got = loop_units.gathered(key, item, many, one)
        ended.append(item)
        return got

    return ask


def test_the_calls_of_one_turn_under_one_key_are_gathered_into_one() -> None:
    many_calls: list[list[int]] = []
    ones: list[int] = []
    ask = _asker(many_calls, ones, [])

    async def main() -> list[int]:
        return list(
            await asyncio.gather(
                loop_units.run(ask, "a", 1),
                loop_units.run(ask, "a", 2),
                loop_units.run(ask, "b", 3),  # alone under its key
                loop_units.run(ask, "a", 4),
            )
        )

    assert asyncio.run(main()) == [10, 20, -3, 40]
    assert many_calls == [[1, 2, 4]]
    assert ones == [3]
    assert ask("a", 5) == -5  # outside a unit: at once, alone


def test_a_failed_gathering_raises_in_the_first_and_the_others_ask_alone() -> None:
    ones: list[int] = []
    ask = _asker([], ones, [], fail=True)

    async def main() -> list[Any]:
        return list(
            await asyncio.gather(
                loop_units.run(ask, "a", 1),
                loop_units.run(ask, "a", 2),
                loop_units.run(ask, "a", 3),
                return_exceptions=True,
            )
        )

    first, *others = asyncio.run(main())
    assert isinstance(first, RuntimeError)
    assert others == [-2, -3]
    assert ones == [2, 3]


def test_units_of_a_server_with_one_request_in_flight_ask_at_once() -> None:
    # Only the caller's own request: none could join in the turn it would wait.
    many_calls: list[list[int]] = []
    ones: list[int] = []
    ask = _asker(many_calls, ones, [])

    async def main(in_flight_now: int) -> list[int]:
        in_flight.serving(range(in_flight_now))
        try:
            return list(
                await asyncio.gather(loop_units.run(ask, "a", 1), loop_units.run(ask, "a", 2))
            )
        finally:
            in_flight.serving(None)

    assert asyncio.run(main(1)) == [-1, -2]
    assert (many_calls, ones) == ([], [1, 2])
    assert asyncio.run(main(2)) == [10, 20]
    assert many_calls == [[1, 2]]


def test_a_cancelled_unit_of_a_gathering_runs_to_its_end_then_the_cancellation_is_raised() -> None:
    many_calls: list[list[int]] = []
    ended: list[int] = []
    ask = _asker(many_calls, [], ended)

    async def main() -> int:
        first = asyncio.create_task(loop_units.run(ask, "a", 1))
        second = asyncio.create_task(loop_units.run(ask, "a", 2))
        await asyncio.sleep(0)  # both have asked: the first waits its turn, the second for it
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        got: int = await first
        return got

    assert asyncio.run(main()) == 10
    assert many_calls == [[1, 2]]
    assert sorted(ended) == [1, 2]
