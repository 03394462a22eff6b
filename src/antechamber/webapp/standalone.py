"""The reference app on its own: `antechamber webapp --backend stytch …`.

A small ASGI app with only the reference app in it (no API, no console, no database of its
own), the same security headers as the server, and the access log. Sign-in links come back to
`{public_url}/auth/callback`, which must be registered as a discovery redirect URL of the
project on the authentication server (`antechamber redirect-urls add URL` on an Antechamber).
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI

from antechamber import __version__, webapp
from antechamber.clock import Clock, SystemClock
from antechamber.edge import Edge
from antechamber.hosts import HostPolicy
from antechamber.ratelimit import RateLimiter
from antechamber.settings import Settings
from antechamber.webapp.config import Webapp, WebappConfig, derived_key


def stytch_webapp(
    *,
    base_url: str,
    project_id: str,
    secret: str,
    public_url: str,
    dev: bool = False,
    cors_origins: frozenset[str] = frozenset(),
    product_name: str = "Antechamber",
    clock: Clock | None = None,
    timeout_seconds: float = 10.0,
    public_token: str | None = None,
) -> Webapp:
    """The app over the official SDK. The cookie key is derived from the project secret, so
    cookies survive a restart of the app and die with a rotated secret."""
    from antechamber.webapp.stytch_backend import StytchBackend  # needs the stytch SDK

    backend = StytchBackend(
        project_id, secret, base_url, timeout_seconds=timeout_seconds, public_token=public_token
    )
    config = WebappConfig(
        public_url=public_url.rstrip("/"),
        cookie_key=derived_key(secret.encode() or secrets.token_bytes(32), "cookies"),
        dev=dev,
        cors_origins=cors_origins,
        product_name=product_name,
        # An Antechamber in development mode shows what it would have sent here.
        inbox_url=f"{base_url.rstrip('/')}/dev/outbox" if dev else None,
        clock=clock or SystemClock(),
        limiter=RateLimiter(Settings(_env_file=None), namespace="antechamber-webapp"),
    )
    return webapp.build(config, backend)


def create_app(app_webapp: Webapp) -> FastAPI:
    app = FastAPI(
        title="Antechamber reference app",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    webapp.install(app, app_webapp)
    # Its public URL may be another origin (a separate frontend's): no Host refused, and the
    # framework's trailing-slash redirect made relative rather than pointed there.
    policy = HostPolicy(app_webapp.config.public_url, (), dev=True, relative_redirects=True)
    app.add_middleware(Edge, policy=policy, hsts=not app_webapp.config.dev)
    return app
