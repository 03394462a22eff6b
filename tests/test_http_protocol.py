"""The coalescing HTTP protocol (antechamber.http_protocol): uvicorn's bytes, one write per
ordinary response, on the installed uvicorn.

Each case drives uvicorn's real `HttpToolsProtocol` and ours with the same raw request bytes
over a recording transport, and compares what each wrote and whether it closed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from antechamber import http_protocol
from antechamber.cli import server as server_cli
from antechamber.http_protocol import CoalescingHttpToolsProtocol
from tests.conftest import bound_socket, serving

App = Callable[..., Any]


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        if data:  # asyncio's transports send nothing for an empty write
            self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )


def exchange(
    protocol_class: type[HttpToolsProtocol],
    app: App,
    *chunks: bytes,
    disconnect_after: float | None = None,
) -> Transport:
    """Feed `chunks` (one data_received each) to a protocol and run until its tasks finish."""

    async def run() -> Transport:
        config = Config(app=app, log_config=None, access_log=False, lifespan="off")
        config.load()
        state = ServerState()
        protocol = protocol_class(config=config, server_state=state, app_state={})
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        for chunk in chunks:
            protocol.data_received(chunk)
            await asyncio.sleep(0)
        if disconnect_after is not None:
            await asyncio.sleep(disconnect_after)
            protocol.connection_lost(None)
        while state.tasks:
            await asyncio.wait(set(state.tasks))
        for _ in range(3):  # let a call_soon flush run
            await asyncio.sleep(0)
        protocol._unset_keepalive_if_required()
        return transport

    return asyncio.run(run())


def both(app: App, *chunks: bytes, **kw: Any) -> tuple[Transport, Transport]:
    theirs = exchange(HttpToolsProtocol, app, *chunks, **kw)
    ours = exchange(CoalescingHttpToolsProtocol, app, *chunks, **kw)
    assert b"".join(ours.writes) == b"".join(theirs.writes)
    assert ours.closed == theirs.closed
    return theirs, ours


async def _json(_: Request) -> Response:
    return JSONResponse({"ok": True, "n": [1, 2, 3]}, headers={"x-request-id": "abc"})


async def _stream(_: Request) -> Response:
    async def parts() -> Any:
        yield b"one,"
        yield b"two,"
        yield b"three"

    return StreamingResponse(parts(), media_type="text/plain")


async def _no_content(_: Request) -> Response:
    return Response(status_code=204)


async def _not_modified(_: Request) -> Response:
    return Response(status_code=304, headers={"etag": '"x"'})


async def _empty(_: Request) -> Response:
    return Response(b"", media_type="text/plain")


async def _boom(_: Request) -> Response:
    raise RuntimeError("boom")


async def _echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


ROUTES = Starlette(
    routes=[
        Route("/json", _json, methods=["GET", "HEAD", "POST"]),
        Route("/stream", _stream),
        Route("/204", _no_content),
        Route("/304", _not_modified),
        Route("/empty", _empty),
        Route("/boom", _boom),
        Route("/echo", _echo, methods=["POST"]),
    ]
)


def get(path: str, method: str = "GET", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return f"{method} {path} HTTP/".encode() + version + b"\r\nhost: x\r\n" + extra + b"\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/json"),
        get("/json", "POST", b"content-length: 0\r\n"),
        get("/204"),
        get("/304"),
        get("/empty"),
        get("/missing"),  # starlette's 404
        get("/json", "DELETE"),  # 405
        get("/boom"),  # an app error: starlette's 500
        get("/json", extra=b"connection: close\r\n"),
        get("/json", version=b"1.0"),
    ],
)
def test_an_ordinary_response_is_uvicorns_bytes_in_one_write(request_bytes: bytes) -> None:
    theirs, ours = both(ROUTES, request_bytes)
    assert len(ours.writes) == 1
    empty_body = ours.writes[0].endswith(b"\r\n\r\n")  # uvicorn's b"" body is no send()
    assert len(theirs.writes) == (1 if empty_body else 2)


def test_head_is_written_at_once_as_uvicorn_does() -> None:
    theirs, ours = both(ROUTES, get("/json", "HEAD"))
    assert ours.writes == theirs.writes
    assert len(ours.writes) == 1
    assert b"content-length: 23" in ours.writes[0]


def test_head_without_keep_alive_is_written_before_the_close() -> None:
    theirs, ours = both(ROUTES, get("/json", "HEAD", b"connection: close\r\n"))
    assert ours.writes == theirs.writes
    assert ours.closed


def test_a_streamed_response_puts_its_head_with_the_first_part_only() -> None:
    theirs, ours = both(ROUTES, get("/stream"))
    assert b"transfer-encoding: chunked" in ours.writes[0]
    assert len(ours.writes) == len(theirs.writes) - 1
    assert ours.writes[1:] == theirs.writes[2:]


def test_a_head_whose_body_comes_later_goes_out_within_the_loop_iteration() -> None:
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.05)  # e.g. a stream waiting for its first event
        if transport_of:  # ours
            seen.append(len(transport_of[0].writes))
        await send({"type": "http.response.body", "body": b"late", "more_body": False})

    transport_of: list[Transport] = []

    class Spy(CoalescingHttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            transport_of.append(transport)
            super().connection_made(transport)

    theirs = exchange(HttpToolsProtocol, app, get("/"))
    ours = exchange(Spy, app, get("/"))
    assert seen == [1]  # the head was on the wire before the body was sent
    assert ours.writes == theirs.writes


def test_100_continue_goes_out_at_once_and_the_answer_is_unchanged() -> None:
    head = get("/echo", "POST", b"expect: 100-continue\r\ncontent-length: 5\r\n")
    theirs, ours = both(ROUTES, head, b"hello")
    assert ours.writes[0] == theirs.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(ours.writes) == 2
    assert ours.writes[1].endswith(b"hello")


def test_pipelined_requests_are_answered_in_order() -> None:
    theirs, ours = both(ROUTES, get("/json") + get("/204") + get("/json", "HEAD") + get("/json"))
    assert len(ours.writes) == 4
    assert len(theirs.writes) == 6
    assert [w.split(b" ", 2)[1] for w in ours.writes] == [b"200", b"204", b"200", b"200"]


def test_an_app_that_raises_after_the_start_gets_the_head_then_a_close() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("after start")

    theirs, ours = both(app, get("/"))
    assert ours.closed
    assert ours.writes == theirs.writes
    assert len(ours.writes) == 1


def test_an_app_that_returns_without_a_body_gets_the_head_then_a_close() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]}
        )

    theirs, ours = both(app, get("/"))
    assert ours.closed
    assert ours.writes == theirs.writes


def test_a_body_longer_than_its_content_length_fails_as_in_uvicorn() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"too long"})

    theirs, ours = both(app, get("/"))
    assert ours.closed
    assert ours.writes == theirs.writes


def test_a_bytes_like_body_is_written_as_uvicorn_writes_it() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"6")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": memoryview(b"abc"), "more_body": True})
        await send({"type": "http.response.body", "body": bytearray(b"def")})

    theirs, ours = both(app, get("/"))
    assert len(ours.writes) == len(theirs.writes) - 1 == 2


def test_an_app_raising_before_the_start_gets_uvicorns_500_in_one_write() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("before start")

    _theirs, ours = both(app, get("/"))
    assert ours.closed
    assert len(ours.writes) == 1
    assert ours.writes[0].startswith(b"HTTP/1.1 500")


def test_a_client_that_disconnects_before_the_response_gets_nothing() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x"})

    theirs, ours = both(app, get("/"), disconnect_after=0.01)
    assert ours.writes == theirs.writes == []


def test_the_fast_path_is_taken_on_the_installed_uvicorn() -> None:
    assert http_protocol.self_check()
    chosen = http_protocol.http_protocol()
    assert chosen == "antechamber.http_protocol:CoalescingHttpToolsProtocol"
    config = Config(app=ROUTES, http=chosen, log_config=None)
    config.load()
    assert config.http_protocol_class is CoalescingHttpToolsProtocol
    assert len(exchange(config.http_protocol_class, ROUTES, get("/json")).writes) == 1


def test_a_changed_uvicorn_falls_back_to_its_own_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    class Changed:  # e.g. a cycle that no longer takes these arguments
        def __init__(self, **_: Any) -> None:
            raise TypeError("unexpected keyword argument")

    monkeypatch.setattr(http_protocol, "RequestResponseCycle", Changed)
    monkeypatch.setattr(http_protocol, "_CHOICE", None)
    assert not http_protocol.self_check()
    assert http_protocol.http_protocol() == "auto"


def test_without_httptools_uvicorns_own_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_protocol, "_IMPORTED", False)
    monkeypatch.setattr(http_protocol, "_CHOICE", None)
    assert http_protocol.http_protocol() == "auto"


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_uses_it_with_one_worker_or_several(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(server_cli.uvicorn, "run", lambda app, **options: seen.append(options))
    monkeypatch.setattr(server_cli, "serve_workers", lambda config: seen.append(config))
    server_cli._serve(server_cli.load_settings(), workers)  # type: ignore[attr-defined]
    http = seen[0]["http"] if workers == 1 else seen[0].http
    assert http == "antechamber.http_protocol:CoalescingHttpToolsProtocol"


@pytest.fixture
def live_server() -> Iterator[int]:
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    config = Config(
        app=ROUTES, port=port, http=http_protocol.http_protocol(), log_config=None, lifespan="off"
    )
    with serving(config, sock):
        yield port


def test_a_real_server_answers_keep_alive_and_pipelined_requests(live_server: int) -> None:
    with socket.create_connection(("127.0.0.1", live_server), timeout=5) as conn:
        conn.sendall(get("/json") + get("/json", "HEAD") + get("/204"))
        got = b""
        while got.count(b"HTTP/1.1 ") < 3 or not got.endswith(b"\r\n\r\n"):
            got += conn.recv(65536)
        conn.sendall(get("/stream", extra=b"connection: close\r\n"))
        while chunk := conn.recv(65536):
            got += chunk
    assert got.count(b"HTTP/1.1 200 OK") == 3
    assert b"HTTP/1.1 204 No Content" in got
    assert got.endswith(b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n")
