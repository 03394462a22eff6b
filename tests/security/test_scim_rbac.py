"""Member-session authorization of SCIM connection management, and SCIM group → role
assignments made with a member's session: each refusal leaves the database unchanged.

Stytch's rule (stytch-b2b-api-more.md §4.3): create / get (get, groups) / update (update,
rotations) / delete on `stytch.scim`; the group → role assignments need
`stytch.organization: update.settings.implicit-roles`, and (security.md, RBAC) a member can
never give or take, through a group, a role whose permissions it does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.dbsnap import snapshot
from tests.factories import make_org
from tests.rbac.helpers import as_member, person, set_policy
from tests.scim.conftest import GROUP, Connection, Scim, create_connection
from tests.scim.conftest import connection as connection
from tests.scim.conftest import scim as scim

TABLES = (
    "members",
    "member_sessions",
    "scim_connections",
    "scim_users",
    "scim_groups",
    "scim_group_members",
)

POLICY: dict[str, Any] = {
    "resources": [],
    "roles": [
        {
            "role_id": "stytch_member",
            "description": "",
            "permissions": [{"resource_id": "stytch.self", "actions": ["*"]}],
        },
        {
            "role_id": "stytch_admin",
            "description": "",
            "permissions": [
                {"resource_id": "stytch.organization", "actions": ["*"]},
                {"resource_id": "stytch.member", "actions": ["*"]},
                {"resource_id": "stytch.scim", "actions": ["*"]},
            ],
        },
        {
            "role_id": "scim-viewer",
            "description": "Sees the directory connection",
            "permissions": [{"resource_id": "stytch.scim", "actions": ["get"]}],
        },
        {
            "role_id": "scim-operator",
            "description": "Runs the directory connection, gives no roles",
            "permissions": [{"resource_id": "stytch.scim", "actions": ["*"]}],
        },
        {
            "role_id": "role-manager",
            "description": "Gives roles, nothing else",
            "permissions": [
                {"resource_id": "stytch.member", "actions": ["update.settings.roles"]},
                {
                    "resource_id": "stytch.organization",
                    "actions": ["update.settings.implicit-roles"],
                },
            ],
        },
    ],
}

Call = Callable[[dict[str, str]], httpx.Response]


@pytest.fixture
def people(
    services: Services, project: Credentials, acme: Organization
) -> dict[str, tuple[Any, str, str]]:
    set_policy(services, project.project_id, POLICY)
    pid = project.project_id
    return {
        "admin": person(services, pid, acme, "al@acme.example", "stytch_admin"),
        "plain": person(services, pid, acme, "pat@acme.example"),
        "viewer": person(services, pid, acme, "vic@acme.example", "scim-viewer"),
        "operator": person(services, pid, acme, "oli@acme.example", "scim-operator"),
        "manager": person(services, pid, acme, "max@acme.example", "role-manager"),
    }


@pytest.fixture
def eng(scim: Scim, people: dict[str, Any]) -> dict[str, Any]:
    """A SCIM group `Eng` the directory put the role manager in."""
    user = scim.create_user("max@acme.example")
    group: dict[str, Any] = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Eng", "members": [{"value": user["id"]}]}
    ).json()
    return group


def calls(api: TestClient, c: Connection) -> dict[str, Call]:
    """Every SCIM management call on `c`, given the headers to send."""
    base = f"/v1/b2b/scim/{c.organization_id}/connection"
    one = f"{base}/{c.connection_id}"
    return {
        "create": lambda h: api.post(base, json={"display_name": "Again"}, headers=h),
        "get": lambda h: api.get(base, headers=h),
        "get_groups": lambda h: api.get(one, headers=h),
        "update": lambda h: api.put(one, json={"display_name": "Renamed"}, headers=h),
        "rotate_start": lambda h: api.post(f"{one}/rotate/start", headers=h),
        "rotate_complete": lambda h: api.post(f"{one}/rotate/complete", headers=h),
        "rotate_cancel": lambda h: api.post(f"{one}/rotate/cancel", headers=h),
        "delete": lambda h: api.delete(one, headers=h),
    }


def refused(engine: Engine, call: Callable[[], httpx.Response], status: int, error: str) -> None:
    before = snapshot(engine, TABLES)
    response = call()
    assert response.status_code == status, response.json()
    assert response.json()["error_type"] == error
    assert snapshot(engine, TABLES) == before


def assign(c: Connection, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "url": f"/v1/b2b/scim/{c.organization_id}/connection/{c.connection_id}",
        "json": {"scim_group_implicit_role_assignments": items},
    }


def test_a_plain_member_may_make_no_scim_call(
    api: TestClient, engine: Engine, connection: Connection, people: dict[str, Any]
) -> None:
    _, token, jwt = people["plain"]
    for call in calls(api, connection).values():
        for headers in (as_member(token), {"X-Stytch-Member-SessionJWT": jwt}):
            refused(engine, lambda c=call, h=headers: c(h), 403, "session_authorization_error")


def test_get_permission_reads_and_nothing_more(
    api: TestClient, engine: Engine, connection: Connection, people: dict[str, Any]
) -> None:
    _, token, _ = people["viewer"]
    every = calls(api, connection)
    for name in ("get", "get_groups"):
        assert every[name](as_member(token)).status_code == 200
    for name in ("create", "update", "rotate_start", "rotate_complete", "rotate_cancel", "delete"):
        refused(
            engine,
            lambda n=name: every[n](as_member(token)),
            403,
            "session_authorization_error",
        )


def test_an_admin_with_stytch_scim_may_run_the_connection(
    api: TestClient, connection: Connection, people: dict[str, Any]
) -> None:
    _, token, _ = people["admin"]
    every = calls(api, connection)
    for name in ("get", "get_groups", "update", "rotate_start", "rotate_cancel", "delete"):
        r = every[name](as_member(token))
        assert r.status_code == 200, (name, r.json())
    r = every["create"](as_member(token))
    assert r.status_code == 200, r.json()
    assert r.json()["connection"]["bearer_token"]


def test_stytch_scim_alone_does_not_change_group_role_assignments(
    api: TestClient,
    engine: Engine,
    connection: Connection,
    people: dict[str, Any],
    eng: dict[str, Any],
) -> None:
    _, token, _ = people["operator"]
    request = assign(connection, [{"group_id": eng["id"], "role_id": "scim-operator"}])
    refused(
        engine,
        lambda: api.put(**request, headers=as_member(token)),
        403,
        "session_authorization_error",
    )


def test_a_role_manager_cannot_give_itself_a_role_through_a_group(
    api: TestClient,
    engine: Engine,
    acme: Organization,
    connection: Connection,
    scim: Scim,
    people: dict[str, Any],
    eng: dict[str, Any],
) -> None:
    _, token, _ = people["manager"]
    # Its own group → stytch_admin: more than it holds.
    sneaky = assign(connection, [{"group_id": eng["id"], "role_id": "stytch_admin"}])
    refused(
        engine,
        lambda: api.put(**sneaky, headers=as_member(token)),
        403,
        "invalid_rbac_role_assignment",
    )
    # Nor one by one: a role with a permission it lacks (stytch.scim).
    partial = assign(connection, [{"group_id": eng["id"], "role_id": "scim-viewer"}])
    refused(
        engine,
        lambda: api.put(**partial, headers=as_member(token)),
        403,
        "invalid_rbac_role_assignment",
    )
    # The backend made another group admins: the manager may not take that away either.
    ops = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Ops"}).json()
    to_ops = assign(connection, [{"group_id": ops["id"], "role_id": "stytch_admin"}])
    assert api.put(**to_ops).status_code == 200
    refused(
        engine,
        lambda: api.put(**assign(connection, []), headers=as_member(token)),
        403,
        "invalid_rbac_role_assignment",
    )
    assert api.put(**assign(connection, [])).status_code == 200
    # What it holds, it may give.
    fair = assign(connection, [{"group_id": eng["id"], "role_id": "role-manager"}])
    r = api.put(**fair, headers=as_member(token))
    assert r.status_code == 200, r.json()


def test_a_member_of_another_organization_cannot_reach_its_connection(
    api: TestClient,
    engine: Engine,
    services: Services,
    project: Credentials,
    acme: Organization,
    connection: Connection,
    people: dict[str, Any],
) -> None:
    other = make_org(services, project.project_id, organization_name="Globex")
    theirs = create_connection(api, other)
    _, token, _ = people["admin"]  # everything on stytch.scim, in acme
    for call in calls(api, theirs).values():
        refused(
            engine,
            lambda c=call: c(as_member(token)),
            403,
            "session_authorization_tenancy_error",
        )
    # Its own organization's path with the other connection's id: not found.
    mixed = Connection(theirs.connection_id, acme.id, theirs.token, theirs.base_url)
    for name in ("get_groups", "update", "rotate_start", "delete"):
        refused(
            engine,
            lambda n=name: calls(api, mixed)[n](as_member(token)),
            404,
            "scim_connection_not_found",
        )


def test_the_last_role_manager_cannot_drop_its_group_role(
    api: TestClient,
    engine: Engine,
    services: Services,
    project: Credentials,
    acme: Organization,
    scim: Scim,
    connection: Connection,
) -> None:
    """Only the group makes anyone a role manager: removing its assignment with that member's
    own session would leave the organization without one."""
    set_policy(services, project.project_id, POLICY)
    _, token, _ = person(services, project.project_id, acme, "solo@acme.example")
    user = scim.create_user("solo@acme.example")
    group = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Admins", "members": [{"value": user["id"]}]}
    ).json()
    given = assign(connection, [{"group_id": group["id"], "role_id": "stytch_admin"}])
    assert api.put(**given).status_code == 200
    refused(
        engine,
        lambda: api.put(**assign(connection, []), headers=as_member(token)),
        409,
        "last_role_manager",
    )
