"""Helpers for the RBAC tests: members with roles and their sessions."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.factories import start_session

POLICY = "/v1/b2b/rbac/policy"
SESSION_AUTHENTICATE = "/v1/b2b/sessions/authenticate"


def org_policy_path(organization_id: str) -> str:
    return f"/v1/b2b/rbac/organizations/{organization_id}"


def member_path(organization_id: str, member_id: str) -> str:
    return f"/v1/b2b/organizations/{organization_id}/members/{member_id}"


def person(
    services: Services, project_id: str, org: Organization, email: str, *roles: str
) -> tuple[Member, str, str]:
    """A member with `roles` and a live session: (member, session token, session JWT)."""
    from antechamber.members import service as members
    from antechamber.organizations.service import get_organization

    with services.scope(project_id, "test", "test") as scope:
        fresh = get_organization(scope, org.id)  # its custom roles as they are now
        member = members.create_member(scope, fresh, {"email_address": email, "roles": list(roles)})
    _, token, jwt = start_session(services, project_id, org, member)
    return member, token, jwt


def as_member(token: str) -> dict[str, str]:
    """Stytch's member-session header, as the SDKs send it from method_options."""
    return {"X-Stytch-Member-Session": token}


def check(api: TestClient, token: str, organization_id: str, resource_id: str, action: str) -> Any:
    return api.post(
        SESSION_AUTHENTICATE,
        json={
            "session_token": token,
            "authorization_check": {
                "organization_id": organization_id,
                "resource_id": resource_id,
                "action": action,
            },
        },
    )


DOCUMENTS_POLICY: dict[str, Any] = {
    "resources": [
        {"resource_id": "documents", "description": "Documents", "actions": ["read", "write"]}
    ],
    "roles": [
        {
            "role_id": "stytch_member",
            "description": "Everyone",
            "permissions": [{"resource_id": "stytch.self", "actions": ["*"]}],
        },
        {
            "role_id": "stytch_admin",
            "description": "Admins",
            "permissions": [
                {"resource_id": "stytch.organization", "actions": ["*"]},
                {"resource_id": "stytch.member", "actions": ["*"]},
                {"resource_id": "documents", "actions": ["*"]},
            ],
        },
        {
            "role_id": "reader",
            "description": "Reads documents",
            "permissions": [{"resource_id": "documents", "actions": ["read"]}],
        },
    ],
}


def set_policy(services: Services, project_id: str, document: dict[str, Any]) -> None:
    from antechamber.rbac import service as rbac

    with services.scope(project_id, "test", "cli") as scope:
        rbac.set_policy(scope, document)
