"""Lean dispatch (`antechamber.dispatch`): the edge hands a lean route's request to its handler
itself, and every answer is the whole stack's own, byte for byte.

Each comparison runs the same requests twice, on two fresh databases in the same state, with
the same randomness (`os.urandom`, which ids, tokens and codes come from) and the same frozen
clock: once with the dispatch (as served), once down the whole stack (the app built with
`lean_dispatch` off). Status, every header in order and the body must be the same bytes, and
the access log and request counters the same lines.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from antechamber import db, ids, models
from antechamber.api.auth import ApiRoute
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.dispatch import LeanDispatch
from antechamber.edge import Edge
from antechamber.errors import InvalidArgument, TooManyRequests
from antechamber.keys import service as keys
from antechamber.projects.service import create_project
from antechamber.settings import Settings
from tests.api.test_lean import BODIES
from tests.conftest import USE_PG
from tests.factories import allow_redirect, magic_token
from tests.flows import EXCHANGE, SESSION_AUTHENTICATE, SMS_AUTHENTICATE, SMS_SEND

DISCOVERY_SEND = "/v1/b2b/magic_links/email/discovery/send"
DISCOVERY_AUTHENTICATE = "/v1/b2b/magic_links/discovery/authenticate"
ORGANIZATIONS = "/v1/b2b/organizations"


class _AfterStart(Response):
    """An answer that fails once its head is sent (an exception mapped too late)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise InvalidArgument("too late")


