"""Invitations in the console: invite, resend, revoke; each audited with the operator."""

from __future__ import annotations

import pytest

from antechamber.audit import service as audit
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.admin.conftest import Console, OperatorInfo
from tests.conftest import Credentials
from tests.email_auth.conftest import allow_org_links
from tests.factories import make_member, make_org

EMAIL = "carol@contractor.example"


@pytest.fixture
def org(services: Services, project: Credentials) -> Organization:
    allow_org_links(services, project.project_id)
    return make_org(
        services, project.project_id, organization_name="Acme", organization_slug="acme"
    )


def base(project: Credentials, org: Organization) -> str:
    return f"/admin/projects/{project.project_id}/orgs/{org.id}"


def actors(services: Services, event_type: str) -> list[str]:
    with services.sessions() as session:
        return [e.actor for e in audit.list_events(session, event_type=event_type)]


def test_invite_resend_and_revoke(
    console: Console,
    project: Credentials,
    org: Organization,
    services: Services,
    operator: OperatorInfo,
) -> None:
    form = console.get(f"{base(project, org)}/invite")
    assert form.status_code == 200
    assert "Invite someone to Acme" in form.text
    sent = console.post(f"{base(project, org)}/invite", {"email_address": EMAIL, "name": "Carol"})
    assert sent.status_code == 303, sent.text
    member_page = sent.headers["location"]
    page = console.get(member_page).text
    assert f"Invitation sent to {EMAIL}." in page
    assert "Resend the invitation" in page
    resent = console.post(f"{member_page}/resend-invite", csrf=console.csrf(member_page))
    assert resent.status_code == 303
    assert "Invitation sent again" in console.get(resent.headers["location"]).text
    revoked = console.post(f"{member_page}/revoke-invite", csrf=console.csrf(member_page))
    assert revoked.status_code == 303
    assert EMAIL not in console.get(revoked.headers["location"]).text
    me = f"operator:{operator.member_id}"
    assert actors(services, "member.invited") == [me, me]
    assert actors(services, "member.invite_revoked") == [me]


def test_invite_refusals_are_shown_on_the_form(
    console: Console, project: Credentials, org: Organization, services: Services
) -> None:
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    for email, words in [
        ("nope", "email address is invalid"),
        ("ada@acme.example", "already an active member"),
    ]:
        refused = console.post(f"{base(project, org)}/invite", {"email_address": email})
        assert 400 <= refused.status_code < 500
        assert words in refused.text


def test_an_active_member_has_no_invitation_to_revoke(
    console: Console, project: Credentials, org: Organization, services: Services
) -> None:
    ada = make_member(services, project.project_id, org, email_address="ada@acme.example")
    page = f"{base(project, org)}/members/{ada.id}"
    assert "Revoke the invitation" not in console.get(page).text
    refused = console.post(f"{page}/revoke-invite", csrf=console.csrf(page))
    assert refused.status_code == 400
