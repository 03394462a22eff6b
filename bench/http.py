"""HTTP/1.1 keep-alive clients for the virtual users.

Two interchangeable clients, one connection per virtual user (a keep-alive pool of N
connections for N users, as N SDK instances or browsers would hold):

- `RawClient` (default): a minimal HTTP/1.1 client on asyncio streams. It speaks exactly what
  the two servers under test answer (Content-Length or chunked bodies, keep-alive) and costs
  under 0.1 ms of client CPU per request on the 2-core benchmark machine.
- `HttpxClient`: httpx's AsyncClient. Measured on the same machine it costs about 1 ms of
  client CPU per request (anyio + h11 + the pool's bookkeeping), which caps a 2-core machine
  below 1,000 requests/s whatever the server does: the driver, not the server, would be the
  bottleneck, and at one user it adds about a millisecond to every latency it reports. It
  stays as `--client httpx` so anyone can repeat the comparison (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        # orjson, not the standard library: a check's answer is about 5 kB, which json.loads
        # takes ~50 µs of the driver's CPU to parse and orjson ~6 (the driver shares the
        # machine's two cores with the server; docs/performance.md, "Keeping the driver out of
        # the way"). orjson's JSONDecodeError is a ValueError, as json's is.
        return orjson.loads(self.body) if self.body else None


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
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = b"" if json is None else orjson.dumps(json)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        for name, value in {**self.default_headers, **(headers or {})}.items():
            lines.append(f"{name}: {value}")
        if json is not None:
            lines.append("Content-Type: application/json")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # A keep-alive connection the server closed while idle fails on first use; one retry
        # on a fresh connection is what every HTTP client does. Both servers under test close
        # idle connections only after several seconds, so this is rare.
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    return await self._exchange(head + body)
            except (ConnectionError, asyncio.IncompleteReadError, HttpError):
                await self._drop()
                if attempt == 2:
                    raise
            except BaseException:
                # Timed out or cancelled mid-exchange (an open-loop window ending with flows
                # in flight): the connection may still carry this request's answer, which the
                # next request would read as its own. It is closed, not reused.
                self._abandon()
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, data: bytes) -> Response:
        reader, writer = await self._connect()
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP/1.x response: {status_line[:60]!r}")
        status = int(parts[1])
        length = -1
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await self._read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length)
        else:
            body = await reader.read()  # body ends when the server closes
            close = True
        if close:
            await self._drop()
        return Response(status, body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        for _ in range(1_000_000):  # bounded: no response here has a million chunks
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are sent by these servers
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        raise HttpError("too many chunks")

    def _abandon(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        await self._drop()


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
