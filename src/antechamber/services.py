"""What a running server holds: settings, the engine, the session factory, the clock, and the
process-wide helpers (rate limiter, metrics)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from antechamber import db
from antechamber.clock import Clock, SystemClock
from antechamber.ids import Environment
from antechamber.metrics import Metrics, OutboxBacklog
from antechamber.ratelimit import RateLimiter
from antechamber.ratelimit_memory import MemoryWindows
from antechamber.scope import Scope
from antechamber.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    limiter: RateLimiter | None = None
    _gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(self.settings, metrics=self.metrics)
        self.metrics.registry.register(OutboxBacklog(self.sessions, self.clock))

    @classmethod
    def build(
        cls, settings: Settings, engine: Engine | None = None, clock: Clock | None = None
    ) -> Services:
        engine = engine or db.make_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        return cls(settings, engine, db.session_factory(engine), clock or SystemClock())

    @property
    def request_threads(self) -> int | None:
        """How many threads run request handlers in this process (None: AnyIO's default, 40).

        `ANTECHAMBER_REQUEST_THREADS`, else on PostgreSQL the pool's size: a handler's unit of
        work holds one connection from its first statement to its commit, so with more threads
        than kept connections a burst opens overflow connections, each a backend started and
        ended for one request (a fresh backend also plans every statement again); with fewer,
        a request waits on the event loop for a thread, which costs nothing. With them equal,
        no handler waits for a connection.
        """
        if self.settings.request_threads is not None:
            return self.settings.request_threads
        if self.engine.dialect.name == "postgresql":
            return int(self.engine.pool.size())  # type: ignore[attr-defined]
        return None

    @cached_property
    def reads_inline(self) -> bool:
        """Whether a read-only unit of work may run on the event loop itself
        (`ANTECHAMBER_DATABASE_READS_ON_LOOP`; by default on SQLite only).

        SQLite: a read in WAL mode never waits (no lock, no network), so a session check is
        cheaper inline than handed to a worker thread (the hop and the GIL hand-offs cost
        more than the check). PostgreSQL, when set: a read takes no row locks (MVCC), and the
        loop's thread keeps a connection of its own (`kept_connections.LoopReads`), so it
        waits only for its round trip, and a check costs a fifth less CPU (no hop); but the
        loop waits out every round trip, which on a busy machine (a backend waiting for a
        core) cost more checks a second than the hop saved (docs/performance.md, ninth round,
        item 51), so it is not the default there.
        """
        configured = self.settings.database_reads_on_loop
        return self.engine.dialect.name == "sqlite" if configured is None else configured

    @cached_property
    def loop_units(self) -> bool:
        """Whether read-only units of work (`api.auth.run_read`: session checks, GET routes)
        run on the event loop as `loop_units` greenlets (`ANTECHAMBER_DATABASE_UNITS_ON_LOOP`,
        on by default; PostgreSQL only, on an engine of `db.make_engine`).

        Such a unit holds the loop up at most `pg_loop.BLOCK_FIRST_SECONDS` a wait: an
        ordinary round trip is waited for on the spot (cheaper than through the loop), a
        longer wait (a row lock, a COMMIT's fsync) and an exhausted pool (`pg_loop.LoopPool`)
        are the loop's; and it costs no hop to a worker thread and back, which cost as much
        CPU as a session check itself (performance.md, item 57). Not with the rate limits
        counted in Redis, whose client would block the loop for its round trips: threads
        then, as before.
        """
        limiter = self.limiter
        return (
            self.settings.database_units_on_loop
            and self.engine.dialect.name == "postgresql"
            and getattr(self.engine.pool, "units_on_loop", False)
            and limiter is not None
            and isinstance(limiter.strategy, MemoryWindows)
        )

    @property
    def reads_on_loop(self) -> bool:
        """Whether `api.auth.run_read` runs a read on the event loop's thread (as a loop unit,
        or inline), not in a worker thread."""
        return self.loop_units or self.reads_inline

    def loop_gate(self) -> asyncio.Semaphore:
        """The running loop's bound on its units of work at once (`loop_units`): the pool's
        size, so a checkout on the loop rarely finds the pool exhausted (`pg_loop.LoopPool`
        then lets the loop run until one comes back), and a burst queues here, in order,
        rather than opening overflow connections."""
        loop = asyncio.get_running_loop()
        gate = self._gate
        if gate is None or gate[0] is not loop:
            size = max(1, int(self.engine.pool.size()))  # type: ignore[attr-defined]
            gate = self._gate = (loop, asyncio.Semaphore(size))
        return gate[1]

    @property
    def writes_inline(self) -> bool:
        """Whether a writing unit of work may run on the event loop when the writer lock is
        free (`db.writer_held_if_free`, `api.auth.run_write`).

        SQLite with the rate limits counted in this process's memory: such a unit then waits
        for nothing (the lock is free, and no network: Redis would be a round trip, so with
        `ANTECHAMBER_REDIS_URL` set writes keep to worker threads). PostgreSQL: never (a
        write may wait for a row lock another unit holds).
        """
        limiter = self.limiter
        return (
            self.engine.dialect.name == "sqlite"
            and limiter is not None
            and isinstance(limiter.strategy, MemoryWindows)
        )

    def scope(
        self,
        project_id: str,
        environment: Environment,
        actor: str,
        *,
        read_only: bool = False,
        defer: db.Defer | None = None,
    ) -> _ScopeUnit:
        """A unit of work in one project, committed when the block ends without error
        (`read_only`, `defer`: see `db.transaction`). Use it as `with`: a class, not a
        generator, as every request enters one."""
        unit = db.transaction(self.sessions, read_only=read_only, defer=defer)
        return _ScopeUnit(self, unit, project_id, environment, actor)

    def scope_of(
        self,
        session: Session,
        project_id: str,
        environment: Environment,
        actor: str,
        client_ip: str | None = None,
    ) -> Scope:
        """The `Scope` of an open unit of work (`session`), with this process's clock,
        settings, limiter and metrics: the one place a face's Scope is put together.

        Every field set at once: a frozen dataclass's `__init__` sets each of its eleven through
        `object.__setattr__`, a call each, on every API request (the same object as
        `Scope(...)` makes: tests/test_services_scope.py)."""
        scope = object.__new__(Scope)
        scope.__dict__.update(
            db=session,
            project_id=project_id,
            environment=environment,
            actor=actor,
            clock=self.clock,
            settings=self.settings,
            limiter=self.limiter,
            metrics=self.metrics,
            client_ip=client_ip,
            acting_member_id=None,
            acting_session_id=None,
        )
        return scope


class _ScopeUnit:
    """`Services.scope`: the unit of work (`db.transaction`) and its `Scope`."""

    __slots__ = ("actor", "environment", "project_id", "services", "unit")

    def __init__(
        self,
        services: Services,
        unit: AbstractContextManager[Session],
        project_id: str,
        environment: Environment,
        actor: str,
    ) -> None:
        self.services = services
        self.unit = unit
        self.project_id = project_id
        self.environment = environment
        self.actor = actor

    def __enter__(self) -> Scope:
        return self.services.scope_of(
            self.unit.__enter__(), self.project_id, self.environment, self.actor
        )

    def __exit__(
        self,
        type_: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unit.__exit__(type_, exc, tb)