class _Raising(Response):
    """An answer that fails before its head is sent."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise InvalidArgument("before the head")


# What a handler raises, by name: each kind of exception the app maps, and one it does not.
RAISED: dict[str, Callable[[], Exception]] = {
    "domain": lambda: InvalidArgument("no"),
    "too_many": lambda: TooManyRequests(retry_after=7),
    "http_404": lambda: HTTPException(status_code=404),
    "http_418": lambda: HTTPException(status_code=418, detail="teapot", headers={"X-T": "1"}),
    "integrity": lambda: IntegrityError("INSERT", {}, Exception("unique")),
    "data": lambda: DataError("INSERT", {}, Exception("nul")),
    "database_down": lambda: OperationalError("SELECT", {}, Exception("gone")),
    "unexpected": lambda: ValueError("a bug, with a secret: hunter2"),
    "type": lambda: TypeError("a bug"),
}

raising = APIRouter(prefix="/v1/b2b/_dispatch_test", route_class=ApiRoute)


@raising.post("/raise/{kind}", include_in_schema=False)
async def raise_kind(request: Request, kind: str) -> JSONResponse:
    raise RAISED[kind]()


@raising.get("/sync/{kind}", include_in_schema=False)
def raise_in_a_thread(request: Request, kind: str) -> JSONResponse:
    raise RAISED[kind]()


@raising.get("/answer/{how}", include_in_schema=False)
async def answer(request: Request, how: str) -> Response:
    if how == "after_start":
        return _AfterStart(b"x")
    if how == "raising":
        return _Raising(b"x")
    return Response(b"plain", headers={"X-Frame-Options": "SAMEORIGIN", "Location": "/x"})


@dataclass
class Side:
    """One run of the requests: with the dispatch, or down the whole stack."""

    client: TestClient
    project_id: str
    secret: str
    services: Any
    answers: list[tuple[str, str, int, list[tuple[bytes, bytes]], bytes]] = field(
        default_factory=list
    )
    # Per request: whether it went below the edge (through `ExceptionMiddleware`).
    below_edge: list[bool] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("auth", (self.project_id, self.secret))
        before = _ENTERED[0]
        response = self.client.request(method, path, **kwargs)
        self.below_edge.append(_ENTERED[0] != before)
        self.answers.append(
            (method, path, response.status_code, list(response.headers.raw), response.content)
        )
        return response


_ENTERED = [0]  # calls of `ExceptionMiddleware` (the first layer below the edge)


@pytest.fixture(autouse=True)
def count_below_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    call = ExceptionMiddleware.__call__

    async def counted(self: ExceptionMiddleware, scope: Scope, receive: Receive, send: Send) -> Any:
        _ENTERED[0] += 1
        return await call(self, scope, receive, send)

    monkeypatch.setattr(ExceptionMiddleware, "__call__", counted)


@contextmanager
def same_randomness(seed: int) -> Iterator[None]:
    """Every random byte (ids, tokens, codes, request ids) from a generator seeded `seed`."""
    rng = random.Random(seed)

    def urandom(n: int) -> bytes:
        return rng.randbytes(n)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "urandom", urandom)
        patch.setattr(random, "_urandom", urandom)
        patch.setattr(ids, "_pool", [])  # ids are cut from batches of random bytes
        yield


def _forget_what_the_process_remembers() -> None:
    """Empty the process's caches keyed by ids (the same on both sides: the same randomness):
    signing keys, verified secrets, recent JWTs, sessions touched."""
    from antechamber.projects import service as projects
    from antechamber.sessions import jwts, touch

    for cache in (
        keys._private_keys,
        keys._public_keys,
        keys._signed_here,
        keys._signing_kids,
        projects._verified,
        jwts._recent_jwts,
        touch._touched,
    ):
        cache.clear()


def _fresh_engine(template: str, tmp_path: Path, name: str) -> Engine:
    if not USE_PG:
        target = tmp_path / f"{name}.sqlite"
        shutil.copy(template, target)
        return db.make_engine(f"sqlite:///{target}")
    engine = db.make_engine(template)
    tables = ", ".join(f'"{t.name}"' for t in models.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@contextmanager
def side(
    dispatch: bool,
    *,
    settings: Settings,
    template: str,
    tmp_path: Path,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Side]:
    name = "dispatch" if dispatch else "whole"
    _forget_what_the_process_remembers()
    engine = _fresh_engine(template, tmp_path, name)
    changes = {"state_dir": tmp_path / name, "database_url": str(engine.url)}
    app = create_app(settings.model_copy(update=changes), engine=engine, clock=clock)
    app.lean_dispatch = dispatch  # type: ignore[attr-defined]
    app.include_router(raising)
    services = app.state.services
    with db.transaction(services.sessions) as session:
        project, issued = create_project(
            session, name="P", environment="test", actor="test", clock=clock, settings=settings
        )
    allow_redirect(services, project.id)
    caplog.clear()
    with TestClient(app, raise_server_exceptions=False) as client:
        edge = app.middleware_stack  # the outermost layer
        assert isinstance(edge, Edge)
        assert (edge.dispatch is not None) == dispatch
        yield Side(client, project.id, issued.secret, services)
    engine.dispose()


def _logged(caplog: pytest.LogCaptureFixture) -> list[tuple[Any, ...]]:
    """The access lines (all but the duration) and the error lines, in order."""
    lines = []
    for r in caplog.records:
        if r.name == "antechamber.access":
            lines.append(
                (r.method, r.route, r.status, r.request_id, r.project_id)  # type: ignore[attr-defined]
            )
        elif r.levelname in ("WARNING", "ERROR"):
            lines.append((r.name, r.levelname, r.getMessage(), r.exc_info is not None))
    return lines


def _counted(services: Any) -> list[str]:
    """The request counts of /metrics (durations and creation times differ from run to run)."""
    lines = services.metrics.exposition().decode().splitlines()
    return [line for line in lines if line.startswith("antechamber_http_requests_total")]


def _login_and_more(s: Side) -> None:
    """A login with and without MFA, the session checks, reads, and a refusal of each kind."""
    org = s.call("POST", ORGANIZATIONS, json={"organization_name": "Acme"}).json()
    org_id = org["organization"]["organization_id"]
    mfa = s.call(
        "POST",
        ORGANIZATIONS,
        json={"organization_name": "Vault", "mfa_policy": "REQUIRED_FOR_ALL"},
    ).json()["organization"]["organization_id"]
    for organization_id, email, phone in [
        (org_id, "ada@example.com", None),
        (mfa, "bob@example.com", "+12025550123"),
    ]:
        s.call("POST", f"{ORGANIZATIONS}/{organization_id}/members", json={"email_address": email})
        s.call("POST", DISCOVERY_SEND, json={"email_address": email})
        token = magic_token(s.services, email)
        found = s.call(
            "POST", DISCOVERY_AUTHENTICATE, json={"discovery_magic_links_token": token}
        ).json()
        ist = found["intermediate_session_token"]
        entered = s.call(
            "POST",
            EXCHANGE,
            json={"intermediate_session_token": ist, "organization_id": organization_id},
        ).json()
        s.call(  # the IST is spent
            "POST",
            EXCHANGE,
            json={"intermediate_session_token": ist, "organization_id": organization_id},
        )
        if phone is not None:
            pending = {"intermediate_session_token": entered["intermediate_session_token"]}
            member_id = entered["member_id"]
            ids = {"organization_id": organization_id, "member_id": member_id}
            s.call("POST", SMS_SEND, json={**ids, **pending, "mfa_phone_number": phone})
            s.call("POST", SMS_AUTHENTICATE, json={**ids, **pending, "code": "000000"})
            code = _last_code(s.services, phone)
            entered = s.call("POST", SMS_AUTHENTICATE, json={**ids, **pending, "code": code}).json()
        for _ in range(2):
            s.call("POST", SESSION_AUTHENTICATE, json={"session_token": entered["session_token"]})
            s.call("POST", SESSION_AUTHENTICATE, json={"session_jwt": entered["session_jwt"]})
        s.call("GET", f"{ORGANIZATIONS}/{organization_id}")
    s.call("GET", f"/v1/b2b/sessions/jwks/{s.project_id}")
    s.call("POST", SESSION_AUTHENTICATE, json={"session_token": "nope"})
    s.call("GET", f"{ORGANIZATIONS}/organization-test-nope")
    s.call("GET", f"{ORGANIZATIONS}/%20")
    s.call("GET", f"{ORGANIZATIONS}/{org_id}", auth=(s.project_id, "wrong"))
    s.call("GET", f"{ORGANIZATIONS}/{org_id}", auth=None)
    s.call("POST", DISCOVERY_SEND, json={"email_address": "a@b.c"}, auth=("project-x", "y"))


def _last_code(services: Any, phone: str) -> str:
    from antechamber.delivery import outbox

    with services.sessions() as session:
        message = outbox.recent(session, recipient=phone, limit=1)[0]
        return str(outbox.context_of(message, services.settings.key_bytes())["code"])


def _refusals(s: Side) -> None:
    """Every way a request for a lean route goes wrong, at the door or past it."""
    for path, content_type, body in BODIES:  # FastAPI's refusals (the whole stack's)
        headers = {} if content_type is None else {"content-type": content_type}
        s.call("POST", path, content=body, headers=headers)
    for kind in RAISED:
        s.call("POST", f"/v1/b2b/_dispatch_test/raise/{kind}")
        s.call("GET", f"/v1/b2b/_dispatch_test/sync/{kind}")
    for how in ("after_start", "raising", "plain"):
        s.call("GET", f"/v1/b2b/_dispatch_test/answer/{how}")
    for method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE"):  # a POST route: 405
        s.call(method, SESSION_AUTHENTICATE)
    for method in ("HEAD", "OPTIONS", "POST"):  # a GET route
        s.call(method, f"/v1/b2b/sessions/jwks/{s.project_id}")
    s.call("POST", SESSION_AUTHENTICATE + "/", json={"session_token": "x"})
    s.call("POST", "/v1/b2b/nowhere", json={})
    s.call("GET", "/v1/b2b/sessions/jwks/")
    s.call("POST", SESSION_AUTHENTICATE, content=b'{"session_token": "\\u0000"}')
    s.call("POST", SESSION_AUTHENTICATE, content=b'{"session_token": NaN}')
    s.call("POST", SESSION_AUTHENTICATE, content=b"x=1", headers={"content-type": "text/plain"})
    s.call("POST", SESSION_AUTHENTICATE, content=b"{}" + b" " * (1 << 21))
    s.call("POST", SESSION_AUTHENTICATE + "?token=%00", json={"session_token": "x"})
    s.call("GET", "/healthz")
    s.call("GET", "/openapi.json")


@pytest.mark.parametrize("requests", [_login_and_more, _refusals])
def test_every_answer_is_the_whole_stacks_own(
    requests: Callable[[Side], None],
    settings: Settings,
    database_template: str,
    tmp_path: Path,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level("INFO")
    key = keys.new_private_key()
    monkeypatch.setattr(keys, "new_private_key", lambda: key)  # one signing key on each side
    runs = []
    for dispatch in (True, False):
        with (
            same_randomness(21),
            side(
                dispatch,
                settings=settings,
                template=database_template,
                tmp_path=tmp_path,
                clock=clock,
                caplog=caplog,
            ) as s,
        ):
            requests(s)
            runs.append((s, _logged(caplog), _counted(s.services)))
    (lean, lean_log, lean_counts), (whole, whole_log, whole_counts) = runs
    assert len(lean.answers) == len(whole.answers)
    for mine, theirs in zip(lean.answers, whole.answers, strict=True):
        assert mine == theirs
    assert lean_log == whole_log
    assert lean_counts == whole_counts
    # What the whole stack served below the edge (all but the edge's own refusals), the
    # dispatch served itself or handed down: every 200 of the API its own, and in the refusals
    # every exception a handler raised and every answer the handlers made.
    served = []
    for (_, path, status, _, _), mine, theirs in zip(
        lean.answers, lean.below_edge, whole.below_edge, strict=True
    ):
        assert theirs or not mine, path
        served.append(theirs and not mine)
        if status == 200 and path.startswith("/v1/"):
            assert served[-1], path
    if requests is _refusals:
        assert sum(served) >= 2 * len(RAISED) + 3


def test_a_lean_route_skips_the_stack_below_the_edge(api: TestClient) -> None:
    before = _ENTERED[0]
    assert api.post(SESSION_AUTHENTICATE, json={"session_token": "nope"}).status_code == 404
    assert api.get("/v1/b2b/organizations/organization-test-nope").status_code == 404
    assert _ENTERED[0] == before
    # Off the happy path (FastAPI's refusal), a wrong method, no route: the whole stack.
    assert api.post(DISCOVERY_SEND, json={}).status_code == 400
    assert api.get(SESSION_AUTHENTICATE).status_code == 405
    assert api.get("/v1/b2b/nowhere").status_code == 404
    assert _ENTERED[0] == before + 3


def test_no_dispatch_where_the_stack_below_the_edge_is_not_the_one_it_knows(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    app.build_middleware_stack()
    edge = app.build_middleware_stack()  # the outermost layer
    assert isinstance(edge.dispatch, LeanDispatch)
    assert LeanDispatch.install(edge.app.app, app.route_index) is None  # type: ignore[attr-defined]
    assert LeanDispatch.install(edge.app, None) is None
    edge.app.debug = True
    assert LeanDispatch.install(edge.app, app.route_index) is None  # type: ignore[attr-defined]
    app.max_body_size = 1 << 20  # FastAPI's own body limit layer stays: so does the stack
    stack = app.build_middleware_stack()
    node: Any = stack
    while not isinstance(node, Edge):
        node = node.app
    assert node.dispatch is None
