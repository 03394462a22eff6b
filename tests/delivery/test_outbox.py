"""The outbox is transactional and keeps what it carries sealed."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from antechamber import db
from antechamber.delivery import outbox
from antechamber.delivery.models import OutboxMessage
from antechamber.services import Services
from tests.conftest import Credentials


def test_message_commits_with_its_transaction(services: Services, project: Credentials) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        outbox.enqueue(
            scope,
            channel="email",
            recipient="ada@acme.example",
            template="discovery_magic_link",
            context={"url": "https://x/?token=T0K"},
        )
    with services.sessions() as session:
        [message] = outbox.recent(session)
        assert message.status == "pending"
        assert outbox.context_of(message, services.settings.key_bytes()) == {
            "url": "https://x/?token=T0K"
        }


def test_rolled_back_transaction_leaves_no_message(
    services: Services, project: Credentials
) -> None:
    with pytest.raises(RuntimeError), services.scope(project.project_id, "test", "test") as scope:
        outbox.enqueue(
            scope,
            channel="sms",
            recipient="+12025550123",
            template="sms_otp",
            context={"code": "123456"},
        )
        raise RuntimeError("the token's transaction failed")
    with services.sessions() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_payload_is_not_readable_in_the_database(services: Services, project: Credentials) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        outbox.enqueue(
            scope,
            channel="sms",
            recipient="+12025550123",
            template="sms_otp",
            context={"code": "918273"},
        )
    with db.transaction(services.sessions) as session:
        raw = session.execute(text("SELECT payload FROM outbox_messages")).scalar_one()
    assert "918273" not in raw
