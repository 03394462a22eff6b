"""Writing messages to the outbox, and reading them back (the development inbox).

`enqueue` adds a message to the caller's transaction: if the transaction rolls back, the
message never existed; if it commits, the delivery worker will send it. Nothing here talks to
a provider.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from antechamber import crypto
from antechamber.delivery.models import OutboxMessage
from antechamber.ids import new_id
from antechamber.scope import Scope

Channel = Literal["email", "sms"]
PAYLOAD_PURPOSE = "outbox-payload"


def enqueue(
    scope: Scope,
    *,
    channel: Channel,
    recipient: str,
    template: str,
    context: Mapping[str, Any],
    locale: str = "en",
) -> OutboxMessage:
    """Add a message to the current transaction; `context` is sealed, never stored in clear."""
    now = scope.clock.now()
    message = OutboxMessage(
        id=new_id("message", scope.environment),
        project_id=scope.project_id,
        channel=channel,
        recipient=recipient,
        template=template,
        locale=locale,
        payload=crypto.seal(
            scope.settings.key_bytes(), PAYLOAD_PURPOSE, json.dumps(dict(context)).encode()
        ),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    scope.db.add(message)
    return message


def context_of(message: OutboxMessage, server_key: bytes) -> dict[str, Any]:
    """The template context of a message (for the sender and the development inbox)."""
    data: dict[str, Any] = json.loads(crypto.unseal(server_key, PAYLOAD_PURPOSE, message.payload))
    return data


def recent(
    db: Session, *, recipient: str | None = None, limit: int = 50
) -> Sequence[OutboxMessage]:
    """Newest first, optionally for one recipient."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    return db.scalars(query.limit(limit)).all()
