"""SCIM group roles and SCIM management with a member's session, through the official Python
SDK (stytch 15.3.0): the answers parse, and its local authorization check sees group roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from stytch.b2b.models.scim_connection import GetRequestOptions, UpdateRequestOptions
from stytch.b2b.models.sessions import AuthorizationCheck
from stytch.core.response_base import StytchError
from stytch.shared.method_options import Authorization

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.rbac.helpers import person
from tests.scim.conftest import GROUP, SCIM_JSON, USER


def test_group_roles_and_member_sessions_through_the_sdk(
    sdk: Any,
    live_server: LiveServer,
    services: Services,
    project: Credentials,
    acme: Organization,
) -> None:
    _, _, admin_jwt = person(services, project.project_id, acme, "al@acme.example", "stytch_admin")
    ada, ada_token, _ = person(services, project.project_id, acme, "ada@acme.example")
    c = sdk.scim.connection.create(organization_id=acme.id, display_name="Okta").connection
    scim_headers = {"Authorization": f"Bearer {c.bearer_token}", "Content-Type": SCIM_JSON}
    base = live_server.url + httpx.URL(c.base_url).path
    user = httpx.post(
        f"{base}/Users",
        json={"schemas": [USER], "userName": "ada@acme.example"},
        headers=scim_headers,
    ).json()
    group = httpx.post(
        f"{base}/Groups",
        json={"schemas": [GROUP], "displayName": "Admins", "members": [{"value": user["id"]}]},
        headers=scim_headers,
    ).json()

    # A plain member's session may not even look at the connection.
    with pytest.raises(StytchError) as refused:
        sdk.scim.connection.get(
            organization_id=acme.id,
            method_options=GetRequestOptions(authorization=Authorization(session_token=ada_token)),
        )
    assert refused.value.details.status_code == 403
    assert refused.value.details.error_type == "session_authorization_error"

    # An admin's session makes the group admins.
    updated = sdk.scim.connection.update(
        organization_id=acme.id,
        connection_id=c.connection_id,
        scim_group_implicit_role_assignments=[{"group_id": group["id"], "role_id": "stytch_admin"}],
        method_options=UpdateRequestOptions(authorization=Authorization(session_jwt=admin_jwt)),
    ).connection
    assert [
        (a.group_id, a.role_id, a.group_name) for a in updated.scim_group_implicit_role_assignments
    ] == [(group["id"], "stytch_admin", "Admins")]

    member = sdk.organizations.members.get(organization_id=acme.id, member_id=ada.id).member
    assert member.is_admin
    admin_role = next(r for r in member.roles if r.role_id == "stytch_admin")
    assert [(s.type, s.details) for s in admin_role.sources] == [
        (
            "scim_connection_group",
            {"connection_id": c.connection_id, "group_id": group["id"]},
        )
    ]
    # Ada's next refresh carries the role; the SDK's local check grants it.
    fresh = sdk.sessions.authenticate(session_token=ada_token)
    assert "stytch_admin" in fresh.member_session.roles
    local = sdk.sessions.authenticate_jwt(
        fresh.session_jwt,
        authorization_check=AuthorizationCheck(
            organization_id=acme.id, resource_id="stytch.scim", action="get"
        ),
    )
    assert local is not None
    assert "stytch_admin" in local.member_session.roles
    # And now her session may look at the connection.
    got = sdk.scim.connection.get(
        organization_id=acme.id,
        method_options=GetRequestOptions(authorization=Authorization(session_token=ada_token)),
    ).connection
    assert got.connection_id == c.connection_id
