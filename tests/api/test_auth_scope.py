"""`api.auth.authenticated_scope`: the unit of work every `/v1/b2b` request runs in, and the
`Scope` its handler sees (the caller's project, its secret as the actor, the client's address).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from antechamber.api.auth import ApiRoute, ProjectScope, authenticated_scope
from antechamber.api.envelope import ok
from antechamber.errors import Unauthorized
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.scope import Scope
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_org


def _request(app: FastAPI, project: Credentials, **scope: Any) -> Request:
    pair = base64.b64encode(f"{project.project_id}:{project.secret}".encode())
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/v1/b2b/x",
            "headers": [(b"authorization", b"Basic " + pair)],
            "client": ("192.0.2.7", 50000),
            "app": app,
            **scope,
        }
    )


def test_the_scope_is_the_callers_project_and_secret_as_dataclasses_replace_made_it(
    app: FastAPI, project: Credentials
) -> None:
    """Field for field what the generator version built: the unit's scope, replaced with the
    caller's project, environment, actor and client address."""
    services: Services = app.state.services
    request = _request(app, project)
    with authenticated_scope(request, read_only=True) as scope:
        caller = projects.authenticate(scope.db, project.project_id, project.secret)
        with services.scope(project.project_id, "test", "", read_only=True) as unit:
            expected = dataclasses.replace(
                unit,
                db=scope.db,
                project_id=caller.project_id,
                environment="live" if "-live-" in caller.project_id else "test",
                actor=f"secret:{caller.secret_id}",
                client_ip="192.0.2.7",
            )
    assert type(scope) is Scope
    for field in dataclasses.fields(Scope):
        assert getattr(scope, field.name) == getattr(expected, field.name), field.name
    assert scope.actor.startswith("secret:")
    assert scope.limiter is services.limiter
    assert scope.metrics is services.metrics
    assert request.state.project_id == project.project_id


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    app: FastAPI, project: Credentials
) -> None:
    services: Services = app.state.services
    headers = [(b"x-forwarded-for", b"198.51.100.9")]
    request = _request(app, project)
    request.scope["headers"] = request.scope["headers"] + headers
    with authenticated_scope(request, read_only=True) as scope:
        assert scope.client_ip == "192.0.2.7"  # no proxy believed
    trusting = services.settings.model_copy(update={"trusted_proxies": ["192.0.2.7"]})
    app.state.services = dataclasses.replace(services, settings=trusting)
    try:
        with authenticated_scope(_request(app, project, headers=request.scope["headers"])) as s:
            assert s.client_ip == "198.51.100.9"
    finally:
        app.state.services = services
    no_client = _request(app, project, client=None)
    with authenticated_scope(no_client, read_only=True) as scope:
        assert scope.client_ip is None


def test_a_block_that_raises_rolls_its_unit_back(
    app: FastAPI, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_name="Before")
    with pytest.raises(RuntimeError), authenticated_scope(_request(app, project)) as scope:
        row = scope.db.get(Organization, org.id)
        assert row is not None
        row.name = "After"
        scope.db.flush()
        raise RuntimeError("the handler failed")
    with services.sessions() as session:
        assert session.get(Organization, org.id).name == "Before"  # type: ignore[union-attr]
    # The unit ended: the next one writes (SQLite's writer lock was given back).
    with authenticated_scope(_request(app, project)) as scope:
        row = scope.db.get(Organization, org.id)
        assert row is not None
        row.name = "After"
    with services.sessions() as session:
        assert session.get(Organization, org.id).name == "After"  # type: ignore[union-attr]


def test_a_wrong_secret_is_refused_and_leaves_no_unit_open(
    app: FastAPI, services: Services, project: Credentials
) -> None:
    wrong = Credentials(project.project_id, project.secret + "x")
    for _ in range(2):
        with pytest.raises(Unauthorized), authenticated_scope(_request(app, wrong)):
            raise AssertionError("not reached")
    with authenticated_scope(_request(app, project)) as scope:
        assert scope.project_id == project.project_id


def test_a_route_sees_the_same_scope(app: FastAPI, project: Credentials) -> None:
    seen: dict[str, Any] = {}

    def handler(request: Request, scope: ProjectScope) -> Any:
        seen.update(project=scope.project_id, actor=scope.actor, ip=scope.client_ip)
        return ok(request)

    app.router.routes.append(ApiRoute("/v1/test/auth-scope", handler, methods=["POST"]))
    with TestClient(app) as client:
        assert client.post("/v1/test/auth-scope", auth=project.auth).status_code == 200
    assert seen["project"] == project.project_id
    assert seen["actor"].startswith("secret:")
    assert seen["ip"] == "testclient"
