"""Invitations, organization login links and email codes through the official SDKs
(Python stytch 15.3.0 and Node stytch 14.x) against a live server: each SDK's response models
parse every answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from stytch.core.response_base import StytchError

from antechamber.services import Services
from tests.compat.test_node_sdk import NODE, NODE_DIR, NodeSdk
from tests.conftest import Credentials
from tests.email_auth.conftest import allow_org_links, email_code, link_token
from tests.factories import last_code, make_member, make_org, message_ids

CAROL = "carol@contractor.example"
PHONE = "+12025550123"

needs_node = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "stytch").is_dir(),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)


@pytest.fixture(autouse=True)
def org_links(services: Services, project: Credentials, app: Any) -> None:
    allow_org_links(services, project.project_id)


@pytest.fixture(autouse=True)
def fresh_limits(inner_app: FastAPI) -> None:
    """Send limits follow the wall clock (the frozen test clock does not move them)."""
    inner_app.state.services.limiter.reset()


def test_python_invite_link_authenticate_session(
    sdk: Any, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_name="Optional Co")
    invited = sdk.magic_links.email.invite(
        organization_id=org.id, email_address=CAROL, name="Carol"
    )
    assert invited.member.status == "invited"
    assert invited.member.name == "Carol"
    done = sdk.magic_links.authenticate(magic_links_token=link_token(services, CAROL))
    assert done.member_authenticated is True
    assert done.member.status == "active"
    assert done.intermediate_session_token == ""
    assert done.member_session is not None
    assert done.organization_id == org.id
    assert done.reset_sessions is False
    local = sdk.sessions.authenticate_jwt(session_jwt=done.session_jwt)
    assert local.member_session.member_id == invited.member_id
    with pytest.raises(StytchError) as refused:
        sdk.magic_links.authenticate(magic_links_token=link_token(services, CAROL))
    assert refused.value.details.status_code == 401
    assert refused.value.details.error_type == "unable_to_auth_magic_link"


def test_python_invite_into_required_for_all_then_sms(
    sdk: Any, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    invited = sdk.magic_links.email.invite(organization_id=org.id, email_address=CAROL)
    pending = sdk.magic_links.authenticate(magic_links_token=link_token(services, CAROL))
    assert pending.member_authenticated is False
    assert pending.session_jwt == ""
    assert pending.mfa_required is not None
    sdk.otps.sms.send(
        organization_id=org.id,
        member_id=invited.member_id,
        mfa_phone_number=PHONE,
        intermediate_session_token=pending.intermediate_session_token,
    )
    done = sdk.otps.sms.authenticate(
        organization_id=org.id,
        member_id=invited.member_id,
        code=last_code(services, PHONE),
        intermediate_session_token=pending.intermediate_session_token,
    )
    assert done.session_jwt
    assert [f.type for f in done.member_session.authentication_factors] == ["magic_link", "otp"]


def test_python_org_login_link_for_an_existing_member(
    sdk: Any, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, email_address=CAROL)
    sent = sdk.magic_links.email.login_or_signup(organization_id=org.id, email_address=CAROL)
    assert sent.member_created is False
    assert sent.member_id == member.id
    done = sdk.magic_links.authenticate(magic_links_token=link_token(services, CAROL))
    assert done.member_authenticated is True


def test_python_email_otp_discovery_and_organization_login(
    sdk: Any, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address=CAROL)
    seen = message_ids(services, CAROL)
    sent = sdk.otps.email.discovery.send(email_address=CAROL)
    assert sent.status_code == 200
    found = sdk.otps.email.discovery.authenticate(
        email_address=CAROL, code=email_code(services, CAROL, seen)
    )
    assert found.intermediate_session_token
    assert [d.organization.organization_id for d in found.discovered_organizations] == [org.id]
    seen = message_ids(services, CAROL)
    signed_up = sdk.otps.email.login_or_signup(organization_id=org.id, email_address=CAROL)
    assert signed_up.member_created is False
    done = sdk.otps.email.authenticate(
        organization_id=org.id, email_address=CAROL, code=email_code(services, CAROL, seen)
    )
    assert done.member_authenticated is True
    assert done.member_session.authentication_factors[0].type == "email_otp"


@needs_node
def test_node_invite_authenticate_session_and_mfa(
    live_server: Any, project: Credentials, services: Services
) -> None:
    node = NodeSdk(live_server, project)
    try:
        optional = make_org(services, project.project_id)
        invited = node.ok("invite", optional.id, CAROL, "Carol")
        assert invited["member"]["status"] == "invited"
        done = node.ok("authenticateLink", link_token(services, CAROL))
        assert done["member_authenticated"] is True
        assert done["member"]["status"] == "active"
        again = node.call("authenticateLink", link_token(services, CAROL))
        assert again["error"] == {"status_code": 401, "error_type": "unable_to_auth_magic_link"}

        strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
        seen = message_ids(services, CAROL)
        invited = node.ok("invite", strict.id, CAROL, "Carol")
        pending = node.ok("authenticateLink", link_token(services, CAROL, seen))
        assert pending["session_jwt"] == ""
        assert pending["mfa_required"] is not None
        node.ok("smsSend", strict.id, invited["member_id"], PHONE)
        finished = node.ok(
            "smsAuthenticate",
            strict.id,
            invited["member_id"],
            last_code(services, PHONE),
            pending["intermediate_session_token"],
        )
        assert finished["session_jwt"]

        seen = message_ids(services, CAROL)
        node.ok("loginLink", optional.id, CAROL)
        again = node.ok("authenticateLink", link_token(services, CAROL, seen))
        assert again["member_authenticated"] is True
    finally:
        node.close()


@needs_node
def test_node_email_otp_discovery_and_organization_login(
    live_server: Any, project: Credentials, services: Services
) -> None:
    node = NodeSdk(live_server, project)
    try:
        org = make_org(services, project.project_id)
        make_member(services, project.project_id, org, email_address=CAROL)
        seen = message_ids(services, CAROL)
        node.ok("otpDiscoverySend", CAROL)
        found = node.ok("otpDiscoveryAuthenticate", CAROL, email_code(services, CAROL, seen))
        assert found["intermediate_session_token"]
        seen = message_ids(services, CAROL)
        node.ok("otpLoginOrSignup", org.id, CAROL)
        done = node.ok("otpAuthenticate", org.id, CAROL, email_code(services, CAROL, seen))
        assert done["member_authenticated"] is True
        wrong = node.call("otpAuthenticate", org.id, CAROL, "000000")
        assert wrong["error"]["status_code"] in (401, 404)
    finally:
        node.close()


def test_python_delete_then_reactivate(sdk: Any, services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    sdk.magic_links.email.invite(organization_id=org.id, email_address=CAROL)
    done = sdk.magic_links.authenticate(magic_links_token=link_token(services, CAROL))
    sdk.organizations.members.delete(organization_id=org.id, member_id=done.member_id)
    back = sdk.organizations.members.reactivate(organization_id=org.id, member_id=done.member_id)
    assert back.member.status == "active"
    assert back.member_id == done.member_id
    with pytest.raises(StytchError) as refused:
        sdk.organizations.members.reactivate(organization_id=org.id, member_id=done.member_id)
    assert refused.value.details.error_type == "no_deleted_member_found_for_reactivation"
