"""Discovery over the API: discovered organizations, exchange, create, list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import CREATE, EXCHANGE, LIST, discover, enter, ist_for


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


def by_org(discovered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["organization"]["organization_id"]: d for d in discovered}


def assert_session(body: dict[str, Any]) -> None:
    """Stytch's fully authenticated shape (§2.8)."""
    assert body["member_authenticated"] is True
    assert len(body["session_token"]) == 44
    assert body["session_jwt"].count(".") == 2
    assert body["member_session"]["member_id"] == body["member_id"]
    assert body["intermediate_session_token"] == ""
    assert body["mfa_required"] is None
    assert body["primary_required"] is None


def assert_mfa_pending(body: dict[str, Any]) -> None:
    """Stytch's MFA shape (§2.8): empty strings, not nulls."""
    assert body["member_authenticated"] is False
    assert body["session_token"] == ""
    assert body["session_jwt"] == ""
    assert body["member_session"] is None
    assert body["intermediate_session_token"]
    assert body["mfa_required"] is not None
    assert body["mfa_required"]["secondary_auth_initiated"] is None
    assert body["primary_required"] is None


def test_discovered_organizations_cover_memberships_and_domains(
    api: TestClient, services: Services, project: Credentials, other_project: Credentials
) -> None:
    pid = project.project_id
    active = make_org(services, pid, organization_name="Active")
    make_member(services, pid, active, email_address="ada@acme.example")
    pending = make_org(services, pid, organization_name="Pending")
    make_member(
        services, pid, pending, email_address="ada@acme.example", create_member_as_pending=True
    )
    joinable = make_org(
        services,
        pid,
        organization_name="Joinable",
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
        mfa_policy="REQUIRED_FOR_ALL",
    )
    make_org(  # lists the domain but does not let it join
        services, pid, organization_name="Closed", email_allowed_domains=["acme.example"]
    )
    make_org(  # another domain
        services,
        pid,
        organization_name="Elsewhere",
        email_allowed_domains=["other.example"],
        email_jit_provisioning="RESTRICTED",
    )
    foreign = make_org(services, other_project.project_id, organization_name="Foreign")
    make_member(services, other_project.project_id, foreign, email_address="ada@acme.example")

    body = discover(api, services, "ada@acme.example")
    found = by_org(body["discovered_organizations"])
    assert set(found) == {active.id, pending.id, joinable.id}
    assert found[active.id]["membership"]["type"] == "active_member"
    assert found[active.id]["membership"]["member"]["email_address"] == "ada@acme.example"
    assert found[active.id]["member_authenticated"] is False
    assert found[active.id]["mfa_required"] is None
    assert found[pending.id]["membership"]["type"] == "pending_member"
    eligible = found[joinable.id]
    assert eligible["membership"]["type"] == "eligible_to_join_by_email_domain"
    assert eligible["membership"]["details"] == {"domain": "acme.example"}
    assert eligible["membership"]["member"] is None
    assert eligible["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}


def test_exchange_into_a_membership_starts_a_session(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, email_address="ada@acme.example")
    ist = ist_for(api, services, "ada@acme.example")
    body = enter(api, ist, org.id)
    assert_session(body)
    assert body["member_id"] == member.id
    assert body["member"]["email_address_verified"] is True
    assert body["organization"]["organization_id"] == org.id
    factors = body["member_session"]["authentication_factors"]
    assert [f["type"] for f in factors] == ["magic_link"]
    assert factors[0]["email_factor"]["email_address"] == "ada@acme.example"
    assert factors[0]["email_factor"]["email_id"].startswith("email-test-")
    # Consumed on success.
    again = api.post(EXCHANGE, json={"intermediate_session_token": ist, "organization_id": org.id})
    assert again.status_code == 404
    assert again.json()["error_type"] == "intermediate_session_not_found"


def test_exchange_accepts_slugs_and_honours_session_duration(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_slug="acme-co")
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    ist = ist_for(api, services, "ada@acme.example")
    body = enter(api, ist, "acme-co", session_duration_minutes=5)
    session = body["member_session"]
    started = datetime.fromisoformat(session["started_at"])
    expires = datetime.fromisoformat(session["expires_at"])
    assert expires - started == timedelta(minutes=5)


def test_invited_and_pending_members_become_active(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(
        services,
        project.project_id,
        org,
        email_address="ada@acme.example",
        create_member_as_pending=True,
    )
    body = enter(api, ist_for(api, services, "ada@acme.example"), org.id)
    assert body["member"]["status"] == "active"


def test_exchange_provisions_by_domain(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    body = enter(api, ist_for(api, services, "grace@acme.example"), org.id)
    assert_session(body)
    assert body["member"]["email_address"] == "grace@acme.example"
    assert body["member"]["status"] == "active"
    assert body["member"]["email_address_verified"] is True
    assert body["member"]["is_admin"] is False


@pytest.mark.parametrize(
    ("org_settings", "error"),
    [
        ({}, "email_jit_provisioning_not_allowed"),
        (
            {"email_allowed_domains": ["other.example"], "email_jit_provisioning": "RESTRICTED"},
            "invalid_email_for_jit_provisioning",
        ),
    ],
)
def test_exchange_into_a_closed_organization_is_refused_and_keeps_the_ist(
    api: TestClient,
    services: Services,
    project: Credentials,
    org_settings: dict[str, Any],
    error: str,
) -> None:
    closed = make_org(services, project.project_id, **org_settings)
    mine = make_org(services, project.project_id)
    make_member(services, project.project_id, mine, email_address="ada@acme.example")
    ist = ist_for(api, services, "ada@acme.example")
    refused = api.post(
        EXCHANGE, json={"intermediate_session_token": ist, "organization_id": closed.id}
    )
    assert refused.status_code == 400
    assert refused.json()["error_type"] == error
    assert_session(enter(api, ist, mine.id))


def test_exchange_into_an_unknown_organization(api: TestClient, services: Services) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    response = api.post(
        EXCHANGE, json={"intermediate_session_token": ist, "organization_id": "organization-test-x"}
    )
    assert response.status_code == 404
    assert response.json()["error_type"] == "organization_not_found"


def test_required_for_all_binds_the_ist_to_that_organization(
    api: TestClient, services: Services, project: Credentials
) -> None:
    strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, strict, email_address="ada@acme.example")
    relaxed = make_org(services, project.project_id)
    make_member(services, project.project_id, relaxed, email_address="ada@acme.example")
    ist = ist_for(api, services, "ada@acme.example")

    body = enter(api, ist, strict.id)
    assert_mfa_pending(body)
    assert body["member_id"] == member.id
    assert body["intermediate_session_token"] == ist  # not consumed, now bound
    assert body["mfa_required"]["member_options"] is None  # no phone yet

    other = api.post(
        EXCHANGE, json={"intermediate_session_token": ist, "organization_id": relaxed.id}
    )
    assert other.status_code == 400
    assert other.json()["error_type"] == "invalid_intermediate_session_token_for_organization"
    create = api.post(CREATE, json={"intermediate_session_token": ist, "organization_name": "New"})
    assert create.status_code == 400
    assert create.json()["error_type"] == "invalid_intermediate_session_token_for_organization"
    # The same organization again: still waiting for MFA.
    assert_mfa_pending(enter(api, ist, strict.id))
    listed = api.post(LIST, json={"intermediate_session_token": ist}).json()
    assert listed["organization_id_hint"] == strict.id


def test_a_member_who_opted_in_must_pass_mfa(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(
        services,
        project.project_id,
        org,
        email_address="ada@acme.example",
        mfa_phone_number="+12025550123",
        mfa_enrolled=True,
    )
    body = enter(api, ist_for(api, services, "ada@acme.example"), org.id)
    assert_mfa_pending(body)
    # The number is masked; it is not verified yet, so no code went out unasked.
    assert body["mfa_required"] == {
        "member_options": {"mfa_phone_number": "+1******0123", "totp_registration_id": ""},
        "secondary_auth_initiated": None,
    }


def test_roles_that_require_mfa_are_honoured(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_required_roles=["stytch_admin"])
    make_member(
        services, project.project_id, org, email_address="boss@acme.example", roles=["stytch_admin"]
    )
    make_member(services, project.project_id, org, email_address="staff@acme.example")
    assert_mfa_pending(enter(api, ist_for(api, services, "boss@acme.example"), org.id))
    assert_session(enter(api, ist_for(api, services, "staff@acme.example"), org.id))


def test_restricted_auth_methods_without_magic_links_need_another_primary_factor(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services, project.project_id, auth_methods="RESTRICTED", allowed_auth_methods=["sso"]
    )
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    body = enter(api, ist_for(api, services, "ada@acme.example"), org.id)
    assert body["member_authenticated"] is False
    assert body["session_jwt"] == ""
    assert body["primary_required"] == {"allowed_auth_methods": ["sso"]}
    assert body["mfa_required"] is None


def test_an_ist_lives_ten_minutes(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    ist = ist_for(api, services, "ada@acme.example")
    clock.advance(minutes=10)
    response = api.post(
        EXCHANGE, json={"intermediate_session_token": ist, "organization_id": org.id}
    )
    assert response.status_code == 404
    assert response.json()["error_type"] == "intermediate_session_not_found"


def test_create_makes_the_creator_an_admin_with_a_session(
    api: TestClient, services: Services
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    response = api.post(
        CREATE,
        json={
            "intermediate_session_token": ist,
            "organization_name": "Acme Co",
            "email_allowed_domains": [],
            "session_duration_minutes": 60,
            "mfa_policy": "OPTIONAL",
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert_session(body)
    assert body["organization"]["organization_name"] == "Acme Co"
    assert body["organization"]["organization_slug"] == "acme-co"
    assert body["member"]["email_address"] == "ada@acme.example"
    assert body["member"]["is_admin"] is True
    assert body["member"]["status"] == "active"
    assert body["member"]["email_address_verified"] is True
    assert body["member_session"]["roles"] == ["stytch_member", "stytch_admin"]
    again = api.post(CREATE, json={"intermediate_session_token": ist, "organization_name": "Two"})
    assert again.status_code == 404


def test_create_under_required_for_all_waits_for_mfa(api: TestClient, services: Services) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    body = api.post(
        CREATE,
        json={
            "intermediate_session_token": ist,
            "organization_name": "Acme Co",
            "mfa_policy": "REQUIRED_FOR_ALL",
        },
    ).json()
    assert_mfa_pending(body)
    assert body["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    assert body["intermediate_session_token"] == ist
    assert body["organization"]["mfa_policy"] == "REQUIRED_FOR_ALL"
    assert body["member"]["is_admin"] is True


def test_create_derives_a_name_from_the_email(api: TestClient, services: Services) -> None:
    work = api.post(
        CREATE, json={"intermediate_session_token": ist_for(api, services, "ada@acme.example")}
    )
    assert work.json()["organization"]["organization_name"] == "acme"
    webmail = api.post(
        CREATE, json={"intermediate_session_token": ist_for(api, services, "ada.l@gmail.com")}
    )
    assert webmail.json()["organization"]["organization_name"] == "ada.l"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"organization_slug": "a"}, "invalid_organization_slug"),
        ({"mfa_policy": "SOMETIMES"}, "invalid_organization_mfa_policy"),
        ({"email_allowed_domains": ["gmail.com"]}, "organization_settings_domain_too_common"),
        ({"email_jit_provisioning": "RESTRICTED"}, "invalid_restricted_email_setting"),
        ({"session_duration_minutes": 4}, "invalid_session_duration"),
    ],
)
def test_create_refuses_bad_settings_and_keeps_the_ist(
    api: TestClient, services: Services, fields: dict[str, Any], error: str
) -> None:
    ist = ist_for(api, services, "ada@acme.example")
    refused = api.post(
        CREATE, json={"intermediate_session_token": ist, "organization_name": "Acme", **fields}
    )
    assert refused.status_code == 400
    assert refused.json()["error_type"] == error
    ok = api.post(CREATE, json={"intermediate_session_token": ist, "organization_name": "Acme"})
    assert ok.status_code == 200


def test_create_with_a_taken_slug(
    api: TestClient, services: Services, project: Credentials
) -> None:
    make_org(services, project.project_id, organization_slug="acme")
    ist = ist_for(api, services, "ada@acme.example")
    response = api.post(
        CREATE,
        json={
            "intermediate_session_token": ist,
            "organization_name": "A",
            "organization_slug": "acme",
        },
    )
    assert response.status_code == 409
    assert response.json()["error_type"] == "organization_slug_already_used"


def test_list_with_an_ist_does_not_consume_it(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    ist = ist_for(api, services, "ada@acme.example")
    for _ in range(2):
        listed = api.post(LIST, json={"intermediate_session_token": ist})
        assert listed.status_code == 200
        body = listed.json()
        assert body["email_address"] == "ada@acme.example"
        assert body["organization_id_hint"] is None
        assert [d["organization"]["organization_id"] for d in body["discovered_organizations"]] == [
            org.id
        ]
    assert_session(enter(api, ist, org.id))


def test_list_with_a_session_shows_memberships_only(
    api: TestClient, services: Services, project: Credentials
) -> None:
    pid = project.project_id
    home = make_org(services, pid)
    make_member(services, pid, home, email_address="ada@acme.example")
    second = make_org(services, pid)
    make_member(services, pid, second, email_address="ada@acme.example")
    make_org(
        services, pid, email_allowed_domains=["acme.example"], email_jit_provisioning="RESTRICTED"
    )
    session = enter(api, ist_for(api, services, "ada@acme.example"), home.id)
    for credential in ("session_token", "session_jwt"):
        body = api.post(LIST, json={credential: session[credential]}).json()
        found = by_org(body["discovered_organizations"])
        assert set(found) == {home.id, second.id}
        assert found[home.id]["member_authenticated"] is True
        assert found[second.id]["member_authenticated"] is False


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({}, 400, "no_session_arguments"),
        (
            {"session_token": "a", "intermediate_session_token": "b"},
            400,
            "too_many_session_arguments",
        ),
        ({"intermediate_session_token": "nope"}, 404, "intermediate_session_not_found"),
        ({"session_token": "nope"}, 404, "session_not_found"),
    ],
)
def test_list_needs_exactly_one_live_credential(
    api: TestClient, fields: dict[str, str], status: int, error: str
) -> None:
    response = api.post(LIST, json=fields)
    assert response.status_code == status
    assert response.json()["error_type"] == error
