"""Antechamber's extension: roles whose members must use MFA even under OPTIONAL."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_role_required_mfa_blocks_opt_out_for_admins_only(api: TestClient) -> None:
    org = api.post(
        "/v1/b2b/organizations",
        json={
            "organization_name": "Execs",
            "mfa_required_roles": ["stytch_admin"],
        },
    ).json()["organization"]
    assert org["mfa_required_roles"] == ["stytch_admin"]
    assert org["mfa_policy"] == "OPTIONAL"
    oid = org["organization_id"]
    admin = api.post(
        f"/v1/b2b/organizations/{oid}/members",
        json={
            "email_address": "ceo@execs.example",
            "roles": ["stytch_admin"],
        },
    ).json()["member_id"]
    plain = api.post(
        f"/v1/b2b/organizations/{oid}/members",
        json={
            "email_address": "staff@execs.example",
        },
    ).json()["member_id"]

    refused = api.put(f"/v1/b2b/organizations/{oid}/members/{admin}", json={"mfa_enrolled": False})
    assert refused.status_code == 400
    assert refused.json()["error_type"] == "mfa_enrollment_required_by_policy"
    allowed = api.put(f"/v1/b2b/organizations/{oid}/members/{plain}", json={"mfa_enrolled": False})
    assert allowed.status_code == 200

    bad = api.put(f"/v1/b2b/organizations/{oid}", json={"mfa_required_roles": ["janitor"]})
    assert bad.status_code == 400
    assert bad.json()["error_type"] == "invalid_organization_setting"
