"""The discovery flow through the official Python SDK (stytch 15.3.0) against a live server."""

from __future__ import annotations

from typing import Any

import pytest
from stytch.core.response_base import StytchError

from antechamber.services import Services
from tests.compat.conftest import RequestLog
from tests.conftest import Credentials
from tests.factories import CALLBACK_URL, magic_token, make_member, make_org

SESSION_AUTHENTICATE = "/v1/b2b/sessions/authenticate"


def discover(sdk: Any, services: Services, email: str) -> Any:
    sent = sdk.magic_links.email.discovery.send(
        email_address=email, discovery_redirect_url=CALLBACK_URL
    )
    assert sent.status_code == 200
    return sdk.magic_links.discovery.authenticate(
        discovery_magic_links_token=magic_token(services, email)
    )


def test_discovery_create_session_jwt_revoke(
    sdk: Any, services: Services, project: Credentials, request_log: RequestLog
) -> None:
    found = discover(sdk, services, "ada@acme.example")
    assert found.email_address == "ada@acme.example"
    assert found.discovered_organizations == []
    listed = sdk.discovery.organizations.list(
        intermediate_session_token=found.intermediate_session_token
    )
    assert listed.email_address == "ada@acme.example"

    created = sdk.discovery.organizations.create(
        intermediate_session_token=found.intermediate_session_token,
        email_allowed_domains=[],
        organization_name="Acme Co",
        session_duration_minutes=60,
        mfa_policy="OPTIONAL",
    )
    assert created.member_authenticated is True
    assert created.intermediate_session_token == ""
    assert created.member.is_admin is True
    assert created.member_session is not None
    assert created.member_session.authentication_factors[0].type == "magic_link"

    local = sdk.sessions.authenticate_jwt(session_jwt=created.session_jwt)
    assert local.member_session.member_id == created.member_id
    assert local.member_session.organization_id == created.organization.organization_id
    assert local.member_session.organization_slug == created.organization.organization_slug
    assert local.member_session.roles == ["stytch_member", "stytch_admin"]
    # Verified offline with the JWKS: the SDK never fell back to the server.
    assert request_log.paths[SESSION_AUTHENTICATE] == 0
    assert request_log.paths[f"/v1/b2b/sessions/jwks/{project.project_id}"] == 1

    checked = sdk.sessions.authenticate(session_token=created.session_token)
    assert checked.member_session.member_session_id == created.member_session.member_session_id
    listed_sessions = sdk.sessions.get(
        organization_id=created.organization.organization_id, member_id=created.member_id
    )
    assert len(listed_sessions.member_sessions) == 1
    jwks = sdk.sessions.get_jwks(project_id=project.project_id)
    assert jwks.keys[0].alg == "RS256"

    sdk.sessions.revoke(session_jwt=created.session_jwt)
    with pytest.raises(StytchError) as refused:
        sdk.sessions.authenticate(session_token=created.session_token)
    assert refused.value.details.status_code == 404
    assert refused.value.details.error_type == "session_not_found"


def test_exchange_into_an_existing_organization(
    sdk: Any, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, organization_slug="acme")
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    other = make_org(services, project.project_id, organization_slug="beta")
    make_member(services, project.project_id, other, email_address="ada@acme.example")
    found = discover(sdk, services, "ada@acme.example")
    assert [d.membership.type for d in found.discovered_organizations] == [
        "active_member",
        "active_member",
    ]
    entered = sdk.discovery.intermediate_sessions.exchange(
        intermediate_session_token=found.intermediate_session_token,
        organization_id=org.id,
        session_duration_minutes=60,
    )
    assert entered.member_authenticated is True
    switched = sdk.sessions.exchange(organization_id="beta", session_token=entered.session_token)
    assert switched.member_authenticated is True
    assert switched.organization.organization_slug == "beta"


def test_required_for_all_stops_at_mfa(sdk: Any, services: Services) -> None:
    found = discover(sdk, services, "ada@acme.example")
    created = sdk.discovery.organizations.create(
        intermediate_session_token=found.intermediate_session_token,
        email_allowed_domains=[],
        organization_name="Strict Co",
        session_duration_minutes=60,
        mfa_policy="REQUIRED_FOR_ALL",
    )
    assert created.member_authenticated is False
    assert created.session_jwt == ""
    assert created.session_token == ""
    assert created.member_session is None
    assert created.intermediate_session_token == found.intermediate_session_token
    assert created.mfa_required is not None
    assert created.mfa_required.member_options is None
    assert created.mfa_required.secondary_auth_initiated is None
    with pytest.raises(StytchError) as refused:
        sdk.sessions.authenticate(session_token=created.intermediate_session_token)
    assert refused.value.details.error_type == "session_not_found"
