"""The edge: the one ASGI middleware in front of every face, holding the rules every request
meets before and after the app, with a single wrapper around `send`.

Per request, in this order (each rule lives in its own module and is tested there):

1. the clock starts for the access log (`logs.log_access`, written when the answer is done,
   whatever happened: a refusal below, an error, the app's answer);
2. the Host check (`hosts.refusal`): outside development a host this server does not serve is
   refused (400);
3. the SCIM paths are served by the SCIM provider (`scim_provider`), in SCIM's own error format;
4. under `/v1/`, the API guard (`api.guard.admit`): request id, body limit, JSON only, NUL and
   unrepresentable JSON refused in Stytch's error envelope;
5. the app; for a lean route of the API, the route's handler itself (`dispatch.LeanDispatch`,
   set by the app where the stack below is the one it stands in for).

Every answer (a refusal above included) passes the one `send` wrapper, which notes the status
for the access log, moves a `Location` built from the request's own Host onto the public base
URL (`hosts.rewrite_location`) and adds the security headers (`headers.add_security_headers`).

It replaces five stacked middlewares (access log, security headers, public host, SCIM, API
guard), each of which wrapped `send` and added a call to every request.

It is also the catch-all for errors: an exception that reaches it before an answer started is
answered with a 500 (`server_error`: the app's handler for `Exception` or 500 if it has one,
else Starlette's plain "Internal Server Error"), through the same `send` wrapper, so the 500
carries the security headers and is logged with its status; the exception is then re-raised,
as Starlette's `ServerErrorMiddleware` does, for the server to log. In the app (`app`) the edge
is the outermost layer, in `ServerErrorMiddleware`'s place; where it sits below one (the
standalone reference app), that layer sees the answer started and only re-raises.
"""

from __future__ import annotations

from time import perf_counter

from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.api.guard import API_PREFIX, admit
from antechamber.dispatch import LeanDispatch
from antechamber.headers import add_security_headers
from antechamber.hosts import HostPolicy, has_location, refusal, request_header, rewrite_location
from antechamber.logs import log_access
from antechamber.metrics import Metrics
from antechamber.scim_provider import ScimProvider, provider_path


class Edge:
    """ASGI middleware (see the module docstring).

    `max_body_bytes` None: no API guard (an app without `/v1/`, the standalone reference app);
    `scim` None: no SCIM paths; `metrics`: where the access log also counts requests.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        policy: HostPolicy,
        hsts: bool,
        max_body_bytes: int | None = None,
        scim: ScimProvider | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.policy = policy
        self.hsts = hsts
        self.max_body_bytes = max_body_bytes
        self.scim = scim
        self.metrics = metrics
        # Set by the app once its stack is built, where the stack below is the one it knows.
        self.dispatch: LeanDispatch | None = None
        # Set by the app where the edge takes the place of this layer (see `server_error`).
        self.errors: ServerErrorMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status: int | None = None  # no answer started: the log says 500 (the error re-raised)
        host = request_header(scope, b"host")
        api = scope["path"].startswith(API_PREFIX)
        policy = self.policy
        hsts = self.hsts

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                if has_location(headers):
                    headers = list(headers)
                    rewrite_location(policy, headers, scope, host)
                message["headers"] = add_security_headers(headers, api=api, hsts=hsts)
            await send(message)

        # The rules, inline: one coroutine fewer per request than a method of their own.
        try:
            try:
                refused = refusal(policy, scope, host)
                if refused is not None:
                    await refused(scope, receive, edge_send)
                    return
                if api:
                    if self.scim is not None:
                        found = provider_path(scope["path"])
                        if found is not None:
                            await self.scim.serve(scope, receive, edge_send, found)
                            return
                    if self.max_body_bytes is not None:
                        admitted = await admit(scope, receive, self.max_body_bytes)
                        if admitted is None:  # the client went away
                            return
                        if isinstance(admitted, Response):  # refused
                            await admitted(scope, receive, edge_send)
                            return
                        receive = admitted  # hands the app the body the guard read
                    dispatch = self.dispatch
                    if dispatch is not None:
                        lean = dispatch.select(scope)
                        if lean is not None:
                            await dispatch.serve(
                                lean, scope, receive, edge_send, lambda: status is not None
                            )
                            return
                await self.app(scope, receive, edge_send)
            except Exception as exc:
                if status is None:  # nothing answered yet: the 500, through `edge_send`
                    response = await self.server_error(scope, exc)
                    await response(scope, receive, edge_send)
                raise
        finally:
            elapsed = perf_counter() - started
            log_access(scope, 500 if status is None else status, elapsed, self.metrics)

    async def server_error(self, scope: Scope, exc: Exception) -> Response:
        """The answer to `exc`, which no one answered: what `ServerErrorMiddleware` answers
        (`errors`, the one the edge stands in for; Starlette's default without one)."""
        errors = self.errors
        if errors is None:
            return PlainTextResponse("Internal Server Error", status_code=500)
        request = Request(scope)
        if errors.debug:
            return await run_in_threadpool(errors.debug_response, request, exc)
        handler = errors.handler
        if handler is None:
            return errors.error_response(request, exc)
        if is_async_callable(handler):
            response: Response = await handler(request, exc)  # type: ignore[arg-type,assignment]
            return response
        return await run_in_threadpool(handler, request, exc)  # type: ignore[arg-type]
