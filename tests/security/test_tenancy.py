"""Tenancy and authorisation: another project's ids are "not found", and nothing changes.

Research §2.8 (cross-tenant IDOR: unkeyed#6524, first-tree#964, vouch#317) and ASVS 8.2.2 /
8.4.1: every `/v1/b2b` route is called by project A with the ids and tokens of project B. Each
answer must be 404 (never 403: no existence oracle), or 401 for a JWT that A's keys did not
sign, and no table may change. The same holds inside one project across organizations: a
member is only ever looked up inside the organization named in the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import allow_redirect, magic_token, make_member, make_org, message_ids
from tests.flows import (
    AUTHENTICATE,
    CREATE,
    EXCHANGE,
    LIST,
    SEND,
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SESSION_REVOKE,
    ist_for,
    login,
)
from tests.snapshots import assert_refused, unchanged

ORGS = "/v1/b2b/organizations"


@dataclass(frozen=True)
class Tenant:
    """One project's objects, as an attacker from another project would name them."""

    org_id: str
    org_slug: str
    org_external_id: str
    member_id: str
    email: str
    session_id: str
    session_token: str
    session_jwt: str
    ist: str
    magic_link_token: str


def _tenant(
    app: Any, services: Services, creds: Credentials, slug: str, email: str
) -> tuple[Tenant, TestClient]:
    pid = creds.project_id
    allow_redirect(services, pid)
    org = make_org(services, pid, organization_slug=slug, organization_external_id=f"ext-{slug}")
    make_member(services, pid, org, email_address=email)
    client = TestClient(app, raise_server_exceptions=False)
    client.auth = creds.auth
    session = login(client, services, email, org.id)
    ist = ist_for(client, services, email)
    seen = message_ids(services, email)  # the clock is frozen: tell the new link by its id
    assert client.post(SEND, json={"email_address": email}).status_code == 200
    return (
        Tenant(
            org_id=org.id,
            org_slug=slug,
            org_external_id=f"ext-{slug}",
            member_id=session["member_id"],
            email=email,
            session_id=session["member_session"]["member_session_id"],
            session_token=session["session_token"],
            session_jwt=session["session_jwt"],
            ist=ist,
            magic_link_token=magic_token(services, email, seen=seen),
        ),
        client,
    )


@pytest.fixture
def tenants(
    app: Any, services: Services, project: Credentials, other_project: Credentials
) -> tuple[Tenant, TestClient, Tenant, TestClient]:
    mine, attacker = _tenant(app, services, project, "mine", "ada@mine.example")
    theirs, victim = _tenant(app, services, other_project, "theirs", "bob@theirs.example")
    return mine, attacker, theirs, victim


def _cross_tenant_calls(a: Tenant, b: Tenant) -> list[tuple[str, str, Any, int, str]]:
    """(method, path, body, status, error_type): project A naming project B's objects."""
    nf_org, nf_member, nf_session = (
        "organization_not_found",
        "member_not_found",
        "session_not_found",
    )
    nf_ist = "intermediate_session_not_found"
    bad_jwt = "unable_to_parse_session_jwt"
    calls: list[tuple[str, str, Any, int, str]] = []
    for ref in (b.org_id, b.org_slug, b.org_external_id):
        calls += [
            ("GET", f"{ORGS}/{ref}", None, 404, nf_org),
            ("PUT", f"{ORGS}/{ref}", {"organization_name": "Pwned"}, 404, nf_org),
            ("PUT", f"{ORGS}/{ref}", {"mfa_policy": "OPTIONAL"}, 404, nf_org),
            ("DELETE", f"{ORGS}/{ref}", None, 404, nf_org),
            ("POST", f"{ORGS}/{ref}/members", {"email_address": "eve@evil.example"}, 404, nf_org),
            ("GET", f"{ORGS}/{ref}/member?member_id={b.member_id}", None, 404, nf_org),
            ("PUT", f"{ORGS}/{ref}/members/{b.member_id}", {"roles": []}, 404, nf_org),
            ("DELETE", f"{ORGS}/{ref}/members/{b.member_id}", None, 404, nf_org),
            ("POST", f"{ORGS}/members/search", {"organization_ids": [ref]}, 404, nf_org),
            ("GET", f"/v1/b2b/sessions?organization_id={ref}&member_id={b.member_id}", None, 404,
             nf_org),
        ]  # fmt: skip
    calls += [
        # B's member named inside A's own organization.
        ("GET", f"{ORGS}/{a.org_id}/member?member_id={b.member_id}", None, 404, nf_member),
        ("GET", f"{ORGS}/{a.org_id}/member?email_address={b.email}", None, 404, nf_member),
        ("PUT", f"{ORGS}/{a.org_id}/members/{b.member_id}", {"name": "Pwned"}, 404, nf_member),
        ("DELETE", f"{ORGS}/{a.org_id}/members/{b.member_id}", None, 404, nf_member),
        ("GET", f"/v1/b2b/sessions?organization_id={a.org_id}&member_id={b.member_id}", None, 404,
         nf_member),
        # B's tokens.
        ("POST", AUTHENTICATE, {"discovery_magic_links_token": b.magic_link_token}, 404,
         "magic_link_not_found"),
        ("POST", LIST, {"intermediate_session_token": b.ist}, 404, nf_ist),
        ("POST", LIST, {"session_token": b.session_token}, 404, nf_session),
        ("POST", LIST, {"session_jwt": b.session_jwt}, 401, bad_jwt),
        ("POST", CREATE, {"intermediate_session_token": b.ist, "organization_name": "X"}, 404,
         nf_ist),
        ("POST", EXCHANGE, {"intermediate_session_token": b.ist, "organization_id": b.org_id}, 404,
         nf_ist),
        ("POST", EXCHANGE, {"intermediate_session_token": b.ist, "organization_id": a.org_id}, 404,
         nf_ist),
        # A's own IST into B's organization.
        ("POST", EXCHANGE, {"intermediate_session_token": a.ist, "organization_id": b.org_id}, 404,
         nf_org),
        ("POST", SESSION_AUTHENTICATE, {"session_token": b.session_token}, 404, nf_session),
        ("POST", SESSION_AUTHENTICATE, {"session_jwt": b.session_jwt}, 401, bad_jwt),
        ("POST", SESSION_REVOKE, {"member_session_id": b.session_id}, 404, nf_session),
        ("POST", SESSION_REVOKE, {"session_token": b.session_token}, 404, nf_session),
        ("POST", SESSION_REVOKE, {"session_jwt": b.session_jwt}, 401, bad_jwt),
        ("POST", SESSION_REVOKE, {"member_id": b.member_id}, 404, nf_member),
        # A's own session into B's organization, and B's session into A's.
        ("POST", SESSION_EXCHANGE, {"organization_id": b.org_id, "session_token": a.session_token},
         404, nf_org),
        ("POST", SESSION_EXCHANGE, {"organization_id": a.org_id, "session_token": b.session_token},
         404, nf_session),
        ("POST", SESSION_EXCHANGE, {"organization_id": a.org_id, "session_jwt": b.session_jwt},
         401, bad_jwt),
    ]  # fmt: skip
    return calls


