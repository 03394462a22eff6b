"""The RBAC endpoints and roles on members and sessions, over HTTP."""

from __future__ import annotations

from typing import Any

import jwt as pyjwt
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_org
from tests.rbac.helpers import (
    DOCUMENTS_POLICY,
    POLICY,
    check,
    member_path,
    org_policy_path,
    person,
    set_policy,
)

EDITOR = {
    "role_id": "editor",
    "description": "Writes documents",
    "permissions": [{"resource_id": "documents", "actions": ["read", "write"]}],
}


def test_policy_is_stytchs_defaults_until_the_project_sets_its_own(
    api: TestClient, services: Services, project: Credentials
) -> None:
    body = api.get(POLICY).json()
    assert {r["role_id"] for r in body["policy"]["roles"]} == {"stytch_member", "stytch_admin"}
    assert body["policy"]["scopes"] == []
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    body = api.get(POLICY).json()
    assert [r["role_id"] for r in body["policy"]["roles"]] == [
        "stytch_member",
        "stytch_admin",
        "reader",
    ]
    assert "documents" in {r["resource_id"] for r in body["policy"]["resources"]}
    assert "stytch.member" in {r["resource_id"] for r in body["policy"]["resources"]}


def test_org_policy_round_trips_and_is_served_for_every_org(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    assert api.get(org_policy_path(acme.id)).json()["org_policy"] == {"roles": []}
    put = api.put(org_policy_path(acme.id), json={"org_policy": {"roles": [EDITOR]}})
    assert put.status_code == 200, put.json()
    assert put.json()["org_policy"]["roles"] == [EDITOR]
    assert api.get(org_policy_path(acme.id)).json()["org_policy"]["roles"] == [EDITOR]
    org = api.get(f"/v1/b2b/organizations/{acme.id}").json()["organization"]
    assert org["custom_roles"] == [EDITOR]
    # Another organization does not see it.
    other = make_org(services, project.project_id)
    assert api.get(org_policy_path(other.id)).json()["org_policy"] == {"roles": []}
    assert api.get(org_policy_path("organization-test-nope")).status_code == 404


def test_an_org_role_may_not_redefine_a_project_role(api: TestClient, acme: Organization) -> None:
    everyone_admin = {
        "role_id": "stytch_member",
        "description": "",
        "permissions": [{"resource_id": "stytch.member", "actions": ["*"]}],
    }
    refused = api.put(org_policy_path(acme.id), json={"org_policy": {"roles": [everyone_admin]}})
    assert refused.status_code == 400
    assert refused.json()["error_type"] == "invalid_rbac_policy"
    assert api.get(org_policy_path(acme.id)).json()["org_policy"] == {"roles": []}


def test_member_roles_direct_and_by_email_domain_with_their_sources(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    updated = api.put(
        f"/v1/b2b/organizations/{acme.id}",
        json={
            "rbac_email_implicit_role_assignments": [
                {"domain": "acme.example", "role_id": "reader"}
            ]
        },
    )
    assert updated.status_code == 200, updated.json()
    created = api.post(
        f"/v1/b2b/organizations/{acme.id}/members",
        json={"email_address": "ada@acme.example", "roles": ["reader", "stytch_admin"]},
    ).json()["member"]
    assert created["is_admin"] is True
    assert created["roles"] == [
        {"role_id": "stytch_member", "sources": [{"type": "direct_assignment", "details": {}}]},
        {
            "role_id": "reader",
            "sources": [
                {"type": "direct_assignment", "details": {}},
                {"type": "email_assignment", "details": {"domain": "acme.example"}},
            ],
        },
        {"role_id": "stytch_admin", "sources": [{"type": "direct_assignment", "details": {}}]},
    ]
    outsider = api.post(
        f"/v1/b2b/organizations/{acme.id}/members", json={"email_address": "bob@else.example"}
    ).json()["member"]
    assert [r["role_id"] for r in outsider["roles"]] == ["stytch_member"]
    # Update replaces the direct roles; the email-implied one stays.
    demoted = api.put(member_path(acme.id, created["member_id"]), json={"roles": []}).json()
    assert [r["role_id"] for r in demoted["member"]["roles"]] == ["stytch_member", "reader"]
    assert demoted["member"]["is_admin"] is False
    unknown = api.put(member_path(acme.id, created["member_id"]), json={"roles": ["janitor"]})
    assert unknown.status_code == 400
    assert unknown.json()["error_type"] == "invalid_rbac_role_id"


def test_roles_reach_the_jwt_and_every_session_answer(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    api.put(org_policy_path(acme.id), json={"org_policy": {"roles": [EDITOR]}})
    _, token, session_jwt = person(services, project.project_id, acme, "ada@acme.example", "editor")
    claims = pyjwt.decode(session_jwt, options={"verify_signature": False})
    assert claims["https://stytch.com/session"]["roles"] == ["stytch_member", "editor"]
    body = api.post("/v1/b2b/sessions/authenticate", json={"session_token": token}).json()
    assert body["member_session"]["roles"] == ["stytch_member", "editor"]
    assert body["verdict"] is None


def test_authorization_check_on_the_server(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    api.put(org_policy_path(acme.id), json={"org_policy": {"roles": [EDITOR]}})
    _, token, _ = person(services, project.project_id, acme, "ada@acme.example", "editor")
    allowed = check(api, token, acme.id, "documents", "write")
    assert allowed.status_code == 200, allowed.json()
    assert allowed.json()["verdict"] == {"authorized": True, "granting_roles": ["editor"]}
    own = check(api, token, acme.id, "stytch.self", "update.info.name")
    assert own.json()["verdict"]["granting_roles"] == ["stytch_member"]

    denied = check(api, token, acme.id, "stytch.member", "delete")
    assert denied.status_code == 403
    assert denied.json()["error_type"] == "session_authorization_error"
    other = make_org(services, project.project_id)
    elsewhere = check(api, token, other.id, "documents", "read")
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error_type"] == "session_authorization_tenancy_error"
    malformed = api.post(
        "/v1/b2b/sessions/authenticate",
        json={"session_token": token, "authorization_check": {"organization_id": acme.id}},
    )
    assert malformed.status_code == 400


def test_mfa_required_roles_key_on_custom_and_implicit_roles(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    api.put(org_policy_path(acme.id), json={"org_policy": {"roles": [EDITOR]}})
    ok = api.put(
        f"/v1/b2b/organizations/{acme.id}",
        json={
            "mfa_required_roles": ["editor", "reader"],
            "rbac_email_implicit_role_assignments": [
                {"domain": "readers.example", "role_id": "reader"}
            ],
        },
    )
    assert ok.status_code == 200, ok.json()
    members: dict[str, Any] = {}
    for email, roles in (
        ("ed@acme.example", ["editor"]),
        ("rita@readers.example", []),
        ("pat@acme.example", []),
    ):
        created = api.post(
            f"/v1/b2b/organizations/{acme.id}/members",
            json={"email_address": email, "roles": roles},
        )
        members[email] = created.json()["member"]
    # Opting out of MFA is refused where a role requires it (direct or implied by email).
    for email, refused in (
        ("ed@acme.example", True),
        ("rita@readers.example", True),
        ("pat@acme.example", False),
    ):
        response = api.put(
            member_path(acme.id, members[email]["member_id"]), json={"mfa_enrolled": False}
        )
        assert (response.status_code == 400) is refused, (email, response.json())
