"""Lean dispatch: the edge hands a request for a lean route (`api.lean`) to the route's handler
itself, past the six layers FastAPI and Starlette put between them, with the same outcome.

Below the edge, a request passes `ExceptionMiddleware`, its `wrap_app_handling_exceptions`,
`AsyncExitStackMiddleware`, the router (`RouteIndex.app`), `APIRoute.handle` and the route's
app (`request_response`: a `Request`, a second `wrap_app_handling_exceptions`, two
`AsyncExitStack`s) before the handler runs, and its answer goes back through two `send`
wrappers: a coroutine, a closure or a context manager each, for a handler that needs none of
them (a lean handler has no dependencies, so the stacks stay empty; the two exception layers
ask the same handlers). `LeanDispatch.serve` does what they do that a lean route can see:

- the route: the router's own pick (`RouteIndex.select`, FastAPI's `matches`), with the scope
  its routing leaves (`RouteIndex.enter`: path parameters, endpoint, route, FastAPI's keys) and
  the exception handlers' key `ExceptionMiddleware` sets;
- the handler: the route's lean handler on the `Request` the route's app would make, its
  answer sent to the edge's `send`;
- an exception: mapped by the app's exception handlers exactly as the two exception layers
  map it (the inner one first, then the outer one, which also sees what a handler raised), a
  response already started turning it into the same `RuntimeError`; what no handler takes is
  re-raised to the edge (its access log) and `ServerErrorMiddleware` (the catch-all 500);
- anything off the lean handler's happy path (a body or a path parameter it does not take,
  which FastAPI's handler refuses in its own words): the whole stack below the edge serves the
  request from the start, with the body the handler read given to it again.

The edge asks only for a route a full match picked (`select`): no match, a wrong method
(405), HEAD or OPTIONS a route does not list, a route of the app's own router, one behind a
body limit, one whose handler is not a lean one or is not what the route's app would call:
all go down the whole stack, as before. `LeanDispatch.install` puts it in front only where
the stack below the edge is the one described (else the edge has none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from antechamber.api.guard import Replay, replay
from antechamber.api.lean import Serve, serve_of
from antechamber.route_index import UNKNOWN, RouteIndex, _Entry

try:
    from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
    from starlette._exception_handler import _lookup_exception_handler
    from starlette._utils import is_async_callable

    AVAILABLE = True
except ImportError:  # pragma: no cover - another Starlette or FastAPI: the whole stack serves
    AVAILABLE = False

# What `request_response` (FastAPI's, which builds a route's app) is: its closure over the
# handler it calls is how the dispatch knows the handler is the one the route would run.
_ROUTE_APP = ("fastapi.routing", "request_response.<locals>.app", ("f",))

Lean = tuple[_Entry, Scope, Serve]


class LeanDispatch:
    """The lean routes' path below the edge (see the module docstring)."""

    def __init__(self, index: RouteIndex, exceptions: ExceptionMiddleware) -> None:
        self.index = index
        self.stack: ASGIApp = exceptions  # the whole stack below the edge
        self.handlers: tuple[Any, Any] = (
            exceptions._exception_handlers,
            exceptions._status_handlers,
        )

    @classmethod
    def install(cls, below_edge: object, index: RouteIndex | None) -> LeanDispatch | None:
        """A dispatch for the stack `below_edge` (the edge's app), if it is the one this module
        stands in for: Starlette's `ExceptionMiddleware`, FastAPI's `AsyncExitStackMiddleware`,
        then the router dispatching by `index`."""
        if not AVAILABLE or index is None or type(below_edge) is not ExceptionMiddleware:
            return None
        exit_stack = below_edge.app
        router_dispatch = index.router.middleware_stack
        if type(exit_stack) is not AsyncExitStackMiddleware or exit_stack.app is not index.router:
            return None
        if router_dispatch != index.app or below_edge.debug:
            return None
        if not hasattr(below_edge, "_exception_handlers") or not hasattr(
            below_edge, "_status_handlers"
        ):
            return None
        return cls(index, below_edge)

    def select(self, scope: Scope) -> Lean | None:
        """The lean route a full match picks for `scope` (HTTP), with the match's child scope
        and the route's lean handler; None: the whole stack serves the request."""
        selected = self.index.select(scope)
        if selected is None:
            return None
        entry, child_scope = selected
        serve = entry.lean
        if serve is UNKNOWN:
            serve = entry.lean = _lean_of(entry)
        if serve is None:
            return None
        methods = entry.context.methods
        if methods and scope["method"] not in methods:  # a partial match: 405, its way
            return None
        return entry, child_scope, serve

    async def serve(
        self,
        lean: Lean,
        scope: Scope,
        receive: Receive,
        send: Send,
        started: Callable[[], bool],
    ) -> None:
        """Answer the request `select` picked `lean` for, through `send` (`started`: whether
        an answer started through it)."""
        entry, child_scope, serve = lean
        self.index.enter(scope, entry, child_scope)
        scope["starlette.exception_handlers"] = self.handlers
        request = Request(scope, receive, send)
        if type(receive) is Replay:
            body = receive.take()
            if body is not None:  # what `request.body()` would read through it, read
                request._body = body
                request._stream_consumed = True
        whole_stack = False
        try:
            try:  # `request_response`'s handling
                response = await serve(request)
                if response is None:
                    whole_stack = True
                else:
                    await response(scope, receive, send)
            except Exception as exc:
                await self._handle(request, exc, scope, receive, send, started)
        except Exception as exc:  # `ExceptionMiddleware`'s handling
            await self._handle(request, exc, scope, receive, send, started)
        if whole_stack:
            await self.stack(scope, replay(await request.body(), receive), send)

    async def _handle(
        self,
        request: Request,
        exc: Exception,
        scope: Scope,
        receive: Receive,
        send: Send,
        started: Callable[[], bool],
    ) -> None:
        """`wrap_app_handling_exceptions`' answer to `exc`, its every step."""
        exception_handlers, status_handlers = self.handlers
        handler = None
        if isinstance(exc, HTTPException):
            handler = status_handlers.get(exc.status_code)
        if handler is None:
            handler = _lookup_exception_handler(exception_handlers, exc)
        if handler is None:
            raise exc
        if started():
            raise RuntimeError("Caught handled exception, but response already started.") from exc
        if is_async_callable(handler):
            response = await handler(request, exc)  # type: ignore[arg-type]
        else:
            response = await run_in_threadpool(handler, request, exc)
        if response is not None:
            await response(scope, receive, send)
        # As Starlette does: reused exception instances accumulate tracebacks across requests.
        exc.__traceback__ = None


def _lean_of(entry: _Entry) -> Serve | None:
    """The lean handler of `entry`'s route, if the route's app is FastAPI's `request_response`
    over it with nothing around it (no body limit); else None."""
    context = entry.context
    if context is None or entry.opaque or getattr(context, "max_body_size", 0) is not None:
        return None
    app = getattr(context, "app", None)
    code = getattr(app, "__code__", None)
    closure = getattr(app, "__closure__", None)
    if (
        code is None
        or closure is None
        or (getattr(app, "__module__", None), getattr(app, "__qualname__", None), code.co_freevars)
        != _ROUTE_APP
    ):
        return None
    return serve_of(closure[0].cell_contents)
