"""Domain rules of `rbac.service` that faces built elsewhere call (the invite route)."""

from __future__ import annotations

import dataclasses

import pytest

from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import errors
from antechamber.rbac import service as rbac
from antechamber.services import Services
from tests.conftest import Credentials
from tests.rbac.helpers import DOCUMENTS_POLICY, person, set_policy


def test_check_assignable_is_the_invite_rule(
    services: Services, project: Credentials, acme: Organization
) -> None:
    """An invite carrying roles: the roles must exist, and a member's session that invites
    must hold each one (so an invite is never a way up)."""
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    reader, _, _ = person(services, project.project_id, acme, "rita@acme.example", "reader")
    admin, _, _ = person(services, project.project_id, acme, "al@acme.example", "stytch_admin")
    with services.scope(project.project_id, "test", "test") as scope:
        org = get_organization(scope, acme.id)
        # The application's backend may give any role that exists.
        assert rbac.check_assignable(scope, org, ["stytch_admin", "stytch_member"]) == [
            "stytch_admin"
        ]
        with pytest.raises(errors.InvalidRoleId):
            rbac.check_assignable(scope, org, ["janitor"])
        as_reader = dataclasses.replace(scope, acting_member_id=reader.id)
        with pytest.raises(errors.SessionAuthorizationError):
            rbac.check_assignable(as_reader, org, ["reader"])  # cannot manage roles at all
        as_admin = dataclasses.replace(scope, acting_member_id=admin.id)
        assert rbac.check_assignable(as_admin, org, ["reader"]) == ["reader"]
        assert rbac.check_assignable(as_admin, org, ["stytch_admin"]) == ["stytch_admin"]
