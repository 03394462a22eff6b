"""RBAC through the official Python SDK (stytch 15.3.0) against a live server: the policy,
organization roles, local authorization checks that never call the server, the server's
checks, and management calls with a member's session (stytch-b2b-api-more.md §5.8)."""

from __future__ import annotations

from typing import Any

import pytest
from stytch.b2b.models.organizations import UpdateRequestOptions as OrgUpdateOptions
from stytch.b2b.models.organizations_members import (
    DeleteRequestOptions,
    UpdateRequestOptions,
)
from stytch.b2b.models.sessions import AuthorizationCheck
from stytch.core.response_base import StytchError
from stytch.shared.method_options import Authorization
from stytch.shared.rbac_local import RBACPermissionError, TenancyError

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.compat.conftest import RequestLog
from tests.conftest import Credentials
from tests.factories import make_org
from tests.rbac.helpers import DOCUMENTS_POLICY, person, set_policy

SESSION_AUTHENTICATE = "/v1/b2b/sessions/authenticate"
EDITOR = {
    "role_id": "editor",
    "description": "Writes documents",
    "permissions": [{"resource_id": "documents", "actions": ["read", "write"]}],
}


def test_policy_and_org_policy(
    sdk: Any, services: Services, project: Credentials, acme: Organization
) -> None:
    policy = sdk.rbac.policy().policy
    assert {r.role_id for r in policy.roles} == {"stytch_member", "stytch_admin"}
    assert policy.scopes == []
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    assert "reader" in {r.role_id for r in sdk.rbac.policy().policy.roles}

    assert sdk.rbac.organizations.get_org_policy(acme.id).org_policy.roles == []
    sdk.rbac.organizations.set_org_policy(acme.id, org_policy={"roles": [EDITOR]})
    roles = sdk.rbac.organizations.get_org_policy(acme.id).org_policy.roles
    assert [r.role_id for r in roles] == ["editor"]
    assert roles[0].permissions[0].actions == ["read", "write"]


def test_local_checks_allow_and_deny_without_calling_the_server(
    sdk: Any,
    services: Services,
    project: Credentials,
    acme: Organization,
    request_log: RequestLog,
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    sdk.rbac.organizations.set_org_policy(acme.id, org_policy={"roles": [EDITOR]})
    _, _, jwt = person(services, project.project_id, acme, "ada@acme.example", "editor")

    def local(resource: str, action: str, org_id: str = acme.id) -> Any:
        return sdk.sessions.authenticate_jwt(
            jwt,
            authorization_check=AuthorizationCheck(
                organization_id=org_id, resource_id=resource, action=action
            ),
        )

    # An organization-only role grants locally.
    assert local("documents", "write").member_session.roles == ["stytch_member", "editor"]
    with pytest.raises(RBACPermissionError):
        local("stytch.member", "delete")
    with pytest.raises(TenancyError):
        local("documents", "read", make_org(services, project.project_id).id)
    assert request_log.paths[SESSION_AUTHENTICATE] == 0
    assert request_log.paths["/v1/b2b/rbac/policy"] == 1


def test_server_checks_agree(
    sdk: Any, services: Services, project: Credentials, acme: Organization
) -> None:
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    _, token, _ = person(services, project.project_id, acme, "rita@acme.example", "reader")
    allowed = sdk.sessions.authenticate(
        session_token=token,
        authorization_check={
            "organization_id": acme.id,
            "resource_id": "documents",
            "action": "read",
        },
    )
    assert allowed.verdict is not None
    assert allowed.verdict.authorized is True
    assert allowed.verdict.granting_roles == ["reader"]
    with pytest.raises(StytchError) as denied:
        sdk.sessions.authenticate(
            session_token=token,
            authorization_check=AuthorizationCheck(
                organization_id=acme.id, resource_id="documents", action="write"
            ),
        )
    assert denied.value.details.status_code == 403
    assert denied.value.details.error_type == "session_authorization_error"


def test_members_with_roles(sdk: Any, acme: Organization) -> None:
    created = sdk.organizations.members.create(
        acme.id, email_address="ada@acme.example", roles=["stytch_admin"]
    )
    assert created.member.is_admin is True
    assert [r.role_id for r in created.member.roles] == ["stytch_member", "stytch_admin"]
    assert created.member.roles[1].sources[0].type == "direct_assignment"
    updated = sdk.organizations.members.update(acme.id, created.member_id, roles=[])
    assert updated.member.is_admin is False


def _as(jwt: str) -> Authorization:
    return Authorization(session_jwt=jwt)


def test_management_calls_with_a_members_session(
    sdk: Any, services: Services, project: Credentials, acme: Organization
) -> None:
    pid = project.project_id
    admin, _, admin_jwt = person(services, pid, acme, "al@acme.example", "stytch_admin")
    plain, _, plain_jwt = person(services, pid, acme, "pat@acme.example")
    colleague, _, _ = person(services, pid, acme, "cy@acme.example")

    # A plain member: refused on a colleague and on the organization's settings.
    for call in (
        lambda: sdk.organizations.members.update(
            acme.id,
            colleague.id,
            roles=["stytch_admin"],
            method_options=UpdateRequestOptions(authorization=_as(plain_jwt)),
        ),
        lambda: sdk.organizations.members.update(
            acme.id,
            plain.id,
            roles=["stytch_admin"],
            method_options=UpdateRequestOptions(authorization=_as(plain_jwt)),
        ),
        lambda: sdk.organizations.update(
            acme.id,
            mfa_policy="REQUIRED_FOR_ALL",
            method_options=OrgUpdateOptions(authorization=_as(plain_jwt)),
        ),
        lambda: sdk.organizations.members.delete(
            acme.id,
            colleague.id,
            method_options=DeleteRequestOptions(authorization=_as(plain_jwt)),
        ),
    ):
        with pytest.raises(StytchError) as refused:
            call()
        assert refused.value.details.status_code == 403
        assert refused.value.details.error_type == "session_authorization_error"
    # …but may change their own name (stytch.self).
    renamed = sdk.organizations.members.update(
        acme.id,
        plain.id,
        name="Pat",
        method_options=UpdateRequestOptions(authorization=_as(plain_jwt)),
    )
    assert renamed.member.name == "Pat"

    # An admin may.
    promoted = sdk.organizations.members.update(
        acme.id,
        colleague.id,
        roles=["stytch_admin"],
        method_options=UpdateRequestOptions(authorization=_as(admin_jwt)),
    )
    assert promoted.member.is_admin is True
    org = sdk.organizations.update(
        acme.id,
        mfa_policy="REQUIRED_FOR_ALL",
        method_options=OrgUpdateOptions(authorization=_as(admin_jwt)),
    )
    assert org.organization.mfa_policy == "REQUIRED_FOR_ALL"
    sdk.organizations.members.delete(
        acme.id, plain.id, method_options=DeleteRequestOptions(authorization=_as(admin_jwt))
    )
    assert admin.id != plain.id
