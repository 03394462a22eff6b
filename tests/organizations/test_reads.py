"""Finding an organization by reference: `read_organization` (transient, Core, the GET
organization route) finds exactly what `get_organization` (the unit of work's object) finds,
with the same refusals, and the GET answer is the one the ORM object gives."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from antechamber.api import serializers
from antechamber.errors import AntechamberError
from antechamber.organizations import service
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_org


def _found(services: Services, project_id: str, ref: str, read: Any) -> Any:
    with services.scope(project_id, "test", "test") as scope:
        try:
            org = read(scope, ref)
        except AntechamberError as e:
            return type(e).__name__, e.status_code
        return serializers.organization(org), inspect(org).transient


@pytest.fixture
def orgs(services: Services, project: Credentials, other_project: Credentials) -> list[str]:
    made = [
        make_org(
            services,
            project.project_id,
            organization_slug="acme-co",
            organization_external_id="Ext-One",
            trusted_metadata={"tier": "gold"},
            email_allowed_domains=["acme.example"],
            email_jit_provisioning="RESTRICTED",
        ),
        make_org(services, project.project_id, organization_slug="plain"),
        make_org(services, other_project.project_id, organization_slug="elsewhere"),
    ]
    return [o.id for o in made]


def test_every_reference_finds_the_same_organization_both_ways(
    services: Services, project: Credentials, orgs: list[str]
) -> None:
    refs = [
        *orgs,  # the third is another project's
        "acme-co",
        "ACME-Co",
        "Ext-One",
        "ext-one",  # an external id is compared as given: not found
        "plain",
        "elsewhere",
        "undefined",
        "null",
        "",
        "nope",
        orgs[0].upper(),
    ]
    for ref in refs:
        attached = _found(services, project.project_id, ref, service.get_organization)
        transient = _found(services, project.project_id, ref, service.read_organization)
        if isinstance(attached[0], dict):
            assert (transient[0], attached[1], transient[1]) == (attached[0], False, True), ref
        else:
            assert transient == attached == ("OrganizationNotFound", 404), ref


def test_get_answers_as_the_organizations_unit_of_work_object(
    api: TestClient, services: Services, project: Credentials, orgs: list[str]
) -> None:
    for ref in (orgs[0], "ACME-CO", "Ext-One"):
        answer = api.get(f"/v1/b2b/organizations/{ref}")
        assert answer.status_code == 200
        body = answer.json()["organization"]
        expected, _ = _found(services, project.project_id, ref, service.get_organization)
        assert list(body.items()) == list(expected.items())
    missing = api.get(f"/v1/b2b/organizations/{orgs[2]}")
    assert (missing.status_code, missing.json()["error_type"]) == (404, "organization_not_found")


def test_a_read_organization_is_no_object_of_the_unit_of_work(
    services: Services, project: Credentials, orgs: list[str]
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        org = service.read_organization(scope, orgs[0])
        assert isinstance(org, Organization)
        org.name = "Changed"  # writes nothing
    assert (
        _found(services, project.project_id, orgs[0], service.get_organization)[0][
            "organization_name"
        ]
        != "Changed"
    )
