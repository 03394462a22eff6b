"""The per-recipient email limit counts a mailbox: `+tags` do not buy more emails."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from antechamber import db
from antechamber.delivery.models import OutboxMessage
from antechamber.emails import mailbox_of
from antechamber.errors import TooManyRequests
from antechamber.services import Services
from tests.conftest import Credentials
from tests.delivery.conftest import magic_link


def test_plus_addresses_share_their_mailbox_allowance(
    services: Services, project: Credentials
) -> None:
    # Default: 3 per minute to one mailbox.
    for _ in range(3):
        magic_link(services, project.project_id, "alice@acme.example")
    for tagged in ("alice+x@acme.example", "Alice+y@acme.example", "alice+@acme.example"):
        with pytest.raises(TooManyRequests) as refused:
            magic_link(services, project.project_id, tagged)
        assert refused.value.details == {"limit": "email:recipient"}
    magic_link(services, project.project_id, "alicex@acme.example")  # another mailbox
    with db.transaction(services.sessions) as session:
        recipients = session.scalars(select(OutboxMessage.recipient)).all()
    assert sorted(recipients) == ["alice@acme.example"] * 3 + ["alicex@acme.example"]


def test_a_tagged_address_keeps_its_identity(services: Services, project: Credentials) -> None:
    magic_link(services, project.project_id, "bob+work@acme.example")
    with db.transaction(services.sessions) as session:
        assert session.scalars(select(OutboxMessage.recipient)).all() == ["bob+work@acme.example"]


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("a+b+c@d.example", "a@d.example"),
        ("a@d.example", "a@d.example"),
        ("+tag@d.example", "+tag@d.example"),
    ],
)
def test_mailbox_of(address: str, mailbox: str) -> None:
    assert mailbox_of(address) == mailbox
