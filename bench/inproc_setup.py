"""What the in-process measures (`inproc_login`, `asgi_routes`, `pg_login`, `statements_micro`)
share: the settings of a development server with no delivery worker, on a database of their own,
and the app with a route that does nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from antechamber import db, migrations
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.app import create_app
from antechamber.clock import SystemClock
from antechamber.projects import service as projects
from antechamber.projects.models import Project
from antechamber.projects.service import IssuedSecret, create_project
from antechamber.settings import Settings


def settings_for(url: str, tmp: Path) -> Settings:
    """A development project's settings on `url`, its state under `tmp`, no delivery worker
    (the measures read the outbox), nothing from the environment or a `.env`."""
    return Settings(
        database_url=url,
        secret_key="k" * 40,
        dev=True,
        state_dir=tmp / "state",
        delivery_worker=False,
        _env_file=None,
    )


def project_database(
    prefix: str, url: str | None = None
) -> tuple[Path, Settings, Engine, Project, IssuedSecret]:
    """A fresh SQLite database under a new temporary folder named `prefix…` (or the empty
    database at `url`), migrated, with one project: the folder, its settings
    (`settings_for`), the engine, the project, its secret."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    url = url or f"sqlite:///{tmp}/a.sqlite"
    settings = settings_for(url, tmp)
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    with db.transaction(db.session_factory(engine)) as session:
        project, issued = bench_project(session, settings)
    return tmp, settings, engine, project, issued


def bench_project(session: Session, settings: Settings) -> tuple[Project, IssuedSecret]:
    """A test project made in `session`'s unit of work, and its secret."""
    return create_project(
        session, name="B", environment="test", actor="bench", clock=SystemClock(), settings=settings
    )


class NullBody(BaseModel):
    """The `_null` route's body (module level: FastAPI resolves the annotation by name)."""

    email_address: str
    locale: str | None = None


def app_with_null_route(settings: Settings, engine: Engine) -> FastAPI:
    """The whole app on `engine`, plus `POST /v1/b2b/_null`: an `inline_write` `ProjectScope`
    handler with a JSON body model that does nothing but answer (the framework's share of a
    request)."""

    null_router = APIRouter(prefix="/v1/b2b", route_class=ApiRoute)

    @null_router.post("/_null", include_in_schema=False)
    @inline_write
    def null(request: Request, scope: ProjectScope, body: NullBody) -> JSONResponse:
        return ok(request)

    app = create_app(settings, engine=engine, clock=SystemClock())
    app.include_router(null_router)
    return app


def steady_under_callgrind() -> None:
    """Under callgrind a request takes a second or more of wall time (valgrind, and the
    `callgrind_control` calls around each), so the project secret's 5-second trust ran out
    every few requests and its database read (~0.35 M instructions; served, once per 5 s per
    process) landed in some dumps: the medians jumped between two modes. Trusted for the run.
    """
    projects.VERIFIED_SECRET_SECONDS = float("inf")
