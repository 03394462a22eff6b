"""The app inside the server can send its links to a separate frontend's origin (the
tutorial's React frontend on another port): ANTECHAMBER_WEBAPP_PUBLIC_URL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.devmode import ensure_demo_project
from antechamber.services import Services
from antechamber.settings import Settings, SettingsError, load_settings
from tests.factories import last_link

FRONTEND = "http://localhost:5173"


def test_links_go_to_the_frontend_and_it_may_post(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    chosen = settings.model_copy(
        update={
            "dev": True,
            "webapp_public_url": FRONTEND,
            "webapp_cors_origins": [FRONTEND],
        }
    )
    services = Services.build(chosen, engine, clock)
    ensure_demo_project(services)  # what `antechamber dev` does: registers both callbacks
    app = create_app(chosen, engine=engine, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        sent = client.post(
            "/api/discovery/start",
            json={"email": "ada@acme.example"},
            headers={"Origin": FRONTEND, "Sec-Fetch-Site": "same-site"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.headers["access-control-allow-origin"] == FRONTEND
    assert last_link(services, "ada@acme.example").startswith(f"{FRONTEND}/auth/callback?")


def test_without_it_links_come_back_here(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    chosen = settings.model_copy(update={"dev": True})
    services = Services.build(chosen, engine, clock)
    ensure_demo_project(services)
    with TestClient(create_app(chosen, engine=engine, clock=clock)) as client:
        assert client.post("/api/discovery/start", json={"email": "bo@acme.example"}).is_success
    assert last_link(services, "bo@acme.example").startswith("http://testserver/auth/callback?")


@pytest.mark.parametrize("value", ["localhost:5173", "ftp://x.example", "http://x.example/?a=1"])
def test_the_setting_must_be_a_url(value: str) -> None:
    with pytest.raises(SettingsError, match="ANTECHAMBER_WEBAPP_PUBLIC_URL"):
        load_settings(_env_file=None, webapp_public_url=value)
