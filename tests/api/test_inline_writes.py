"""The hot write paths of a login run on the event loop when that cannot block it.

On SQLite, a handler marked `inline_write` runs its unit of work (authentication, handler,
commit) on the event loop itself once the writer lock is free (waiting for a thread of this
process without blocking the loop); while another process holds it, in a worker thread that
queues for it. Unmarked handlers, and every
handler on PostgreSQL, always run in a worker thread; so does any call to the network (the
SSO routes: tests/sso/test_oidc_flow.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.testclient import TestClient

from antechamber import db
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.errors import NotFound
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import USE_PG, Credentials, another_thread_writing
from tests.email_auth.conftest import (
    OTP_AUTHENTICATE,
    OTP_DISCOVERY_AUTHENTICATE,
    OTP_DISCOVERY_SEND,
    OTP_LOGIN_OR_SIGNUP,
    email_code,
)
from tests.factories import allow_redirect, make_member, make_org, message_ids
from tests.locks import another_process_holds_the_writer_lock

ADA = "ada@acme.example"

#: The routes whose handlers may write on the event loop. Adding one means checking that its
#: handler waits for nothing but the database (no network, no sleep): see `inline_write`.
INLINE = {
    "POST /v1/b2b/magic_links/email/discovery/send",
    "POST /v1/b2b/magic_links/discovery/authenticate",
    "POST /v1/b2b/discovery/intermediate_sessions/exchange",
    "POST /v1/b2b/otps/sms/send",
    "POST /v1/b2b/otps/sms/authenticate",
    "POST /v1/b2b/totp/authenticate",
    "POST /v1/b2b/sessions/exchange",
    "POST /v1/b2b/otps/email/login_or_signup",
    "POST /v1/b2b/otps/email/authenticate",
    "POST /v1/b2b/otps/email/discovery/send",
    "POST /v1/b2b/otps/email/discovery/authenticate",
}


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(getattr(route, "original_router", route), "routes", None)
        if inner is not None and not isinstance(route, APIRoute):  # an included router
            yield from _api_routes(inner)


def test_only_the_listed_hot_paths_write_on_the_event_loop(app: FastAPI) -> None:
    marked = {
        f"{method} {route.path}"
        for route in _api_routes(app.routes)
        if getattr(route.endpoint, "_inline_write", False)
        for method in route.methods
    }
    assert marked == INLINE


def _route(app: FastAPI, seen: list[bool], *, fail: bool = False) -> None:
    """POST /v1/test/inline: an `inline_write` handler that creates an organization (its row
    and audit event) and records whether it ran on the event loop."""

    @inline_write
    def handler(request: Request, scope: ProjectScope) -> Any:
        seen.append(on_event_loop())
        if fail:
            raise NotFound()
        n = len(seen)
        organizations.create_organization(
            scope, {"organization_name": "Inline", "organization_slug": f"inline-{n}"}
        )
        return ok(request)

    app.router.routes.append(ApiRoute("/v1/test/inline", handler, methods=["POST"]))


def test_a_marked_write_runs_on_the_event_loop_when_the_lock_is_free(
    app: FastAPI, services: Services, project: Credentials, hops: list[str]
) -> None:
    seen: list[bool] = []
    _route(app, seen)
    with TestClient(app) as client:
        response = client.post("/v1/test/inline", auth=project.auth)
    assert response.status_code == 200, response.text
    assert seen == [not USE_PG]
    assert len(hops) == (1 if USE_PG else 0), hops
    assert _inline_orgs(services) == 1


def _inline_orgs(services: Services) -> int:
    with services.sessions() as session:
        return len(session.scalars(select(Organization).filter_by(name="Inline")).all())


def test_a_marked_write_that_fails_on_the_loop_answers_as_before_and_lets_go(
    app: FastAPI, services: Services, project: Credentials, hops: list[str]
) -> None:
    seen: list[bool] = []
    _route(app, seen, fail=True)
    with TestClient(app) as client:
        failed = client.post("/v1/test/inline", auth=project.auth)
        unauthenticated = client.post("/v1/test/inline")
    assert failed.status_code == 404
    assert failed.json()["error_type"] == "not_found"
    assert unauthenticated.status_code == 401
    assert seen == [not USE_PG]  # the unauthenticated one never reached the handler
    assert len(hops) == (2 if USE_PG else 0), hops
    with db.writer_held_if_free(services.engine) as free:  # the lock was given back
        assert free is not USE_PG
    assert _inline_orgs(services) == 0


def _in_the_background(
    client: TestClient, project: Credentials
) -> tuple[threading.Thread, list[int]]:
    answers: list[int] = []

    def post() -> None:
        answers.append(client.post("/v1/test/inline", auth=project.auth).status_code)

    request = threading.Thread(target=post)
    request.start()
    return request, answers


def _loop_answers(client: TestClient) -> bool:
    """Whether the event loop answers `/healthz` within 10 s. Asked from a thread: were the
    loop blocked on the writer lock, a direct call would wait for it forever, and the lock is
    let go only when the test's block ends, so the test would hang instead of failing."""
    answers: list[int] = []
    probe = threading.Thread(
        target=lambda: answers.append(client.get("/healthz").status_code), daemon=True
    )
    probe.start()
    probe.join(10)
    return answers == [200]


