"""SCIM groups and the connection's group → role assignments (stored in Stytch's shape)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.scim.conftest import GROUP, Connection, Scim


def assignments(api: TestClient, connection: Connection) -> Any:
    got = api.get(f"/v1/b2b/scim/{connection.organization_id}/connection")
    return got.json()["connection"]["scim_group_implicit_role_assignments"]


def update(api: TestClient, connection: Connection, items: list[dict[str, Any]]) -> Any:
    return api.put(
        f"/v1/b2b/scim/{connection.organization_id}/connection/{connection.connection_id}",
        json={"scim_group_implicit_role_assignments": items},
    )


def test_assignments_follow_the_groups(api: TestClient, scim: Scim, connection: Connection) -> None:
    eng = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Eng"}).json()
    ops = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Ops"}).json()
    r = update(
        api,
        connection,
        [
            {"group_id": eng["id"], "role_id": "stytch_admin"},
            {"group_id": ops["id"], "role_id": "stytch_member"},
        ],
    )
    assert r.status_code == 200, r.text
    # Renamed by the directory: the name shown follows.
    scim.patch(f"/Groups/{eng['id']}", {"op": "replace", "path": "displayName", "value": "R&D"})
    assert assignments(api, connection) == [
        {"role_id": "stytch_admin", "group_id": eng["id"], "group_name": "R&D"},
        {"role_id": "stytch_member", "group_id": ops["id"], "group_name": "Ops"},
    ]
    # Deleted by the directory: its assignment goes with it.
    assert scim.delete(f"/Groups/{eng['id']}").status_code == 204
    assert [a["group_id"] for a in assignments(api, connection)] == [ops["id"]]


def test_bad_assignments_are_refused(api: TestClient, scim: Scim, connection: Connection) -> None:
    eng = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Eng"}).json()
    cases = [
        ([{"role_id": "stytch_admin"}], "scim_group_role_assignment_does_not_contain_group_id"),
        (
            [{"group_id": "nope", "role_id": "stytch_admin"}],
            "scim_group_role_assignment_group_does_not_exist",
        ),
        ([{"group_id": eng["id"], "role_id": "emperor"}], "invalid_role"),
    ]
    for items, error_type in cases:
        r = update(api, connection, items)
        assert r.status_code == 400
        assert r.json()["error_type"] == error_type
    assert assignments(api, connection) == []


def test_group_members_must_be_users_of_this_connection(scim: Scim) -> None:
    r = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Eng", "members": [{"value": "scim-registration-x"}]},
    )
    assert r.status_code == 400
    assert r.json()["scimType"] == "invalidValue"


def test_duplicate_group_name_is_a_conflict(scim: Scim) -> None:
    assert scim.post("/Groups", {"schemas": [GROUP], "displayName": "Eng"}).status_code == 201
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "eng"})
    assert r.status_code == 409
    assert r.json()["scimType"] == "uniqueness"
