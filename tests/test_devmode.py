"""Development mode registers the reference app's callback for the demo project."""

from __future__ import annotations

from sqlalchemy import Engine

from antechamber.clock import FrozenClock
from antechamber.devmode import ensure_demo_project
from antechamber.redirects import service as redirects
from antechamber.services import Services
from antechamber.settings import Settings


def test_dev_mode_allows_the_reference_callback(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    dev = Services.build(settings.model_copy(update={"dev": True}), engine, clock)
    demo = ensure_demo_project(dev)
    again = ensure_demo_project(dev)  # every start: idempotent
    assert again == demo
    with dev.scope(demo.project_id, "test", "test") as scope:
        rows = redirects.list_redirect_urls(scope)
        assert [(r.url, r.type, r.is_default) for r in rows] == [
            ("http://testserver/auth/callback", "discovery", True),
            ("http://testserver/auth/callback", "invite", True),  # the Members section's
            # Sign in with SSO lands on /auth/sso (sso/, webapp/sso.py).
            ("http://testserver/auth/sso", "login", True),
            ("http://testserver/auth/sso", "signup", True),
        ]


def test_outside_dev_mode_nothing_is_registered(services: Services) -> None:
    demo = ensure_demo_project(services)
    with services.scope(demo.project_id, "test", "test") as scope:
        assert redirects.list_redirect_urls(scope) == []
