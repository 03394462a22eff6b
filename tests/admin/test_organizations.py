"""Organizations in the console: search, create, edit every setting, delete; the domain's
refusals appear next to the field they are about."""

from __future__ import annotations

from typing import Any

import pytest

from antechamber.audit import service as audit
from antechamber.clock import FrozenClock
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.admin.conftest import Console, OperatorInfo
from tests.conftest import Credentials
from tests.factories import make_member, make_org


def stored(services: Services, project_id: str, ref: str) -> Organization:
    with services.scope(project_id, "test", "test") as scope:
        return organizations.get_organization(scope, ref)


def every_setting(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "organization_name": "Acme",
        "organization_slug": "acme",
        "require_mfa": "true",
        "mfa_methods": "RESTRICTED",
        "allowed_mfa_methods": ["sms_otp"],
        "email_allowed_domains": "acme.example\nAcme.Co.Example",
        "email_jit_provisioning": "RESTRICTED",
        "mfa_required_roles": ["stytch_admin"],
    }
    form.update(overrides)
    return form


def test_create_an_organization_that_requires_mfa(
    console: Console, project: Credentials, services: Services, operator: OperatorInfo
) -> None:
    pid = project.project_id
    form = console.get(f"/admin/projects/{pid}/orgs/new")
    assert 'for="require_mfa">Require MFA</label>' in form.text
    response = console.post(
        f"/admin/projects/{pid}/orgs/new",
        {"organization_name": "Acme", "require_mfa": "true", "mfa_methods": "ALL_ALLOWED"},
    )
    assert response.status_code == 303
    org = stored(services, pid, "acme")
    assert org.mfa_policy == "REQUIRED_FOR_ALL"
    assert org.email_invites == "ALL_ALLOWED"  # untouched email settings keep Stytch's default
    assert response.headers["location"] == f"/admin/projects/{pid}/orgs/{org.id}"
    page = console.get(response.headers["location"])
    assert "Organization Acme created." in page.text
    assert "Required for every member" in page.text
    with services.sessions() as session:
        [event] = audit.list_events(session, event_type="organization.created", project_id=pid)
    assert event.actor == f"operator:{operator.member_id}"


def test_create_with_every_setting(
    console: Console, project: Credentials, services: Services
) -> None:
    pid = project.project_id
    assert console.post(f"/admin/projects/{pid}/orgs/new", every_setting()).status_code == 303
    org = stored(services, pid, "acme")
    assert (org.name, org.slug, org.mfa_policy) == ("Acme", "acme", "REQUIRED_FOR_ALL")
    assert (org.mfa_methods, org.allowed_mfa_methods) == ("RESTRICTED", ["sms_otp"])
    assert org.email_allowed_domains == ["acme.example", "acme.co.example"]
    assert org.email_jit_provisioning == "RESTRICTED"
    assert org.mfa_required_roles == ["stytch_admin"]


