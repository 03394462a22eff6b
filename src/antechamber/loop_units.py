"""Units of work run on the event loop without blocking it for long (PostgreSQL): a
synchronous call (`run`) runs in a greenlet on the loop's thread (one call at a time, an idle
one reused for the next), and wherever it would wait for the database's socket longer than
an ordinary round trip (`wait_for`: psycopg's
`Connection.wait`, through `pg_loop.LoopConnection`, after `pg_loop.BLOCK_FIRST_SECONDS`) or
for a pooled connection (`pg_loop.LoopPool`), the greenlet hands the wait to the loop and the
loop serves other requests meanwhile.

The whole synchronous stack (SQLAlchemy's engine and Session, the lean statements, the
pipelined COMMIT) runs unchanged: only the wait changes hands. Elsewhere (a worker thread,
the CLI, the delivery worker) nothing changes: `current()` is None there, and psycopg waits
as it always did.

Why not a worker thread (`run_in_threadpool`): handing each unit to a thread and back cost
about half a millisecond of CPU a request on PostgreSQL (the wake-ups, the GIL changing
hands), as much as the session check itself (performance.md, item 57). Why not the unit run
straight on the loop (`ANTECHAMBER_DATABASE_READS_ON_LOOP`): the loop then waits out every
wait, and a write could wait there for a row lock or a COMMIT's fsync.

Units may also gather (`gathered`): the calls under one key that reach it while the first
of them lets the loop run a couple of turns are answered by one call of that first unit's
(the session check's read: one statement for many checks, performance.md, item 100).

Contracts a caller keeps:
- nothing in the call may block the thread otherwise: no network but the database's, no
  sleep, no lock another greenlet of the loop may hold across a wait (`api.auth.inline_write`
  says which handlers qualify);
- one psycopg connection serves one greenlet at a time (its `lock` is a thread lock held
  across the wait: a second greenlet of the same thread taking it would block the loop for
  good). Pool checkouts guarantee it; a connection kept between units
  (`kept_connections.take`) is popped from its slot, so only one unit holds it.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

# greenlet comes with the `postgres` extra; its own types are not packaged.
from greenlet import GreenletExit, getcurrent, greenlet  # type: ignore[import-untyped]

from antechamber import in_flight

T = TypeVar("T")
Item = TypeVar("Item")

#: psycopg's `Wait` and `Ready` values (the same bits: R 1, W 2).
WAIT_R = 1
WAIT_W = 2


class LoopUnit(greenlet):  # type: ignore[misc]
    """A greenlet `run` runs calls in, one at a time; its parent is the loop's (the driver in
    `run`). Once a call has ended it waits, idle, for the next (`_idle`): a greenlet made and
    ended per call cost about 6 µs, a switch into an idle one half a microsecond."""

    #: While True, the unit's waits block the thread as anywhere else (`pg_loop`: a new
    #: connection's first statements, which SQLAlchemy runs holding a thread lock).
    blocking = False

    def wait_for(self, fileno: int, wait: int) -> int:
        """Hand the loop a wait for `fileno` to be readable (`WAIT_R`), writable (`WAIT_W`)
        or either; return which it is (psycopg's `Ready` bits; 0 if the wait was interrupted
        by a cancellation, which psycopg's generators answer by asking again)."""
        ready: int = self.parent.switch((fileno, wait))
        return ready

    def sleep(self, seconds: float) -> None:
        """Let the loop run for `seconds` (a pool checkout waiting for a connection back)."""
        self.parent.switch(seconds)


class Gathering:
    """The calls of one loop's units joined under one key (`gathered`): their items in the
    order they came, the results of the first unit's call for all of them (None until it
    has run, and if it failed), and the futures the others' drivers wait on."""

    __slots__ = ("items", "results", "waiters")

    def __init__(self, item: Any) -> None:
        self.items: list[Any] = [item]
        self.results: list[Any] | None = None
        self.waiters: list[asyncio.Future[None]] = []

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():  # cancelled: that unit asks alone (`gathered`)
                waiter.set_result(None)


#: How many turns of the loop the first unit of a gathering lets run before its call: in the
#: first, the units already ready to run reach it; in the second, those of the requests read
#: at its start (uvloop runs a request's first step, to its read, in the turn that reads it,
#: after what was ready before). Measured live (performance.md, item 100): with one, a
#: worker's gatherings were of one unit in a third of them; with two, mostly of ten or more.
GATHERING_TURNS = 2

#: Each thread's open gatherings by key (`gathered`): only its own loop's units add to them.
_gatherings = threading.local()


def gathered(
    key: Hashable, item: Item, many: Callable[[list[Item]], list[T]], one: Callable[[Item], T]
) -> T:
    """`one(item)`, or its result from one `many` call for the items of every unit of this
    loop that asks under the same `key` while the first of them waits.

    The first such unit lets the loop run `GATHERING_TURNS` turns (the units that reach here
    meanwhile add their items), then calls its `many` with all the items, in order, which
    returns each one's result in the same order; the others wait for it and take theirs.
    One call where there were as many: the caller's `many` must give each item exactly what
    `one` would have given it at that moment (a read that sees whatever was committed before
    it ran, which is after every item came). If `many` raises, the first unit raises it and
    each other asks `one` for its own; so does one whose wait was cancelled before the
    results came. Outside a unit (a thread, the loop itself), or with only one item, `one`.
    """
    unit = current()
    if unit is None or unit.blocking or in_flight.others() is False:
        return one(item)  # alone: no unit could join while it waited
    try:
        open_: dict[Hashable, Gathering] = _gatherings.open
    except AttributeError:
        open_ = _gatherings.open = {}
    gathering = open_.get(key)
    if gathering is not None:  # another unit runs it: wait for that
        index = len(gathering.items)
        gathering.items.append(item)
        unit.parent.switch(gathering)
        results = gathering.results
        return one(item) if results is None else results[index]
    gathering = open_[key] = Gathering(item)
    try:  # whatever happens, the others wake (to ask alone if there are no results)
        try:
            for _ in range(GATHERING_TURNS):  # the units that reach here meanwhile join
                unit.sleep(0.0)
        finally:
            del open_[key]
        if len(gathering.items) > 1:
            gathering.results = many(gathering.items)
    finally:
        gathering.wake()
    results = gathering.results
    return one(item) if results is None else results[0]


class _Ended:
    """What a unit hands its driver when its call has ended: the value, or the exception."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error


def _serve(call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A `LoopUnit`'s body: run each call it is given, hand back how it ended, wait for the
    next. A `GreenletExit` (the unit dropped while suspended: its driver is gone) ends it."""
    while True:
        try:
            ended = _Ended(call(*args, **kwargs), None)
        except GreenletExit:
            raise
        except BaseException as error:  # handed to the driver, which raises it
            ended = _Ended(None, error)
        del call, args, kwargs  # hold nothing of the call while idle
        unit = getcurrent()
        unit.blocking = False
        call, args, kwargs = unit.parent.switch(ended)


#: Each thread's idle units (a list per thread: only its own loop's driver takes them).
_idle = threading.local()
#: How many idle units a thread keeps (as many as its loop's units at once, at most).
IDLE_KEPT = 64


def current() -> LoopUnit | None:
    """The `LoopUnit` running this code, or None (a thread, or the loop itself)."""
    here = getcurrent()
    return here if type(here) is LoopUnit else None


async def run(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`call(*args, **kwargs)` on the running loop's thread, in a `LoopUnit`; return what it
    returns or raise what it raises.

    A cancellation while it runs (a client gone, a shutdown) does not interrupt it: like a
    worker thread's (`anyio.to_thread.run_sync`, not abandoned on cancel), the call runs to
    its end, so a unit of work is never left half-way on its connection, and the
    cancellation is raised then.
    """
    driver = getcurrent()
    try:
        idle: list[LoopUnit] = _idle.units
    except AttributeError:
        idle = _idle.units = []
    unit = idle.pop() if idle else None
    if unit is None or unit.parent is not driver or unit.dead:
        unit = LoopUnit(_serve, driver)
    # As a worker thread would (anyio copies the context into it).
    unit.gr_context = contextvars.copy_context()
    request: Any = unit.switch(call, args, kwargs)
    cancelled = False
    while type(request) is not _Ended:  # a wait handed to the loop
        ready = 0
        if type(request) is float:
            try:
                await asyncio.sleep(request)
            except asyncio.CancelledError:
                cancelled = True
        elif type(request) is Gathering:
            waiter = asyncio.get_running_loop().create_future()
            request.waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                cancelled = True  # the unit asks alone if the results have not come
        else:
            fileno, wait = request
            loop = asyncio.get_running_loop()
            future = loop.create_future()

            def wakeup(state: int, future: asyncio.Future[None] = future) -> None:
                nonlocal ready
                ready |= state
                if not future.done():
                    future.set_result(None)

            if wait & WAIT_R:
                loop.add_reader(fileno, wakeup, WAIT_R)
            if wait & WAIT_W:
                loop.add_writer(fileno, wakeup, WAIT_W)
            try:
                await future
            except asyncio.CancelledError:
                cancelled = True  # `ready` as far as it got: psycopg asks again if nothing
            finally:
                if wait & WAIT_R:
                    loop.remove_reader(fileno)
                if wait & WAIT_W:
                    loop.remove_writer(fileno)
        request = unit.switch(ready)
    result: T = _ended(unit, request, idle, cancelled)
    return result


def _ended(unit: LoopUnit, ended: _Ended, idle: list[LoopUnit], cancelled: bool) -> Any:
    """The unit's call has ended: the unit goes idle (its context dropped), and its value is
    returned or its exception raised; else a cancellation that came meanwhile is."""
    unit.gr_context = None
    if len(idle) < IDLE_KEPT:
        idle.append(unit)
    error = ended.error
    if error is not None:
        try:
            raise error
        finally:
            del error, ended
    if cancelled:
        raise asyncio.CancelledError()
    return ended.value
