"""The bench starts measuring only once every worker listens (`servers._wait_until_up`): a
worker that listens late would get none of the connections the run keeps."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bench import servers

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists() or not hasattr(socket, "SO_REUSEPORT"),
    reason="Linux's /proc/net/tcp and SO_REUSEPORT",
)


def _listener(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_listening_counts_the_sockets_of_a_port() -> None:
    first = _listener()
    port = first.getsockname()[1]
    try:
        assert servers.listening(port) == 1
        second = _listener(port)
        assert servers.listening(port) == 2
        second.close()
        assert servers.listening(port) == 1
    finally:
        first.close()


def test_the_wait_ends_when_every_worker_listens(tmp_path: Path) -> None:
    first = _listener()
    port = first.getsockname()[1]
    server = HTTPServer(("127.0.0.1", port), _Ok, bind_and_activate=False)
    server.socket.close()
    server.socket = first
    threading.Thread(target=server.serve_forever, daemon=True).start()
    late: list[socket.socket] = []
    timer = threading.Timer(0.5, lambda: late.append(_listener(port)))
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = time.monotonic()
        timer.start()
        servers._wait_until_up(stand_in, port, tmp_path / "log", listeners=2)
        assert late, "returned before the second socket listened"
        assert time.monotonic() - started >= 0.5
    finally:
        timer.cancel()
        stand_in.kill()
        stand_in.wait()
        server.shutdown()
        server.server_close()
        for sock in late:
            sock.close()
