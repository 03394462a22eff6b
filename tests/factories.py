"""Factories: objects made through the domain functions, as a user of the product would."""

from __future__ import annotations

import itertools
from typing import Any

from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services

_seq = itertools.count(1)


def make_org(services: Services, project_id: str, **fields: Any) -> Organization:
    n = next(_seq)
    fields.setdefault("organization_name", f"Org {n}")
    fields.setdefault("organization_slug", f"org-{n}")
    with services.scope(project_id, "test", "test") as scope:
        return organizations.create_organization(scope, fields)


def make_member(services: Services, project_id: str, org: Organization, **fields: Any) -> Member:
    fields.setdefault("email_address", f"person{next(_seq)}@example.com")
    with services.scope(project_id, "test", "test") as scope:
        return members.create_member(scope, org, fields)
