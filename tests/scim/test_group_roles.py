"""SCIM group → role: a member holds the roles its SCIM groups are assigned (Stytch's
`scim_connection_group` source), in the member object, session answers, the JWT's roles claim
and every authorization check; a change reaches a session at its next refresh."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from antechamber.members.models import Member
from antechamber.mfa import policy as mfa_policy
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.dbsnap import snapshot
from tests.rbac.helpers import (
    DOCUMENTS_POLICY,
    SESSION_AUTHENTICATE,
    as_member,
    check,
    member_path,
    org_policy_path,
    person,
    set_policy,
)
from tests.scim.conftest import GROUP, Connection, Scim

SESSION_CLAIM = "https://stytch.com/session"


@dataclass
class Setup:
    member: Member
    token: str
    user: dict[str, Any]
    group: dict[str, Any]


def assign(api: TestClient, connection: Connection, items: list[dict[str, Any]]) -> Any:
    return api.put(
        f"/v1/b2b/scim/{connection.organization_id}/connection/{connection.connection_id}",
        json={"scim_group_implicit_role_assignments": items},
    )


def refreshed(api: TestClient, token: str) -> dict[str, Any]:
    """`sessions.authenticate`: the session answer and the roles of its fresh JWT."""
    r = api.post(SESSION_AUTHENTICATE, json={"session_token": token})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    claims = pyjwt.decode(body["session_jwt"], options={"verify_signature": False})
    body["jwt_roles"] = claims[SESSION_CLAIM]["roles"]
    return body


def member_roles(api: TestClient, org: Organization, member_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/b2b/organizations/{org.id}/member", params={"member_id": member_id})
    assert r.status_code == 200, r.text
    return {role["role_id"]: role["sources"] for role in r.json()["member"]["roles"]}


def group_source(connection: Connection, group_id: str) -> dict[str, Any]:
    return {
        "type": "scim_connection_group",
        "details": {"connection_id": connection.connection_id, "group_id": group_id},
    }


@pytest.fixture
def readers(
    api: TestClient,
    scim: Scim,
    connection: Connection,
    services: Services,
    project: Credentials,
    acme: Organization,
) -> Setup:
    """Ada, signed in, provisioned by the directory into `Readers`, which grants `reader`."""
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    member, token, _ = person(services, project.project_id, acme, "ada@acme.example")
    user = scim.create_user("ada@acme.example")
    group = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Readers", "members": [{"value": user["id"]}]},
    ).json()
    r = assign(api, connection, [{"group_id": group["id"], "role_id": "reader"}])
    assert r.status_code == 200, r.text
    return Setup(member, token, user, group)


def test_a_groups_role_reaches_member_session_jwt_and_checks(
    api: TestClient, acme: Organization, connection: Connection, readers: Setup
) -> None:
    roles = member_roles(api, acme, readers.member.id)
    assert roles["reader"] == [group_source(connection, readers.group["id"])]
    session = refreshed(api, readers.token)
    assert "reader" in session["member_session"]["roles"]
    assert "reader" in session["jwt_roles"]
    allowed = check(api, readers.token, acme.id, "documents", "read")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["verdict"]["granting_roles"] == ["reader"]
    denied = check(api, readers.token, acme.id, "documents", "write")
    assert denied.status_code == 403
    assert denied.json()["error_type"] == "session_authorization_error"


def test_leaving_the_group_takes_the_role_away_at_the_next_refresh(
    api: TestClient, acme: Organization, scim: Scim, readers: Setup
) -> None:
    before = refreshed(api, readers.token)
    assert "reader" in before["jwt_roles"]
    r = scim.patch(
        f"/Groups/{readers.group['id']}",
        {"op": "remove", "path": f'members[value eq "{readers.user["id"]}"]'},
    )
    assert r.status_code in (200, 204), r.text
    assert "reader" not in member_roles(api, acme, readers.member.id)
    after = refreshed(api, readers.token)
    assert "reader" not in after["member_session"]["roles"]
    assert "reader" not in after["jwt_roles"]
    assert check(api, readers.token, acme.id, "documents", "read").status_code == 403
    # Back in the group (an Okta-style `add`): the role is back.
    r = scim.patch(
        f"/Groups/{readers.group['id']}",
        {"op": "add", "path": "members", "value": [{"value": readers.user["id"]}]},
    )
    assert r.status_code in (200, 204), r.text
    assert "reader" in refreshed(api, readers.token)["jwt_roles"]


def test_deleting_the_group_takes_the_role_away(
    api: TestClient, acme: Organization, scim: Scim, readers: Setup
) -> None:
    assert scim.delete(f"/Groups/{readers.group['id']}").status_code == 204
    assert "reader" not in member_roles(api, acme, readers.member.id)
    assert "reader" not in refreshed(api, readers.token)["jwt_roles"]
    assert check(api, readers.token, acme.id, "documents", "read").status_code == 403


def test_changing_the_assignment_changes_the_role(
    api: TestClient,
    acme: Organization,
    connection: Connection,
    services: Services,
    project: Credentials,
    readers: Setup,
) -> None:
    # An organization's custom role is a valid target too.
    writer = {
        "role_id": "doc-writer",
        "description": "Writes documents",
        "permissions": [{"resource_id": "documents", "actions": ["write"]}],
    }
    r = api.put(org_policy_path(acme.id), json={"org_policy": {"roles": [writer]}})
    assert r.status_code == 200, r.text
    r = assign(api, connection, [{"group_id": readers.group["id"], "role_id": "doc-writer"}])
    assert r.status_code == 200, r.text
    roles = member_roles(api, acme, readers.member.id)
    assert "reader" not in roles
    assert roles["doc-writer"] == [group_source(connection, readers.group["id"])]
    session = refreshed(api, readers.token)
    assert "doc-writer" in session["jwt_roles"]
    assert "reader" not in session["jwt_roles"]
    assert check(api, readers.token, acme.id, "documents", "write").status_code == 200
    assert check(api, readers.token, acme.id, "documents", "read").status_code == 403
    # No assignment, no role.
    assert assign(api, connection, []).status_code == 200
    assert "doc-writer" not in refreshed(api, readers.token)["jwt_roles"]


def test_a_direct_and_a_group_role_list_both_sources(
    api: TestClient, acme: Organization, connection: Connection, readers: Setup
) -> None:
    r = api.put(member_path(acme.id, readers.member.id), json={"roles": ["reader"]})
    assert r.status_code == 200, r.text
    assert member_roles(api, acme, readers.member.id)["reader"] == [
        {"type": "direct_assignment", "details": {}},
        group_source(connection, readers.group["id"]),
    ]
    # Taking the direct role away leaves the group's.
    r = api.put(member_path(acme.id, readers.member.id), json={"roles": []})
    assert r.status_code == 200, r.text
    assert member_roles(api, acme, readers.member.id)["reader"] == [
        group_source(connection, readers.group["id"])
    ]


def test_deprovisioning_ends_group_roles_and_reactivation_restores_them(
    api: TestClient, acme: Organization, scim: Scim, readers: Setup
) -> None:
    api.put(member_path(acme.id, readers.member.id), json={"roles": ["stytch_admin"]})
    path = f"/Users/{readers.user['id']}"
    r = scim.patch(path, {"op": "replace", "path": "active", "value": False})
    assert r.status_code == 200, r.text
    assert list(member_roles(api, acme, readers.member.id)) == ["stytch_member"]
    r = scim.patch(path, {"op": "replace", "path": "active", "value": True})
    assert r.status_code == 200, r.text
    # Implicit grants are applied again; the explicit one must be re-assigned (Stytch).
    roles = member_roles(api, acme, readers.member.id)
    assert "reader" in roles
    assert "stytch_admin" not in roles


def test_a_group_change_while_deactivated_gives_nothing(
    api: TestClient, acme: Organization, scim: Scim, readers: Setup
) -> None:
    path = f"/Users/{readers.user['id']}"
    scim.patch(path, {"op": "replace", "path": "active", "value": False})
    other = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Others", "members": [{"value": readers.user["id"]}]},
    )
    assert other.status_code == 201, other.text
    assert list(member_roles(api, acme, readers.member.id)) == ["stytch_member"]


def test_deleting_the_connection_ends_group_roles(
    api: TestClient, acme: Organization, connection: Connection, readers: Setup
) -> None:
    r = api.delete(f"/v1/b2b/scim/{acme.id}/connection/{connection.connection_id}")
    assert r.status_code == 200, r.text
    assert "reader" not in member_roles(api, acme, readers.member.id)
    assert "reader" not in refreshed(api, readers.token)["jwt_roles"]


def test_an_assignment_naming_an_unknown_role_is_refused(
    api: TestClient, engine: Engine, connection: Connection, readers: Setup
) -> None:
    tables = ("scim_connections", "members")
    before = snapshot(engine, tables)
    for role in ("emperor", "doc-writer"):  # neither the project's nor (yet) the org's
        r = assign(api, connection, [{"group_id": readers.group["id"], "role_id": role}])
        assert r.status_code == 400
        assert r.json()["error_type"] == "invalid_role"
    assert snapshot(engine, tables) == before


def test_mfa_required_roles_and_member_sessions_see_group_roles(
    api: TestClient,
    acme: Organization,
    connection: Connection,
    services: Services,
    project: Credentials,
    readers: Setup,
) -> None:
    r = api.put(f"/v1/b2b/organizations/{acme.id}", json={"mfa_required_roles": ["reader"]})
    assert r.status_code == 200, r.text
    with services.scope(project.project_id, "test", "test") as scope:
        org = scope.db.get(Organization, acme.id)
        member = scope.db.get(Member, readers.member.id)
        assert org is not None
        assert member is not None
        assert mfa_policy.required_by_policy(scope.db, org, member)
    # A group that makes its members admins: their session may now manage the organization.
    assert assign(
        api, connection, [{"group_id": readers.group["id"], "role_id": "stytch_admin"}]
    ).json()["connection"]["scim_group_implicit_role_assignments"][0]["role_id"] == ("stytch_admin")
    r = api.put(
        f"/v1/b2b/organizations/{acme.id}",
        json={"organization_name": "Acme Directory"},
        headers=as_member(readers.token),
    )
    assert r.status_code == 200, r.text
    assert r.json()["organization"]["organization_name"] == "Acme Directory"


def test_member_search_by_role_finds_group_roles(
    api: TestClient, acme: Organization, readers: Setup
) -> None:
    def search(role: str) -> list[str]:
        r = api.post(
            "/v1/b2b/organizations/members/search",
            json={
                "organization_ids": [acme.id],
                "query": {
                    "operator": "AND",
                    "operands": [{"filter_name": "member_roles", "filter_value": [role]}],
                },
            },
        )
        assert r.status_code == 200, r.text
        return [m["email_address"] for m in r.json()["members"]]

    assert search("reader") == ["ada@acme.example"]
    assert search("stytch_admin") == []


def test_a_session_check_reads_no_scim_table(
    api: TestClient, acme: Organization, engine: Engine, readers: Setup
) -> None:
    """Group roles are on the member's row: the hot path stays one query for session, member
    and organization, with and without an authorization check."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        session = refreshed(api, readers.token)
        allowed = check(api, readers.token, acme.id, "documents", "read")
        by_jwt = api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert "reader" in session["jwt_roles"]
    assert allowed.status_code == 200
    assert "reader" in by_jwt.json()["member_session"]["roles"]
    assert statements
    scim_tables = re.compile(r"\bscim_(connections|users|groups|group_members|requests)\b")
    assert not [s for s in statements if scim_tables.search(s)]


def test_a_large_change_recomputes_the_whole_connection(
    api: TestClient,
    acme: Organization,
    scim: Scim,
    services: Services,
    project: Credentials,
    readers: Setup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond `MAX_NAMED` users a refresh covers the connection (no giant parameter list):
    the same result, for every member."""
    from antechamber.scim import group_roles

    monkeypatch.setattr(group_roles, "MAX_NAMED", 0)
    bob, _, _ = person(services, project.project_id, acme, "bob@acme.example")
    bob_user = scim.create_user("bob@acme.example")
    r = scim.patch(
        f"/Groups/{readers.group['id']}",
        {"op": "add", "path": "members", "value": [{"value": bob_user["id"]}]},
    )
    assert r.status_code in (200, 204), r.text
    assert "reader" in member_roles(api, acme, bob.id)
    assert "reader" in member_roles(api, acme, readers.member.id)
    r = scim.patch(
        f"/Groups/{readers.group['id']}",
        {"op": "remove", "path": f'members[value eq "{readers.user["id"]}"]'},
    )
    assert r.status_code in (200, 204), r.text
    assert "reader" not in member_roles(api, acme, readers.member.id)
    assert "reader" in member_roles(api, acme, bob.id)
