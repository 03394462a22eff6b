"""`organizations.members.reactivate`: a deleted member back, active, under the same id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.email_auth.conftest import invite
from tests.factories import make_member, start_session
from tests.snapshots import assert_refused, unchanged


def path(org_id: str, member_id: str) -> str:
    return f"/v1/b2b/organizations/{org_id}/members/{member_id}"


def verified_member(services: Services, project: Credentials, org: Organization) -> Member:
    member = make_member(
        services, project.project_id, org, email_address="ada@acme.example", name="Ada"
    )
    start_session(services, project.project_id, org, member)  # proves the email
    return member


def test_a_deleted_member_comes_back_active_with_the_same_id(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    member = verified_member(services, project, acme)
    assert api.delete(path(acme.id, member.id)).status_code == 200
    assert (
        api.get(f"/v1/b2b/organizations/{acme.id}/member?member_id={member.id}").status_code == 404
    )
    back = api.put(f"{path(acme.id, member.id)}/reactivate", json={})
    assert back.status_code == 200, back.json()
    body: dict[str, Any] = back.json()
    assert body["member_id"] == member.id
    assert body["member"]["status"] == "active"
    assert body["member"]["name"] == "Ada"
    assert body["member"]["email_address_verified"] is True
    found = api.get(f"/v1/b2b/organizations/{acme.id}/member?member_id={member.id}")
    assert found.status_code == 200


def test_only_deleted_members_of_this_organization_can_be_reactivated(
    api: TestClient,
    services: Services,
    engine: Engine,
    project: Credentials,
    acme: Organization,
    other_project: Credentials,
) -> None:
    member = verified_member(services, project, acme)
    with unchanged(engine):
        assert_refused(
            api.put(f"{path(acme.id, member.id)}/reactivate", json={}),
            404,
            "no_deleted_member_found_for_reactivation",
        )
    api.delete(path(acme.id, member.id))
    with unchanged(engine):
        stranger = api.put(
            f"{path(acme.id, member.id)}/reactivate", json={}, auth=other_project.auth
        )
        assert stranger.status_code == 404


def test_a_revoked_invitation_cannot_be_reactivated(
    api: TestClient, services: Services, engine: Engine, acme: Organization
) -> None:
    invited = invite(api, acme.id, "carol@contractor.example")
    api.delete(path(acme.id, invited["member_id"]))
    with unchanged(engine):
        assert_refused(
            api.put(f"{path(acme.id, invited['member_id'])}/reactivate", json={}),
            400,
            "email_unverified_for_reactivation",
        )


def test_reactivation_refused_when_the_email_was_taken_since(
    api: TestClient, services: Services, engine: Engine, project: Credentials, acme: Organization
) -> None:
    member = verified_member(services, project, acme)
    api.delete(path(acme.id, member.id))
    make_member(services, project.project_id, acme, email_address="ada@acme.example")
    with unchanged(engine):
        assert_refused(
            api.put(f"{path(acme.id, member.id)}/reactivate", json={}),
            400,
            "reactivation_email_belongs_to_another_member",
        )
