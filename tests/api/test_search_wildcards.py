"""Fuzzy search filters match their text literally: LIKE's % and _ are not wildcards."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_member, make_org


def _search(client: TestClient, project: Credentials, path: str, body: dict[str, Any]) -> Any:
    response = client.post(path, json=body, auth=project.auth)
    assert response.status_code == 200, response.text
    return response.json()


def _org_query(name: str, value: str) -> dict[str, Any]:
    return {
        "query": {"operator": "AND", "operands": [{"filter_name": name, "filter_value": value}]}
    }


@pytest.fixture
def orgs(services: Services, project: Credentials) -> dict[str, str]:
    plain = make_org(
        services,
        project.project_id,
        organization_name="Acme Corp",
        organization_slug="acme",
        email_allowed_domains=["acme.example"],
    )
    make_member(services, project.project_id, plain, email_address="ann@acme.example")
    odd = make_org(
        services,
        project.project_id,
        organization_name="100%_sure",
        organization_slug="sure_100",
    )
    make_member(services, project.project_id, odd, email_address="x%@odd.example")
    return {"plain": plain.id, "odd": odd.id}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("organization_name_fuzzy", "%%%", []),
        ("organization_name_fuzzy", "___", []),
        ("organization_name_fuzzy", "0%_", ["odd"]),
        ("organization_slug_fuzzy", "___", []),
        ("organization_slug_fuzzy", "e_1", ["odd"]),
        ("allowed_domain_fuzzy", "%.%", []),
        ("member_email_fuzzy", "%@%", []),
        ("member_email_fuzzy", "x%@", ["odd"]),
        ("organization_name_fuzzy", "cme", ["plain"]),
    ],
)
def test_organization_fuzzy_filters_are_literal(
    client: TestClient,
    project: Credentials,
    orgs: dict[str, str],
    name: str,
    value: str,
    expected: list[str],
) -> None:
    found = _search(client, project, "/v1/b2b/organizations/search", _org_query(name, value))
    ids = {o["organization_id"] for o in found["organizations"]}
    assert ids == {orgs[key] for key in expected}


@pytest.mark.parametrize(("value", "expected"), [("%@%", []), ("___", []), ("x%@", ["x%@odd"])])
def test_member_email_fuzzy_is_literal(
    client: TestClient, project: Credentials, orgs: dict[str, str], value: str, expected: list[str]
) -> None:
    body = {
        "organization_ids": list(orgs.values()),
        "query": {
            "operator": "AND",
            "operands": [{"filter_name": "member_email_fuzzy", "filter_value": value}],
        },
    }
    found = _search(client, project, "/v1/b2b/organizations/members/search", body)
    assert [m["email_address"].split(".")[0] for m in found["members"]] == expected
