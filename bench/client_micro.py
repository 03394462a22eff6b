"""The driver's own CPU per request, against a tiny local server (no Antechamber).

    PYTHONPATH=src:. python -m bench.client_micro [requests=20000] [users=32] [client=raw]
        [CLIENT_MICRO_CHUNKED=1] [CLIENT_MICRO_DELAY_MS=25]

A child process answers with a fixed body the size of a sessions/authenticate answer (~5 kB
of JSON, Content-Length, keep-alive; chunked with CLIENT_MICRO_CHUNKED=1), at once or each
after CLIENT_MICRO_DELAY_MS (then answers arrive one at a time, as from a busy server, not in
batches). This process drives `requests` POSTs from `users` virtual users through
`bench.http`'s client in scenario c's flow and the driver's loop (the recorder included),
on uvloop as the driver runs, and prints the client's CPU per request (user and system time
of the process) and the requests per second. The server's speed does not enter the CPU figure. See
docs/performance.md, item 89.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import socket
import sys
import time
from typing import Any

BODY = (
    b'{"status_code":200,"request_id":"'
    + b"r" * 36
    + b'","member":'
    + b'{"x":"'
    + (b"y" * 4900)
    + b'"}}'
)


def _serve(sock: socket.socket, chunked: bool, delay_s: float) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    if chunked:
        size = f"{len(BODY):x}".encode()
        answer = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + size + b"\r\n" + BODY + b"\r\n0\r\n\r\n"
        )
    else:
        answer = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(BODY)).encode()
            + b"\r\n\r\n"
            + BODY
        )

    loop: asyncio.AbstractEventLoop

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buf[:end].lower()
                i = head.find(b"content-length:")
                length = int(head[i + 15 :].split(b"\r\n", 1)[0]) if i >= 0 else 0
                if len(self.buf) < end + 4 + length:
                    return
                self.buf = self.buf[end + 4 + length :]
                if delay_s:
                    loop.call_later(delay_s, self.transport.write, answer)  # type: ignore[attr-defined]
                else:
                    self.transport.write(answer)  # type: ignore[attr-defined]

    async def main() -> None:
        nonlocal loop
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Answer, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


async def _drive(port: int, requests: int, users: int, kind: str) -> tuple[float, float, float]:
    from bench.driver import failed
    from bench.http import make_client
    from bench.scenarios import VirtualUser, session_by_token
    from bench.stats import Recorder

    rec = Recorder(active=True)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Basic eA=="}
    target: Any = None  # scenario c needs no target
    vus = [
        VirtualUser(i, users, target, make_client(kind, base, headers), rec, None)
        for i in range(users)
    ]
    for vu in vus:
        vu.state["session_token"] = "s" * 44
    left = requests

    async def loop(vu: VirtualUser) -> None:
        # the driver's closed loop (bench.driver.closed_loop) around scenario c's flow,
        # counted here instead of timed
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                await session_by_token(vu)
            except Exception as exc:
                failed(vu, exc)
            else:
                rec.flow(time.perf_counter() - started)

    # warm-up: connections opened, code paths taken
    for vu in vus:
        await session_by_token(vu)
    r0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.gather(*(loop(vu) for vu in vus))
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    for vu in vus:
        await vu.http.close()
    return r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, wall


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    kind = sys.argv[3] if len(sys.argv) > 3 else "raw"
    chunked = os.environ.get("CLIENT_MICRO_CHUNKED") == "1"
    delay_s = float(os.environ.get("CLIENT_MICRO_DELAY_MS", "0")) / 1000
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = mp.get_context("fork").Process(
        target=_serve, args=(sock, chunked, delay_s), daemon=True
    )
    server.start()
    try:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        user, system, wall = asyncio.run(_drive(port, requests, users, kind))
    finally:
        server.kill()
    print(
        f"{kind}{' chunked' if chunked else ''}: {requests:,} requests, {users} users: "
        f"client CPU {(user + system) / requests * 1e6:.1f} µs/request "
        f"(user {user / requests * 1e6:.1f}, system {system / requests * 1e6:.1f}), "
        f"{requests / wall:,.0f} requests/s"
    )


if __name__ == "__main__":
    main()
