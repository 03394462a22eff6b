"""A `/v1` request's unit of work and its handler run in one worker thread.

A unit of work holds the database's write lock (SQLite) or a pooled connection and row locks
(PostgreSQL) from its first statement to its commit. Opened in one hop to FastAPI's thread pool
and used in another, a lock holder could wait for a free thread while every thread waited for
its lock (measured: a discovery login with 64 concurrent users on SQLite stalled for the 30 s
lock timeout). `ApiRoute` keeps the whole request in one thread.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials, another_thread_writing
from tests.factories import make_org


def test_a_write_request_makes_one_hop_to_the_thread_pool(
    client: TestClient, project: Credentials, hops: list[str]
) -> None:
    response = client.post(
        "/v1/b2b/organizations", json={"organization_name": "One hop"}, auth=project.auth
    )
    assert response.status_code == 200
    assert len(hops) == 1, hops


def read_paths(api: TestClient, services: Services, project: Credentials) -> list[str]:
    """An authenticated read and the public JWKS (its first request, which makes the project's
    first key, is a write and is made here)."""
    org = make_org(services, project.project_id)
    jwks = f"/v1/b2b/sessions/jwks/{project.project_id}"
    assert api.get(jwks).status_code == 200
    return [f"/v1/b2b/organizations/{org.id}", jwks]


def test_reads_run_on_the_event_loop_where_reads_never_wait(
    api: TestClient, services: Services, project: Credentials, hops: list[str]
) -> None:
    paths = read_paths(api, services, project)
    for path in paths:
        hops.clear()
        response = api.get(path)
        assert response.status_code == 200
        assert len(hops) == 0, (path, hops)  # PostgreSQL: in a greenlet on the loop


def test_a_handler_sees_its_scope_and_keeps_its_own_parameters(
    app: FastAPI, project: Credentials
) -> None:
    seen: dict[str, Any] = {}

    def handler(request: Request, scope: ProjectScope, name: str = "x") -> Any:
        seen.update(thread=threading.get_ident(), project=scope.project_id, name=name)
        return ok(request, name=name)

    app.router.routes.append(ApiRoute("/v1/test/one-hop", handler, methods=["GET"]))
    with TestClient(app) as client:
        response = client.get("/v1/test/one-hop?name=ada", auth=project.auth)
        unauthenticated = client.get("/v1/test/one-hop?name=ada")
    assert response.status_code == 200
    assert seen["project"] == project.project_id
    assert seen["name"] == "ada"
    assert unauthenticated.status_code == 401


@pytest.mark.skipif(USE_PG, reason="SQLite's single writer")
def test_reads_do_not_queue_behind_a_writer(
    api: TestClient, services: Services, project: Credentials
) -> None:
    """A GET's unit of work is read-only: it answers while a login holds the write lock."""
    paths = read_paths(api, services, project)
    with another_thread_writing(services) as writer_gave_up:
        answered = [(path, api.get(path).status_code, writer_gave_up.is_set()) for path in paths]
    assert answered == [(path, 200, False) for path in paths]


def test_a_get_route_that_tries_to_write_fails_instead_of_writing(
    app: FastAPI, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_name="Before")

    def handler(request: Request, scope: ProjectScope) -> Any:
        row = scope.db.get(Organization, org.id)
        assert row is not None
        row.name = "After"
        scope.db.flush()
        return ok(request)

    app.router.routes.append(ApiRoute("/v1/test/get-writes", handler, methods=["GET"]))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/test/get-writes", auth=project.auth)
    assert response.status_code == 500
    with services.sessions() as session:
        assert session.get(Organization, org.id).name == "Before"  # type: ignore[union-attr]
