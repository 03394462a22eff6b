"""Route dispatch by index (`route_index`) picks what FastAPI's scan of every route picks.

For every route of the app (development: docs, /metrics, the inbox, the reference app; and
production), concrete paths made from its template (parameters filled in, a trailing slash
added or removed, a segment added or dropped) are dispatched by both, with every method; the
route handled and the scope it is handled with must be the same, and where the index leaves a
request to the scan (no route matches: 404, redirects) the scan must find no route either.
Then real requests through both apps give the same answers: 404s (the reference app's
not-found page, the API's envelope), 405 with `Allow`, redirects to the path with or without
its trailing slash, HEAD, the docs, /metrics.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter, iter_route_contexts
from sqlalchemy import Engine
from starlette import routing as starlette_routing
from starlette.routing import Match
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.route_index import RouteIndex
from antechamber.settings import Settings

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAMPLES = {"str": "abc-123", "path": "a/b.css", "int": "42", "float": "1.5"}
PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")
EXTRA_PATHS = (
    "/",
    "//",
    "/nope",
    "/v1",
    "/v1/",
    "/v1/b2b/",
    "/v1/b2b/organizations/",
    "/v1/b2b/organizations/search/",
    "/v1/b2b/sessions/authenticate\n",
    "/v1/b2b/sessions/jwks/",
    "/admin",
    "/admin/",
    "/admin/x/y/z",
    "/admin/projects/p/orgs/o/members/m/extra/more",
    "/healthz/",
    "//healthz",
    "/HEALTHZ",
    "/docs/",
    "/api/",
    "/api/nope",
    "/assets/",
    "/assets/a/b",
    "/metrics/",
    "/dev/outbox/",
    "/dashboard/",
    "healthz",
    "",
)


def _variants(template: str) -> Iterator[str]:
    filled = PARAM.sub(lambda m: SAMPLES.get(m.group(2) or "str", "x"), template)
    yield filled
    yield filled + "/"
    yield filled + "/extra"
    if filled.endswith("/") and filled != "/":
        yield filled.rstrip("/")
    yield filled.rsplit("/", 1)[0] or "/"
    # every parameter given a literal of another route's path (e.g. "search", "jwks")
    yield PARAM.sub("search", template)


def _paths(app: FastAPI) -> list[str]:
    paths = set(EXTRA_PATHS)
    for context in iter_route_contexts(app.router.routes):
        if context.path is not None:
            paths.update(_variants(context.path))
    return sorted(paths)


def _scope(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "app": app,
    }


def _dispatch(app: FastAPI, dispatch: Any, scope: dict[str, Any]) -> tuple[Any, ...]:
    """What `dispatch` did with `scope`: the route handled and the scope it was handled with,
    or the answer it sent itself (the router's default, a redirect)."""
    handled: list[tuple[Any, ...]] = []
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def default(scope: Any, receive: Any, send: Any) -> None:
        handled.append(("default",))

    def capture(route: Any, scope: Any) -> None:
        fastapi_scope = dict(scope.get("fastapi", {}))
        rest = {k: v for k, v in scope.items() if k != "fastapi"}
        handled.append(("route", route, rest, fastapi_scope))

    async def api_handle(self: Any, scope: Any, receive: Any, send: Any) -> None:
        capture(self, scope)

    async def route_handle(self: Any, scope: Any, receive: Any, send: Any) -> None:
        capture(self, scope)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(APIRoute, "handle", api_handle)
        patch.setattr(starlette_routing.Route, "handle", route_handle)
        patch.setattr(starlette_routing.Mount, "handle", route_handle)
        patch.setattr(app.router, "default", default)
        asyncio.run(dispatch(scope, receive, send))
    return (*handled, *[(m["type"], m.get("status"), m.get("headers")) for m in sent])


def _scan_finds_a_route(app: FastAPI, scope: dict[str, Any]) -> bool:
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            match = route._match(scope)[0]
        else:
            match = route.matches(scope)[0]
        if match != Match.NONE:
            return True
    return False


def _app(settings: Settings, engine: Engine, clock: FrozenClock, *, indexed: bool) -> FastAPI:
    app = create_app(settings, engine=engine, clock=clock)
    app.indexed_routing = indexed  # type: ignore[attr-defined]
    return app


@pytest.fixture(params=["dev", "production"])
def variant(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "dev":
        return settings.model_copy(update={"dev": True})
    return settings.model_copy(update={"dev": False, "public_base_url": "http://testserver"})


def test_the_index_is_in_use(settings: Settings, engine: Engine, clock: FrozenClock) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    app.build_middleware_stack()
    index = app.route_index  # type: ignore[attr-defined]
    assert isinstance(index, RouteIndex)
    assert app.router.middleware_stack == index.app
    assert not any(entry.opaque for entry in index.index.entries)
    # the routes of the login path and the session check: only themselves to try
    for path in ("/v1/b2b/sessions/authenticate", "/v1/b2b/otps/sms/authenticate", "/healthz"):
        candidates = index.candidates(_scope(app, "POST", path))
        assert [entry.context.path for entry in candidates or ()] == [path]
        # matched without FastAPI's calls (`_Entry.plain`; the scan's equal: below)
        assert all(entry.plain for entry in candidates or ())


def test_the_index_picks_what_the_scan_picks(
    variant: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = _app(variant, engine, clock, indexed=True)
    app.build_middleware_stack()
    index = app.route_index  # type: ignore[attr-defined]
    assert index is not None
    paths = _paths(app)
    assert len(paths) > 400
    decided = 0
    for path in paths:
        for method in METHODS:
            scope = _scope(app, method, path)
            selected = index.select(dict(scope))
            if selected is None and not path.endswith("\n"):  # that one is left to the scan
                assert not _scan_finds_a_route(app, dict(scope)), (method, path)
            else:
                decided += 1
            by_index = _dispatch(app, index.app, dict(scope))
            by_scan = _dispatch(app, index.scan, dict(scope))
            assert by_index == by_scan, (method, path)
            if by_scan[0][0] == "route":  # the very objects FastAPI's scan hands on
                assert by_index[0][1] is by_scan[0][1]
                for key in ("effective_route_context", "included_router"):
                    assert by_index[0][3].get(key) is by_scan[0][3].get(key), (method, path)
    assert decided > 1000


def test_a_route_added_later_is_seen(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        assert client.get("/late").status_code == 404
        app.add_api_route("/late", lambda: {"late": True}, methods=["GET"])
        assert client.get("/late").json() == {"late": True}
        # a route added to a router already included
        from antechamber import health

        health.router.add_api_route("/healthz/late", lambda: {"late": 2}, methods=["GET"])
        try:
            assert client.get("/healthz/late").json() == {"late": 2}
        finally:
            health.router.routes.pop()
            health.router._mark_routes_changed()


def _answer(client: TestClient, method: str, path: str) -> tuple[Any, ...]:
    response = client.request(method, path, follow_redirects=False)
    headers = {
        k: v
        for k, v in response.headers.items()
        if k in ("allow", "location", "content-type", "cache-control")
    }
    body = re.sub(rb"request-id-[a-z0-9-]+", b"request-id", response.content)
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b"csrf", body)  # one per answer
    body = re.sub(rb'nonce="[^"]*"', b"nonce", body)
    if path == "/metrics" and response.status_code == 200:  # counts and times of the run
        body = response.content.split(b"\n", 1)[0]
    return response.status_code, headers, body


@pytest.mark.parametrize("dev", [True, False])
def test_answers_are_the_same_as_the_scan(
    settings: Settings, engine: Engine, clock: FrozenClock, dev: bool
) -> None:
    variant = settings.model_copy(update={"dev": dev})
    requests = [
        ("GET", "/healthz"),
        ("HEAD", "/healthz"),
        ("POST", "/healthz"),
        ("GET", "/healthz/"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("HEAD", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/"),
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/api/nope"),
        ("GET", "/"),
        ("GET", "/login"),
        ("GET", "/login/"),
        ("POST", "/login"),
        ("GET", "/assets/nope.css"),
        ("GET", "/dashboard"),
        ("GET", "/admin"),
        ("GET", "/admin/"),
        ("GET", "/admin/signin"),
        ("GET", "/admin/nowhere/at/all"),
        ("DELETE", "/admin/nowhere"),
        ("GET", "/dev/outbox"),
        ("GET", "/v1/b2b/sessions/authenticate"),
        ("POST", "/v1/b2b/sessions/authenticate"),
        ("POST", "/v1/b2b/sessions/authenticate/"),
        ("POST", "/v1/b2b/nope"),
        ("GET", "/v1/b2b/organizations/organization-test-1"),
        ("PUT", "/v1/b2b/organizations/search"),
        ("GET", "/v1/b2b/sessions/jwks/project-test-1"),
        ("GET", "/v1/b2b/sessions/jwks/"),
        ("OPTIONS", "/v1/b2b/otps/sms/authenticate"),
    ]
    answers = []
    for indexed in (True, False):
        app = _app(variant, engine, clock, indexed=indexed)
        with TestClient(app, raise_server_exceptions=False) as client:
            answers.append([_answer(client, m, p) for m, p in requests])
        assert (app.route_index is not None) == indexed  # type: ignore[attr-defined]
    for request, by_index, by_scan in zip(requests, *answers, strict=True):
        assert by_index == by_scan, request
    statuses = {request: answer[0] for request, answer in zip(requests, answers[0], strict=True)}
    assert statuses[("POST", "/healthz")] == 405
    assert statuses[("HEAD", "/healthz")] == 405
    assert statuses[("GET", "/healthz/")] == 307
    assert statuses[("GET", "/nope")] == 404
