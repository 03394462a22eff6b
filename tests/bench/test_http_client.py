"""The benchmark driver's HTTP/1.1 client (`bench.http.RawClient`) against scripted servers:
the answer forms the servers under test send, keep-alive, and the retry and abandon rules
(a request never reads another's answer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from bench import http

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop] | None] = {"asyncio": None}
try:
    import uvloop

    LOOPS["uvloop"] = uvloop.new_event_loop  # the driver's loop
except ImportError:  # pragma: no cover
    pass
_loop: list[Callable[[], asyncio.AbstractEventLoop] | None] = [None]


@pytest.fixture(autouse=True, params=sorted(LOOPS))
def event_loop_kind(request: pytest.FixtureRequest) -> None:
    _loop[0] = LOOPS[request.param]


async def _request_of(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, body) of the next request on the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


def _answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _run(handler: Handler, client_steps: Callable[[str], Awaitable[Any]]) -> tuple[Any, int]:
    """Serve `handler` on a loopback port, run `client_steps(base_url)`; (its result, the
    number of connections the server accepted)."""

    async def main() -> tuple[Any, int]:
        accepted = 0

        async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(counting, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            result = await client_steps(f"http://127.0.0.1:{port}")
        return result, accepted

    with asyncio.Runner(loop_factory=_loop[0]) as runner:
        return runner.run(main())


async def _get_twice(base: str) -> list[bytes]:
    """Two GETs of `/` on one client: the bodies."""
    client = http.RawClient(base)
    bodies = [(await client.request("GET", "/")).body for _ in range(2)]
    await client.close()
    return bodies


def test_keep_alive_headers_and_json_body() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await _request_of(reader)
            seen.append((head, body))
            writer.write(_answer(b'{"n": %d}' % len(seen)))

    async def steps(base: str) -> list[Any]:
        client = http.RawClient(base, {"Authorization": "Basic eA==", "X-A": "1"})
        first = await client.request("POST", "/v1/x", json={"a": 1})
        second = await client.request("GET", "/v1/y", headers={"X-A": "2", "X-B": "3"})
        await client.close()
        return [first.status, first.json(), second.json()]

    result, connections = _run(handler, steps)
    assert result == [200, {"n": 1}, {"n": 2}]
    assert connections == 1
    post, get = seen
    assert post[0].startswith(b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nAuthorization: Basic eA==\r\nX-A: 1\r\n" in post[0]
    assert b"\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n" in post[0]
    assert orjson.loads(post[1]) == {"a": 1}
    # a request's own header replaces the default of the same name; a GET has no body
    assert get[0].startswith(b"GET /v1/y HTTP/1.1\r\n")
    assert b"X-A: 2\r\n" in get[0]
    assert b"X-A: 1" not in get[0]
    assert b"X-B: 3\r\n" in get[0]
    assert b"Content-Length" not in get[0]
    assert get[1] == b""


def test_chunked_answer_arriving_in_pieces() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await _request_of(reader)
            pieces = [
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n",
                b"\r\n5\r\nhel",
                b"lo\r\n6;ext=1\r\n world\r",
                b"\n0\r\n",
                b"\r\n",
            ]
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)

    result, connections = _run(handler, _get_twice)
    assert result == [b"hello world", b"hello world"]
    assert connections == 1


def test_answer_ending_at_close_and_connection_close() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await _request_of(reader)
        if b"GET /until-close" in head:
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of ")
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(b"it")
        else:
            writer.write(_answer(b"bye", b"Connection: close\r\n"))
        await writer.drain()

    async def steps(base: str) -> list[bytes]:
        client = http.RawClient(base)
        bodies = [(await client.request("GET", path)).body for path in ("/until-close", "/x")]
        bodies.append((await client.request("GET", "/x")).body)
        await client.close()
        return bodies

    result, connections = _run(handler, steps)
    assert result == [b"all of it", b"bye", b"bye"]
    assert connections == 3  # each answer closed its connection: a new one for the next


def test_a_connection_closed_while_idle_is_retried_once_on_a_new_one() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request_of(reader)
        writer.write(_answer(b"ok"))  # keep-alive, then the server closes it while idle
        await writer.drain()

    async def steps(base: str) -> list[bytes]:
        client = http.RawClient(base)
        first = await client.request("GET", "/")
        await asyncio.sleep(0.05)
        second = await client.request("GET", "/")
        await client.close()
        return [first.body, second.body]

    result, connections = _run(handler, steps)
    assert result == [b"ok", b"ok"]
    assert connections == 2


def test_not_http_is_an_error_after_one_retry() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request_of(reader)
        writer.write(b"SSH-2.0-nope\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def steps(base: str) -> str:
        client = http.RawClient(base)
        try:
            await client.request("GET", "/")
        except http.HttpError as exc:
            return str(exc)
        finally:
            await client.close()
        return "no error"

    result, connections = _run(handler, steps)
    assert result.startswith("not an HTTP/1.x response")
    assert connections == 2


@pytest.mark.parametrize("how", ["timeout", "cancel"])
def test_an_abandoned_exchange_never_hands_its_answer_to_the_next_request(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 0.2)
    answered = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        while True:
            head, _ = await _request_of(reader)
            if b"/slow" in head:
                await asyncio.sleep(0.4)  # answers after the client gave up
            answered += 1
            writer.write(_answer(head.split(b" ")[1]))
            await writer.drain()

    async def steps(base: str) -> list[str]:
        client = http.RawClient(base)
        outcome = []
        try:
            if how == "timeout":
                await client.request("GET", "/slow")
            else:
                async with asyncio.timeout(0.1):
                    await client.request("GET", "/slow")
        except TimeoutError:
            outcome.append("gave up")
        outcome.append((await client.request("GET", "/fast")).body.decode())
        await asyncio.sleep(0.5)
        outcome.append((await client.request("GET", "/again")).body.decode())
        await client.close()
        return outcome

    result, connections = _run(handler, steps)
    assert result == ["gave up", "/fast", "/again"]
    assert connections == 2


def test_httpx_client_speaks_the_same_interface() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, body = await _request_of(reader)
            writer.write(_answer(body))
            await writer.drain()

    async def steps(base: str) -> list[Any]:
        client = http.make_client("httpx", base)
        answer = await client.request("POST", "/", json={"a": [1, 2]})
        await client.close()
        return [answer.status, answer.json()]

    result, _ = _run(handler, steps)
    assert result == [200, {"a": [1, 2]}]


def test_a_hung_server_times_out_on_the_connections_periodic_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timer per request: each connection checks its request's deadline TIMEOUT_CHECKS
    times per REQUEST_TIMEOUT_S. A request to a server that never answers still gives up,
    after REQUEST_TIMEOUT_S and before a check period more, also on a connection that sat
    idle for several periods first; the answers before it are not cut short."""
    monkeypatch.setattr(http, "REQUEST_TIMEOUT_S", 0.3)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await _request_of(reader)
            if b"/hang" in head:
                await asyncio.sleep(5)
            elif b"/slowish" in head:
                await asyncio.sleep(0.2)  # under the timeout: answered
            writer.write(_answer(b"ok"))
            await writer.drain()

    async def steps(base: str) -> list[Any]:
        client = http.RawClient(base)
        outcome: list[Any] = [(await client.request("GET", "/slowish")).body]
        await asyncio.sleep(0.5)  # idle: the connection's checks find no request
        outcome.append((await client.request("GET", "/")).body)
        started = time.perf_counter()
        try:
            await client.request("GET", "/hang")
        except TimeoutError:
            outcome.append(round(time.perf_counter() - started, 2))
        await client.close()
        return outcome

    result, connections = _run(handler, steps)
    assert result[:2] == [b"ok", b"ok"]
    assert 0.3 <= result[2] <= 0.3 * (1 + 1 / http.TIMEOUT_CHECKS) + 0.1
    assert connections == 1


