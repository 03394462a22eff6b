"""Transport: what reaches the API before any rule runs. Sizes, media types, methods, odd JSON
and odd credentials all get a 4xx envelope, never a 500, and change nothing.

Research §1.7 (REST Security: 413 over the limit, 415 for an unexpected Content-Type), §2.10
(fastapi#1181, starlette#890: no default body limit; a cap must hold without Content-Length).
Bodies are sent as bytes so that what Python's JSON reader accepts beyond the standard (NaN,
Infinity, overflowing numbers, lone surrogate escapes) can be tried.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.services import Services
from tests.conftest import Credentials
from tests.flows import SEND, SESSION_AUTHENTICATE
from tests.snapshots import assert_refused, unchanged

ORGS = "/v1/b2b/organizations"
JSON = {"Content-Type": "application/json"}


def post(api: TestClient, path: str, body: bytes, **headers: str) -> Any:
    return api.post(path, content=body, headers={**JSON, **headers})


def test_bodies_over_the_limit_are_refused_with_or_without_a_length(
    api: TestClient, services: Services, engine: Engine
) -> None:
    limit = services.settings.max_body_bytes
    big = json.dumps({"organization_name": "A", "trusted_metadata": {"x": "y" * limit}}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    with unchanged(engine):
        assert_refused(post(api, ORGS, big), 413, "request_too_large")
        response = api.post(ORGS, content=chunks(), headers=JSON)  # chunked: no Content-Length
        assert_refused(response, 413, "request_too_large")
        lying = api.post(ORGS, content=big, headers={**JSON, "Content-Length": "10"})
        assert lying.status_code in (400, 413), lying.text
        assert lying.json()["error_type"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
        "application/json-seq",
        "application/vnd.api+json",
    ],
)
def test_bodies_that_are_not_json_are_refused(
    api: TestClient, engine: Engine, content_type: str
) -> None:
    """A browser can send text/plain and forms cross-site without a preflight (CSRF)."""
    with unchanged(engine):
        response = api.post(
            ORGS, content=b'{"organization_name": "A"}', headers={"Content-Type": content_type}
        )
        assert_refused(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"]
)
def test_json_is_json_however_it_is_spelled(api: TestClient, content_type: str) -> None:
    response = api.post(
        ORGS, content=b'{"organization_name": "A"}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", ORGS + "/x"),
        ("PATCH", ORGS),
        ("GET", SEND),
        ("HEAD", SEND),
        ("PUT", SEND),
        ("DELETE", SESSION_AUTHENTICATE),
        ("OPTIONS", ORGS),
        ("TRACE", ORGS + "/x"),
        ("POST", "/v1/b2b/sessions/jwks/project-test-x"),
    ],
)
def test_methods_a_route_does_not_have_are_refused(
    api: TestClient, engine: Engine, method: str, path: str
) -> None:
    with unchanged(engine):
        response = api.request(method, path)
        assert response.status_code == 405
        if method != "HEAD":
            assert_refused(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    "path",
    ["/v1/b2b/nowhere", "/v1/b2b/organizations/x/y/z", "/v1/b2b/../admin", "/v1/consumer/users"],
)
def test_unknown_routes_are_not_found(api: TestClient, path: str) -> None:
    assert_refused(api.get(path), 404, "route_not_found")


UNREPRESENTABLE = [
    b'{"organization_name": "A", "trusted_metadata": {"x": NaN}}',
    b'{"organization_name": "A", "trusted_metadata": {"x": Infinity}}',
    b'{"organization_name": "A", "trusted_metadata": {"x": -Infinity}}',
    b'{"organization_name": "A", "trusted_metadata": {"x": 1e999}}',
    b'{"organization_name": "\\ud800"}',
    b'{"organization_name": "A", "trusted_metadata": {"\\udfff": 1}}',
    b'{"organization_name": "A\\udc00\\ud800"}',  # the wrong order is no pair
]


@pytest.mark.parametrize("body", UNREPRESENTABLE)
def test_json_that_cannot_be_stored_or_answered_is_refused(
    api: TestClient, engine: Engine, body: bytes
) -> None:
    """Python reads these; no JSON answer or database column can hold them (they were 500s)."""
    org = make_org_id(api)
    with unchanged(engine):
        for path in (ORGS, f"{ORGS}/search", SESSION_AUTHENTICATE):
            assert_refused(post(api, path, body), 400, "invalid_argument")
        assert_refused(
            api.put(f"{ORGS}/{org}", content=body, headers=JSON), 400, "invalid_argument"
        )


def make_org_id(api: TestClient) -> str:
    return str(
        api.post(ORGS, json={"organization_name": "Target"}).json()["organization"][
            "organization_id"
        ]
    )


def test_a_surrogate_pair_is_an_ordinary_character(api: TestClient) -> None:
    response = post(api, ORGS, b'{"organization_name": "Acme \\ud83d\\ude80"}')
    assert response.status_code == 200, response.json()
    assert response.json()["organization"]["organization_name"] == "Acme \U0001f680"


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "invalid_json"),  # deeper than the parser recurses
        (b'{"a":' * 30_000 + b"1" + b"}" * 30_000, "invalid_json"),
        (b'{"limit": ' + b"9" * 5000 + b"}", "invalid_json"),  # longer than int() reads
        (b'{"organization_name": "\xe9"}', "invalid_json"),  # not UTF-8
        (b"\x00", "invalid_json"),
        (b"null", "invalid_argument"),
        (b'"a string"', "invalid_argument"),
    ],
)
def test_pathological_json_is_a_clean_refusal(
    api: TestClient, engine: Engine, body: bytes, error_type: str
) -> None:
    with unchanged(engine):
        for path in (ORGS, f"{ORGS}/search"):
            assert_refused(post(api, path, body), 400, error_type)


@pytest.mark.parametrize(
    "authorization",
    [
        b"Basic \xff\xfe",  # not ASCII (was a 500)
        b"Basic " + base64.b64encode(b"a:\xff"),  # not UTF-8
        b"Basic " + base64.b64encode(b"\x00:\x00"),
        b"Basic " + base64.b64encode(b"project-test-x:" + b"a" * 4000),
        b"Basic " + base64.b64encode(b"no-colon"),
        b"Basic =",
        b"Basic",
        b"Bearer x",
        b"Digest username=x",
    ],
)
def test_odd_credentials_are_unauthorized(
    client: TestClient, engine: Engine, project: Credentials, authorization: bytes
) -> None:
    with unchanged(engine):
        response = client.get(f"{ORGS}/x", headers={"Authorization": authorization})  # type: ignore[dict-item]
        assert_refused(response, 401, "unauthorized_credentials")
    wrong_secret = base64.b64encode(f"{project.project_id}:wrong".encode())
    response = client.get(f"{ORGS}/x", headers={"Authorization": f"Basic {wrong_secret.decode()}"})
    assert_refused(response, 401, "unauthorized_credentials")
