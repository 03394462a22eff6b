"""The ASGI application: one process serving the API and the admin console (and later the
reference app)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from antechamber import __version__, admin, api, health
from antechamber.api.guard import ApiGuard
from antechamber.clock import Clock
from antechamber.headers import SecurityHeaders
from antechamber.logs import AccessLog
from antechamber.services import Services
from antechamber.settings import Settings


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app. Tests pass their own engine (a fresh database) and a frozen clock."""
    services = Services.build(settings, engine, clock)
    app = FastAPI(
        title="Antechamber",
        version=__version__,
        description="Stytch B2B-compatible authentication server.",
        docs_url="/docs" if settings.dev else None,
        redoc_url=None,
    )
    app.state.services = services
    api.install(app)
    admin.install(app)
    app.include_router(health.router)
    app.add_middleware(ApiGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts=not settings.dev)
    app.add_middleware(AccessLog)
    return app
