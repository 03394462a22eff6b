"""The audit log page: filters, pages, errors on the form, operators shown by name."""

from __future__ import annotations

from datetime import timedelta

from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.admin.conftest import Console, OperatorInfo
from tests.conftest import Credentials
from tests.factories import make_member, make_org


def test_filter_by_org_member_type_and_time(
    console: Console,
    project: Credentials,
    services: Services,
    clock: FrozenClock,
    operator: OperatorInfo,
) -> None:
    pid = project.project_id
    acme = make_org(services, pid, organization_name="Acme", organization_slug="acme")
    other = make_org(services, pid, organization_name="Other", organization_slug="other")
    start = clock.now()
    clock.advance(minutes=20)  # less than the console's idle timeout
    ada = make_member(services, pid, acme, email_address="ada@acme.example")
    make_member(services, pid, other, email_address="bob@other.example")
    console.post(f"/admin/projects/{pid}/orgs/{acme.id}/members/{ada.id}/admin", {"admin": "true"})
    log = f"/admin/projects/{pid}/audit"

    everything = console.get(log).text.split("<tbody>")[1]
    assert everything.count("<tr>") >= 6

    def rows(**params: str) -> str:
        return console.get(log, params=params).text.split("<tbody>")[1]

    by_org = rows(org="acme")
    assert "bob@other.example" not in by_org
    assert "ada@acme.example" in by_org  # members shown by email, orgs by name
    by_member = rows(org="acme", member="ada@acme.example")
    assert "organization.created" not in by_member
    assert "member.updated" in by_member
    assert f"operator {operator.email}" in by_member  # the operator, by name
    assert "member.updated" not in rows(type="member.created")
    early = (start + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    before = rows(until=early)
    assert "organization.created" in before
    assert "member.created" not in before
    after = rows(since=early)
    assert "organization.created" not in after


def test_filter_errors_are_shown_next_to_the_field(console: Console, project: Credentials) -> None:
    log = f"/admin/projects/{project.project_id}/audit"
    cases = [
        ({"type": "member.exploded"}, "type", "Unknown event type"),
        ({"member": "ada@acme.example"}, "member", "name the organization too"),
        ({"org": "nope"}, "org", "Organization could not be found."),
        ({"since": "yesterday"}, "since", "Use a date and time"),
        ({"since": "2030-01-02T00:00", "until": "2030-01-01T00:00"}, "since", "must be before"),
    ]
    for params, field, message in cases:
        response = console.get(log, params=params)
        assert response.status_code == 400, params
        assert f'id="{field}-error"' in response.text, params
        assert message in response.text, params


def test_older_events_page_by_page(
    console: Console, project: Credentials, services: Services
) -> None:
    org = make_org(services, project.project_id)
    for _ in range(55):
        make_member(services, project.project_id, org)
    log = f"/admin/projects/{project.project_id}/audit"
    first = console.get(log, params={"type": "member.created"}).text
    assert first.count("<code>member.created</code>") == 50
    href = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "type=member.created" in href  # filters survive paging
    second = console.get(href).text
    assert second.count("<code>member.created</code>") == 5
    assert 'rel="next"' not in second