def _one_hops(hops: list[str]) -> list[str]:
    return [hop for hop in hops if "_in_one_hop" in hop]  # not /healthz's


@pytest.mark.skipif(USE_PG, reason="SQLite's writer lock")
def test_a_marked_write_waits_on_the_loop_while_another_thread_holds_the_lock(
    app: FastAPI, services: Services, project: Credentials, hops: list[str]
) -> None:
    """A real second unit of work holds the lock in a thread: the request waits for it without
    blocking the loop (which would stop the server), then runs on the loop."""
    seen: list[bool] = []
    _route(app, seen)
    with TestClient(app) as client:
        with another_thread_writing(services) as released:
            request, answers = _in_the_background(client, project)
            time.sleep(0.3)
            # The loop is free meanwhile: it answers while the write waits for the lock.
            assert _loop_answers(client), "the event loop is blocked"
            assert not seen
            assert not released.is_set()
        request.join(10)
    assert answers == [200]
    assert seen == [True]
    assert _one_hops(hops) == []
    assert _inline_orgs(services) == 1


@pytest.mark.skipif(USE_PG, reason="SQLite's writer lock")
def test_a_marked_write_goes_to_a_thread_while_another_process_holds_the_lock(
    app: FastAPI, services: Services, project: Credentials, hops: list[str]
) -> None:
    """Another process (`serve --workers 2`, the delivery process) writes: no wake-up comes
    from there, so the request queues in a worker thread; the loop stays free."""
    seen: list[bool] = []
    _route(app, seen)
    with TestClient(app) as client:
        with another_process_holds_the_writer_lock(services.engine):
            request, answers = _in_the_background(client, project)
            deadline = time.monotonic() + 10
            while not _one_hops(hops) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _one_hops(hops), "the write neither ran nor went to a thread"
            assert _loop_answers(client), "the event loop is blocked"
            assert not seen
        request.join(10)
        # The lock is free again: the next write runs on the loop.
        assert client.post("/v1/test/inline", auth=project.auth).status_code == 200
    assert answers == [200]
    assert seen == [False, True]
    assert len(_one_hops(hops)) == 1, hops
    assert _inline_orgs(services) == 2


def test_a_hot_path_makes_no_hop_on_sqlite(
    api: TestClient, services: Services, project: Credentials, hops: list[str]
) -> None:
    allow_redirect(services, project.project_id)
    make_org(services, project.project_id)
    response = api.post(
        "/v1/b2b/magic_links/email/discovery/send", json={"email_address": "ada@acme.example"}
    )
    assert response.status_code == 200, response.text
    assert len(hops) == (1 if USE_PG else 0), hops


def test_an_unmarked_write_runs_in_a_worker_thread(
    app: FastAPI, project: Credentials, hops: list[str]
) -> None:
    seen: list[bool] = []

    def handler(request: Request, scope: ProjectScope) -> Any:
        seen.append(on_event_loop())
        return ok(request)

    app.router.routes.append(ApiRoute("/v1/test/unmarked", handler, methods=["POST"]))
    with TestClient(app) as client:
        assert client.post("/v1/test/unmarked", auth=project.auth).status_code == 200
    assert seen == [False]
    assert len(hops) == 1, hops


def test_the_email_otp_logins_make_no_hop_on_sqlite(
    api: TestClient, services: Services, project: Credentials, hops: list[str]
) -> None:
    """Discovery and organization email OTP, send and authenticate: the database only."""
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address=ADA)

    def sent(path: str, body: dict[str, Any]) -> str:
        seen = message_ids(services, ADA)
        response = api.post(path, json=body)
        assert response.status_code == 200, response.text
        return email_code(services, ADA, seen)

    code = sent(OTP_DISCOVERY_SEND, {"email_address": ADA})
    found = api.post(OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": code})
    assert found.status_code == 200, found.text
    code = sent(OTP_LOGIN_OR_SIGNUP, {"organization_id": org.id, "email_address": ADA})
    done = api.post(
        OTP_AUTHENTICATE, json={"organization_id": org.id, "email_address": ADA, "code": code}
    )
    assert done.status_code == 200, done.text
    assert len(hops) == (4 if USE_PG else 0), hops