def test_every_route_answers_not_found_for_another_projects_ids(
    engine: Engine, tenants: tuple[Tenant, TestClient, Tenant, TestClient]
) -> None:
    mine, attacker, theirs, victim = tenants
    calls = _cross_tenant_calls(mine, theirs)
    with unchanged(engine):
        for method, path, body, status, error_type in calls:
            response = attacker.request(method, path, json=body)
            assert_refused(response, status, error_type)
    # B's objects still work for B: nothing above revoked, consumed or deleted them.
    assert victim.post(
        SESSION_AUTHENTICATE, json={"session_token": theirs.session_token}
    ).is_success
    assert victim.get(f"{ORGS}/{theirs.org_id}").is_success
    found = victim.post(AUTHENTICATE, json={"discovery_magic_links_token": theirs.magic_link_token})
    assert found.is_success


def test_search_never_returns_another_projects_objects(
    tenants: tuple[Tenant, TestClient, Tenant, TestClient],
) -> None:
    _, attacker, theirs, _ = tenants
    for operand in (
        {"filter_name": "organization_ids", "filter_value": [theirs.org_id]},
        {"filter_name": "organization_slugs", "filter_value": [theirs.org_slug]},
    ):
        response = attacker.post(
            f"{ORGS}/search", json={"query": {"operator": "AND", "operands": [operand]}}
        )
        assert response.status_code == 200, response.json()
        assert response.json()["organizations"] == []
    listed = attacker.post(f"{ORGS}/search", json={}).json()["organizations"]
    assert listed  # A's own organization …
    assert theirs.org_id not in str(listed)  # … and nothing of B's


def test_member_operations_stay_inside_the_organization_in_the_path(
    api: TestClient, services: Services, project: Credentials, engine: Engine
) -> None:
    """One project, two organizations: org A's path never reaches org B's member."""
    pid = project.project_id
    a, b = make_org(services, pid), make_org(services, pid)
    in_b = make_member(services, pid, b, email_address="bob@b.example", roles=["stytch_admin"])
    with unchanged(engine):
        for method, path, body in [
            ("GET", f"{ORGS}/{a.id}/member?member_id={in_b.id}", None),
            ("GET", f"{ORGS}/{a.id}/member?email_address=bob@b.example", None),
            ("PUT", f"{ORGS}/{a.id}/members/{in_b.id}", {"roles": []}),
            ("PUT", f"{ORGS}/{a.id}/members/{in_b.id}", {"email_address": "eve@evil.example"}),
            ("DELETE", f"{ORGS}/{a.id}/members/{in_b.id}", None),
            ("GET", f"/v1/b2b/sessions?organization_id={a.id}&member_id={in_b.id}", None),
        ]:
            assert_refused(api.request(method, path, json=body), 404, "member_not_found")


def test_a_session_of_org_a_cannot_act_in_org_b_it_has_no_member_in(
    api: TestClient, services: Services, project: Credentials, engine: Engine
) -> None:
    pid = project.project_id
    allow_redirect(services, pid)
    a, b = make_org(services, pid), make_org(services, pid)
    make_member(services, pid, a, email_address="ada@a.example")
    session = login(api, services, "ada@a.example", a.id)
    with unchanged(engine):
        response = api.post(
            SESSION_EXCHANGE,
            json={"organization_id": b.id, "session_token": session["session_token"]},
        )
        assert_refused(response, 404, "member_not_found")
