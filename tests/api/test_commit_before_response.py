"""A request's transaction is committed before its response leaves the server."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import event

from antechamber.services import Services
from tests.conftest import Credentials, LiveServer


def test_the_commit_happens_before_the_answer(
    live_server: LiveServer, project: Credentials, services: Services, app: Any
) -> None:
    committed: list[bool] = []
    engine = app.state.services.engine

    def listener(_conn: Any) -> None:
        # A slow commit: were it to run after the response, the client would get there first.
        time.sleep(0.3)
        committed.append(True)

    event.listen(engine, "commit", listener)
    try:
        response = httpx.post(
            f"{live_server.url}/v1/b2b/organizations",
            json={"organization_name": "Acme"},
            auth=project.auth,
        )
        # When the client holds the answer, the write is already durable and visible.
        assert response.status_code == 200
        assert committed
    finally:
        event.remove(engine, "commit", listener)
