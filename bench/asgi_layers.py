# ruff: noqa
"""Instructions (or CPU) per request that each ASGI layer in front of a lean `/v1/b2b` handler
adds: the same request (`POST /v1/b2b/_null`, see `bench.asgi_routes`) entered at each layer in
turn, from the app itself down to the handler; one layer's cost is the difference between
entering above it and below it.

    cd <tree> && PYTHONPATH=src:. python -m bench.asgi_layers [requests per layer]
        µs of CPU per request entered at each layer (noisy: prefer callgrind)
    CALLGRIND=1 PYTHONPATH=src:. valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cgl.%p python -m bench.asgi_layers 20
    python -m bench.asgi_routes_sum /tmp/cgl.<pid>
        instructions per batch (one dump per layer and turn): divide by the batch size

A layer below the edge is entered with the scope the layers above it leave (the guard's request
id and parsed body, the app, the routing's keys), made once per request outside the measure.
Which layers exist is read from the app, so the same script measures main and a branch.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import BENCH_DELIVERY_LIMITS

os.environ.update(BENCH_DELIVERY_LIMITS)

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from antechamber import db, migrations
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.api.guard import admit
from antechamber.app import create_app
from antechamber.clock import SystemClock
from antechamber.projects.service import create_project
from bench.inproc_setup import app_with_null_route, project_database

import base64

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
CALLGRIND = bool(os.environ.get("CALLGRIND"))

tmp, settings, engine, project, issued = project_database("asgi-layers-")
AUTH = b"Basic " + base64.b64encode(f"{project.id}:{issued.secret}".encode())
app = app_with_null_route(settings, engine)
RAW = b'{"email_address": "a@b.c"}'


def new_scope() -> dict:
    headers = [
        (b"host", b"localhost"),
        (b"authorization", AUTH),
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(RAW)),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/b2b/_null",
        "raw_path": b"/v1/b2b/_null",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "state": {},
    }


def receiver():
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": RAW, "more_body": False}
        await asyncio.sleep(3600)

    return receive


statuses: list[int] = []


async def send(message):
    if message["type"] == "http.response.start":
        statuses.append(message["status"])


def layers() -> list[tuple[str, object]]:
    """(name, ASGI callable) from the app down to the router's dispatch."""
    found: list[tuple[str, object]] = [("FastAPI.__call__", app)]
    node = app.middleware_stack
    while node is not None and not hasattr(node, "routes"):
        found.append((type(node).__name__, node))
        node = getattr(node, "app", None)
    if node is not None:
        found.append(("Router.__call__", node))
        stack = node.middleware_stack
        if stack is not None and stack != node.app:
            found.append((getattr(stack, "__qualname__", type(stack).__name__), stack))
    return found


ROUTED = 0  # the depth from which the scope holds the routing's keys (set by `main`)
ABOVE_GUARD = ("ServerErrorMiddleware", "Edge")  # entered before the guard has run


async def prepared(depth: int, name: str, scope: dict, receive):
    """The scope and receive with which the layer at `depth` is entered in a whole request."""
    if depth == 0:  # the app, as a server calls it
        return scope, receive
    scope["app"] = app  # what the app's own call leaves
    if name in ABOVE_GUARD:  # the server error layer (main) and the edge
        return scope, receive
    admitted = await admit(scope, receive, settings.max_body_bytes)
    if depth < ROUTED:
        return scope, admitted
    # The routing's keys: the index's own dispatch run with the route's app captured.
    entry, _ = app.route_index.select(scope)
    context = entry.context
    routed = context.app

    async def capture(scope, receive, send):
        pass

    context.app = capture
    try:
        await app.route_index.app(scope, admitted, send)
    finally:
        context.app = routed
    return scope, admitted


def lower_layers() -> list[tuple[str, object]]:
    """APIRoute.handle, the route's app (request_response), and the handler with its answer."""
    scope = new_scope()
    scope["app"] = app
    entry, _ = app.route_index.select(scope)
    route, context = entry.route, entry.context
    cells = {
        name: cell.cell_contents
        for name, cell in zip(context.app.__code__.co_freevars, context.app.__closure__)
    }
    handler = cells["f"]

    async def handler_and_answer(scope, receive, send):
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return [
        ("APIRoute.handle", route.handle),
        ("request_response.app", context.app),
        ("lean handler + answer", handler_and_answer),
    ]


async def run(name: str, entry, depth: int, n: int) -> float:
    # Every request's scope made first, so one measure covers the whole batch.
    batch = [await prepared(depth, name, new_scope(), receiver()) for _ in range(n)]
    if CALLGRIND:
        subprocess.run(
            ["callgrind_control", "-z", str(os.getpid())], check=True, capture_output=True
        )
    gc.disable()
    t = time.process_time()
    for scope, receive in batch:
        await entry(scope, receive, send)
    spent = time.process_time() - t
    gc.enable()
    if CALLGRIND:
        subprocess.run(
            ["callgrind_control", "-d", f"L{depth:02d}_{name}", str(os.getpid())],
            check=True,
            capture_output=True,
        )
    return spent / n


async def main():
    if CALLGRIND:
        subprocess.run(
            ["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True
        )
    for _ in range(3):  # warm-up, and the middleware stack built
        scope, receive = new_scope(), receiver()
        await app(scope, receive, send)
    global ROUTED
    found = layers()
    # down to the router's dispatch: the edge outermost (6) or below the server error layer (7)
    assert [name for name, _ in found][-4:] == [
        "ExceptionMiddleware",
        "AsyncExitStackMiddleware",
        "Router.__call__",
        "RouteIndex.app",
    ], [name for name, _ in found]
    ROUTED = len(found)
    found += lower_layers()
    # Edge and below: the guard's effects made outside the measure (`prepared`).
    results: dict[str, list[float]] = {}
    for _turn in range(2):
        for depth, (name, entry) in enumerate(found):
            results.setdefault(f"{depth:02d} {name}", []).append(await run(name, entry, depth, N))
    assert set(statuses) == {200}, statuses
    if not CALLGRIND:
        for name, values in results.items():
            print(f"{name:40s} {min(values) * 1e6:8.1f} µs")


asyncio.run(main())
