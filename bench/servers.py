"""Starting and stopping the servers under test, each on a fresh database.

Antechamber: `antechamber migrate`, then the project (`projects.service.create_project`) and the
pre-loaded organizations and members, then `python -m antechamber serve --workers N` with
PYTHONPATH set to this checkout's `src`, so the code served is the code of this tree.
The allauth peer: its own venv (bench/.venv-allauth, made on first use), `manage.py migrate`,
`bench_seed`, then gunicorn with the same number of worker processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.dataset import Shape, fresh_statistics, preload
from bench.scenarios import DISCOVERY_REDIRECT_URL, Target

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SRC = REPO / "src"
PEER_DIR = BENCH_DIR / "peers" / "allauth"
PEER_VENV = BENCH_DIR / ".venv-allauth"
START_TIMEOUT_S = 60.0
BENCH_DELIVERY_LIMITS = {
    "ANTECHAMBER_LIMIT_EMAIL_PER_RECIPIENT": "1000000/minute",
    "ANTECHAMBER_LIMIT_EMAIL_PER_PROJECT": "1000000000/hour",
    "ANTECHAMBER_LIMIT_SMS_PER_RECIPIENT": "1000000/minute",
    "ANTECHAMBER_LIMIT_SMS_PER_PREFIX": "1000000000/hour",
    "ANTECHAMBER_LIMIT_SMS_PER_PROJECT": "1000000000/hour",
    "ANTECHAMBER_LIMIT_SMS_PER_MEMBER": "1000000/minute",
    # Every virtual user comes from 127.0.0.1, which a real deployment sees as one client.
    "ANTECHAMBER_LIMIT_DISCOVERY_SEND_PER_IP": "1000000000/minute",
    "ANTECHAMBER_LIMIT_AUTHENTICATE_FAILURES_PER_IP": "1000000000/minute",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recreate_postgres_database(admin_url: str, name: str) -> str:
    """Drop and create `name` on the server of `admin_url`; the URL of the new database."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rstrip("/").rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Running:
    """A started server: its process (the root of its worker tree) and how to reach it."""

    process: subprocess.Popen[bytes]
    target: Target
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            # uvicorn and gunicorn both stop their workers on SIGTERM to the master.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # The server runs in its own session: its group id is its pid.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def listening(port: int) -> int | None:
    """How many TCP sockets of this network namespace listen on `port` (Linux's
    /proc/net/tcp and tcp6), or None where that cannot be read."""
    count, seen = 0, False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            _slot, local, _remote, state = line.split(None, 4)[:4]
            if state == "0A" and int(local.rpartition(":")[2], 16) == port:  # 0A: LISTEN
                count += 1
    return count if seen else None


def _wait_until_up(
    proc: subprocess.Popen[bytes], port: int, log_path: Path, listeners: int = 1
) -> None:
    """Return once the server answers on `port` and, where it can be seen, `listeners`
    sockets listen there (Antechamber's workers each listen on a socket of their own: a run
    started before the last one listens would send every connection, all kept for the run,
    to the others; performance.md item 94)."""
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    answered = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{tail}")
        if not answered:
            try:
                # Any answer means the server is up (a tree without /healthz answers 404; the
                # baseline scenario then reports itself not available).
                url = f"http://127.0.0.1:{port}/healthz"
                answered = httpx.get(url, timeout=1).status_code < 500
            except httpx.HTTPError:
                pass
        if answered:
            found = listening(port)
            if found is None or found >= listeners:
                return
        time.sleep(0.1)
    if answered:  # workers sharing one socket (no SO_REUSEPORT): nothing more to wait for
        print(f"note: {listening(port)} of {listeners} sockets listen on {port}", flush=True)
        return
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S:.0f} s")


