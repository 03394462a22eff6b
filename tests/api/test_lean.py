"""The lean request path (`api.lean`): the hot routes skip FastAPI's dependency machinery and
the second JSON parse, and answer every body exactly as FastAPI's own handler does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.requests import Request

from antechamber.api import lean
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.settings import Settings
from tests.conftest import Credentials

SEND = "/v1/b2b/magic_links/email/discovery/send"
SESSION = "/v1/b2b/sessions/authenticate"
SMS = "/v1/b2b/otps/sms/authenticate"
JSON = {"content-type": "application/json"}

# (path, content-type or None, body): each off the happy path in its own way.
BODIES: list[tuple[str, str | None, bytes]] = [
    (SEND, "application/json", b"{}"),
    (SEND, "application/json", b'{"email_address": 5}'),
    (SEND, "application/json", b'{"email_address": "a@example.com", "locale": ["x"]}'),
    (SEND, "application/json", b"null"),
    (SEND, "application/json", b"[]"),
    (SEND, "application/json", b'"text"'),
    (SEND, "application/json", b"{"),
    (SEND, "application/json", b'{"a": 1,}'),
    (SEND, "application/json", b""),
    (SEND, "application/json", b"   "),
    (SEND, None, b'{"email_address": "a@example.com"}'),
    (SEND, "text/plain", b'{"email_address": "a@example.com"}'),
    (SEND, "application/json; charset=utf-8", b'{"email_address": "not an email"}'),
    (SEND, "application/vnd.api+json", b"{}"),
    (SEND, "APPLICATION/JSON", b"{}"),
    (SEND, "application/json", b'{"email_address": "a@example.com", "extra": 1}'),
    (SEND, "application/json", b"\xef\xbb\xbf{}"),  # a UTF-8 byte order mark
    (SEND, "application/json", b'{"email_address": "\xff"}'),  # not UTF-8
    (SEND, "application/json", b"[" * 5000 + b"]" * 5000),
    (SESSION, "application/json", b"{}"),
    (SESSION, "application/json", b'{"session_token": "nope"}'),
    (SESSION, "application/json", b'{"session_token": "x", "session_duration_minutes": "ten"}'),
    (SESSION, "application/json", b'{"session_token": "x", "authorization_check": {}}'),
    (SESSION, "application/json", b'{"session_jwt": "a.b.c", "session_custom_claims": 3}'),
    (SMS, "application/json", b'{"organization_id": "o", "member_id": "m", "code": 123456}'),
    (SMS, "application/json", b'{"organization_id": "o", "member_id": "m", "code": "123456"}'),
]


def _answer(client: TestClient, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = client.request(method, path, **kwargs)
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, body


@pytest.fixture
def fastapi_client(
    settings: Settings, engine: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """An app whose routes all keep FastAPI's own handler (built while the lean path is off)."""
    monkeypatch.setattr(lean, "AVAILABLE", False)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/healthz")  # routes and their handlers built now, lean path off
        monkeypatch.setattr(lean, "AVAILABLE", True)
        yield client


@pytest.mark.parametrize(("path", "content_type", "body"), BODIES)
def test_every_refusal_is_fastapis_own(
    api: TestClient,
    fastapi_client: TestClient,
    project: Credentials,
    path: str,
    content_type: str | None,
    body: bytes,
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    fastapi_client.auth = project.auth
    expected = _answer(fastapi_client, "POST", path, content=body, headers=headers)
    assert expected[0] != 200  # each case is off the happy path
    assert _answer(api, "POST", path, content=body, headers=headers) == expected


def test_path_parameters_and_authentication_answer_as_fastapi_does(
    api: TestClient, fastapi_client: TestClient, project: Credentials
) -> None:
    for auth in (project.auth, (project.project_id, "wrong"), None):
        fastapi_client.auth = auth  # type: ignore[assignment]
        api.auth = auth  # type: ignore[assignment]
        for method, path in [
            ("GET", "/v1/b2b/organizations/organization-test-nope"),
            ("GET", "/v1/b2b/organizations/%20"),
            ("GET", f"/v1/b2b/sessions/jwks/{project.project_id}"),
            ("GET", "/v1/b2b/sessions/jwks/project-test-nope"),
        ]:
            assert _answer(api, method, path) == _answer(fastapi_client, method, path)


def test_a_hot_route_skips_the_dependency_machinery_and_the_second_parse(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[str] = []
    parsed: list[bytes] = []
    solve = fastapi.routing.solve_dependencies
    read_json = Request.json

    async def counted_solve(**kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(**kwargs)

    async def counted_json(request: Request) -> Any:
        parsed.append(await request.body())
        return await read_json(request)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted_solve)
    monkeypatch.setattr(Request, "json", counted_json)
    # A valid body, refused by the handler itself (this project has no redirect URL).
    answer = api.post(SEND, json={"email_address": "ada@example.com"})
    assert answer.json()["error_type"] == "no_discovery_redirect_urls_set", answer.text
    assert api.post(SESSION, json={"session_token": "nope"}).status_code == 404
    assert api.get("/v1/b2b/organizations/organization-test-nope").status_code == 404
    assert solved == []
    assert parsed == []
    # Off the happy path, FastAPI's handler answers (and parses the body itself).
    assert api.post(SEND, json={}).status_code == 400
    assert solved == [SEND]
    assert parsed == [b"{}"]


def test_fastapis_content_type_rule() -> None:
    assert lean.json_content_type("application/json")
    assert lean.json_content_type("application/json; charset=utf-8")
    assert lean.json_content_type("Application/JSON")
    assert lean.json_content_type("application/merge-patch+json")
    assert not lean.json_content_type("text/json")
    assert not lean.json_content_type("application/jsonx")
    assert not lean.json_content_type("multipart/form-data")
