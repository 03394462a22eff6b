"""A lean request handler for the simple routes of `ApiRoute`: the request's values found
without FastAPI's dependency machinery, where that machinery has nothing to do.

FastAPI's handler (`fastapi.routing.get_request_handler`) reads the body, parses the
content type through `email.message`, parses the JSON again (the API guard already did),
walks `solve_dependencies` (path, query, header and cookie parameters, a `Response` made for
dependencies to set headers on, and more), validates, then calls the endpoint: about 30 µs of
CPU per request before the handler starts, for a handler that takes a request, one JSON body
and path parameters. A `ProjectScope` handler of `ApiRoute` is such a handler: its scope is
opened by the handler itself (`api.auth._in_one_hop`), not by a dependency.

`lean_handler` serves such a route with the same steps, in the same order, on the same data:

- the body's JSON value is the one the guard read (`api.guard.parsed_body`), which is what
  `json.loads` gives; it is validated by the route's own body field (`ModelField.validate`,
  FastAPI's own call, with the same type adapter), path parameters by theirs;
- the endpoint is called as FastAPI calls it: a coroutine on the loop, else in a worker
  thread; its `Response` is the answer.

Anything off the happy path is handed to FastAPI's handler for the same route, from the start
(the body is kept by the request, so it reads it again): a body that is empty, not JSON, not
sent as JSON (a missing or other content type, by FastAPI's own rule), or that fails
validation, and a path parameter that fails. So every refusal (400 `invalid_json`,
`invalid_argument` with FastAPI's messages) is FastAPI's own, unchanged.

Routes it does not serve, which keep FastAPI's handler: any dependency (a route's or a
router's), query, header or cookie parameters, more than one body parameter or an embedded
one, a form, `BackgroundTasks`, `Response` or `SecurityScopes` parameters, a streamed answer,
and an endpoint not annotated to return a `Response` (FastAPI would serialize it through the
response model).
"""

from __future__ import annotations

import email.message
import inspect
import json
from collections.abc import Callable, Coroutine
from functools import lru_cache
from typing import Any, get_type_hints

from fastapi import params
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from antechamber.api.guard import NOT_PARSED, parsed_body
from antechamber.hosts import request_header

try:
    from fastapi.dependencies.utils import request_params_to_args
    from fastapi.routing import _effective_route_context_var

    AVAILABLE = True
except ImportError:  # pragma: no cover - another FastAPI: its own handler serves
    AVAILABLE = False

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Serve = Callable[[Request], Coroutine[Any, Any, Response | None]]
_SERVE = "_antechamber_lean_serve"


@lru_cache(maxsize=256)
def json_content_type(value: str) -> bool:
    """Whether FastAPI reads a body sent with this Content-Type as JSON: its own test."""
    message = email.message.Message()
    message["content-type"] = value
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def lean_handler(route: Any, fastapi_handler: Handler) -> Handler:
    """The handler for `route` (an `APIRoute`, while FastAPI builds its handler for it, maybe
    for an inclusion of its router): a lean one where it can serve the route (see the module
    docstring), else `fastapi_handler`, FastAPI's own, which the lean one hands anything
    off its happy path to."""
    if not AVAILABLE:
        return fastapi_handler
    effective = _effective_route_context_var.get()
    if effective is not None and getattr(effective, "original_route", None) is route:
        route = effective  # the inclusion's own dependant and fields, as FastAPI reads them
    lean = _build(route, fastapi_handler)
    return fastapi_handler if lean is None else lean


def _build(route: Any, fastapi_handler: Handler) -> Handler | None:
    dependant = route.dependant
    call = dependant.call
    if (
        call is None
        or dependant.dependencies
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.request_param_name is None
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or getattr(route, "is_json_stream", False)
        or getattr(route, "stream_item_field", None) is not None
        or inspect.isgeneratorfunction(call)
        or inspect.isasyncgenfunction(call)
        or not _returns_a_response(call)
    ):
        return None
    response_class = getattr(route.response_class, "value", route.response_class)
    if isinstance(response_class, type) and issubclass(response_class, StreamingResponse):
        return None
    body_params = dependant.body_params
    body_field = route.body_field
    if body_params:
        if (
            len(body_params) != 1
            or body_field is not body_params[0]
            or route._embed_body_fields
            or not isinstance(body_field.field_info, params.Body)
            or isinstance(body_field.field_info, params.Form)
        ):
            return None
    elif body_field is not None:
        return None
    body_name: str | None = body_field.name if body_params else None
    path_params = list(dependant.path_params)
    request_name: str = dependant.request_param_name
    is_coroutine = inspect.iscoroutinefunction(call)

    async def serve(request: Request) -> Response | None:
        values: dict[str, Any] = {request_name: request}
        if body_name is not None:
            body = await request.body()
            content_type = request_header(request.scope, b"content-type")
            if not body or not content_type or not json_content_type(content_type):
                return None  # no JSON body: FastAPI refuses
            value = parsed_body(request.scope, body)
            if value is NOT_PARSED:  # the guard did not read it (or not as JSON)
                try:
                    value = json.loads(body)
                except (ValueError, RecursionError):  # FastAPI's refusal, its way
                    return None
            model, errors = body_field.validate(value, {}, loc=("body",))
            if errors:
                return None
            values[body_name] = model
        if path_params:
            found, errors = request_params_to_args(path_params, request.path_params)
            if errors:
                return None
            values.update(found)
        if is_coroutine:
            response = await call(**values)
        else:
            response = await run_in_threadpool(call, **values)
        if not isinstance(response, Response):  # its annotation said otherwise
            raise TypeError(f"{call.__qualname__} returned {type(response).__name__}")
        return response

    async def handler(request: Request) -> Response:
        response = await serve(request)
        if response is None:  # off the happy path: FastAPI's handler, from the start
            return await fastapi_handler(request)
        return response

    setattr(handler, _SERVE, serve)  # read back by `serve_of`
    return handler


def serve_of(handler: object) -> Serve | None:
    """The lean part of `handler` if it is a lean handler (`lean_handler`): the request
    served on its happy path, else None *before anything is done* but reading the body (which
    the request keeps), for FastAPI's handler to serve it from the start."""
    serve: Serve | None = getattr(handler, _SERVE, None)
    return serve


def _returns_a_response(call: Callable[..., Any]) -> bool:
    returned = inspect.signature(call).return_annotation  # what FastAPI reads
    if isinstance(returned, str):
        try:
            returned = get_type_hints(call).get("return")
        except Exception:  # an annotation that does not resolve: FastAPI's handler serves
            return False
    return isinstance(returned, type) and issubclass(returned, Response)
