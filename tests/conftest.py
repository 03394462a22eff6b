"""Shared fixtures: a fresh database per test (SQLite or PostgreSQL), a frozen clock, the app,
an HTTP client, a live server on a random port, and the official SDK pointed at it.

The database is chosen by ANTECHAMBER_TEST_DATABASE_URL: unset → SQLite files; a PostgreSQL URL
→ a private database created for this run (so runs can overlap) and truncated between tests.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from antechamber import db, in_flight, migrations, models
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.devmode import DemoProject, ensure_demo_project
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from tests.factories import make_member, make_org

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")

PG_URL = os.environ.get("ANTECHAMBER_TEST_DATABASE_URL", "")
USE_PG = PG_URL.startswith("postgresql")


@contextmanager
def another_thread_writing(services: Services) -> Iterator[threading.Event]:
    """While the block runs, another thread's unit of work holds the write lock (on SQLite,
    `BEGIN IMMEDIATE` and `writer_lock.WriterLock`). The event yielded is set once that thread has
    given up waiting (10 s): a block that finds it set was queued behind the writer."""
    writing, released = threading.Event(), threading.Event()

    def writer() -> None:
        with db.transaction(services.sessions) as session:
            session.execute(select(func.count()).select_from(Organization))
            writing.set()
            released.wait(10)
            released.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        yield released
    finally:
        released.set()
        thread.join(10)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if USE_PG:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set ANTECHAMBER_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_server_in_flight() -> Iterator[None]:
    """Each test starts on a thread where no server has said what it has in flight
    (`in_flight`, per thread): one a test served on this thread leaves its requests' set
    behind, and a set that stays empty would make every unit on the loop read alone."""
    in_flight.serving(None)
    yield
    in_flight.serving(None)


@pytest.fixture(scope="session", autouse=True)
def rsa_key_pool() -> Iterator[None]:
    """Signing keys from a small pre-made pool: each test project would otherwise spend ~60 ms
    generating an RSA key. The keys are real and distinct in turn; only generation is shared."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from antechamber.keys import service as keys

    pool = itertools.cycle(
        [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keys, "new_private_key", lambda: next(pool))
        yield


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the run: a SQLite file to copy, or a private PostgreSQL db."""
    if not USE_PG:
        path = tmp_path_factory.mktemp("db") / "template.sqlite"
        engine = db.make_engine(f"sqlite:///{path}")
        migrations.upgrade(engine)
        engine.dispose()
        yield str(path)
        return
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"antechamber_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    engine = db.make_engine(test_url)
    migrations.upgrade(engine)
    engine.dispose()
    yield test_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if not USE_PG:
        target = tmp_path / "test.sqlite"
        shutil.copy(database_template, target)
        return f"sqlite:///{target}"
    return database_template


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    if USE_PG:
        tables = ", ".join(f'"{t.name}"' for t in models.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        state_dir=tmp_path / "state",
        public_base_url="http://testserver",
        # Tests drive the delivery worker themselves (DeliveryWorker.run_once).
        delivery_worker=False,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def services(settings: Settings, engine: Engine, clock: FrozenClock) -> Services:
    return Services.build(settings, engine, clock)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass(frozen=True)
class Credentials:
    project_id: str
    secret: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.project_id, self.secret)


@pytest.fixture
def project(services: Services) -> Credentials:
    demo: DemoProject = ensure_demo_project(services)
    return Credentials(demo.project_id, demo.secret)


@pytest.fixture
def other_project(services: Services) -> Credentials:
    from antechamber.projects import service as projects

    with db.transaction(services.sessions) as session:
        p, issued = projects.create_project(
            session,
            name="Other",
            environment="test",
            actor="test",
            clock=services.clock,
            settings=services.settings,
        )
    return Credentials(p.id, issued.secret)


@pytest.fixture
def api(client: TestClient, project: Credentials) -> TestClient:
    """The test client, authenticated as the project."""
    client.auth = project.auth
    return client


def _free_port() -> int:
    """A port free now, for servers in other processes (another process may take it first)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port, for `serving` to listen on.

    Binding first and handing the socket to uvicorn leaves no moment in which another process
    (the other suite runs beside this one in CI) can take the port.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(config: uvicorn.Config, sock: socket.socket) -> Iterator[None]:
    """Uvicorn serving `config` on `sock` in a thread of this process, until the block ends.

    Closes `sock` at the end. Raises at once if the server stops before it starts.
    """
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("live server stopped before it started (its log is above)")
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start within 60 s")
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The app served by uvicorn on a random loopback port, in a thread of this process."""
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    with serving(config, sock):
        yield LiveServer(f"http://127.0.0.1:{port}", port)


@pytest.fixture
def sdk(live_server: LiveServer, project: Credentials):  # type: ignore[no-untyped-def]
    """The official Python SDK (stytch 15.3.0) pointed at the live server."""
    import stytch

    return stytch.B2BClient(project.project_id, project.secret, environment=live_server.url)


@pytest.fixture
def acme(services: Services, project: Credentials) -> Organization:
    """An organization that leaves MFA to its members (the tutorial's first org)."""
    return make_org(
        services, project.project_id, organization_name="Acme", organization_slug="acme"
    )


@pytest.fixture
def ada(services: Services, project: Credentials, acme: Organization) -> Member:
    """A member of `acme` with no second factor yet."""
    return make_member(services, project.project_id, acme, email_address="ada@acme.example")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium through Playwright (no browser downloads here), one per test module.

    Every browser test (console, reference app, inbox, SAML) uses this one fixture: Playwright's
    sync API cannot start again in a thread where it already runs. Per module, not per run:
    while it runs, the main thread has a running event loop, and tests elsewhere that call
    `asyncio.run` (the delivery worker's SMTP sends, the bench commands) must not meet it."""
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()
