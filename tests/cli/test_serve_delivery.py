"""`antechamber serve` delivers from one worker process of its own: it starts it, starts it
again when it dies, and stops it with the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import antechamber
from antechamber.delivery.models import OutboxMessage
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials, _free_port
from tests.delivery.conftest import magic_link


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Wait for another process's effect (not for time to pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def delivery_workers(server_pid: int) -> list[int]:
    workers = []
    for pid in children(server_pid):
        try:
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in cmdline and b"--parent-pid" in cmdline:
            workers.append(pid)
    return workers


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def delivered_by(services: Services) -> list[tuple[str, str]]:
    with services.sessions() as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.claimed_by)).all()
    return [(status, claimed_by or "") for status, claimed_by in rows]


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")}
    assert settings.secret_key is not None
    env |= {
        "PYTHONPATH": str(Path(antechamber.__file__).parent.parent),
        "ANTECHAMBER_DATABASE_URL": settings.database_url,
        "ANTECHAMBER_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ANTECHAMBER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTECHAMBER_STATE_DIR": str(tmp_path / "state"),
        "ANTECHAMBER_DEV": "true",  # messages go to the development inbox
        "ANTECHAMBER_DELIVERY_POLL_SECONDS": "0.1",
        "ANTECHAMBER_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "antechamber", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_delivers_from_a_worker_process_it_restarts_and_stops(
    server: subprocess.Popen[bytes], services: Services, project: Credentials
) -> None:
    wait_for(lambda: delivery_workers(server.pid))
    [first] = delivery_workers(server.pid)
    host = socket.gethostname()

    magic_link(services, project.project_id, "ada@acme.example")
    wait_for(lambda: [s for s, _ in delivered_by(services)] == ["sent"])
    # The worker process sent it, not a thread of the server's.
    assert delivered_by(services)[0][1].startswith(f"{host}:{first}:")

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: [p for p in delivery_workers(server.pid) if p != first])
    [second] = delivery_workers(server.pid)
    magic_link(services, project.project_id, "grace@acme.example", token="other")
    wait_for(lambda: [s for s, _ in delivered_by(services)] == ["sent", "sent"])
    assert any(by.startswith(f"{host}:{second}:") for _, by in delivered_by(services))

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    wait_for(lambda: not alive(second))


def test_the_worker_stops_when_its_server_is_killed(
    server: subprocess.Popen[bytes],
) -> None:
    wait_for(lambda: delivery_workers(server.pid))
    [worker] = delivery_workers(server.pid)
    server.kill()
    server.wait()
    wait_for(lambda: not alive(worker))
