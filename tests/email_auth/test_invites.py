"""Invitations and organization login links over the API (stytch-b2b-api-more.md §1)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.email_auth.conftest import (
    INVITE,
    INVITE_URL,
    LOGIN_OR_SIGNUP,
    LOGIN_URL,
    SIGNUP_URL,
    invite,
    invited_token,
    link_token,
    login_token,
    newest,
    redeem,
)
from tests.factories import last_code, make_member, make_org, message_ids, verify_phone
from tests.flows import LIST, authenticate_sms, ist_for
from tests.snapshots import assert_refused


def test_invite_creates_an_invited_member_and_emails_a_link_naming_org_and_inviter(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    admin = make_member(
        services, project.project_id, acme, email_address="boss@acme.example", name="Bo Ss"
    )
    body = invite(
        api,
        acme.id,
        "Carol@Contractor.example",
        invited_by_member_id=admin.id,
        name="Carol",
        roles=["stytch_admin"],
    )
    member = body["member"]
    assert member["status"] == "invited"
    assert member["email_address"] == "carol@contractor.example"
    assert member["name"] == "Carol"
    assert {r["role_id"] for r in member["roles"]} >= {"stytch_admin"}
    assert body["organization"]["organization_id"] == acme.id
    template, context = newest(services, "carol@contractor.example")
    assert template == "invite_magic_link"
    assert context["organization_name"] == "Acme"
    assert context["inviter"] == "Bo Ss (boss@acme.example)"
    assert context["expiration_minutes"] == 10080
    parts = urlsplit(context["url"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == INVITE_URL
    query = parse_qs(parts.query)
    assert query["stytch_token_type"] == ["multi_tenant_magic_links"]
    assert len(query["token"][0]) >= 43


def test_accepting_an_invite_activates_the_member_and_starts_a_session(
    api: TestClient, services: Services, acme: Organization
) -> None:
    invited = invite(api, acme.id, "carol@contractor.example")
    answer = redeem(api, link_token(services, "carol@contractor.example"))
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["member_authenticated"] is True
    assert body["member"]["status"] == "active"
    assert body["member"]["email_address_verified"] is True
    assert body["member_id"] == invited["member_id"]
    assert body["organization_id"] == acme.id
    assert body["intermediate_session_token"] == ""
    assert body["reset_sessions"] is False
    assert body["method_id"].startswith("email-test-")
    [factor] = body["member_session"]["authentication_factors"]
    assert factor["type"] == "magic_link"
    assert factor["email_factor"]["email_address"] == "carol@contractor.example"


def test_an_invite_into_an_org_requiring_mfa_stops_for_mfa_then_sms_finishes(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    invited = invite(api, org.id, "carol@contractor.example", name="Carol")
    pending = redeem(api, link_token(services, "carol@contractor.example")).json()
    assert pending["member_authenticated"] is False
    assert pending["session_jwt"] == ""
    assert pending["mfa_required"] is not None
    assert pending["intermediate_session_token"]
    sent = api.post(
        "/v1/b2b/otps/sms/send",
        json={
            "organization_id": org.id,
            "member_id": invited["member_id"],
            "mfa_phone_number": "+12025550123",
            "intermediate_session_token": pending["intermediate_session_token"],
        },
    )
    assert sent.status_code == 200, sent.json()
    done = authenticate_sms(api, pending, last_code(services, "+12025550123"))
    assert done.status_code == 200, done.json()
    assert done.json()["member_authenticated"] is True
    assert done.json()["member"]["status"] == "active"


def test_invites_show_in_discovery_as_invited_and_pending_members(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    other = make_org(services, project.project_id, organization_name="Beta")
    invite(api, acme.id, "carol@contractor.example")
    make_member(
        services,
        project.project_id,
        other,
        email_address="carol@contractor.example",
        create_member_as_pending=True,
    )
    ist = ist_for(api, services, "carol@contractor.example")
    listing = api.post(LIST, json={"intermediate_session_token": ist}).json()
    kinds = {
        d["organization"]["organization_name"]: d["membership"]["type"]
        for d in listing["discovered_organizations"]
    }
    assert kinds == {"Acme": "invited_member", "Beta": "pending_member"}


def test_re_invite_sends_a_new_link_and_ends_the_old_one(
    api: TestClient, services: Services, acme: Organization
) -> None:
    _, first = invited_token(api, services, acme.id, "carol@contractor.example")
    again, second = invited_token(api, services, acme.id, "carol@contractor.example")
    assert again["member"]["status"] == "invited"
    refused = assert_refused(redeem(api, first), 401, "unable_to_auth_magic_link")
    assert "newer link" in refused["error_message"]
    assert redeem(api, second).status_code == 200


def test_inviting_a_pending_member_makes_them_invited_and_an_active_one_is_refused(
    api: TestClient, services: Services, project: Credentials, acme: Organization, ada: object
) -> None:
    make_member(
        services,
        project.project_id,
        acme,
        email_address="pat@acme.example",
        create_member_as_pending=True,
    )
    assert invite(api, acme.id, "pat@acme.example")["member"]["status"] == "invited"
    refused = api.post(
        INVITE, json={"organization_id": acme.id, "email_address": "ada@acme.example"}
    )
    assert_refused(refused, 409, "duplicate_member_email")


def test_invite_needs_a_registered_redirect_url(
    api: TestClient, services: Services, acme: Organization
) -> None:
    refused = api.post(
        INVITE,
        json={
            "organization_id": acme.id,
            "email_address": "carol@contractor.example",
            "invite_redirect_url": "https://evil.example/invite",
        },
    )
    assert_refused(refused, 400, "no_match_for_provided_magic_link_url")


def test_invite_expiration_is_checked(api: TestClient, acme: Organization) -> None:
    for minutes in (4, 10081):
        refused = api.post(
            INVITE,
            json={
                "organization_id": acme.id,
                "email_address": "carol@contractor.example",
                "invite_expiration_minutes": minutes,
            },
        )
        assert_refused(refused, 400, "invalid_expiration")


def test_login_or_signup_sends_a_login_link_to_an_active_member(
    api: TestClient, services: Services, acme: Organization, ada: object
) -> None:
    answer = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": acme.id, "email_address": "ada@acme.example"}
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["member_created"] is False
    template, context = newest(services, "ada@acme.example")
    assert template == "login_magic_link"
    assert context["url"].startswith(LOGIN_URL + "?")
    assert context["signup"] is False
    done = redeem(api, link_token(services, "ada@acme.example"))
    assert done.status_code == 200
    assert done.json()["member_authenticated"] is True


def test_login_or_signup_creates_a_pending_member_only_where_jit_allows(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    refused = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": acme.id, "email_address": "new@acme.example"}
    )
    assert_refused(refused, 400, "email_jit_provisioning_not_allowed")
    open_org = make_org(
        services,
        project.project_id,
        email_jit_provisioning="RESTRICTED",
        email_allowed_domains=["acme.example"],
    )
    wrong_domain = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": open_org.id, "email_address": "x@evil.example"}
    )
    assert_refused(wrong_domain, 400, "invalid_email_for_jit_provisioning")
    first = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": open_org.id, "email_address": "new@acme.example"}
    ).json()
    assert first["member_created"] is True
    assert first["member"]["status"] == "pending"
    _, context = newest(services, "new@acme.example")
    assert context["url"].startswith(SIGNUP_URL + "?")
    seen = message_ids(services, "new@acme.example")
    second = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": open_org.id, "email_address": "new@acme.example"}
    ).json()
    assert second["member_created"] is False
    done = redeem(api, link_token(services, "new@acme.example", seen)).json()
    assert done["member"]["status"] == "active", done


def test_login_or_signup_is_refused_where_magic_links_are_not_allowed(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services, project.project_id, auth_methods="RESTRICTED", allowed_auth_methods=["email_otp"]
    )
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    refused = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": org.id, "email_address": "ada@acme.example"}
    )
    assert_refused(refused, 400, "operation_restricted_by_organization_auth_methods")


def test_a_new_login_link_ends_the_older_one_for_the_same_org(
    api: TestClient, services: Services, acme: Organization, ada: object
) -> None:
    first = login_token(api, services, acme.id, "ada@acme.example")
    second = login_token(api, services, acme.id, "ada@acme.example")
    assert first != second
    assert_refused(redeem(api, first), 401, "unable_to_auth_magic_link")
    assert redeem(api, second).status_code == 200, redeem(api, second).json()


def test_a_verified_phone_member_gets_the_sms_with_the_mfa_answer(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(
        services,
        project.project_id,
        org,
        email_address="ada@acme.example",
        mfa_phone_number="+12025550199",
    )
    verify_phone(services, member)
    api.post(LOGIN_OR_SIGNUP, json={"organization_id": org.id, "email_address": "ada@acme.example"})
    pending = redeem(api, link_token(services, "ada@acme.example")).json()
    assert pending["mfa_required"]["secondary_auth_initiated"] == "sms_otp"
    done = authenticate_sms(api, pending, last_code(services, "+12025550199"))
    assert done.json()["member_authenticated"] is True


def test_login_or_signup_answers_known_and_unknown_addresses_alike(
    api: TestClient, services: Services, project: Credentials
) -> None:
    """Where the organization lets the domain join, a stranger gets the same status and the
    same shape as a member (Stytch's `member_created` is the one difference it defines)."""
    org = make_org(
        services,
        project.project_id,
        email_jit_provisioning="RESTRICTED",
        email_allowed_domains=["acme.example"],
    )
    make_member(services, project.project_id, org, email_address="known@acme.example")
    known = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": org.id, "email_address": "known@acme.example"}
    )
    unknown = api.post(
        LOGIN_OR_SIGNUP, json={"organization_id": org.id, "email_address": "new@acme.example"}
    )
    assert known.status_code == unknown.status_code == 200
    assert set(known.json()) == set(unknown.json())
    assert set(known.json()["member"]) == set(unknown.json()["member"])