class Antechamber:
    """One Antechamber server on a fresh database, as a context manager."""

    def __init__(
        self,
        *,
        run_dir: Path,
        database: str,
        pg_admin_url: str,
        shape: Shape,
        workers: int,
        log_level: str,
        client_kind: str,
        extra_env: dict[str, str],
        history: bool = True,
    ) -> None:
        self.run_dir = run_dir
        self.database = database
        self.pg_admin_url = pg_admin_url
        self.shape = shape
        self.workers = workers
        self.log_level = log_level
        self.client_kind = client_kind
        self.extra_env = extra_env
        #: PostgreSQL: whether `fresh_statistics` adds the history rows (not for `faults`, whose
        #: checks read every outbox message as one the run queued).
        self.history = history
        self.running: Running | None = None

    def _env(self, database_url: str, port: int, key: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")}
        env.update(
            PYTHONPATH=str(SRC),
            ANTECHAMBER_DATABASE_URL=database_url,
            ANTECHAMBER_SECRET_KEY=key,
            # Development mode keeps messages in the outbox (the development inbox), where
            # the driver reads links and codes; nothing is sent anywhere.
            ANTECHAMBER_DEV="true",
            ANTECHAMBER_STATE_DIR=str(self.run_dir / "state"),
            ANTECHAMBER_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            ANTECHAMBER_HOST="127.0.0.1",
            ANTECHAMBER_PORT=str(port),
            ANTECHAMBER_LOG_LEVEL=self.log_level,
        )
        # Delivery limits sized for people (3 emails a minute to one address, 100 texts an
        # hour per project) would measure the limiter's refusals, not the server. The limiter
        # still runs on every message; only its thresholds are out of reach. Settings a tree
        # does not know are ignored.
        env.update(BENCH_DELIVERY_LIMITS)
        env.update(self.extra_env)
        return env

    def __enter__(self) -> Running:
        if self.database == "postgres":
            url = recreate_postgres_database(self.pg_admin_url, "antechamber_bench")
        else:
            url = f"sqlite:///{self.run_dir / 'antechamber.sqlite'}"
        port = free_port()
        key = secrets.token_urlsafe(32)
        env = self._env(url, port, key)
        log_path = self.run_dir / "antechamber-server.log"
        subprocess.run(
            [sys.executable, "-m", "antechamber", "migrate"],
            env=env,
            cwd=self.run_dir,
            check=True,
            capture_output=True,
        )
        project_id, secret = self._load(url, key)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "antechamber", "serve", "--workers", str(self.workers)],
                env=env,
                cwd=self.run_dir,  # no stray .env from the caller's directory
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        target = Target(
            name="antechamber",
            base_url=f"http://127.0.0.1:{port}",
            client_kind=self.client_kind,
            project_id=project_id,
            secret=secret,
            database_url=url,
            server_key=key,
            shape=self.shape,
        )
        self.running = Running(proc, target, log_path)
        try:
            # One socket per worker (`cli.reuseport`, Linux): wait for each.
            _wait_until_up(proc, port, log_path, listeners=self.workers)
        except BaseException:
            self.running.stop()
            raise
        return self.running

    def _load(self, url: str, key: str) -> tuple[str, str]:
        """Create the project and pre-load the organizations and members (in this process)."""
        from antechamber import db
        from antechamber.clock import SystemClock
        from antechamber.projects.service import create_project
        from antechamber.settings import Settings

        settings = Settings(
            database_url=url,
            secret_key=key,
            dev=True,
            _env_file=None,
        )
        engine = db.make_engine(settings.database_url)
        try:
            with db.transaction(db.session_factory(engine)) as session:
                project, issued = create_project(
                    session,
                    name="Benchmark",
                    environment="test",
                    actor="bench",
                    clock=SystemClock(),
                    settings=settings,
                )
                _allow_redirect(session, project.id, settings)
            preload(engine, self.shape, project.id)
            if url.startswith("sqlite"):
                # Fold the bulk load into the main file, so the run starts with a short WAL.
                # On the DB-API connection: the engine's own would wrap it in BEGIN IMMEDIATE.
                raw = engine.raw_connection()
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
                finally:
                    raw.close()
            else:
                # Not analyzed empty: with the history of the tables the run writes.
                fresh_statistics(engine, project.id, history=self.history)
            return project.id, issued.secret
        finally:
            engine.dispose()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.running is not None:
            self.running.stop()
        if self.database == "postgres":
            drop_postgres_database(self.pg_admin_url, "antechamber_bench")


