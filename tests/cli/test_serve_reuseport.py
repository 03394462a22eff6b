"""`antechamber serve --workers 2` on Linux: each worker listens on a socket of its own
(SO_REUSEPORT), so keep-alive connections opened at once land on both workers, not on whichever
woke first; SIGTERM stops them all; a port in use fails fast with a message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

import antechamber
from antechamber.settings import Settings
from tests.cli.test_serve_delivery import alive, children, wait_for
from tests.conftest import _free_port

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"),
    reason="SO_REUSEPORT balances connections on Linux only",
)

LISTEN, ESTABLISHED = "0A", "01"


def _env(settings: Settings, port: int, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")}
    assert settings.secret_key is not None
    return env | {
        "PYTHONPATH": str(Path(antechamber.__file__).parent.parent),
        "ANTECHAMBER_DATABASE_URL": settings.database_url,
        "ANTECHAMBER_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ANTECHAMBER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTECHAMBER_STATE_DIR": str(tmp_path / "state"),
        "ANTECHAMBER_DELIVERY_WORKER": "false",
    }


def _serve(
    settings: Settings,
    port: int,
    tmp_path: Path,
    *,
    stderr: int | IO[bytes] = subprocess.PIPE,
    log_level: str = "warning",
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "antechamber",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        env=_env(settings, port, tmp_path) | {"ANTECHAMBER_LOG_LEVEL": log_level},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def _tcp(port: int, state: str) -> dict[int, int]:
    """{inode: remote port} of this machine's IPv4 TCP sockets on local `port` in `state`."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, st, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == port and st == state:
            found[inode] = int(remote.split(":")[1], 16)
    return found


def _workers(server: int) -> list[int]:
    """uvicorn's worker processes (not multiprocessing's resource tracker)."""
    return [pid for pid in children(server) if b"spawn_main" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    # A child listed a moment ago may be gone (the killed worker, reaped): it is no worker.
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _owner(pids: list[int], inode: int) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        # Its log (at info: which worker died, which started) is shown when an assertion fails.
        proc = _serve(settings, port, tmp_path, stderr=stderr, log_level="info")
    try:
        # Both workers serve once two sockets listen on the port (one shared socket never will).
        wait_for(lambda: len(_tcp(port, LISTEN)) == 2 or proc.poll() is not None)
        assert proc.poll() is None, log.read_text()
        yield proc, port
    except BaseException:
        print(log.read_text(errors="replace"))  # pytest shows it beside the failure
        raise
    finally:
        # Workers outlive a killed parent (they would be orphans): found first, killed too.
        for pid in [*children(proc.pid), proc.pid]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


def test_each_worker_listens_on_its_own_socket_and_connections_reach_both(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = server
    workers = _workers(proc.pid)
    # (the parent, searched first, holds none of them: it would outlive a dead worker's)
    listening = {_owner([proc.pid, *workers], inode) for inode in _tcp(port, LISTEN)}
    assert len(workers) == 2
    assert listening == set(workers)  # two sockets, one in each worker

    # All opened before any request, as a load generator's users or a proxy's pool do. The
    # kernel's hash spreads them, not which worker is quicker to accept (with one shared socket,
    # on a busy machine, the quicker one takes most and keeps them). The socket count above is
    # what a shared socket fails; this is what the workers' own sockets promise.
    conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(40)]
    try:
        assert {_get(c) for c in conns} == {b"HTTP/1.1 200 OK"}
        served = _tcp(port, ESTABLISHED)
        mine = {c.getsockname()[1] for c in conns}
        owners = [_owner(workers, inode) for inode, peer in served.items() if peer in mine]
        assert len(owners) == 40
        # Each worker's share of 40 is binomial(40, 1/2): under 5 has odds of about 1e-7.
        assert min(owners.count(pid) for pid in workers) >= 5, owners
    finally:
        for c in conns:
            c.close()

    # A dead worker's socket goes with it; its replacement gets one of its own. Waited for as one
    # state read at once: the replacement is listed before it listens (it listens once started),
    # and the killed worker's socket can be listed, in no process, while the kernel tears it down.
    killed = workers[0]
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: _settled(proc.pid, port, killed))
    workers = _workers(proc.pid)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    wait_for(lambda: not any(alive(pid) for pid in workers))
    assert not _tcp(port, LISTEN)


def _settled(parent: int, port: int, killed: int) -> bool:
    """Two live workers, `killed` not among them, each owning exactly one of the port's
    listening sockets, and no other socket listening."""
    workers = _workers(parent)
    listeners = [_owner([parent, *workers], inode) for inode in _tcp(port, LISTEN)]
    return (
        len(workers) == 2
        and killed not in workers
        and sorted(listeners, key=str) == sorted(workers, key=str)
    )


@pytest.mark.parametrize("reuse_port", [False, True], ids=["plain", "reuseport"])
def test_a_port_in_use_fails_fast_with_a_message(
    settings: Settings, tmp_path: Path, reuse_port: bool
) -> None:
    """Also when the listener there set SO_REUSEPORT as the same user (an older server of
    ours, say), which the kernel would let us join."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(reuse_port))
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(settings, port, tmp_path)
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            for pid in [*children(proc.pid), proc.pid]:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    assert b"Address already in use" in err, err
    assert b"Traceback" not in err, err


@pytest.fixture
def signals() -> Iterator[None]:
    """uvicorn's supervisor takes the process's signals on construction: given back after."""
    from uvicorn.supervisors.multiprocess import SIGNALS

    before = {sig: signal.getsignal(sig) for sig in SIGNALS}
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


def test_every_worker_gets_a_fresh_socket_on_the_port_and_the_parent_keeps_none(
    signals: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from antechamber.cli import reuseport

    handed: list[list[socket.socket]] = []
    seen: list[tuple[int, int]] = []

    def run(self: reuseport.ReusePortMultiprocess) -> None:
        for _ in range(2):  # as uvicorn builds a Process: a read per worker, then its start
            handed.append(self.sockets)
            [sock] = handed[-1]
            reuse = sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
            seen.append((sock.getsockname()[1], reuse))
        self._close_handed()  # as after each start

    monkeypatch.setattr(reuseport.ReusePortMultiprocess, "run", run)
    reuseport.serve_workers(uvicorn.Config("x:y", host="127.0.0.1", port=0, workers=2))
    [(port1, reuse1), (port2, reuse2)] = seen
    assert port1 == port2 != 0  # port 0 asked: the anchor's port, the same for every worker
    assert reuse1
    assert reuse2
    [first], [second] = handed
    assert first.fileno() == second.fileno() == -1  # closed in the parent


def test_where_so_reuseport_is_missing_workers_share_one_socket(
    signals: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from antechamber.cli import reuseport

    given: list[list[socket.socket]] = []

    class Shared:
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            given.append(sockets)

        def run(self) -> None:
            pass

    monkeypatch.delattr(socket, "SO_REUSEPORT")
    monkeypatch.setattr(reuseport, "Multiprocess", Shared)
    reuseport.serve_workers(uvicorn.Config("x:y", host="127.0.0.1", port=0, workers=2))
    [[sock]] = given
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    sock.close()