def test_edit_every_setting_and_clear_them_again(
    console: Console, project: Credentials, services: Services
) -> None:
    pid = project.project_id
    org = make_org(services, pid, organization_name="Old", organization_slug="old")
    edit = f"/admin/projects/{pid}/orgs/{org.id}/edit"
    assert 'value="Old"' in console.get(edit).text
    assert (
        console.post(
            edit, every_setting(organization_name="New", organization_slug="new")
        ).status_code
        == 303
    )
    after = stored(services, pid, org.id)
    assert (after.name, after.slug, after.mfa_policy, after.mfa_required_roles) == (
        "New",
        "new",
        "REQUIRED_FOR_ALL",
        ["stytch_admin"],
    )
    page = console.get(edit).text  # the form shows what is stored
    assert 'id="require_mfa" name="require_mfa" type="checkbox" value="true" checked' in page
    assert "acme.co.example" in page

    cleared = {
        "organization_name": "New",
        "organization_slug": "new",
        "mfa_methods": "ALL_ALLOWED",
        "email_allowed_domains": "",
        "email_jit_provisioning": "NOT_ALLOWED",
    }
    assert console.post(edit, cleared).status_code == 303
    after = stored(services, pid, org.id)
    assert after.mfa_policy == "OPTIONAL"  # an unticked box is a choice too
    assert (after.mfa_methods, after.allowed_mfa_methods) == ("ALL_ALLOWED", [])
    assert after.email_allowed_domains == []
    assert after.mfa_required_roles == []
    with services.sessions() as session:
        events = audit.list_events(session, event_type="organization.updated", project_id=pid)
    assert all(e.actor.startswith("operator:") for e in events)
    assert "mfa_policy" in events[0].details["changed"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"organization_name": ""}, "organization_name", "organization_name must be 1 to 128"),
        ({"organization_slug": "a b"}, "organization_slug", "organization_slug must be at least"),
        ({"organization_slug": "taken"}, "organization_slug", "already uses that slug"),
        ({"email_allowed_domains": "gmail.com"}, "email_allowed_domains", "common email provider"),
        ({"email_allowed_domains": "not a domain!"}, "email_allowed_domains", "not a valid domain"),
        ({"email_allowed_domains": "a.example a.example"}, "email_allowed_domains", "twice"),
        (
            {"email_allowed_domains": "", "email_jit_provisioning": "RESTRICTED"},
            "email_jit_provisioning",
            "needs at least one domain",
        ),
        ({"allowed_mfa_methods": []}, "mfa_methods", "needs a non-empty allowed_mfa_methods"),
        ({"mfa_methods": "SOMETIMES"}, None, "mfa_methods must be one of"),
        ({"mfa_required_roles": ["overlord"]}, None, "unknown values"),
    ],
)
def test_domain_errors_are_shown_next_to_the_field(
    console: Console,
    project: Credentials,
    services: Services,
    overrides: dict[str, Any],
    field: str | None,
    message: str,
) -> None:
    pid = project.project_id
    make_org(services, pid, organization_slug="taken")
    org = make_org(services, pid, organization_name="Keep", organization_slug="keep")
    for path in (f"/admin/projects/{pid}/orgs/new", f"/admin/projects/{pid}/orgs/{org.id}/edit"):
        response = console.post(path, every_setting(**overrides))
        assert 400 <= response.status_code < 500, path
        assert "There is a problem" in response.text
        assert message in response.text
        if field:
            assert f'id="{field}-error"' in response.text
            assert f'href="#{field}"' in response.text
        # What the operator typed is kept, so they can fix it.
        assert "acme" in response.text.lower()
    after = stored(services, pid, org.id)
    assert (after.name, after.slug, after.email_allowed_domains) == ("Keep", "keep", [])
    with services.sessions() as session:
        assert not audit.list_events(session, event_type="organization.updated")


def test_search_by_name_or_slug(console: Console, project: Credentials, services: Services) -> None:
    pid = project.project_id
    make_org(services, pid, organization_name="Acme Widgets", organization_slug="aw")
    make_org(services, pid, organization_name="Globex", organization_slug="globex-acme")
    make_org(services, pid, organization_name="Initech", organization_slug="initech")
    page = console.get(f"/admin/projects/{pid}/orgs", params={"q": "acme"}).text
    assert "Acme Widgets" in page
    assert "Globex" in page
    assert "Initech" not in page
    assert "2 organizations matching" in page
    short = console.get(f"/admin/projects/{pid}/orgs", params={"q": "ac"})
    assert short.status_code == 400
    assert 'id="q-error"' in short.text
    assert "at least 3 characters" in short.text


def test_the_list_pages(
    console: Console, project: Credentials, services: Services, clock: FrozenClock
) -> None:
    pid = project.project_id
    for n in range(52):
        make_org(services, pid, organization_name=f"Org {n:02d}", organization_slug=f"org-{n:02d}")
        clock.advance(seconds=1)  # oldest first
    first = console.get(f"/admin/projects/{pid}/orgs").text
    assert "Org 00" in first
    assert "Org 51" not in first
    assert 'rel="next"' in first
    href = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = console.get(href.replace("&amp;", "&")).text
    assert "Org 51" in second
    assert "Org 00" not in second


def test_delete_after_confirmation(
    console: Console, project: Credentials, services: Services
) -> None:
    pid = project.project_id
    org = make_org(services, pid, organization_name="Doomed")
    make_member(services, pid, org)
    confirm = console.get(f"/admin/projects/{pid}/orgs/{org.id}/delete")
    assert "Delete Doomed?" in confirm.text
    assert "its 1 member will be deleted" in confirm.text
    response = console.post(f"/admin/projects/{pid}/orgs/{org.id}/delete")
    assert response.status_code == 303
    assert (
        "Organization Doomed and its members deleted."
        in console.get(response.headers["location"]).text
    )
    assert console.get(f"/admin/projects/{pid}/orgs/{org.id}").status_code == 404
    with services.sessions() as session:
        [event] = audit.list_events(session, event_type="organization.deleted")
    assert event.actor.startswith("operator:")


def test_another_projects_organization_is_not_found(
    console: Console, project: Credentials, other_project: Credentials, services: Services
) -> None:
    theirs = make_org(services, other_project.project_id, organization_name="Theirs")
    response = console.get(f"/admin/projects/{project.project_id}/orgs/{theirs.id}/edit")
    assert response.status_code == 404
    assert "Organization could not be found." in response.text
