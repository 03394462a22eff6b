"""Who gets into the console: only operators with a live session. Everyone else is sent to
the sign-in page (GET) or refused (POST), and no route is left unguarded."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from antechamber import admin, db
from antechamber.admin import security
from antechamber.admin.errors import ConsoleRoute
from antechamber.clock import FrozenClock
from antechamber.operators import service as operators
from antechamber.operators.errors import NotAnOperator
from antechamber.services import Services
from tests.admin.conftest import BASE, ORIGIN, Console, OperatorInfo, signed_in_client
from tests.conftest import Credentials
from tests.cookiejar import replace_cookie
from tests.factories import make_member, make_org, open_console_session


def console_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route behind sign-in, path parameters filled in."""
    found = []
    for router in admin.CONSOLE_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert route.path.startswith("/admin")
            path = re.sub(r"\{[^}:]+(:path)?\}", "x", route.path)
            found += [(method, path) for method in sorted(route.methods)]
    return found


def test_every_console_router_demands_an_operator() -> None:
    for router in admin.CONSOLE_ROUTERS:
        assert [d.dependency for d in router.dependencies] == [security.require_operator]
        assert router.route_class is ConsoleRoute
    for router in admin.PUBLIC_ROUTERS:
        assert router.route_class is ConsoleRoute  # CSRF on its forms too
        assert {r.path for r in router.routes} <= {
            "/admin/signin",
            "/admin/signin/callback",
            "/admin/signin/code",
            "/admin/static/console.css",
        }


def test_there_are_console_routes(app: FastAPI) -> None:
    routes = console_routes(app)
    assert ("GET", "/admin/projects") in routes
    assert len([r for r in routes if r[0] == "POST"]) >= 10


def test_without_a_session_every_page_redirects_to_sign_in(
    app: FastAPI, anonymous: TestClient
) -> None:
    for method, path in console_routes(app):
        if method != "GET":
            continue
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        target = urlsplit(response.headers["location"])
        assert target.path == "/admin/signin", path
        assert parse_qs(target.query)["next"] == [path]


def test_without_a_session_every_form_is_refused(app: FastAPI, anonymous: TestClient) -> None:
    # Without any cookie there is no CSRF token to match: refused before anything runs.
    for method, path in console_routes(app):
        if method == "POST":
            response = anonymous.post(path, data={"csrf_token": "x"}, headers=ORIGIN)
            assert response.status_code == 403, path
    # With the sign-in page's (pre-session) token the form passes CSRF, and then the
    # missing console session sends it to sign in.
    page = anonymous.get("/admin/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    for method, path in console_routes(app):
        if method == "POST":
            response = anonymous.post(
                path, data={"csrf_token": token.group(1)}, headers=ORIGIN, follow_redirects=False
            )
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/admin/signin")


def test_a_forged_cookie_is_sent_to_sign_in(app: FastAPI, services: Services) -> None:
    with TestClient(app, base_url=BASE) as client:
        replace_cookie(
            client, security.session_cookie_name(services.settings), "forged", path="/admin"
        )
        response = client.get("/admin/projects", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/signin")
    assert "Max-Age=0" in response.headers["set-cookie"]  # the browser forgets it


def test_a_non_operator_cannot_get_a_session(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org)
    with pytest.raises(NotAnOperator):
        open_console_session(services, member.id)


def test_an_expired_session_says_so_and_clears_the_cookie(
    console: Console, clock: FrozenClock, services: Services
) -> None:
    assert console.get("/admin/projects").status_code == 200
    clock.advance(minutes=services.settings.console_idle_minutes)
    response = console.get("/admin/projects", follow_redirects=False)
    assert response.status_code == 303
    assert "reason=expired" in response.headers["location"]
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(security.session_cookie_name(services.settings) + '=""')
    page = console.get(response.headers["location"])
    assert "Your console session ended" in page.text


def test_a_removed_operator_is_locked_out_at_once(
    console: Console, operator: OperatorInfo, services: Services
) -> None:
    assert console.get("/admin/projects").status_code == 200
    with db.transaction(services.sessions) as session:
        operators.remove_operator(
            session,
            operator.email,
            actor="cli",
            clock=services.clock,
            settings=services.settings,
        )
    response = console.get("/admin/projects", follow_redirects=False)
    assert response.status_code == 303


def test_sign_out(console: Console) -> None:
    response = console.post("/admin/signout")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/signin?reason=signed_out"
    assert "Max-Age=0" in response.headers["set-cookie"]
    # The session is dead on the server, not just forgotten by the browser.
    again = console.get("/admin/projects", follow_redirects=False)
    assert again.status_code == 303


def test_after_sign_in_only_console_paths_are_followed() -> None:
    assert security.safe_next("/admin/projects/p/orgs?q=acme") == "/admin/projects/p/orgs?q=acme"
    for hostile in ("https://evil.example/admin", "//evil.example", "/admin\\@evil", "/v1/x", ""):
        assert security.safe_next(hostile) == "/admin/projects"


def test_two_operators_have_separate_sessions(
    app: FastAPI, services: Services, operator: OperatorInfo
) -> None:
    from tests.factories import make_operator

    other = make_operator(services, "second@antechamber.example", "+12025550124")
    for client in signed_in_client(app, services, other.id):
        assert "second@antechamber.example" in client.get("/admin/projects").text


def test_idle_clock_is_reset_by_use(
    console: Console, clock: FrozenClock, services: Services
) -> None:
    idle = services.settings.console_idle_minutes
    for _ in range(3):
        clock.advance(timedelta(minutes=idle - 1))
        assert console.get("/admin/projects", follow_redirects=False).status_code == 200
