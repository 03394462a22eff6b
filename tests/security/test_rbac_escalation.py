"""Attempts to gain or misuse power through RBAC; each refusal leaves the database unchanged.

Covers security.md's rules for member-session authorization: a member acts only within its
organization, only with the permissions its roles grant, and can never give (or take) a role
or permission it does not hold; a revoked session is no credential; an organization is never
left without a member who can manage roles by a member's own hand.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.dbsnap import snapshot
from tests.factories import make_org
from tests.rbac.helpers import as_member, member_path, org_policy_path, person, set_policy

TABLES = ("members", "organizations", "member_sessions", "rbac_policies")

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
                {"resource_id": "stytch.custom-org-roles", "actions": ["*"]},
            ],
        },
        {
            "role_id": "role-manager",
            "description": "Gives roles, nothing else",
            "permissions": [
                {"resource_id": "stytch.member", "actions": ["update.settings.roles", "create"]},
                {"resource_id": "stytch.custom-org-roles", "actions": ["update"]},
            ],
        },
        {
            "role_id": "email-editor",
            "description": "Corrects email addresses",
            "permissions": [
                {
                    "resource_id": "stytch.member",
                    "actions": ["update.info.email", "update.settings.roles"],
                }
            ],
        },
        {
            "role_id": "domain-keeper",
            "description": "Edits implicit roles",
            "permissions": [
                {
                    "resource_id": "stytch.organization",
                    "actions": ["update.settings.implicit-roles"],
                }
            ],
        },
    ],
}


@pytest.fixture
def people(
    services: Services, project: Credentials, acme: Organization
) -> dict[str, tuple[Any, str, str]]:
    set_policy(services, project.project_id, POLICY)
    pid = project.project_id
    return {
        "admin": person(services, pid, acme, "al@acme.example", "stytch_admin"),
        "plain": person(services, pid, acme, "pat@acme.example"),
        "manager": person(services, pid, acme, "max@acme.example", "role-manager"),
        "keeper": person(services, pid, acme, "kim@acme.example", "domain-keeper"),
    }


def refused(
    engine: Engine, call: Any, status: int, error_type: str, tables: tuple[str, ...] = TABLES
) -> None:
    before = snapshot(engine, tables)
    response = call()
    assert response.status_code == status, response.json()
    assert response.json()["error_type"] == error_type
    assert snapshot(engine, tables) == before


def test_a_plain_member_cannot_promote_themself(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    plain, token, _ = people["plain"]
    refused(
        engine,
        lambda: api.put(
            member_path(acme.id, plain.id),
            json={"roles": ["stytch_admin"]},
            headers=as_member(token),
        ),
        403,
        "session_authorization_error",
    )


def test_a_role_manager_cannot_give_a_role_with_more_than_it_holds(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    manager, token, _ = people["manager"]
    plain, _, _ = people["plain"]
    admin, _, _ = people["admin"]
    for target, roles in (
        (manager.id, ["role-manager", "stytch_admin"]),  # itself
        (plain.id, ["stytch_admin"]),  # a colleague
        (admin.id, []),  # taking away what it could not give
    ):
        refused(
            engine,
            lambda target=target, roles=roles: api.put(
                member_path(acme.id, target), json={"roles": roles}, headers=as_member(token)
            ),
            403,
            "invalid_rbac_role_assignment",
        )
    refused(
        engine,
        lambda: api.post(
            f"/v1/b2b/organizations/{acme.id}/members",
            json={"email_address": "new@acme.example", "roles": ["stytch_admin"]},
            headers=as_member(token),
        ),
        403,
        "invalid_rbac_role_assignment",
    )
    # What it holds, it may give.
    ok = api.put(
        member_path(acme.id, plain.id), json={"roles": ["role-manager"]}, headers=as_member(token)
    )
    assert ok.status_code == 200, ok.json()


def test_a_custom_org_role_cannot_carry_a_stytch_permission_the_member_lacks(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    _, token, _ = people["manager"]
    sneaky = {
        "role_id": "helper",
        "description": "",
        "permissions": [{"resource_id": "stytch.organization", "actions": ["*"]}],
    }
    refused(
        engine,
        lambda: api.put(
            org_policy_path(acme.id),
            json={"org_policy": {"roles": [sneaky]}},
            headers=as_member(token),
        ),
        403,
        "invalid_rbac_role_assignment",
    )
    # Nor, by anyone, under the name of a project role (which every member would then hold).
    refused(
        engine,
        lambda: api.put(
            org_policy_path(acme.id),
            json={"org_policy": {"roles": [{**sneaky, "role_id": "stytch_member"}]}},
        ),
        400,
        "invalid_rbac_policy",
    )


def test_implicit_roles_cannot_hand_out_more_than_the_member_holds(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    _, token, _ = people["keeper"]
    refused(
        engine,
        lambda: api.put(
            f"/v1/b2b/organizations/{acme.id}",
            json={
                "rbac_email_implicit_role_assignments": [
                    {"domain": "acme.example", "role_id": "stytch_admin"}
                ]
            },
            headers=as_member(token),
        ),
        403,
        "session_authorization_error",  # it cannot manage roles at all
    )


def test_moving_an_implied_role_to_another_domain_counts_as_giving_it(
    api: TestClient,
    engine: Engine,
    services: Services,
    project: Credentials,
    acme: Organization,
    people: dict[str, Any],
) -> None:
    implied = api.put(
        f"/v1/b2b/organizations/{acme.id}",
        json={
            "rbac_email_implicit_role_assignments": [
                {"domain": "board.example", "role_id": "stytch_admin"}
            ]
        },
    )
    assert implied.status_code == 200, implied.json()
    _, token, _ = person(
        services, project.project_id, acme, "kay@acme.example", "domain-keeper", "role-manager"
    )
    refused(
        engine,
        lambda: api.put(
            f"/v1/b2b/organizations/{acme.id}",
            json={
                "rbac_email_implicit_role_assignments": [
                    {"domain": "acme.example", "role_id": "stytch_admin"}
                ]
            },
            headers=as_member(token),
        ),
        403,
        "invalid_rbac_role_assignment",
    )
    # Unchanged assignments need nothing it does not hold; its own role it may hand out.
    kept = api.put(
        f"/v1/b2b/organizations/{acme.id}",
        json={
            "rbac_email_implicit_role_assignments": [
                {"domain": "board.example", "role_id": "stytch_admin"},
                {"domain": "acme.example", "role_id": "domain-keeper"},
            ]
        },
        headers=as_member(token),
    )
    assert kept.status_code == 200, kept.json()


def test_an_email_change_cannot_bring_a_role_the_member_could_not_give(
    api: TestClient,
    engine: Engine,
    services: Services,
    project: Credentials,
    acme: Organization,
    people: dict[str, Any],
) -> None:
    implied = api.put(
        f"/v1/b2b/organizations/{acme.id}",
        json={
            "rbac_email_implicit_role_assignments": [
                {"domain": "boss.example", "role_id": "stytch_admin"}
            ]
        },
    )
    assert implied.status_code == 200, implied.json()
    _, token, _ = person(services, project.project_id, acme, "eve@acme.example", "email-editor")
    plain, _, _ = people["plain"]
    refused(
        engine,
        lambda: api.put(
            member_path(acme.id, plain.id),
            json={"email_address": "pat@boss.example"},
            headers=as_member(token),
        ),
        403,
        "invalid_rbac_role_assignment",
    )
    moved = api.put(
        member_path(acme.id, plain.id),
        json={"email_address": "pat@elsewhere.example"},
        headers=as_member(token),
    )
    assert moved.status_code == 200, moved.json()


def test_a_member_of_one_org_cannot_act_on_another(
    api: TestClient,
    engine: Engine,
    services: Services,
    project: Credentials,
    people: dict[str, Any],
) -> None:
    _, token, jwt = people["admin"]
    other = make_org(services, project.project_id, organization_slug="globex")
    victim, _, _ = person(services, project.project_id, other, "vic@globex.example")
    for headers in (as_member(token), {"X-Stytch-Member-SessionJWT": jwt}):
        for call in (
            lambda h=headers: api.put(
                f"/v1/b2b/organizations/{other.id}", json={"mfa_policy": "OPTIONAL"}, headers=h
            ),
            lambda h=headers: api.put(
                "/v1/b2b/organizations/globex", json={"organization_name": "Mine"}, headers=h
            ),
            lambda h=headers: api.put(
                member_path(other.id, victim.id), json={"name": "Owned"}, headers=h
            ),
            lambda h=headers: api.delete(member_path(other.id, victim.id), headers=h),
            lambda h=headers: api.post(
                "/v1/b2b/organizations/members/search",
                json={"organization_ids": [other.id]},
                headers=h,
            ),
            lambda h=headers: api.post(
                "/v1/b2b/sessions/revoke", json={"member_id": victim.id}, headers=h
            ),
            lambda h=headers: api.delete(f"/v1/b2b/organizations/{other.id}", headers=h),
        ):
            refused(engine, call, 403, "session_authorization_tenancy_error")


def test_a_member_cannot_revoke_another_orgs_session_by_its_id(
    api: TestClient,
    engine: Engine,
    services: Services,
    project: Credentials,
    people: dict[str, Any],
) -> None:
    from tests.factories import start_session

    _, token, _ = people["admin"]
    other = make_org(services, project.project_id, organization_slug="globex")
    victim, _, _ = person(services, project.project_id, other, "vic@globex.example")
    session_id, _, _ = start_session(services, project.project_id, other, victim)
    refused(
        engine,
        lambda: api.post(
            "/v1/b2b/sessions/revoke",
            json={"member_session_id": session_id},
            headers=as_member(token),
        ),
        403,
        "session_authorization_tenancy_error",
    )
    _, plain_token, _ = people["plain"]
    admin, _, _ = people["admin"]
    refused(
        engine,
        lambda: api.post(
            "/v1/b2b/sessions/revoke", json={"member_id": admin.id}, headers=as_member(plain_token)
        ),
        403,
        "session_authorization_error",
    )


def test_a_revoked_sessions_header_is_refused(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    _, token, jwt = people["admin"]
    plain, _, _ = people["plain"]
    assert api.post("/v1/b2b/sessions/revoke", json={"session_token": token}).status_code == 200
    for headers in (as_member(token), {"X-Stytch-Member-SessionJWT": jwt}):
        refused(
            engine,
            lambda h=headers: api.put(
                member_path(acme.id, plain.id), json={"roles": ["stytch_admin"]}, headers=h
            ),
            404,
            "session_not_found",
        )


def test_token_and_jwt_of_two_sessions_are_refused(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    _, plain_token, _ = people["plain"]
    _, _, admin_jwt = people["admin"]
    refused(
        engine,
        lambda: api.put(
            f"/v1/b2b/organizations/{acme.id}",
            json={"mfa_policy": "REQUIRED_FOR_ALL"},
            headers={**as_member(plain_token), "X-Stytch-Member-SessionJWT": admin_jwt},
        ),
        404,
        "session_not_found",
    )


def test_backend_only_fields_are_refused_with_a_members_session(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    admin, token, _ = people["admin"]
    refused(
        engine,
        lambda: api.put(
            member_path(acme.id, admin.id),
            json={"trusted_metadata": {"plan": "enterprise"}},
            headers=as_member(token),
        ),
        403,
        "cannot_update_trusted_metadata",
    )
    refused(
        engine,
        lambda: api.put(
            member_path(acme.id, admin.id),
            json={"email_address": "me@else.example"},
            headers=as_member(token),
        ),
        403,
        "member_cannot_update_their_email_address",
    )


def test_the_last_member_who_can_manage_roles_cannot_be_demoted_or_deleted(
    api: TestClient, engine: Engine, acme: Organization, people: dict[str, Any]
) -> None:
    admin, admin_token, _ = people["admin"]
    manager, manager_token, _ = people["manager"]
    # Two can manage roles (admin, manager): the manager may step down.
    stepped = api.put(
        member_path(acme.id, manager.id), json={"roles": []}, headers=as_member(manager_token)
    )
    assert stepped.status_code == 200, stepped.json()
    # Now the admin is the last one.
    refused(
        engine,
        lambda: api.put(
            member_path(acme.id, admin.id), json={"roles": []}, headers=as_member(admin_token)
        ),
        409,
        "last_role_manager",
    )
    refused(
        engine,
        lambda: api.delete(member_path(acme.id, admin.id), headers=as_member(admin_token)),
        409,
        "last_role_manager",
    )
    response = api.delete(member_path(acme.id, admin.id), headers=as_member(admin_token))
    assert "update.settings.roles" in response.json()["error_message"]


def test_an_invitation_made_with_a_member_session_gives_no_more_than_the_member_holds(
    services: Services,
    project: Credentials,
    api: TestClient,
    engine: Engine,
    acme: Organization,
    people: dict[str, Any],
) -> None:
    from tests.email_auth.conftest import INVITE, INVITE_URL, allow_org_links

    allow_org_links(services, project.project_id)
    tables = (*TABLES, "magic_links", "outbox_messages")

    def invite(token: str, roles: list[str]) -> Any:
        return api.post(
            INVITE,
            json={
                "organization_id": acme.id,
                "email_address": "guest@elsewhere.example",
                "invite_redirect_url": INVITE_URL,
                "roles": roles,
            },
            headers=as_member(token),
        )

    _, plain_token, _ = people["plain"]
    refused(engine, lambda: invite(plain_token, []), 403, "session_authorization_error", tables)
    _, manager_token, _ = people["manager"]
    refused(
        engine,
        lambda: invite(manager_token, ["stytch_admin"]),
        403,
        "invalid_rbac_role_assignment",
        tables,
    )
    ok = invite(manager_token, ["role-manager"])
    assert ok.status_code == 200, ok.json()
    assert {r["role_id"] for r in ok.json()["member"]["roles"]} >= {"role-manager"}


def test_an_invitation_made_with_a_member_session_names_that_member_and_no_backend_field(
    services: Services,
    project: Credentials,
    api: TestClient,
    engine: Engine,
    acme: Organization,
    people: dict[str, Any],
) -> None:
    from tests.email_auth.conftest import INVITE, INVITE_URL, allow_org_links

    allow_org_links(services, project.project_id)
    tables = (*TABLES, "magic_links", "outbox_messages")
    admin, admin_token, _ = people["admin"]
    plain, _, _ = people["plain"]
    body = {
        "organization_id": acme.id,
        "email_address": "guest@elsewhere.example",
        "invite_redirect_url": INVITE_URL,
    }
    refused(
        engine,
        lambda: api.post(
            INVITE, json={**body, "invited_by_member_id": plain.id}, headers=as_member(admin_token)
        ),
        403,
        "unauthorized_action",
        tables,
    )
    refused(
        engine,
        lambda: api.post(
            INVITE,
            json={**body, "trusted_metadata": {"tier": "gold"}},
            headers=as_member(admin_token),
        ),
        403,
        "cannot_update_trusted_metadata",
        tables,
    )
    ok = api.post(INVITE, json=body, headers=as_member(admin_token))
    assert ok.status_code == 200, ok.json()
    invited = ok.json()["member"]["member_id"]
    with engine.connect() as conn:
        from sqlalchemy import text

        row = conn.execute(
            text(
                "SELECT details FROM audit_events WHERE event_type = 'member.invited' "
                "AND member_id = :m"
            ),
            {"m": invited},
        ).one()
    assert admin.id in str(row.details)