def _allow_redirect(session: Any, project_id: str, settings: Any) -> None:
    """Register the driver's discovery redirect URL, on servers that keep an allow-list."""
    try:
        # Imported by name: trees from before the allow-list have no such module.
        redirects = importlib.import_module("antechamber.redirects.service")
    except ImportError:
        return
    from antechamber.clock import SystemClock
    from antechamber.scope import Scope

    scope = Scope(session, project_id, "test", "bench", SystemClock(), settings)
    redirects.add_redirect_url(scope, DISCOVERY_REDIRECT_URL, kind="discovery", default=True)


def ensure_peer_venv(log: Path) -> Path:
    """bench/.venv-allauth with the peer's requirements; rebuilt when they change."""
    requirements = PEER_DIR / "requirements.txt"
    stamp = PEER_VENV / ".requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    python = PEER_VENV / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print("setting up bench/.venv-allauth (once) …", flush=True)
    shutil.rmtree(PEER_VENV, ignore_errors=True)
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "-m", "venv", str(PEER_VENV)], check=True, stdout=out, stderr=out
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
            check=True,
            stdout=out,
            stderr=out,
        )
    stamp.write_text(wanted)
    return python


class AllauthPeer:
    """The django-allauth peer on a fresh database, served by gunicorn, as a context manager."""

    def __init__(
        self,
        *,
        run_dir: Path,
        database: str,
        pg_admin_url: str,
        users: int,
        workers: int,
        threads: int,
        client_kind: str,
    ) -> None:
        self.run_dir = run_dir
        self.database = database
        self.pg_admin_url = pg_admin_url
        self.users = users
        self.workers = workers
        self.threads = threads
        self.client_kind = client_kind
        self.running: Running | None = None

    def __enter__(self) -> Running:
        log_path = self.run_dir / "allauth-server.log"
        python = ensure_peer_venv(log_path)
        if self.database == "postgres":
            url = recreate_postgres_database(self.pg_admin_url, "allauth_bench")
        else:
            url = f"sqlite:///{self.run_dir / 'allauth.sqlite'}"
        maildir = self.run_dir / "allauth-mail"
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")},
            "BENCH_PEER_DATABASE": url,
            "BENCH_PEER_MAILDIR": str(maildir),
            "BENCH_PEER_SECRET_KEY": secrets.token_urlsafe(32),
            "DJANGO_SETTINGS_MODULE": "peer.settings",
            "PYTHONPATH": str(PEER_DIR),
        }
        env.pop("VIRTUAL_ENV", None)
        with log_path.open("ab") as out:
            for args in (["migrate", "-v0"], ["bench_seed", "--users", str(self.users)]):
                subprocess.run(
                    [str(python), "manage.py", *args],
                    env=env,
                    cwd=PEER_DIR,
                    check=True,
                    stdout=out,
                    stderr=out,
                )
            proc = subprocess.Popen(
                [
                    str(python),
                    "-m",
                    "gunicorn",
                    "--workers",
                    str(self.workers),
                    # gthread: each worker serves several requests at once from a thread
                    # pool, as uvicorn runs Antechamber's sync endpoints in its thread pool.
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(self.threads),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--keep-alive",
                    "30",
                    "peer.wsgi:application",
                ],
                env=env,
                cwd=PEER_DIR,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        target = Target(
            name="allauth",
            base_url=f"http://127.0.0.1:{port}",
            client_kind=self.client_kind,
            database_url=url,
            maildir=str(maildir),
            peer_users=self.users,
        )
        self.running = Running(proc, target, log_path)
        try:
            _wait_until_up(proc, port, log_path)
        except BaseException:
            self.running.stop()
            raise
        return self.running

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.running is not None:
            self.running.stop()
        if self.database == "postgres":
            drop_postgres_database(self.pg_admin_url, "allauth_bench")
