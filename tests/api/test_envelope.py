"""The wire contract every /v1/b2b route keeps: auth, envelopes, and the SDKs' quirks."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Credentials

ENVELOPE_KEYS = {"status_code", "request_id", "error_type", "error_message", "error_url"}


def assert_error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body.keys() >= ENVELOPE_KEYS
    assert body["status_code"] == status
    assert body["error_type"] == error_type
    assert body["request_id"].startswith("request-id-test-")
    assert "Traceback" not in response.text
    return dict(body)


def test_success_envelope(api: TestClient) -> None:
    response = api.post("/v1/b2b/organizations", json={"organization_name": "Acme"})
    body = response.json()
    assert response.status_code == 200
    assert body["status_code"] == 200
    assert body["request_id"].startswith("request-id-test-")


@pytest.mark.parametrize(
    "auth",
    [None, ("project-test-nope", "secret-test-nope"), ("", ""), "garbage"],
)
def test_missing_or_wrong_credentials(client: TestClient, project: Credentials, auth: Any) -> None:
    headers = {}
    if auth == "garbage":
        headers["Authorization"] = "Basic !!!notbase64"
        auth = None
    response = client.get("/v1/b2b/organizations/x", auth=auth, headers=headers)
    assert_error(response, 401, "unauthorized_credentials")


def test_secret_of_another_project_is_refused(
    client: TestClient, project: Credentials, other_project: Credentials
) -> None:
    response = client.post(
        "/v1/b2b/organizations",
        json={"organization_name": "A"},
        auth=(project.project_id, other_project.secret),
    )
    assert_error(response, 401, "unauthorized_credentials")


def test_projects_are_isolated(
    client: TestClient, project: Credentials, other_project: Credentials
) -> None:
    client.auth = project.auth
    org = client.post(
        "/v1/b2b/organizations", json={"organization_name": "A", "organization_slug": "shared-slug"}
    ).json()
    oid = org["organization"]["organization_id"]
    member = client.post(
        f"/v1/b2b/organizations/{oid}/members", json={"email_address": "a@a.example"}
    ).json()
    mid = member["member_id"]

    client.auth = other_project.auth
    assert_error(client.get(f"/v1/b2b/organizations/{oid}"), 404, "organization_not_found")
    assert_error(client.get("/v1/b2b/organizations/shared-slug"), 404, "organization_not_found")
    assert_error(
        client.put(f"/v1/b2b/organizations/{oid}", json={"organization_name": "B"}),
        404,
        "organization_not_found",
    )
    assert_error(client.delete(f"/v1/b2b/organizations/{oid}"), 404, "organization_not_found")
    assert_error(
        client.get(f"/v1/b2b/organizations/{oid}/member", params={"member_id": mid}),
        404,
        "organization_not_found",
    )
    assert_error(
        client.put(f"/v1/b2b/organizations/{oid}/members/{mid}", json={"name": "x"}),
        404,
        "organization_not_found",
    )
    assert_error(
        client.post("/v1/b2b/organizations/members/search", json={"organization_ids": [oid]}),
        404,
        "organization_not_found",
    )
    found = client.post("/v1/b2b/organizations/search", json={}).json()
    assert found["results_metadata"]["total"] == 0
    # The same slug is free in another project.
    other = client.post(
        "/v1/b2b/organizations", json={"organization_name": "A", "organization_slug": "shared-slug"}
    )
    assert other.status_code == 200

    client.auth = project.auth
    still = client.get(f"/v1/b2b/organizations/{oid}").json()["organization"]
    assert still["organization_name"] == "A"


def test_member_of_another_org_is_not_found(api: TestClient) -> None:
    a = api.post("/v1/b2b/organizations", json={"organization_name": "A"}).json()
    b = api.post("/v1/b2b/organizations", json={"organization_name": "B"}).json()
    aid, bid = a["organization"]["organization_id"], b["organization"]["organization_id"]
    mid = api.post(
        f"/v1/b2b/organizations/{aid}/members", json={"email_address": "a@a.example"}
    ).json()["member_id"]
    assert_error(
        api.get(f"/v1/b2b/organizations/{bid}/member", params={"member_id": mid}),
        404,
        "member_not_found",
    )
    assert_error(api.delete(f"/v1/b2b/organizations/{bid}/members/{mid}"), 404, "member_not_found")


def test_unknown_route_and_wrong_method(api: TestClient) -> None:
    assert_error(api.get("/v1/b2b/no/such/route"), 404, "route_not_found")
    assert_error(api.patch("/v1/b2b/organizations/x", json={}), 405, "method_not_allowed")


def test_body_too_large(api: TestClient) -> None:
    big = {"organization_name": "A", "trusted_metadata": {"x": "y" * 300_000}}
    assert_error(api.post("/v1/b2b/organizations", json=big), 413, "request_too_large")


def test_body_too_large_without_content_length(api: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 10_000

    response = api.post(
        "/v1/b2b/organizations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "request_too_large")


def test_wrong_content_type(api: TestClient) -> None:
    response = api.post(
        "/v1/b2b/organizations",
        content=b"organization_name=A",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_argument"),
        (b'{"organization_name": 5}', "invalid_argument"),
        (
            b'{"organization_name": "A", "email_allowed_domains": "acme.example"}',
            "invalid_argument",
        ),
        (b"", "invalid_argument"),
    ],
)
def test_malformed_bodies(api: TestClient, body: bytes, error_type: str) -> None:
    response = api.post(
        "/v1/b2b/organizations", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, error_type)


def test_sdk_quirks_are_tolerated(api: TestClient) -> None:
    org = api.post("/v1/b2b/organizations", json={"organization_name": "A"}).json()["organization"]
    oid = org["organization_id"]
    # Python repeats path params in bodies and queries.
    assert (
        api.put(
            f"/v1/b2b/organizations/{oid}", json={"organization_id": oid, "organization_name": "B"}
        ).status_code
        == 200
    )
    assert (
        api.get(f"/v1/b2b/organizations/{oid}", params={"organization_id": oid}).status_code == 200
    )
    member = api.post(
        f"/v1/b2b/organizations/{oid}/members",
        json={"email_address": "a@a.example", "organization_id": oid},
    ).json()
    # Node 10 sends "undefined" for absent params and repeats organization_id in the query.
    got = api.get(
        f"/v1/b2b/organizations/{oid}/member",
        params={
            "organization_id": oid,
            "member_id": member["member_id"],
            "email_address": "undefined",
        },
    )
    assert got.status_code == 200
    # Node sends {} on DELETE; Python sends no body; both carry Content-Type: application/json.
    mid = member["member_id"]
    deleted = api.request(
        "DELETE",
        f"/v1/b2b/organizations/{oid}/members/{mid}",
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert deleted.status_code == 200
    gone = api.request(
        "DELETE", f"/v1/b2b/organizations/{oid}", headers={"Content-Type": "application/json"}
    )
    assert gone.json()["organization_id"] == oid


def test_every_required_key_has_its_type(api: TestClient) -> None:
    org = api.post("/v1/b2b/organizations", json={"organization_name": "A"}).json()["organization"]
    for key in ("organization_logo_url", "organization_slug", "email_invites", "mfa_methods"):
        assert isinstance(org[key], str)
    for key in ("custom_roles", "sso_active_connections", "email_allowed_domains"):
        assert isinstance(org[key], list)
    member = api.post(
        f"/v1/b2b/organizations/{org['organization_id']}/members",
        json={"email_address": "a@a.example"},
    ).json()["member"]
    for key in (
        "name",
        "member_password_id",
        "totp_registration_id",
        "mfa_phone_number",
        "default_mfa_method",
    ):
        assert member[key] == ""
    for key in (
        "is_breakglass",
        "is_admin",
        "is_locked",
        "mfa_enrolled",
        "email_address_verified",
        "mfa_phone_number_verified",
    ):
        assert member[key] is False
    assert member["created_at"].endswith("Z")
