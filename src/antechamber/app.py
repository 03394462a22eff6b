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
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from antechamber import __version__, admin, api, health, webapp
from antechamber.clock import Clock
from antechamber.delivery.worker import DeliveryWorker
from antechamber.dispatch import LeanDispatch
from antechamber.edge import Edge
from antechamber.hosts import HostPolicy
from antechamber.route_index import RouteIndex
from antechamber.scim_provider import ScimProvider
from antechamber.services import Services
from antechamber.settings import Settings

# FastAPI's own OpenTelemetry hooks: off (the access log and /metrics are ours), so no request
# asks the tracer, meter and logger providers whether they are configured.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# Layers FastAPI puts around every app that do nothing with telemetry off and no app-wide body
# limit (the API guard has its own): named, not imported, as they live in private modules.
_IDLE_LAYERS = frozenset(
    {
        ("fastapi.telemetry._asgi", "ExceptionTelemetryMiddleware"),
        ("fastapi._body_limit", "AppBodyLimitMiddleware"),
    }
)


class _Antechamber(FastAPI):
    """FastAPI without its telemetry, and without the two layers that then only pass each
    request on (one call each per request); its router dispatches by index (`route_index`),
    and the edge hands a lean route's request to its handler itself (`dispatch`).

    The edge is its outermost layer, in the place of Starlette's `ServerErrorMiddleware`, whose
    500 it answers (`Edge.server_error`) through its own `send`: with the security headers, in
    the access log. The app's own call goes straight to it for an HTTP request, past
    FastAPI's and Starlette's calls (which only mark the scope with the app)."""

    # False before the first request: FastAPI's own scan of every route (tests compare both).
    indexed_routing = True
    route_index: RouteIndex | None = None
    # False before the first request: lean routes too go down the whole stack (`dispatch`).
    lean_dispatch = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(telemetry=NO_TELEMETRY, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = self.middleware_stack
        if stack is None or scope["type"] != "http" or self.root_path:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # as Starlette's call does
        await stack(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        # Built here, when the first request comes: every route is installed by then.
        if self.indexed_routing:
            self.route_index = RouteIndex.install(self.router)
        if self.max_body_size is not None:
            return stack  # the body limit layer has work to do
        node = stack
        for _ in range(16):  # the outer layers, down to the router
            inner = getattr(node, "app", None)
            if inner is None:
                break
            if (type(inner).__module__, type(inner).__name__) in _IDLE_LAYERS:
                node.app = inner.app  # type: ignore[attr-defined]
            else:
                node = inner
                if isinstance(node, Edge):
                    node.dispatch = (
                        LeanDispatch.install(node.app, self.route_index)
                        if self.lean_dispatch
                        else None
                    )
        # The edge in the server error layer's place, answering its 500s (see the class).
        if type(stack) is ServerErrorMiddleware and isinstance(stack.app, Edge):
            edge = stack.app
            edge.errors = stack
            return edge
        return stack


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app. Tests pass their own engine (a fresh database) and a frozen clock."""
    services = Services.build(settings, engine, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads = services.request_threads
        if threads is not None:
            # The thread limiter belongs to the event loop, which serves every request of this
            # process: sync handlers and dependencies (run_in_threadpool) take its tokens.
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        worker = DeliveryWorker(services) if settings.delivery_worker else None
        app.state.delivery_worker = worker
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await asyncio.to_thread(worker.stop)

    app = _Antechamber(
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
    app.add_middleware(
        Edge,
        policy=HostPolicy(settings.public_base_url, settings.allowed_hosts, dev=settings.dev),
        hsts=not settings.dev,
        max_body_bytes=settings.max_body_bytes,
        scim=ScimProvider(services),
        metrics=services.metrics if settings.metrics else None,
    )
    return app
