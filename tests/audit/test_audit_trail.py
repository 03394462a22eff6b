"""Every change leaves an audit event, in its own transaction, naming who did it."""

from __future__ import annotations

from starlette.testclient import TestClient

from antechamber.audit import service as audit
from antechamber.services import Services
from tests.conftest import Credentials


def events(services: Services, project_id: str) -> list[tuple[str, str]]:
    with services.sessions() as session:
        rows = audit.list_events(session, project_id=project_id)
        return [(e.event_type, e.actor) for e in reversed(rows)]


def test_changes_are_audited_with_the_secret_that_made_them(
    api: TestClient, services: Services, project: Credentials
) -> None:
    oid = api.post("/v1/b2b/organizations", json={"organization_name": "A"}).json()["organization"][
        "organization_id"
    ]
    api.put(f"/v1/b2b/organizations/{oid}", json={"mfa_policy": "REQUIRED_FOR_ALL"})
    mid = api.post(
        f"/v1/b2b/organizations/{oid}/members", json={"email_address": "a@a.example"}
    ).json()["member_id"]
    api.put(f"/v1/b2b/organizations/{oid}/members/{mid}", json={"name": "A"})
    api.delete(f"/v1/b2b/organizations/{oid}/members/{mid}")
    api.delete(f"/v1/b2b/organizations/{oid}")

    trail = [e for e in events(services, project.project_id) if e[0].startswith(("org", "mem"))]
    assert [t for t, _ in trail] == [
        "organization.created",
        "organization.updated",
        "member.created",
        "member.updated",
        "member.deleted",
        "organization.deleted",
    ]
    actors = {a for _, a in trail}
    assert len(actors) == 1
    assert actors.pop().startswith("secret:secret-id-test-")
    with services.sessions() as session:
        [update] = audit.list_events(session, event_type="organization.updated")
    assert update.details["changed"] == ["mfa_policy"]


def test_refused_change_leaves_no_event(
    api: TestClient, services: Services, project: Credentials
) -> None:
    before = events(services, project.project_id)
    response = api.post(
        "/v1/b2b/organizations",
        json={"organization_name": "A", "email_allowed_domains": ["gmail.com"]},
    )
    assert response.status_code == 400
    assert events(services, project.project_id) == before


def test_no_secret_in_the_audit_trail(services: Services, project: Credentials) -> None:
    with services.sessions() as session:
        for event in audit.list_events(session):
            assert project.secret not in str(event.details)
