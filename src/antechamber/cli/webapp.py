"""`antechamber webapp`: the reference app on its own port, against this installation or any
Stytch-compatible server."""

from __future__ import annotations

import importlib.util

import typer
import uvicorn

from antechamber import devmode, logs, migrations
from antechamber import webapp as reference_app
from antechamber.cli.context import Failure
from antechamber.services import Services
from antechamber.settings import Settings, load_settings
from antechamber.webapp.backend import BackendError
from antechamber.webapp.config import Webapp, WebappConfig, derived_key
from antechamber.webapp.inprocess import InProcessBackend
from antechamber.webapp.standalone import create_app, stytch_webapp

BACKENDS = ("inprocess", "stytch")


def register(app: typer.Typer) -> None:
    app.command(
        help="Serve the reference app (the Stytch tutorial's B2B MFA app) on its own. "
        "--backend stytch drives any Stytch-compatible server (a remote Antechamber, or "
        "Stytch) through the official SDK (pip install 'antechamber[webapp-stytch]'); "
        "--backend inprocess uses this installation's database directly. Register "
        "PUBLIC_URL/auth/callback as a discovery redirect URL of the project first."
    )(webapp)


def webapp(
    backend: str = typer.Option(
        "inprocess", help="inprocess (this installation's database) or stytch (the SDK)."
    ),
    base_url: str = typer.Option(
        None,
        envvar="STYTCH_BASE_URL",
        help="The authentication server's origin, e.g. http://127.0.0.1:8000 (stytch backend; "
        "'test' or 'live' for Stytch's own).",
    ),
    project_id: str = typer.Option(
        None,
        envvar="STYTCH_PROJECT_ID",
        help="The project to sign people into (inprocess default: the demo project, or "
        "ANTECHAMBER_WEBAPP_PROJECT_ID).",
    ),
    secret: str = typer.Option(
        None, envvar="STYTCH_SECRET", help="The project's secret (stytch backend)."
    ),
    public_token: str = typer.Option(
        None,
        envvar="STYTCH_PUBLIC_TOKEN",
        help="The project's public token, for Sign in with SSO (stytch backend; see "
        "antechamber public-token show).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(3000, help="Port to bind.", min=1, max=65535),
    public_url: str = typer.Option(
        None,
        help="The origin people reach the app at (default http://HOST:PORT); sign-in links "
        "come back to PUBLIC_URL/auth/callback.",
    ),
    cors_origin: list[str] = typer.Option(
        [],
        "--cors-origin",
        help="An origin whose pages may call /api/* with cookies (repeatable), e.g. the "
        "tutorial's React frontend at http://localhost:5173.",
    ),
    dev: bool = typer.Option(
        False,
        "--dev",
        help="Development mode: cookies work over plain http, and the sign-in page links to "
        "the server's development inbox.",
    ),
) -> None:
    if backend not in BACKENDS:
        raise Failure(f"--backend must be one of {', '.join(BACKENDS)}")
    url = (public_url or f"http://{host}:{port}").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise Failure("--public-url must start with http:// or https://")
    settings = load_settings()
    log_format = settings.log_format or ("text" if dev or settings.dev else "json")
    logs.configure(settings.log_level, log_format)
    origins = frozenset(o.rstrip("/") for o in cors_origin)
    running: Webapp
    if backend == "stytch":
        if not (base_url and project_id and secret):
            raise Failure("--backend stytch needs --base-url, --project-id and --secret")
        if importlib.util.find_spec("stytch") is None:
            raise Failure(
                "the stytch SDK is not installed: pip install 'antechamber[webapp-stytch]'"
            )
        running = stytch_webapp(
            base_url=base_url,
            project_id=project_id,
            secret=secret,
            public_token=public_token,
            public_url=url,
            dev=dev,
            cors_origins=origins,
            product_name=settings.product_name,
        )
    else:
        running = _inprocess(settings, project_id, url, dev, origins)
    typer.echo(
        f"\nThe reference app is at {url}/ ({backend} backend).\n"
        f"  Discovery redirect URL to register: {url}/auth/callback\n"
    )
    uvicorn.run(
        create_app(running),
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


def _inprocess(
    settings: Settings, project_id: str | None, url: str, dev: bool, origins: frozenset[str]
) -> Webapp:
    services = Services.build(settings)
    if not migrations.is_current(services.engine):
        raise Failure("the database is not migrated; run: antechamber migrate")
    chosen = project_id or settings.webapp_project_id
    if not chosen:
        demo = devmode.demo_project(services)
        if demo is None:
            raise Failure("no project: give --project-id (or run antechamber dev once)")
        chosen = demo.project_id
    fixed = chosen
    config = WebappConfig(
        public_url=url,
        cookie_key=derived_key(settings.key_bytes(), "cookies"),
        dev=dev or settings.dev,
        cors_origins=origins,
        product_name=settings.product_name,
        clock=services.clock,
        limiter=services.limiter,
    )
    backend = InProcessBackend(services, lambda: fixed)
    try:
        backend.project_id()  # refuse an unknown project now, not at the first visitor
    except BackendError as exc:
        raise Failure(f"project {fixed}: {exc.error_type}") from None
    return reference_app.build(config, backend)
