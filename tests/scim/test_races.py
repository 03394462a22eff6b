"""Concurrency on PostgreSQL (SQLite serialises writers): twenty requests released together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from antechamber.audit.models import AuditEvent
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.scim.models import ScimUser
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.factories import start_session
from tests.scim.conftest import GROUP, PATCH, SCIM_JSON, USER, create_connection

RACERS = 20


def race(call: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    start = threading.Barrier(RACERS)

    def attempt(_: int) -> int:
        with httpx.Client(timeout=60) as client:
            start.wait()
            return call(client).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        return sorted(pool.map(attempt, range(RACERS)))


@pytest.fixture
def scim_url(live_server: LiveServer, api: Any, acme: Organization) -> tuple[str, dict[str, str]]:
    c = create_connection(api, acme)
    headers = {"Authorization": f"Bearer {c.token}", "Content-Type": SCIM_JSON}
    return live_server.url + c.path, headers


@pytest.mark.postgres_only
def test_twenty_creates_of_one_user_name_one_user(
    scim_url: tuple[str, dict[str, str]], services: Services
) -> None:
    base, headers = scim_url
    body = {"schemas": [USER], "userName": "ada@acme.example"}
    codes = race(lambda c: c.post(f"{base}/Users", json=body, headers=headers))
    assert codes == [201] + [409] * (RACERS - 1)
    with services.sessions() as db:
        assert db.scalar(select(func.count()).select_from(ScimUser)) == 1
        assert db.scalar(select(func.count()).select_from(Member)) == 1


@pytest.mark.postgres_only
def test_twenty_deprovisions_of_one_user_one_deactivation(
    scim_url: tuple[str, dict[str, str]],
    services: Services,
    project: Credentials,
    acme: Organization,
    ada: Member,
) -> None:
    base, headers = scim_url
    created = httpx.post(
        f"{base}/Users", json={"schemas": [USER], "userName": "ada@acme.example"}, headers=headers
    )
    uid = created.json()["id"]
    start_session(services, project.project_id, acme, ada)
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    codes = race(lambda c: c.patch(f"{base}/Users/{uid}", json=body, headers=headers))
    assert codes == [200] * RACERS
    with services.sessions() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "scim.member_deactivated")
        ).all()
        assert len(events) == 1
        assert events[0].details["sessions_revoked"] == 1


@pytest.mark.postgres_only
def test_twenty_rotation_completes_one_success(
    live_server: LiveServer, project: Credentials, api: Any, acme: Organization
) -> None:
    c = create_connection(api, acme)
    path = f"/v1/b2b/scim/{acme.id}/connection/{c.connection_id}/rotate"
    assert api.post(f"{path}/start", json={}).status_code == 200
    codes = race(
        lambda client: client.post(f"{live_server.url}{path}/complete", json={}, auth=project.auth)
    )
    assert codes == [200] + [400] * (RACERS - 1)


@pytest.mark.postgres_only
def test_twenty_groups_joined_at_once_give_all_twenty_roles(
    scim_url: tuple[str, dict[str, str]], services: Services, api: Any, acme: Organization
) -> None:
    """Each request adds the same user to another group with its own role: none of the
    twenty recomputations of the member's group roles may miss another's group."""
    base, headers = scim_url
    roles = [
        {
            "role_id": f"team-{i}",
            "description": "",
            "permissions": [{"resource_id": "stytch.self", "actions": ["update.info.name"]}],
        }
        for i in range(RACERS)
    ]
    r = api.put(f"/v1/b2b/rbac/organizations/{acme.id}", json={"org_policy": {"roles": roles}})
    assert r.status_code == 200, r.text
    user = httpx.post(
        f"{base}/Users", json={"schemas": [USER], "userName": "ada@acme.example"}, headers=headers
    ).json()
    groups = [
        httpx.post(
            f"{base}/Groups",
            json={"schemas": [GROUP], "displayName": f"Team {i}"},
            headers=headers,
        ).json()["id"]
        for i in range(RACERS)
    ]
    connection_id = base.rsplit("/", 1)[1]
    r = api.put(
        f"/v1/b2b/scim/{acme.id}/connection/{connection_id}",
        json={
            "scim_group_implicit_role_assignments": [
                {"group_id": g, "role_id": f"team-{i}"} for i, g in enumerate(groups)
            ]
        },
    )
    assert r.status_code == 200, r.text
    queue = iter(groups)
    lock = threading.Lock()

    def join(client: httpx.Client) -> httpx.Response:
        with lock:
            group = next(queue)
        body = {
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}],
        }
        return client.patch(f"{base}/Groups/{group}", json=body, headers=headers)

    codes = race(join)
    assert all(code in (200, 204) for code in codes), codes
    with services.sessions() as db:
        member = db.scalar(select(Member).where(Member.email_address == "ada@acme.example"))
        assert member is not None
        held = sorted(entry["role_id"] for entry in member.scim_group_roles)
    assert held == sorted(f"team-{i}" for i in range(RACERS))
