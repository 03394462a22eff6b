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

import anyio.to_thread
import pytest
from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from antechamber.api.auth import ApiRoute, ProjectScope
from antechamber.api.envelope import ok
from tests.conftest import Credentials


def test_a_write_request_makes_one_hop_to_the_thread_pool(
    client: TestClient, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    response = client.post(
        "/v1/b2b/organizations", json={"organization_name": "One hop"}, auth=project.auth
    )
    assert response.status_code == 200
    assert len(hops) == 1, hops


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
