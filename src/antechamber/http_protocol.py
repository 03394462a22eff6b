"""uvicorn's httptools protocol, with each response's head and first body part in one send().

uvicorn 0.55's `RequestResponseCycle.send` writes a response's head (status line and headers)
in one `transport.write` and each body part in another: two send() syscalls on the socket per
ordinary response, each ~30 µs of CPU on a loopback in a VM. Here the cycle's transport is a
small proxy that holds the head and writes it joined to the next write, so the bytes on the
wire are uvicorn's own, in the same order, in one send() for a response whose first body part
follows its head (every JSON or HTML answer of this app).

Contract (what the proxy guarantees, whatever the app does):
- the bytes written are exactly uvicorn's, in uvicorn's order; only the grouping changes;
- the head is never held past the current event loop iteration (a call_soon flushes it), so a
  streaming response whose first part comes later still gets its head at once;
- the held head goes out before anything else touches the connection: a later write, a close
  (an app that raises or returns after `http.response.start`, `connection: close`), or the end
  of the send that completed the response;
- HEAD responses (no body written) and `100 Continue` (written by `receive` before the
  response starts) are written as uvicorn writes them, never held.

It relies on uvicorn's private internals: the `RequestResponseCycle` class, its `transport`
attribute and `send` method. `http_protocol()` checks them once per process by running a canned
response through both uvicorn's cycle and ours against recording transports and comparing the
bytes; if anything is not as expected (another uvicorn, no httptools), the server runs
uvicorn's own protocol ("auto"). tests/test_http_protocol.py fails if the fast path is not
taken on the installed uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from antechamber import in_flight

logger = logging.getLogger(__name__)

# Above this, a body part is written on its own rather than copied behind the head: the copy
# would cost more than the send() it saves.
_JOIN_LIMIT = 64 * 1024

FALLBACK = "auto"  # uvicorn's own choice: httptools if installed, else h11
_FAST = "antechamber.http_protocol:CoalescingHttpToolsProtocol"


class _HeadHolder:
    """The transport a coalescing cycle writes to: the write made while `holding` (the head)
    is kept and prefixed to the next write; `close` and `flush` write it first."""

    __slots__ = ("held", "holding", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        # The protocol's loop, kept: `asyncio.get_running_loop()` costs a getpid() syscall per
        # call on CPython 3.11.
        self.loop = loop
        self.holding = False
        self.held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self.holding:
            self.holding = False
            self.held = data
            return
        held = self.held
        if held is not None:
            self.held = None
            if len(data) <= _JOIN_LIMIT:
                data = b"".join((held, data))  # any bytes-like body, as transport.write takes
            else:
                self.transport.write(held)
        self.transport.write(data)

    def flush(self) -> None:
        """Write the held head, if any (idempotent)."""
        self.holding = False
        held = self.held
        if held is not None:
            self.held = None
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # anything else uvicorn may ask of a transport
        return getattr(self.transport, name)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
except ImportError:  # no httptools (or another uvicorn layout): uvicorn's own protocol
    _IMPORTED = False
else:
    _IMPORTED = True

    class _CoalescingCycle(RequestResponseCycle):
        """uvicorn's cycle; its `transport` is a `_HeadHolder` (set by the protocol)."""

        async def send(self, message: Any) -> None:
            holder: _HeadHolder = self.transport  # type: ignore[assignment]
            if self.response_started or self.scope["method"] == "HEAD":
                try:
                    await super().send(message)
                finally:
                    if self.response_complete:
                        holder.flush()
                return
            holder.holding = True  # the head, if this message is a valid start
            try:
                await super().send(message)
            finally:
                holder.holding = False  # a start that raised before writing holds nothing
            if holder.held is not None:
                # The body normally follows in this same task step; if not, the head goes out
                # at the next loop iteration, as a streaming response's would.
                holder.loop.call_soon(holder.flush)

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's `HttpToolsProtocol`, each request's cycle a `_CoalescingCycle`; the
        worker's requests in flight (uvicorn's tasks of them) are `in_flight`'s."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            in_flight.serving(self.tasks)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = self.cycle
            # A new cycle is uvicorn's exact class; an upgrade leaves the previous one (ours).
            if type(cycle) is RequestResponseCycle:
                cycle.__class__ = _CoalescingCycle
                cycle.transport = _HeadHolder(cycle.transport, self.loop)  # type: ignore[assignment]


class _Recorder:
    """A transport that records writes, for the self-check."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _drive(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends (a cycle's send without flow control)."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("send suspended")


def _run_canned(coalescing: bool) -> tuple[list[bytes], bool]:
    from uvicorn.protocols.http.flow_control import FlowControl

    recorder = _Recorder()
    loop = asyncio.get_running_loop()
    transport: Any = _HeadHolder(recorder, loop) if coalescing else recorder  # type: ignore[arg-type]
    cycle = RequestResponseCycle(
        scope={"type": "http", "method": "GET", "http_version": "1.1", "headers": []},  # type: ignore[typeddict-item]
        transport=transport,
        flow=FlowControl(recorder),  # type: ignore[arg-type]
        logger=logger,
        access_logger=logger,
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=False,
        on_response=lambda: None,
    )
    if coalescing:
        cycle.__class__ = _CoalescingCycle
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    _drive(cycle.send({"type": "http.response.start", "status": 200, "headers": headers}))
    # No loop iteration runs in between: the call_soon flush must not be needed.
    if coalescing and (not isinstance(transport, _HeadHolder) or transport.held is None):
        raise RuntimeError("the head was not held")
    _drive(cycle.send({"type": "http.response.body", "body": b"{}", "more_body": False}))
    return recorder.writes, recorder.closed


def self_check() -> bool:
    """Whether the installed uvicorn's cycle behaves as this module expects: a canned response
    through our cycle is uvicorn's bytes in one write, then the close (keep-alive off)."""
    if not _IMPORTED:
        return False
    loop = asyncio.new_event_loop()  # our send asks for the running loop (outside any loop)
    try:
        (theirs, their_close), (ours, our_close) = loop.run_until_complete(_both())
    except Exception:
        ours, our_close, theirs, their_close = [], False, [], False
    finally:
        loop.close()
    if ours == [b"".join(theirs)] and len(theirs) == 2 and our_close and their_close:
        return True
    logger.warning("uvicorn's internals are not as expected; using its own HTTP protocol")
    return False


async def _both() -> tuple[tuple[list[bytes], bool], tuple[list[bytes], bool]]:
    return _run_canned(coalescing=False), _run_canned(coalescing=True)


_CHOICE: str | None = None


def http_protocol() -> str:
    """uvicorn's `http` option: this module's protocol when the self-check passes, else
    uvicorn's own ("auto"). Checked once per process; an import string, so it pickles to
    workers, each of which loads (and so imports) this module."""
    global _CHOICE
    if _CHOICE is None:
        _CHOICE = _FAST if self_check() else FALLBACK
    return _CHOICE
