"""Reading the audit trail: filters by organization, member, type and time; keyset pages."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from antechamber.audit import queries
from antechamber.audit.queries import AuditFilter
from antechamber.clock import FrozenClock
from antechamber.errors import AntechamberError
from antechamber.members import service as members
from antechamber.organizations import service as organizations
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_member, make_org


def search(
    services: Services,
    project_id: str,
    before: int | None = None,
    limit: int = 50,
    **filters: object,
) -> queries.EventPage:
    with services.scope(project_id, "test", "test") as scope:
        return queries.search(scope, AuditFilter(**filters), before=before, limit=limit)  # type: ignore[arg-type]


def types(page: queries.EventPage) -> list[str]:
    return [e.event_type for e in page.events]


def test_filters_combine(services: Services, project: Credentials, clock: FrozenClock) -> None:
    pid = project.project_id
    acme = make_org(services, pid, organization_slug="acme")
    other = make_org(services, pid)
    start = clock.now()
    clock.advance(minutes=5)
    ada = make_member(services, pid, acme, email_address="ada@acme.example")
    make_member(services, pid, other)
    clock.advance(minutes=5)
    with services.scope(pid, "test", "test") as scope:
        members.update_member(scope, acme, ada.id, {"name": "Ada"})

    assert types(search(services, pid, organization="acme")) == [
        "member.updated",
        "member.created",
        "organization.created",
    ]
    assert types(search(services, pid, organization=acme.id, member="ADA@acme.example")) == [
        "member.updated",
        "member.created",
    ]
    assert types(search(services, pid, member=ada.id, event_type="member.created")) == [
        "member.created"
    ]
    window = search(
        services,
        pid,
        since=start + timedelta(minutes=5),
        until=start + timedelta(minutes=10),
    )
    assert types(window) == ["member.created", "member.created"]
    # Another project's events never show.
    assert all(e.project_id == pid for e in search(services, pid).events)


def test_a_deleted_organization_keeps_its_history(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.delete_organization(scope, org.id)
    assert types(search(services, project.project_id, organization=org.id)) == [
        "organization.deleted",
        "organization.created",
    ]


def test_pages_newest_first(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    for _ in range(5):
        make_member(services, project.project_id, org)
    seen: list[int] = []
    before = None
    while True:
        page = search(
            services, project.project_id, before=before, limit=2, event_type="member.created"
        )
        seen += [e.id for e in page.events]
        if page.next_before is None:
            break
        before = page.next_before
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("filters", "error_type"),
    [
        ({"event_type": "member.exploded"}, "invalid_audit_event_type"),
        ({"member": "a@b.example"}, "audit_member_email_needs_organization"),
        ({"organization": "no-such-org"}, "organization_not_found"),
    ],
)
def test_bad_filters_are_refused(
    services: Services, project: Credentials, filters: dict[str, str], error_type: str
) -> None:
    with pytest.raises(AntechamberError) as caught:
        search(services, project.project_id, **filters)
    assert caught.value.error_type == error_type


def test_a_backwards_time_range_is_refused(
    services: Services, project: Credentials, clock: FrozenClock
) -> None:
    with pytest.raises(AntechamberError) as caught:
        search(services, project.project_id, since=clock.now(), until=clock.now())
    assert caught.value.error_type == "invalid_audit_time_range"
    with pytest.raises(AntechamberError):
        search(services, project.project_id, limit=0)


def test_a_time_bound_with_another_offset_is_the_same_instant(
    services: Services, project: Credentials, clock: FrozenClock
) -> None:
    """The console sends the browser's offset: 03:00+02:00 is 01:00 UTC, on every database."""
    pid = project.project_id
    make_org(services, pid)  # organization.created at the clock's now, in UTC
    created = "organization.created"
    at = clock.now()
    east = timezone(timedelta(hours=2))
    just_after = (at + timedelta(seconds=1)).astimezone(east)
    just_before = (at - timedelta(seconds=1)).astimezone(east)
    assert types(search(services, pid, until=just_after, event_type=created)) == [
        "organization.created"
    ]
    assert types(search(services, pid, until=just_before, event_type=created)) == []
    assert types(search(services, pid, since=just_before, event_type=created)) == [
        "organization.created"
    ]
    assert types(search(services, pid, since=just_after, event_type=created)) == []
