"""`serve`, `dev` and `migrate`."""

from __future__ import annotations

import ctypes
import ipaddress
import os
import signal
from types import FrameType
from typing import Any

import typer
import uvicorn

from antechamber import logs, migrations
from antechamber.cli.reuseport import serve_workers
from antechamber.delivery.supervisor import WorkerProcess
from antechamber.devmode import (
    beside_dev_server,
    ensure_demo_project,
    forget_dev_server,
    mark_dev_server,
)
from antechamber.http_protocol import http_protocol
from antechamber.services import Services
from antechamber.settings import Settings, load_settings


def register(app: typer.Typer) -> None:
    app.command(help="Serve the API (and the reference app) with uvicorn.")(serve)
    app.command(
        help="Development server: migrate, make the demo project and print its credentials, "
        "keep messages in the development inbox, and serve on http://127.0.0.1:8000."
    )(dev)
    app.command(help="Bring the database schema to the newest version.")(migrate)


def _run(
    host: str | None, port: int | None, workers: int, *, delivery_process: bool = False
) -> None:
    """Serve. `delivery_process`: deliver from a supervised worker process of its own (if the
    settings let the server deliver at all); else each server process runs a thread."""
    # Workers are separate processes that read settings from the environment themselves.
    if host:
        os.environ["ANTECHAMBER_HOST"] = host
    if port:
        os.environ["ANTECHAMBER_PORT"] = str(port)
    _limit_malloc_arenas()
    settings = load_settings()
    logs.configure(settings.log_level, settings.effective_log_format)
    services = Services.build(settings)
    if not migrations.is_current(services.engine):
        raise typer.BadParameter("the database is not migrated; run: antechamber migrate")
    if workers > 1 and settings.is_sqlite:
        typer.echo("note: SQLite serialises writes; several workers help PostgreSQL most.")
    delivery: WorkerProcess | None = None
    if settings.delivery_worker and delivery_process:
        # One worker process delivers; the server processes (which read this environment) don't.
        delivery = WorkerProcess(
            stop_timeout_s=settings.delivery_send_timeout_seconds + 10, env=dict(os.environ)
        )
        os.environ["ANTECHAMBER_DELIVERY_WORKER"] = "false"
        # uvicorn (one process) stops on SIGTERM, then raises it again with the handler it
        # found: ours ends the process through the `finally` below, the default would not.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        delivery.start()
    try:
        _serve(settings, workers)
    finally:
        if delivery is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut this short
            delivery.stop()


#: glibc's `mallopt` parameter for the number of heaps ("arenas") threads may allocate from.
_M_ARENA_MAX = -8


def _limit_malloc_arenas(arenas: int = 2) -> bool:
    """Let glibc's malloc use `arenas` heaps, in this process and (by the environment) in the
    worker and delivery processes it starts, unless the operator set `MALLOC_ARENA_MAX`.

    Why: glibc gives each thread that allocates a heap of its own, up to eight per core, and
    keeps freed memory in each; with the request threads a server's resident memory kept
    growing in a soak with nothing leaking (+97 MB an hour in a 10-minute soak, +8 MB an hour
    with two arenas; docs/performance.md). Returns whether the limit was set here."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return False
    # Children read the variable when they start; this process applies it from now on.
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def _exit_on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # a stop asked for, as uvicorn's own supervisor exits


def _serve(settings: Settings, workers: int) -> None:
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": workers,
        "log_level": settings.log_level,
        "log_config": None,
        "access_log": False,
        # The one list of trusted proxies (none by default), for uvicorn's rewriting of the
        # client address and scheme as for the app's limits per client address. With none,
        # uvicorn's proxy layer would believe no header: it is left out (one call a request).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies),
        "server_header": False,
        # uvicorn's httptools protocol with each response's head and body in one send(); an
        # import string, so it reaches every worker (uvicorn's own if its internals differ).
        "http": http_protocol(),
    }
    if workers > 1:
        # Each worker listens on its own socket, so connections spread evenly (see reuseport).
        serve_workers(uvicorn.Config(_APP, **options))
    else:
        uvicorn.run(_APP, **options)


_APP = "antechamber.asgi:app_factory"


def serve(
    host: str = typer.Option(None, help="Address to bind (default: ANTECHAMBER_HOST)."),
    port: int = typer.Option(
        None, help="Port to bind (default: ANTECHAMBER_PORT).", min=1, max=65535
    ),
    workers: int = typer.Option(1, help="Worker processes.", min=1, max=64),
) -> None:
    settings = load_settings()
    settings.key_bytes()  # outside development this must be set; fail before binding
    if not settings.dev:
        forget_dev_server(settings)
    _run(host, port, workers, delivery_process=settings.delivery_process)


def dev(
    host: str = typer.Option(None, help="Address to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to bind (default 8000).", min=1, max=65535),
    allow_network: bool = typer.Option(
        False,
        "--allow-network",
        help="Allow a non-loopback --host. The development inbox (every live link and code) "
        "then answers anyone who can reach this machine, without a password.",
    ),
) -> None:
    os.environ["ANTECHAMBER_DEV"] = "true"
    chosen = host or load_settings().host
    if not _is_loopback(chosen):
        if not allow_network:
            raise typer.BadParameter(
                f"{chosen} is reachable from the network, and development mode serves every "
                "live sign-in link and code at /dev/outbox without a password. Bind 127.0.0.1, "
                "or pass --allow-network if you mean it.",
                param_hint="--host",
            )
        typer.echo(
            f"WARNING: development server on {chosen}: anyone who can reach it can read every "
            "sign-in link and code in the development inbox (/dev/outbox) and sign in as "
            "anyone. Use it only on a network you trust.",
            err=True,
        )
    if "ANTECHAMBER_PUBLIC_BASE_URL" not in os.environ and (host or port):
        # Links in emails (and the reference app's registered callback) must point where this
        # server listens, not at the default port.
        defaults = load_settings()
        os.environ["ANTECHAMBER_PUBLIC_BASE_URL"] = (
            f"http://{_url_host(host or defaults.host)}:{port or defaults.port}"
        )
    settings = load_settings()
    services = Services.build(settings)
    migrations.upgrade(services.engine)
    demo = ensure_demo_project(services)
    mark_dev_server(settings)
    base = f"http://{_url_host(host or settings.host)}:{port or settings.port}"
    typer.echo(
        "\nAntechamber is running in development mode.\n"
        f"  Stytch API base URL: {base}\n"
        f"  Demo project id:     {demo.project_id}\n"
        f"  Demo secret:         {demo.secret}\n"
        f"  Development inbox:   {base}/dev/outbox  (or: antechamber outbox --follow)\n"
        f"  Reference app:       {base}/  (the tutorial's MFA app)\n\n"
        "  Python: stytch.B2BClient(project_id, secret, environment=BASE_URL)\n"
    )
    # One process, the worker a thread in it: the inbox fills as the server runs, and a
    # Ctrl-C stops everything at once.
    _run(host, port, 1)


def _url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


def migrate() -> None:
    services = Services.build(beside_dev_server(load_settings()))
    before = migrations.current(services.engine)
    migrations.upgrade(services.engine)
    after = migrations.current(services.engine)
    typer.echo(f"database at revision {after}" + ("" if before != after else " (no change)"))
