"""HTTP/1.1 keep-alive clients for the virtual users.

Two interchangeable clients, one connection per virtual user (a keep-alive pool of N
connections for N users, as N SDK instances or browsers would hold):

- `RawClient` (default): a minimal HTTP/1.1 client on an asyncio Protocol. It speaks exactly
  what the two servers under test answer (Content-Length or chunked bodies, keep-alive) and
  costs about 0.04–0.07 ms of client CPU per request on the 2-core benchmark machine
  (`python -m bench.client_micro`; a third less than the asyncio streams client it replaced).
- `HttpxClient`: httpx's AsyncClient. Measured on the same machine it costs about 1 ms of
  client CPU per request (anyio + h11 + the pool's bookkeeping), which caps a 2-core machine
  below 1,000 requests/s whatever the server does: the driver, not the server, would be the
  bottleneck, and at one user it adds about a millisecond to every latency it reports. It
  stays as `--client httpx` so anyone can repeat the comparison (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, NamedTuple, Protocol, cast
from urllib.parse import urlsplit

import orjson

REQUEST_TIMEOUT_S = 30.0
#: A connection checks its request's deadline this many times per REQUEST_TIMEOUT_S (one
#: timer a connection, rescheduled while it is open, not one timer armed and cancelled per
#: request, which cost uvloop ~2.7 µs a request): a request gives up between
#: REQUEST_TIMEOUT_S and REQUEST_TIMEOUT_S × (1 + 1/TIMEOUT_CHECKS) after it started.
TIMEOUT_CHECKS = 30


class Response(NamedTuple):
    """A status and a body (a named tuple: made once per request, cheaper than a frozen
    dataclass's `__init__`)."""

    status: int
    body: bytes

    def json(self) -> Any:
        # orjson, not the standard library: a check's answer is about 5 kB, which json.loads
        # takes ~50 µs of the driver's CPU to parse and orjson ~6 (the driver shares the
        # machine's two cores with the server; docs/performance.md, "Keeping the driver out of
        # the way"). orjson's JSONDecodeError is a ValueError, as json's is.
        return orjson.loads(self.body) if self.body else None


def _response(status: int, body: bytes) -> Response:
    # tuple.__new__ itself: a named tuple's own __new__ is Python code, a frame a request
    # (callgrind: ~1.2 k of a check's ~45 k instructions)
    return tuple.__new__(Response, (status, body))


class HttpError(Exception):
    """The connection failed or the server answered with something that is not HTTP/1.1."""


class Client(Protocol):
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response: ...

    async def close(self) -> None: ...


#: The longest response head this client reads (the servers under test send under 1 kB).
MAX_HEAD = 64 * 1024
#: Response heads already read, by their exact bytes: (status, Content-Length or -1, chunked,
#: close after). A server's answers to one route differ in their head by the Date line, once a
#: second, if at all: a lookup instead of splitting and comparing every header line.
_HEADS: dict[bytes, tuple[int, int, bool, bool]] = {}
HEADS_KEPT = 256


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection. The answer is parsed from the bytes as they arrive, in
    `data_received`, and handed to the waiting request through one future: no stream reader,
    and no await per line or per body as on asyncio streams (each costs the driver a future
    and a wake-up of the task; docs/performance.md, "Keeping the driver out of the way")."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.lost = False
        # the loop the connection lives on, kept: asyncio.get_running_loop() costs a getpid()
        # system call on CPython 3.11, and it was called once a request
        self.loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        # when the request in flight gives up (loop time), checked by `_check_deadline`
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        # the answer being read: its status (-1 before its head), where its body starts,
        # its Content-Length (-1: none), whether it is chunked and whether the server closes
        self.status = -1
        self.body_start = 0
        self.length = -1
        self.chunked = False
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._check_deadline()

    def _check_deadline(self) -> None:
        """Fail the request in flight once past its deadline; again in a while, until the
        connection is lost."""
        if self.lost:
            return
        waiter = self.waiter
        if waiter is not None and self.loop.time() >= self.deadline:
            self.waiter = None
            _expire(waiter)
        self.timer = self.loop.call_later(REQUEST_TIMEOUT_S / TIMEOUT_CHECKS, self._check_deadline)

    def send(self, data: bytes, waiter: asyncio.Future[Response], deadline: float) -> None:
        assert self.transport is not None
        self.status = -1
        self.waiter = waiter
        self.deadline = deadline
        self.transport.write(data)
        if self.buf:  # bytes the server sent unasked are read as this answer, as a stream would
            self.data_received(b"")

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if not self.buf and self.status < 0 and waiter is not None and not waiter.done():
            # The usual read: a whole answer, nothing kept before it. Parsed from `data`
            # itself, not copied into the buffer first (then the body out of it twice). Kept
            # apart from `_parse`: one parser over both (a buffer or the read, returning what
            # it used) cost 2.9 k more instructions a check c (46.8 k against 43.9 k,
            # callgrind, one user), a fifteenth of the driver's.
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                try:
                    self._head(data[:end])
                except (HttpError, ValueError):
                    pass  # the error is raised below, from the buffer, as for any answer
                else:
                    self.body_start = start = end + 4
                    stop = start + self.length
                    if not self.chunked and self.length >= 0 and len(data) >= stop:
                        if len(data) > stop:  # bytes sent unasked: kept for the next request
                            self.buf += data[stop:]
                        self.waiter = None
                        waiter.set_result(_response(self.status, data[start:stop]))
                        return
                    # the rest of the answer is to come: read on from the buffer
        self.buf += data
        if waiter is None or waiter.done():
            return
        try:
            response = self._parse()
        except (HttpError, ValueError) as exc:
            waiter.set_exception(exc if isinstance(exc, HttpError) else HttpError(str(exc)))
            return
        if response is not None:
            self.waiter = None
            waiter.set_result(response)

    def _parse(self) -> Response | None:
        buf = self.buf
        if self.status < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise HttpError("response head too long")
                return None
            self._head(bytes(buf[:end]))
            self.body_start = end + 4
        if self.chunked:
            return self._chunked()
        if self.length >= 0:
            stop = self.body_start + self.length
            if len(buf) < stop:
                return None
            body = bytes(buf[self.body_start : stop])
            del buf[:stop]
            return Response(self.status, body)
        return None  # the body ends when the server closes (connection_lost)

    def _head(self, head: bytes) -> None:
        known = _HEADS.get(head)
        if known is not None:  # the same head as an earlier answer's: the same reading
            self.status, self.length, self.chunked, self.close_after = known
            return
        status_line, _, header_block = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP/1.x response: {status_line[:60]!r}")
        status = int(parts[1])
        self.length = -1
        self.chunked = False
        self.close_after = parts[0] == b"HTTP/1.0"
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.length = int(value)
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif name == b"connection":
                self.close_after = value.strip().lower() == b"close"
        if not self.chunked and self.length < 0:
            self.close_after = True
        self.status = status
        if len(_HEADS) >= HEADS_KEPT:
            _HEADS.clear()
        _HEADS[head] = (status, self.length, self.chunked, self.close_after)

    def _chunked(self) -> Response | None:
        """The whole chunked body once it is all in (read again from its start as bytes come:
        no answer of these servers is chunked in more than a few pieces)."""
        buf = self.buf
        pos = self.body_start
        chunks: list[bytes] = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            if size == 0:
                end = buf.find(b"\r\n", eol + 2)  # no trailers are sent by these servers
                if end < 0:
                    return None
                del buf[: end + 2]
                return Response(self.status, b"".join(chunks))
            start = eol + 2
            if len(buf) < start + size + 2:
                return None
            chunks.append(bytes(buf[start : start + size]))
            pos = start + size + 2

    def eof_received(self) -> bool:
        return False  # the transport closes, and connection_lost ends the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.closed.done():
            self.closed.set_result(None)
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if exc is None and self.status >= 0 and not self.chunked and self.length < 0:
            waiter.set_result(Response(self.status, bytes(self.buf[self.body_start :])))
        elif exc is None:
            waiter.set_exception(asyncio.IncompleteReadError(bytes(self.buf), None))
        elif isinstance(exc, ConnectionError):
            waiter.set_exception(exc)
        else:
            waiter.set_exception(ConnectionResetError(str(exc)))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class RawClient:
    """One keep-alive connection to `base_url`, reopened when the server closes it."""

    def __init__(self, base_url: str, default_headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the raw client speaks plain http:// to a loopback server only")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = f"{self.host}:{self.port}"
        self.default_headers = default_headers or {}
        # The head's lines after the request line when a request adds no headers of its own
        # (every one of the scenarios' requests but the peer's): built once, not per request.
        self._default_lines = "".join(
            f"{name}: {value}\r\n"
            for name, value in {"Host": self.host_header, **self.default_headers}.items()
        )
        self._conn: _Connection | None = None
        self._last_key: tuple[str, str, bytes, tuple[tuple[str, str], ...]] | None = None
        self._last_data = b""

    async def _connect(self) -> _Connection:
        conn = self._conn
        if conn is None or conn.lost:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
            self._conn = conn
        return conn

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = b"" if json is None else orjson.dumps(json)
        # A virtual user sends the same request again and again (a check: the same token):
        # the same method, path, body bytes and headers are the same request bytes, kept from
        # the last one (one comparison instead of building and encoding the head again).
        key = (method, path, body, tuple(headers.items()) if headers else ())
        if key == self._last_key:
            data = self._last_data
        else:
            data = self._encode(method, path, json, headers, body)
            self._last_key, self._last_data = key, data
        # A keep-alive connection the server closed while idle fails on first use; one retry
        # on a fresh connection is what every HTTP client does. Both servers under test close
        # idle connections only after several seconds, so this is rare.
        # The exchange is written out here, not in a coroutine of its own: one coroutine less
        # to create, start and resume on every request.
        for attempt in (1, 2):
            try:
                conn = self._conn
                if conn is None or conn.lost:
                    # One deadline for the whole exchange, connecting included.
                    deadline = asyncio.get_running_loop().time() + REQUEST_TIMEOUT_S
                    async with asyncio.timeout_at(deadline):
                        conn = await self._connect()
                else:
                    deadline = conn.loop.time() + REQUEST_TIMEOUT_S
                waiter: asyncio.Future[Response] = conn.loop.create_future()
                conn.send(data, waiter, deadline)
                response = await waiter
                if conn.close_after:
                    self._abandon()
                return response
            except (ConnectionError, asyncio.IncompleteReadError, HttpError):
                self._abandon()
                if attempt == 2:
                    raise
            except BaseException:
                # Timed out or cancelled mid-exchange (an open-loop window ending with flows
                # in flight): the connection may still carry this request's answer, which the
                # next request would read as its own. It is closed, not reused.
                self._abandon()
                raise
        raise AssertionError("unreachable")

    def _encode(
        self,
        method: str,
        path: str,
        json: Any,
        headers: dict[str, str] | None,
        body: bytes,
    ) -> bytes:
        if headers:
            lines = "".join(
                f"{name}: {value}\r\n"
                for name, value in {
                    "Host": self.host_header,
                    **self.default_headers,
                    **headers,
                }.items()
            )
        else:
            lines = self._default_lines
        if json is not None:
            lines += "Content-Type: application/json\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            lines += f"Content-Length: {len(body)}\r\n"
        return f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1") + body

    def _abandon(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await asyncio.shield(conn.closed)


class HttpxClient:
    """The same interface over httpx (one pooled connection per virtual user)."""

    def __init__(self, base_url: str, default_headers: dict[str, str] | None = None) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=default_headers,
            timeout=REQUEST_TIMEOUT_S,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        r = await self._client.request(method, path, json=json, headers=headers)
        return Response(r.status_code, r.content)

    async def close(self) -> None:
        await self._client.aclose()


def make_client(kind: str, base_url: str, default_headers: dict[str, str] | None = None) -> Client:
    if kind == "httpx":
        return HttpxClient(base_url, default_headers)
    return RawClient(base_url, default_headers)
