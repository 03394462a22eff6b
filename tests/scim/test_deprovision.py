"""Deprovisioning: the directory's `active: false` or DELETE ends the member's access at once,
in the same transaction: token, JWT refresh and login are refused; the directory can bring
the member back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from antechamber.audit import service as audit
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.scim.errors import MemberDeactivated
from antechamber.services import Services
from antechamber.sessions import factors
from antechamber.sessions import service as sessions
from tests.conftest import Credentials
from tests.factories import start_session
from tests.scim.conftest import USER, Scim

AUTHENTICATE = "/v1/b2b/sessions/authenticate"


def authenticate(api: TestClient, **credential: str) -> Any:
    return api.post(AUTHENTICATE, json=credential)


def member_row(services: Services, member_id: str) -> Member:
    with services.sessions() as db:
        row = db.get(Member, member_id)
        assert row is not None
        return row


def login(services: Services, project: Credentials, org: Organization, member: Member) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        row_org = scope.db.get(Organization, org.id)
        row = scope.db.get(Member, member.id)
        assert row_org is not None
        assert row is not None
        factor = factors.magic_link(
            "test", project.project_id, row.email_address, scope.clock.now()
        )
        sessions.start(scope, row_org, row, [factor])


@pytest.mark.parametrize(
    "deprovision",
    [
        # Okta: PATCH replace of active with a path.
        lambda scim, uid: scim.patch(
            f"/Users/{uid}", {"op": "replace", "path": "active", "value": False}
        ),
        # Entra ID: no path, capitalised op, and the boolean as a string.
        lambda scim, uid: scim.patch(
            f"/Users/{uid}", {"op": "Replace", "value": {"active": "False"}}
        ),
        # A full replacement with active false.
        lambda scim, uid: scim.put(
            f"/Users/{uid}",
            {"schemas": [USER], "userName": "ada@acme.example", "active": False},
        ),
        lambda scim, uid: scim.delete(f"/Users/{uid}"),
    ],
    ids=["okta_patch", "entra_patch_string", "put", "delete"],
)
def test_deprovisioning_ends_token_jwt_and_login(
    deprovision: Any,
    scim: Scim,
    api: TestClient,
    services: Services,
    project: Credentials,
    acme: Organization,
    ada: Member,
) -> None:
    user = scim.create_user("ada@acme.example")
    _, token, jwt = start_session(services, project.project_id, acme, ada)
    _, token2, _ = start_session(services, project.project_id, acme, ada)
    assert authenticate(api, session_token=token).status_code == 200
    assert authenticate(api, session_jwt=jwt).status_code == 200

    r = deprovision(scim, user["id"])
    assert r.status_code in (200, 204), r.text

    for credential in ({"session_token": token}, {"session_token": token2}, {"session_jwt": jwt}):
        refused = authenticate(api, **credential)
        assert refused.status_code == 404, credential
        assert refused.json()["error_type"] == "session_not_found"
    assert member_row(services, ada.id).status == "deactivated"
    got = api.get(f"/v1/b2b/organizations/{acme.id}/member", params={"member_id": ada.id})
    assert got.json()["member"]["status"] == "deactivated"
    with pytest.raises(MemberDeactivated):
        login(services, project, acme, ada)
    with services.sessions() as db:
        events = audit.list_events(db, member_id=ada.id, event_type="scim.member_deactivated")
        assert len(events) == 1
        assert events[0].details["connection_id"] == scim.connection.connection_id
        assert events[0].details["sessions_revoked"] == 2
        assert events[0].actor == f"scim:{scim.connection.connection_id}"


def test_reactivation_by_the_directory(
    scim: Scim, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    user = scim.create_user("ada@acme.example")
    scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    assert member_row(services, ada.id).status == "deactivated"
    back = scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": True})
    assert back.status_code == 200
    assert back.json()["active"] is True
    assert member_row(services, ada.id).status == "active"
    login(services, project, acme, ada)  # allowed again


def test_recreating_a_deleted_user_reactivates_the_member(
    scim: Scim, services: Services, ada: Member
) -> None:
    user = scim.create_user("ada@acme.example")
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert scim.get(f"/Users/{user['id']}").status_code == 404
    assert member_row(services, ada.id).status == "deactivated"
    again = scim.create_user("ada@acme.example")
    assert again["id"] != user["id"]
    assert member_row(services, ada.id).status == "active"


def test_user_created_inactive_is_deactivated(scim: Scim, services: Services) -> None:
    created = scim.create_user("eve@acme.example", active=False)
    assert created["active"] is False
    with services.sessions() as db:
        from sqlalchemy import select

        member = db.scalar(select(Member).where(Member.email_address == "eve@acme.example"))
        assert member is not None
        assert member.status == "deactivated"


def test_a_login_waiting_for_mfa_is_ended_too(
    scim: Scim,
    api: TestClient,
    services: Services,
    project: Credentials,
    acme: Organization,
    ada: Member,
) -> None:
    from antechamber.sessions import intermediate
    from antechamber.sessions.models import IntermediateSession

    user = scim.create_user("ada@acme.example")
    with services.scope(project.project_id, "test", "test") as scope:
        factor = factors.magic_link(
            "test", project.project_id, ada.email_address, scope.clock.now()
        )
        row, ist = intermediate.issue(
            scope,
            email=ada.email_address,
            factors=[factor],
            organization_id=acme.id,
            member_id=ada.id,
        )
        ist_id = row.id
    scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    with services.sessions() as db:
        ended = db.get(IntermediateSession, ist_id)
        assert ended is not None
        assert ended.consumed_at is not None
    r = api.post(
        "/v1/b2b/discovery/intermediate_sessions/exchange",
        json={"intermediate_session_token": ist, "organization_id": acme.id},
    )
    assert r.status_code in (400, 401, 404)


def test_discovery_cannot_log_a_deactivated_member_back_in(
    scim: Scim,
    api: TestClient,
    services: Services,
    project: Credentials,
    acme: Organization,
    ada: Member,
) -> None:
    from antechamber.sessions import intermediate

    user = scim.create_user("ada@acme.example")
    scim.delete(f"/Users/{user['id']}")
    with services.scope(project.project_id, "test", "test") as scope:
        factor = factors.magic_link(
            "test", project.project_id, ada.email_address, scope.clock.now()
        )
        _, ist = intermediate.issue(scope, email=ada.email_address, factors=[factor])
    listed = api.post(
        "/v1/b2b/discovery/organizations", json={"intermediate_session_token": ist}
    ).json()
    assert listed["discovered_organizations"] == []
    r = api.post(
        "/v1/b2b/discovery/intermediate_sessions/exchange",
        json={"intermediate_session_token": ist, "organization_id": acme.id},
    )
    assert r.status_code == 401
    assert r.json()["error_type"] == "member_deactivated"
    assert member_row(services, ada.id).status == "deactivated"
