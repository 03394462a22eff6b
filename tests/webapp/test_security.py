"""Outside development mode: `__Host-` cookies that are Secure; CORS for the configured origins
only; and the app sharing one process with the API, the console and the probes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber import db
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials, LiveServer
from tests.factories import allow_redirect, make_member, make_org
from tests.webapp.conftest import Web, cookie_attributes, stytch_app

SECURE_BASE = "https://app.example"
REACT = "http://localhost:5173"


@pytest.fixture
def production(settings: Settings, engine: Engine, clock: FrozenClock) -> Credentials:
    """A project of a production server (not development mode), made before its app."""
    services = Services.build(settings, engine, clock)
    with db.transaction(services.sessions) as session:
        project, issued = projects.create_project(
            session,
            name="Production",
            environment="live",
            actor="test",
            clock=clock,
            settings=settings,
        )
    allow_redirect(services, project.id, f"{SECURE_BASE}/auth/callback")
    return Credentials(project.id, issued.secret)


@pytest.fixture
def production_app(
    settings: Settings, engine: Engine, clock: FrozenClock, production: Credentials
) -> FastAPI:
    return create_app(
        settings.model_copy(
            update={
                "dev": False,
                "public_base_url": SECURE_BASE,
                "webapp_project_id": production.project_id,
                "webapp_cors_origins": [REACT],
            }
        ),
        engine=engine,
        clock=clock,
    )


@pytest.fixture(params=["inprocess", "stytch"])
def secure_web(
    request: pytest.FixtureRequest,
    production_app: FastAPI,
    services: Services,
    production: Credentials,
    clock: FrozenClock,
) -> Iterator[Web]:
    if request.param == "inprocess":
        target = production_app
    else:
        # The SDK talks to the (development) test server; the app itself is in production mode.
        live_server: LiveServer = request.getfixturevalue("live_server")
        target = stytch_app(
            live_server,
            production,
            clock,
            dev=False,
            public_url=SECURE_BASE,
            cors_origins=frozenset({REACT}),
        )
    with TestClient(target, base_url=SECURE_BASE, raise_server_exceptions=False) as client:
        yield Web(client, services, production, str(request.param), production_app)


@pytest.fixture
def acme(services: Services, production: Credentials) -> Organization:
    return make_org(services, production.project_id, organization_name="Acme")


@pytest.fixture
def ada(services: Services, production: Credentials, acme: Organization) -> Member:
    return make_member(services, production.project_id, acme, email_address="ada@acme.example")


def test_cookies_are_host_prefixed_and_secure(
    secure_web: Web, acme: Organization, ada: Member
) -> None:
    start = secure_web.post("/api/discovery/start", {"email": "ada@acme.example"})
    hint = cookie_attributes(start, "__Host-login_hint")
    assert "secure" in hint
    token = secure_web.link_token("ada@acme.example")
    callback = secure_web.post("/api/auth/callback", {"token": token})
    pending = cookie_attributes(callback, "__Host-intermediate_session")
    selected = secure_web.select(acme.id)
    session = cookie_attributes(selected, "__Host-session")
    for attrs in (hint, pending, session):
        assert "secure" in attrs
        assert "httponly" in attrs
        assert attrs["path"] == "/"
        assert "domain" not in attrs
        assert attrs["samesite"].lower() == "lax"
    assert secure_web.post("/api/discovery/get-organization").status_code == 200
    out = secure_web.post("/api/auth/logout")
    assert cookie_attributes(out, "__Host-session")["max-age"] == "0"


def test_pages_get_hsts_and_no_inbox_link(secure_web: Web) -> None:
    page = secure_web.get("/")
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert "/dev/outbox" not in page.text


def test_cors_only_for_the_configured_origins(
    secure_web: Web, acme: Organization, ada: Member
) -> None:
    preflight = secure_web.client.options(
        "/api/discovery/select-organization",
        headers={
            "Origin": REACT,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == REACT
    assert preflight.headers["access-control-allow-credentials"] == "true"

    # The tutorial's React frontend, from its own origin, with cookies.
    answer = secure_web.post(
        "/api/discovery/start",
        {"email": "ada@acme.example"},
        headers={"Origin": REACT, "Sec-Fetch-Site": "same-site"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == REACT
    assert "origin" in answer.headers["vary"].lower()

    evil = "https://evil.example"
    refused = secure_web.client.options(
        "/api/discovery/start",
        headers={"Origin": evil, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers
    posted = secure_web.post(
        "/api/discovery/start", {"email": "ada@acme.example"}, headers={"Origin": evil}
    )
    assert posted.status_code == 403
    assert "access-control-allow-origin" not in posted.headers


def test_the_app_shares_the_process_with_the_other_faces(
    production_app: FastAPI, production: Credentials
) -> None:
    with TestClient(production_app, base_url=SECURE_BASE, raise_server_exceptions=False) as c:
        assert c.get("/").status_code == 200
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/metrics").status_code == 200
        api = c.get("/v1/b2b/organizations/nope", auth=production.auth)
        assert api.json()["error_type"] == "organization_not_found"
        unknown_api = c.get("/v1/b2b/nope", auth=production.auth)
        assert unknown_api.json()["error_type"] == "route_not_found"
        assert c.get("/admin/projects", follow_redirects=False).status_code == 303
        assert c.get("/dev/outbox").status_code == 404  # not in production
        page = c.get("/no/such/page")
        assert page.status_code == 404
        assert "Page not found" in page.text
        assert c.get("/api/nope").json()["error"] == "not_found"


def test_no_app_without_a_project_outside_development(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = create_app(settings.model_copy(update={"dev": False}), engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 404
        assert client.post("/api/discovery/start", json={}).status_code == 404
