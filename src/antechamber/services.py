"""What a running server holds: settings, the engine, the session factory, the clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from antechamber import db
from antechamber.clock import Clock, SystemClock
from antechamber.ids import Environment
from antechamber.scope import Scope
from antechamber.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def build(
        cls, settings: Settings, engine: Engine | None = None, clock: Clock | None = None
    ) -> Services:
        engine = engine or db.make_engine(settings.database_url)
        return cls(settings, engine, db.session_factory(engine), clock or SystemClock())

    @contextmanager
    def scope(self, project_id: str, environment: Environment, actor: str) -> Iterator[Scope]:
        """A unit of work in one project, committed when the block ends without error."""
        with db.transaction(self.sessions) as session:
            yield Scope(session, project_id, environment, actor, self.clock, self.settings)
