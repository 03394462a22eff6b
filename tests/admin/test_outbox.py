"""The outbox in the console: failed messages (never their payload) and their retry."""

from __future__ import annotations

from antechamber.audit import service as audit
from antechamber.delivery.models import OutboxMessage
from antechamber.services import Services
from tests.admin.conftest import Console, OperatorInfo
from tests.conftest import Credentials
from tests.delivery.conftest import magic_link


def failed_message(services: Services, project_id: str, email: str) -> OutboxMessage:
    """A magic-link email the worker gave up on."""
    magic_link(services, project_id, email)
    with services.sessions() as session, session.begin():
        row = session.query(OutboxMessage).filter_by(recipient=email).one()
        row.status = "failed"
        row.attempts = 5
        row.last_error = "smtp 550: mailbox unavailable"
        session.flush()
        session.expunge(row)
        return row


def test_failed_messages_are_listed_without_payload_and_retried(
    console: Console, project: Credentials, services: Services, operator: OperatorInfo
) -> None:
    failed = failed_message(services, project.project_id, "ada@acme.example")
    magic_link(services, project.project_id, "bob@acme.example")  # pending: not listed
    page = console.get(f"/admin/projects/{project.project_id}/outbox")
    assert page.status_code == 200
    assert "ada@acme.example" in page.text
    assert "bob@acme.example" not in page.text
    assert "smtp 550: mailbox unavailable" in page.text
    assert failed.template in page.text
    assert failed.payload not in page.text
    assert "token=" not in page.text

    done = console.post(f"/admin/projects/{project.project_id}/outbox/{failed.id}/retry")
    assert done.status_code == 303
    page = console.get(done.headers["location"])
    assert f"Message {failed.id}" in page.text
    assert "No failed messages." in page.text
    with services.sessions() as session:
        row = session.get(OutboxMessage, failed.id)
        assert row is not None
        assert (row.status, row.attempts) == ("pending", 0)
        events = audit.list_events(session, event_type="outbox_message.retried")
        assert [(e.actor, e.project_id) for e in events] == [
            (f"operator:{operator.member_id}", project.project_id)
        ]
        assert "ada@acme.example" not in str(events[0].details)

    again = console.post(f"/admin/projects/{project.project_id}/outbox/{failed.id}/retry")
    assert again.status_code == 409
    unknown = console.post(f"/admin/projects/{project.project_id}/outbox/nope/retry")
    assert unknown.status_code == 404
    forged = console.post(
        f"/admin/projects/{project.project_id}/outbox/{failed.id}/retry", csrf="forged"
    )
    assert forged.status_code == 403


def test_another_projects_message_cannot_be_retried(
    console: Console, project: Credentials, other_project: Credentials, services: Services
) -> None:
    failed = failed_message(services, other_project.project_id, "eve@acme.example")
    page = console.get(f"/admin/projects/{project.project_id}/outbox")
    assert "eve@acme.example" not in page.text
    refused = console.post(f"/admin/projects/{project.project_id}/outbox/{failed.id}/retry")
    assert refused.status_code == 404
