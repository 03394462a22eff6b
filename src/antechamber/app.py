"""The ASGI application: one process serving the Stytch-compatible API, the admin console, the
reference app at / and (in development) the inbox.

Its lifespan runs the delivery worker in a background thread, unless
`ANTECHAMBER_DELIVERY_WORKER=false`: when `antechamber worker` runs on its own, or when
`antechamber serve` runs one as a process beside this one (its default, see
`delivery.supervisor`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from antechamber import __version__, admin, api, health, webapp
from antechamber.api.guard import ApiGuard
from antechamber.clock import Clock
from antechamber.delivery.worker import DeliveryWorker
from antechamber.headers import SecurityHeaders
from antechamber.hosts import HostPolicy, PublicHost
from antechamber.logs import AccessLog
from antechamber.scim_provider import ScimProvider
from antechamber.services import Services
from antechamber.settings import Settings


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app. Tests pass their own engine (a fresh database) and a frozen clock."""
    services = Services.build(settings, engine, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = DeliveryWorker(services) if settings.delivery_worker else None
        app.state.delivery_worker = worker
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await asyncio.to_thread(worker.stop)

    app = FastAPI(
        title="Antechamber",
        version=__version__,
        description="Stytch B2B-compatible authentication server.",
        docs_url="/docs" if settings.dev else None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    api.install(app)
    admin.install(app)
    app.include_router(health.router)
    if settings.metrics:

        def metrics(request: Request) -> Response:
            return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

        app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    if settings.dev:
        from antechamber.dev import outbox as dev_outbox

        dev_outbox.install(app)
    reference_app = webapp.for_services(services)
    if reference_app is not None:
        # Last: its not-found page covers the paths no other face claims.
        webapp.install(app, reference_app)
    app.add_middleware(ApiGuard, max_body_bytes=settings.max_body_bytes)
    # Outside ApiGuard: the SCIM paths speak application/scim+json and SCIM's error format.
    app.add_middleware(ScimProvider, services=services)
    # Inside the headers and the access log: a refused Host is logged and carries the headers.
    app.add_middleware(
        PublicHost,
        policy=HostPolicy(settings.public_base_url, settings.allowed_hosts, dev=settings.dev),
    )
    app.add_middleware(SecurityHeaders, hsts=not settings.dev)
    app.add_middleware(AccessLog, metrics=services.metrics if settings.metrics else None)
    return app
