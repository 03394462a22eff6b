"""The official SDKs against a live server, with a log of the requests that reached it."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.factories import allow_redirect


class RequestLog:
    """An ASGI wrapper counting requests by path: proves what did (not) reach the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: Counter[str] = Counter()
        self.order: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths[scope["path"]] += 1
            self.order.append(scope["path"].removeprefix("/v1/b2b/"))
        await self.app(scope, receive, send)


@pytest.fixture
def inner_app(settings: Settings, engine: Engine, clock: FrozenClock) -> FastAPI:
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def app(inner_app: FastAPI) -> RequestLog:
    """Overrides the root `app`: `live_server` and `sdk` serve this wrapper."""
    return RequestLog(inner_app)


@pytest.fixture
def request_log(app: RequestLog) -> RequestLog:
    return app


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)
