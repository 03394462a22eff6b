"""Attacks on the SCIM endpoint: each is refused with a SCIM error and the database unchanged
(the request log, like the audit trail, records refusals on purpose and is left out)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from antechamber.scim.models import ScimRequest
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.dbsnap import LOGIN_TABLES, snapshot
from tests.factories import make_org
from tests.scim.conftest import SCIM_JSON, USER, Connection, Scim, create_connection

TABLES = (*LOGIN_TABLES, "scim_connections", "scim_users", "scim_groups", "scim_group_members")


@pytest.fixture
def populated(scim: Scim) -> dict[str, Any]:
    """One user and one group, so a refusal has something it could have changed."""
    user = scim.create_user("ada@acme.example")
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Eng",
            "members": [{"value": user["id"]}],
        },
    )
    assert group.status_code == 201
    return {"user": user, "group": group.json()}


def refused(services: Services, response_of: Any, status: int, scim_type: str | None = None) -> Any:
    before = snapshot(services.engine, TABLES)
    r = response_of()
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    body = r.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert "Traceback" not in r.text
    assert snapshot(services.engine, TABLES) == before
    return r


def delete_all(scim: Scim, populated: dict[str, Any]) -> Any:
    return scim.delete(f"/Users/{populated['user']['id']}")


def test_unauthenticated_and_wrong_schemes(
    client: TestClient, connection: Connection, services: Services, populated: dict[str, Any]
) -> None:
    for token in ("", "not-a-token", "x" * 5000):
        anonymous = Scim(client, connection, token=token)
        r = refused(services, lambda s=anonymous: delete_all(s, populated), 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    # The project's API secret (Basic) is not a SCIM credential.
    basic = client.request(
        "DELETE",
        f"{connection.path}/Users/{populated['user']['id']}",
        headers={"Authorization": f"Basic {connection.token}"},
        auth=None,
    )
    assert basic.status_code == 401


def test_another_organizations_token_on_this_base_url(
    api: TestClient,
    client: TestClient,
    connection: Connection,
    services: Services,
    project: Credentials,
    populated: dict[str, Any],
) -> None:
    globex = make_org(services, project.project_id, organization_name="Globex")
    theirs = create_connection(api, globex)
    # Globex's token on Acme's URL, and Acme's user id on Globex's URL: both refused.
    crossed = Connection(
        connection.connection_id, connection.organization_id, theirs.token, connection.base_url
    )
    refused(services, lambda: delete_all(Scim(client, crossed), populated), 401)
    on_theirs = Scim(client, theirs)
    refused(services, lambda: delete_all(on_theirs, populated), 404)
    assert on_theirs.get("/Users").json()["totalResults"] == 0


def test_a_token_rotated_out_is_refused(
    api: TestClient,
    client: TestClient,
    connection: Connection,
    services: Services,
    populated: dict[str, Any],
) -> None:
    base = f"/v1/b2b/scim/{connection.organization_id}/connection/{connection.connection_id}"
    new = api.post(f"{base}/rotate/start", json={}).json()["connection"]["next_bearer_token"]
    assert api.post(f"{base}/rotate/complete", json={}).status_code == 200
    old = Scim(client, connection)
    refused(services, lambda: delete_all(old, populated), 401)
    assert Scim(client, connection, token=new).get("/Users").status_code == 200


def test_a_deleted_connections_token_is_refused(
    api: TestClient, client: TestClient, connection: Connection, services: Services
) -> None:
    scim = Scim(client, connection)
    scim.create_user("ada@acme.example")
    r = api.delete(
        f"/v1/b2b/scim/{connection.organization_id}/connection/{connection.connection_id}"
    )
    assert r.status_code == 200
    refused(services, lambda: scim.get("/Users"), 401)


def test_oversized_body(
    scim: Scim, services: Services, settings: Settings, populated: dict[str, Any]
) -> None:
    big = {
        "schemas": [USER],
        "userName": "big@acme.example",
        "displayName": "x" * (settings.scim_max_body_bytes + 1),
    }
    refused(services, lambda: scim.post("/Users", big), 413, "tooLarge")

    # Without a Content-Length (chunked): counted as it arrives.
    def chunks() -> Any:
        yield b'{"schemas": ["' + USER.encode() + b'"], "displayName": "'
        for _ in range(settings.scim_max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    refused(
        services,
        lambda: scim.client.post(
            f"{scim.connection.path}/Users",
            content=chunks(),
            headers={"Authorization": f"Bearer {scim.token}", "Content-Type": SCIM_JSON},
            auth=None,
        ),
        413,
        "tooLarge",
    )


def test_deeply_nested_body(scim: Scim, services: Services, populated: dict[str, Any]) -> None:
    deep: Any = "x"
    for _ in range(50):
        deep = {"a": deep}
    body = {"schemas": [USER], "userName": "deep@acme.example", "name": deep}
    refused(services, lambda: scim.post("/Users", body), 400, "invalidSyntax")
    # Brackets inside strings do not count as nesting.
    ok = scim.create_user("brackets@acme.example", displayName="[[[[[[[[[[[[[[[[{{{{{{{{{{{{{")
    assert ok["displayName"].startswith("[[[[")


def test_bad_media_type_and_bad_json(
    scim: Scim, services: Services, populated: dict[str, Any]
) -> None:
    def post(content: bytes, content_type: str) -> Any:
        return scim.client.post(
            f"{scim.connection.path}/Users",
            content=content,
            headers={"Authorization": f"Bearer {scim.token}", "Content-Type": content_type},
            auth=None,
        )

    body = json.dumps({"schemas": [USER], "userName": "x@acme.example"}).encode()
    refused(services, lambda: post(body, "text/xml"), 415)
    refused(services, lambda: post(b'{"schemas": [', SCIM_JSON), 400, "invalidSyntax")
    refused(services, lambda: post(b"[1, 2]", SCIM_JSON), 400, "invalidSyntax")


@pytest.mark.parametrize(
    "expression",
    [
        "userName eq \"x' OR '1'='1\"",
        'userName eq "ada@acme.example\\" or userName pr or \\"x"',
        'userName eq "%"',
        'userName co "%"',
        'userName sw "_"',
        'emails[type eq "work"].value eq "%@acme.example"',
        'userName eq "ada@acme.example; DROP TABLE members; --"',
        'unknownAttribute eq "ada@acme.example"',
    ],
)
def test_injection_attempts_in_filters_match_nothing(
    scim: Scim, services: Services, populated: dict[str, Any], expression: str
) -> None:
    before = snapshot(services.engine, TABLES)
    r = scim.get("/Users", params={"filter": expression})
    # Either a clean refusal, or values compared literally: nothing matches.
    if r.status_code == 200:
        assert r.json()["totalResults"] == 0
    else:
        assert r.status_code == 400
        assert r.json()["scimType"] == "invalidFilter"
    assert snapshot(services.engine, TABLES) == before


@pytest.mark.parametrize(
    "expression",
    [
        'userName gt "a"',
        'meta.lastModified lt "2030-01-01T00:00:00Z"',
        'userName xx "a"',
        "userName eq",
        'userName eq "a" and',
        '((((userName eq "a"',
        "x" * 1001,
    ],
)
def test_unsupported_or_malformed_filters_are_invalid_filter(
    scim: Scim, services: Services, populated: dict[str, Any], expression: str
) -> None:
    refused(
        services, lambda: scim.get("/Users", params={"filter": expression}), 400, "invalidFilter"
    )


def test_rate_limit_per_connection(
    app: Any, scim: Scim, services: Services, populated: dict[str, Any]
) -> None:
    services_of_app = app.state.services
    limited = services_of_app.settings.model_copy(update={"limit_scim_per_connection": "2/minute"})
    services_of_app.settings = limited
    try:
        services_of_app.limiter.reset()
        assert scim.get("/Users").status_code == 200
        assert scim.get("/Users").status_code == 200
        r = refused(services, lambda: delete_all(scim, populated), 429)
        assert int(r.headers["retry-after"]) >= 1
    finally:
        services_of_app.limiter.reset()


def test_request_log_keeps_outcomes_but_no_token_or_personal_data(
    scim: Scim, services: Services, populated: dict[str, Any]
) -> None:
    scim.get("/Users", params={"filter": 'userName eq "ada@acme.example"'})
    scim.get("/Users/scim-registration-test-missing")
    with services.sessions() as db:
        rows = db.scalars(select(ScimRequest).order_by(ScimRequest.id)).all()
    outcomes = [(r.operation, r.status) for r in rows]
    assert ("POST /Users", 201) in outcomes
    assert ("GET /Users", 200) in outcomes
    assert ("GET /Users/{id}", 404) in outcomes
    text = repr([(r.method, r.operation, r.resource_id, r.status, r.scim_type) for r in rows])
    assert "ada@acme.example" not in text
    assert scim.token not in text


def test_unknown_endpoints_and_methods(scim: Scim) -> None:
    assert scim.get("/Nope").status_code == 404
    assert scim.get("/Users/a/b").status_code == 404
    assert scim.request("DELETE", "/ServiceProviderConfig").status_code == 405
    bulk = scim.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]})
    assert bulk.status_code == 501
    assert scim.get("").status_code == 404


def test_discovery_needs_the_token(client: TestClient, connection: Connection) -> None:
    assert Scim(client, connection, token="").get("/ServiceProviderConfig").status_code == 401
    config = Scim(client, connection).get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 1000}


def test_metrics_label_scim_requests_by_template_never_by_id(
    scim: Scim, client: TestClient, populated: dict[str, Any]
) -> None:
    scim.get(f"/Users/{populated['user']['id']}")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "/v1/b2b/scim/{connection_id}/Users/{id}" in metrics.text
    assert populated["user"]["id"] not in metrics.text
    assert scim.connection.connection_id not in metrics.text


def test_numbers_and_strings_json_cannot_carry_back(
    scim: Scim, services: Services, populated: dict[str, Any]
) -> None:
    def post(raw: bytes) -> Any:
        return scim.client.post(
            f"{scim.connection.path}/Users",
            content=raw,
            headers={"Authorization": f"Bearer {scim.token}", "Content-Type": SCIM_JSON},
            auth=None,
        )

    head = b'{"schemas": ["' + USER.encode() + b'"], "userName": "n@acme.example", "title": '
    for value in (b"1e999", b"NaN", b"-Infinity", b'"\\ud800"'):
        refused(services, lambda v=value: post(head + v + b"}"), 400, "invalidValue")