def test_a_repeated_request_is_sent_as_the_same_bytes_and_a_changed_one_anew() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await _request_of(reader))
            writer.write(_answer(b"{}"))

    async def steps(base: str) -> None:
        client = http.RawClient(base, {"Authorization": "Basic eA=="})
        for json, headers in [
            ({"session_token": "a"}, None),
            ({"session_token": "a"}, None),
            ({"session_token": "b"}, None),
            ({"session_token": True}, None),
            ({"session_token": 1}, None),  # equal to True in Python, not on the wire
            ({"session_token": "b"}, {"X-A": "1"}),
            ({"session_token": "b"}, {"X-A": "2"}),
            ({"session_token": "b"}, {"X-A": "2"}),
        ]:
            await client.request("POST", "/v1/x", json=json, headers=headers)
        await client.request("POST", "/v1/y", json={"session_token": "b"}, headers={"X-A": "2"})
        await client.close()

    _run(handler, steps)
    bodies = [body for _, body in seen]
    assert bodies[:5] == [b'{"session_token":"a"}'] * 2 + [
        b'{"session_token":"b"}',
        b'{"session_token":true}',
        b'{"session_token":1}',
    ]
    assert seen[0] == seen[1]
    assert [b"X-A: 2" in head for head, _ in seen[5:]] == [False, True, True, True]
    assert seen[6] == seen[7]
    assert seen[8][0].startswith(b"POST /v1/y ")


def test_bytes_sent_unasked_after_an_answer_are_the_next_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request_of(reader)
        writer.write(_answer(b"one") + _answer(b"two"))  # one read holds both
        await _request_of(reader)
        await asyncio.sleep(1)  # the second request is not answered

    result, connections = _run(handler, _get_twice)
    assert result == [b"one", b"two"]
    assert connections == 1
