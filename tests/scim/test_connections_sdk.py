"""SCIM connection management through the official Python SDK (stytch 15.3.0), and the token
rules: shown once, stored hashed, two live tokens during a rotation, one after."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from stytch.core.response_base import StytchError

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import LiveServer
from tests.dbsnap import dump_everything


def scim_status(live_server: LiveServer, base_url: str, token: str) -> int:
    path = httpx.URL(base_url).path
    r = httpx.get(f"{live_server.url}{path}/Users", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def test_create_get_rotate_complete(
    sdk: Any, acme: Organization, live_server: LiveServer, services: Services
) -> None:
    created = sdk.scim.connection.create(
        organization_id=acme.id, display_name="Okta", identity_provider="okta"
    )
    c = created.connection
    assert c is not None
    assert c.organization_id == acme.id
    assert c.connection_id.startswith("scim-connection-test-")
    assert c.base_url == f"http://testserver/v1/b2b/scim/{c.connection_id}"
    assert c.identity_provider == "okta"
    assert c.status == "active"
    token = c.bearer_token
    assert len(token) >= 43  # 256 random bits
    # Stored only as a digest.
    assert token not in dump_everything(services.engine)

    got = sdk.scim.connection.get(organization_id=acme.id).connection
    assert got is not None
    assert got.bearer_token_last_four == token[-4:]
    assert got.next_bearer_token_last_four == ""
    assert scim_status(live_server, c.base_url, token) == 200

    started = sdk.scim.connection.rotate_start(
        organization_id=acme.id, connection_id=c.connection_id
    ).connection
    assert started is not None
    new = started.next_bearer_token
    assert new != token
    assert started.bearer_token_last_four == token[-4:]
    # Both work until the rotation completes.
    assert scim_status(live_server, c.base_url, token) == 200
    assert scim_status(live_server, c.base_url, new) == 200

    done = sdk.scim.connection.rotate_complete(
        organization_id=acme.id, connection_id=c.connection_id
    ).connection
    assert done is not None
    assert done.bearer_token_last_four == new[-4:]
    assert done.next_bearer_token_last_four == ""
    assert scim_status(live_server, c.base_url, token) == 401
    assert scim_status(live_server, c.base_url, new) == 200


def test_rotate_cancel_keeps_the_old_token(
    sdk: Any, acme: Organization, live_server: LiveServer
) -> None:
    c = sdk.scim.connection.create(organization_id=acme.id, display_name="Entra").connection
    new = sdk.scim.connection.rotate_start(
        organization_id=acme.id, connection_id=c.connection_id
    ).connection.next_bearer_token
    cancelled = sdk.scim.connection.rotate_cancel(
        organization_id=acme.id, connection_id=c.connection_id
    ).connection
    assert cancelled.bearer_token_last_four == c.bearer_token[-4:]
    assert cancelled.next_bearer_token_last_four == ""
    assert scim_status(live_server, c.base_url, c.bearer_token) == 200
    assert scim_status(live_server, c.base_url, new) == 401
    with pytest.raises(StytchError) as refused:
        sdk.scim.connection.rotate_complete(organization_id=acme.id, connection_id=c.connection_id)
    assert refused.value.details.error_type == "scim_connection_not_rotating_token"


def test_update_groups_and_delete(sdk: Any, acme: Organization, live_server: LiveServer) -> None:
    c = sdk.scim.connection.create(
        organization_id=acme.id, identity_provider="microsoft-entra"
    ).connection
    assert c.base_url.endswith("?aadOptscim062020")
    path = httpx.URL(c.base_url).path
    r = httpx.post(
        f"{live_server.url}{path}/Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"},
        headers={"Authorization": f"Bearer {c.bearer_token}"},
    )
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]

    groups = sdk.scim.connection.get_groups(organization_id=acme.id, connection_id=c.connection_id)
    assert [(g.group_id, g.group_name) for g in groups.scim_groups] == [(group_id, "Eng")]
    assert groups.next_cursor is None

    updated = sdk.scim.connection.update(
        organization_id=acme.id,
        connection_id=c.connection_id,
        display_name="Entra ID",
        scim_group_implicit_role_assignments=[
            {"group_id": group_id, "role_id": "stytch_admin", "group_name": "Eng"}
        ],
    ).connection
    assert updated.display_name == "Entra ID"
    assigned = updated.scim_group_implicit_role_assignments
    assert [(a.group_id, a.role_id, a.group_name) for a in assigned] == [
        (group_id, "stytch_admin", "Eng")
    ]
    with pytest.raises(StytchError) as refused:
        sdk.scim.connection.update(
            organization_id=acme.id,
            connection_id=c.connection_id,
            scim_group_implicit_role_assignments=[
                {"group_id": "scim-group-test-nope", "role_id": "stytch_admin", "group_name": ""}
            ],
        )
    assert refused.value.details.error_type == "scim_group_role_assignment_group_does_not_exist"

    with pytest.raises(StytchError) as twice:
        sdk.scim.connection.create(organization_id=acme.id, display_name="Second")
    assert twice.value.details.error_type == "active_scim_connection_exists"

    deleted = sdk.scim.connection.delete(organization_id=acme.id, connection_id=c.connection_id)
    assert deleted.connection_id == c.connection_id
    assert sdk.scim.connection.get(organization_id=acme.id).connection is None
    assert scim_status(live_server, c.base_url, c.bearer_token) == 401


def test_another_projects_organization_is_not_found(
    sdk: Any, other_project: Any, services: Services
) -> None:
    from tests.factories import make_org

    theirs = make_org(services, other_project.project_id, organization_name="Theirs")
    with pytest.raises(StytchError) as refused:
        sdk.scim.connection.create(organization_id=theirs.id, display_name="x")
    assert refused.value.details.status_code == 404
