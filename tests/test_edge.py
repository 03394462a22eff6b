"""The edge: one layer in front of every face, whose rules every answer meets — refusals and
errors included (docs/security.md: headers, Host; docs/operations.md: the access log)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.api.auth import ApiRoute
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.edge import Edge
from antechamber.headers import DATA_CSP, add_security_headers
from antechamber.hosts import HostPolicy, rewrite_location
from antechamber.settings import Settings

EVIL = "evil.example"


def _layers(app: FastAPI) -> list[str]:
    """The class names from the app's outermost layer down to the router."""
    node: object = app.build_middleware_stack()
    names = []
    while type(node).__name__ not in ("APIRouter", "Router"):
        names.append(type(node).__name__)
        node = getattr(node, "app")  # noqa: B009
    return names


def test_one_layer_of_ours_and_none_idle(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    assert _layers(app) == [
        "Edge",
        "ExceptionMiddleware",
        "AsyncExitStackMiddleware",
    ]


@pytest.fixture
def production(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[TestClient]:
    changes = {"dev": False, "public_base_url": "https://auth.acme.example"}
    app = create_app(settings.model_copy(update=changes), engine=engine, clock=clock)
    with TestClient(app, base_url=f"http://{EVIL}", raise_server_exceptions=False) as client:
        yield client


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "antechamber.access"]


def test_a_refused_host_carries_the_headers_and_is_logged_with_its_request_id(
    production: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="antechamber.access")
    response = production.post("/v1/b2b/sessions/authenticate", json={})
    assert response.status_code == 400
    assert response.json()["error_type"] == "host_not_allowed"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    [line] = _access_lines(caplog)
    assert line.status == 400  # type: ignore[attr-defined]
    assert line.request_id == response.json()["request_id"]  # type: ignore[attr-defined]


def test_a_guard_refusal_carries_the_headers_and_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="antechamber.access")
    response = client.post(
        "/v1/b2b/sessions/authenticate", content=b"x=1", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.headers["content-security-policy"] == DATA_CSP
    assert response.headers["cache-control"] == "no-store"
    [line] = _access_lines(caplog)
    assert line.status == 415  # type: ignore[attr-defined]
    assert line.request_id == response.json()["request_id"]  # type: ignore[attr-defined]


def test_a_scim_refusal_speaks_scim_and_carries_the_headers(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="antechamber.access")
    response = client.get("/v1/b2b/scim/scim-connection-test-none/Users")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    [line] = _access_lines(caplog)
    assert line.route == "/v1/b2b/scim/{connection_id}/Users"  # type: ignore[attr-defined]


def test_an_unexpected_error_is_answered_500_and_logged_500(
    settings: Settings, engine: Engine, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, engine=engine, clock=clock)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.INFO, logger="antechamber.access")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    [line] = _access_lines(caplog)
    assert line.status == 500  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/v1/b2b/_boom", "/v1/b2b/_boom/whole-stack", "/boom"])
def test_an_unexpected_error_is_a_500_with_the_security_headers_and_no_trace(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    """Whichever way the request went (a lean API route, one the whole stack serves, a page),
    the catch-all 500 passes the edge: security headers, the access log, the error logged."""
    app = create_app(settings, engine=engine, clock=clock)
    router = APIRouter(prefix="/v1/b2b", route_class=ApiRoute)

    @router.post("/_boom")
    def boom_lean(request: Request) -> JSONResponse:
        raise RuntimeError("secret detail of the failure")

    @router.post("/_boom/whole-stack")
    def boom_whole(request: Request, q: str | None = None) -> JSONResponse:  # query: not lean
        raise RuntimeError("secret detail of the failure")

    @app.post("/boom")
    def boom_page() -> None:
        raise RuntimeError("secret detail of the failure")

    app.include_router(router)
    caplog.set_level(logging.INFO)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(path, json={"a": 1})
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == DATA_CSP
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    if path.startswith("/v1/"):
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["error_type"] == "internal_server_error"
        assert body["request_id"].startswith("request-id-")
    else:
        assert response.json() == {"error": "internal_server_error"}
    [line] = _access_lines(caplog)
    assert line.status == 500  # type: ignore[attr-defined]
    if path.startswith("/v1/"):
        assert line.request_id == body["request_id"]  # type: ignore[attr-defined]
    [logged] = [r for r in caplog.records if r.name == "antechamber.api"]
    assert logged.levelno == logging.ERROR
    assert logged.exc_info is not None
    assert "secret detail of the failure" in str(logged.exc_info[1])


def test_the_lean_route_of_the_500_test_is_served_lean(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    router = APIRouter(prefix="/v1/b2b", route_class=ApiRoute)

    @router.post("/_boom")
    def boom_lean(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.post("/v1/b2b/_boom", json={})
        edge = app.middleware_stack
        assert isinstance(edge, Edge)
        assert edge.dispatch is not None
        scope = {"type": "http", "method": "POST", "path": "/v1/b2b/_boom", "root_path": ""}
        assert edge.dispatch.select(scope) is not None


def test_security_headers_leave_a_route_s_own_alone() -> None:
    own = [(b"content-type", b"text/html"), (b"Content-Security-Policy", b"default-src 'none'")]
    added = dict(add_security_headers(own, api=False, hsts=False))
    assert added[b"Content-Security-Policy"] == b"default-src 'none'"
    assert b"content-security-policy" not in added
    assert added[b"x-content-type-options"] == b"nosniff"
    assert b"cache-control" not in added
    assert b"strict-transport-security" not in added


def test_location_from_the_request_host_moves_to_the_public_origin() -> None:
    policy = HostPolicy("https://auth.acme.example", [], dev=True)
    scope = {"server": ("10.0.0.5", 8000)}
    headers = [(b"location", f"http://{EVIL}/login/".encode()), (b"location", b"/stale")]
    rewrite_location(policy, headers, scope, EVIL)
    assert headers == [(b"location", b"https://auth.acme.example/login/")]
    elsewhere = [(b"location", b"https://idp.example/sso")]
    rewrite_location(policy, elsewhere, scope, EVIL)
    assert elsewhere == [(b"location", b"https://idp.example/sso")]
