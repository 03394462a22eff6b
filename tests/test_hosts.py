"""A forged Host header never reaches a response (docs/security.md, "Host header")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber import webapp
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.hosts import HostPolicy
from antechamber.services import Services
from antechamber.settings import Settings, SettingsError, load_settings
from antechamber.webapp.config import WebappConfig
from antechamber.webapp.inprocess import InProcessBackend
from antechamber.webapp.standalone import create_app as standalone_app
from tests.conftest import Credentials

EVIL = "evil.example"
PUBLIC = "https://auth.acme.example"


def _app(settings: Settings, engine: Engine, clock: FrozenClock, **update: object) -> FastAPI:
    changes = {"public_base_url": PUBLIC, **update}
    return create_app(settings.model_copy(update=changes), engine=engine, clock=clock)


@pytest.fixture(params=["development", "production"])
def mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "development")


@pytest.fixture
def any_host(
    settings: Settings, engine: Engine, clock: FrozenClock, mode: bool, project: Credentials
) -> Iterator[TestClient]:
    """A client of the app (development or production) that sends `Host: evil.example`."""
    production = {"allowed_hosts": [EVIL], "webapp_project_id": project.project_id}
    app = _app(settings, engine, clock, dev=mode, **({} if mode else production))
    with TestClient(app, base_url=f"http://{EVIL}", raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dashboard/"),
        ("GET", "/login/"),
        ("GET", "/smsmfa/"),
        ("POST", "/v1/b2b/organizations/search/"),
    ],
)
def test_trailing_slash_redirect_points_at_the_public_origin(
    any_host: TestClient, method: str, path: str
) -> None:
    # Even where the Host is accepted (development, or a name in ALLOWED_HOSTS), the framework's
    # redirect is rebuilt on the public base URL: a cache or a link never carries the forged host.
    response = any_host.request(method, path, follow_redirects=False, json={})
    assert response.status_code in (307, 308)
    assert response.headers["location"] == PUBLIC + path.rstrip("/")
    assert EVIL not in response.text


def test_production_refuses_a_host_it_does_not_serve(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    app = _app(settings, engine, clock, dev=False, webapp_project_id=project.project_id)
    with TestClient(app, base_url=f"http://{EVIL}", raise_server_exceptions=False) as client:
        page = client.get("/dashboard/", follow_redirects=False)
        assert page.status_code == 400
        assert "location" not in page.headers
        assert page.headers["x-content-type-options"] == "nosniff"
        api = client.post("/v1/b2b/organizations/search", json={}, auth=project.auth)
        assert api.status_code == 400
        assert api.json()["error_type"] == "host_not_allowed"
        # A load balancer's probe by address still gets its answer (it carries no URL).
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "auth.acme.example",
        "auth.acme.example:443",
        "AUTH.acme.example.",
        "localhost:8000",
        "127.0.0.1:9",
        "[::1]:8000",
    ],
)
def test_production_answers_the_public_host_and_loopback(
    settings: Settings, engine: Engine, clock: FrozenClock, host: str
) -> None:
    app = _app(settings, engine, clock, dev=False)
    with TestClient(app, base_url="https://x", raise_server_exceptions=False) as client:
        assert client.get("/dashboard", headers={"Host": host}).status_code != 400


@pytest.mark.parametrize(
    "host", ["auth.acme.example:8443", "auth.acme.example.evil.example", "", "a:b:c"]
)
def test_production_refuses_near_misses(
    settings: Settings, engine: Engine, clock: FrozenClock, host: str
) -> None:
    app = _app(settings, engine, clock, dev=False)
    with TestClient(app, base_url="https://x", raise_server_exceptions=False) as client:
        assert client.get("/dashboard", headers={"Host": host}).status_code == 400


def test_allowed_hosts_with_and_without_port() -> None:
    policy = HostPolicy(PUBLIC, ["internal.acme", "alt.acme:8443"], dev=False)
    assert policy.allows("internal.acme:1234", "https")
    assert policy.allows("alt.acme:8443", "https")
    assert not policy.allows("alt.acme", "https")
    assert not policy.allows(None, "https")
    assert HostPolicy(PUBLIC, [], dev=True).allows(EVIL, "http")


def test_allowed_hosts_setting_refuses_a_url() -> None:
    with pytest.raises(SettingsError, match="ANTECHAMBER_ALLOWED_HOSTS"):
        load_settings(_env_file=None, allowed_hosts="https://evil.example/")
    assert load_settings(
        _env_file=None, allowed_hosts="A.example, b.example:8443"
    ).allowed_hosts == [
        "a.example",
        "b.example:8443",
    ]


def test_the_standalone_app_redirects_relatively(services: Services) -> None:
    """`antechamber webapp`'s public URL may be a separate frontend's origin: the framework's
    redirect stays on whatever origin the person used, never the Host header's."""
    config = WebappConfig(public_url="http://localhost:5173", cookie_key=b"k" * 32, dev=False)
    app = standalone_app(webapp.build(config, InProcessBackend(services, lambda: None)))
    with TestClient(app, base_url=f"http://{EVIL}", raise_server_exceptions=False) as client:
        response = client.get("/dashboard/?x=1", follow_redirects=False)
    assert response.status_code in (307, 308)
    assert response.headers["location"] == "/dashboard?x=1"
