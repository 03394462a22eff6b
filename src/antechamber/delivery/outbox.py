"""Writing messages to the outbox, and reading them back (the development inbox).

`enqueue` adds a message to the caller's transaction: if the transaction rolls back, the
message never existed; if it commits, the delivery worker will send it. Before it writes
anything, `enqueue` applies the safety rules every message must pass (the recipient's form, the
SMS number policy, the send limits), so no caller can forget them. Nothing here talks to a
provider.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import Table, insert, literal_column, select
from sqlalchemy.orm import Session

from antechamber import crypto, db
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.delivery import messages, sms_policy
from antechamber.delivery.errors import (
    OutboxMessageNotFailed,
    OutboxMessageNotFound,
    TemplateContractError,
)
from antechamber.delivery.messages import Channel
from antechamber.delivery.models import OutboxMessage
from antechamber.emails import canonical_email, mailbox_of
from antechamber.errors import AntechamberError
from antechamber.ids import new_id
from antechamber.phones import canonical_phone, masked
from antechamber.ratelimit import Check, RateLimiter
from antechamber.scope import Scope

__all__ = [
    "Channel",
    "Queued",
    "context_of",
    "enqueue",
    "newer_than",
    "recent",
    "unseal_context",
]

PAYLOAD_PURPOSE = "outbox-payload"
_INSERT = insert(cast(Table, OutboxMessage.__table__))


class Queued(NamedTuple):
    """A message `enqueue` wrote: the row's fields that say what it is (not an ORM object; the
    row is in the caller's transaction, and the unit of work holds no copy of it). A named
    tuple: every message sent makes one, and a frozen dataclass's `__init__` costs more."""

    id: str
    project_id: str
    channel: Channel
    recipient: str
    template: str
    locale: str
    payload: str
    status: str
    created_at: datetime


def enqueue(
    scope: Scope,
    *,
    channel: Channel,
    recipient: str,
    template: str,
    context: Mapping[str, Any],
    locale: str = "en",
    also: Sequence[Check] = (),
) -> Queued:
    """Add a message to the current transaction; `context` is sealed, never stored in clear.

    `template` names a file in `delivery/templates/` for `channel`, and `context` must hold
    exactly the keys it uses (see `delivery.messages`); otherwise `TemplateContractError`, a
    programming error. `locale` falls back to English. `recipient` is an email address (made
    canonical here) or an E.164 number.

    Refusals, each an audit event `delivery.refused` that survives the caller's rollback and a
    count in `antechamber_delivery_refused_total`, with nothing written to the outbox:
    `InvalidEmail`, `InvalidPhoneNumber`, `SmsRegionNotAllowed`, `SmsNumberTypeNotAllowed`
    (see `sms_policy`), `TooManyRequests` (per-recipient, per-number-range and per-project
    limits, with `retry_after`), `RateLimitUnavailable` (the limit storage is down).

    `also`: the caller's own limits for this message (say, per member), counted with the
    outbox's in one `hit_all`: all of them or none, so a refusal by one uses up no other.
    """
    messages.check_contract(template, channel, context)
    _check_values(context)
    try:
        recipient = _admit(scope, channel, recipient, also)
    except AntechamberError as exc:
        _record_refusal(scope, channel, template, recipient, exc)
        raise
    now = scope.clock.now()
    queued = Queued(
        id=new_id("message", scope.environment),
        project_id=scope.project_id,
        channel=channel,
        recipient=recipient,
        template=template,
        locale=messages.resolve_locale(locale),
        payload=crypto.seal(
            scope.settings.key_bytes(), PAYLOAD_PURPOSE, orjson.dumps(dict(context))
        ),
        status="pending",
        created_at=now,
    )
    values = {
        "id": queued.id,
        "project_id": queued.project_id,
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "locale": queued.locale,
        "payload": queued.payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": None,
        "claimed_by": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "delivered_via": None,
        "provider_message_id": None,
    }
    db.connection(scope.db).insert_unread(_INSERT, values)  # with the next statement, or the COMMIT
    return queued


def _check_values(context: Mapping[str, Any]) -> None:
    """The value rules every template relies on (a bad value is the caller's bug)."""
    for key, value in context.items():
        if key == "url" and not (
            isinstance(value, str) and value.startswith(("https://", "http://"))
        ):
            raise TemplateContractError("a message's url must be an http(s) URL")
        if key.endswith("_minutes") and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise TemplateContractError(f"{key} must be a whole number of minutes, at least 1")
        if key == "code" and not isinstance(value, str):
            raise TemplateContractError("a code must be a string (leading zeros matter)")


def _admit(scope: Scope, channel: Channel, recipient: str, also: Sequence[Check]) -> str:
    """The canonical recipient, if the message may be sent; otherwise the refusal."""
    if scope.limiter is None:
        # A wiring bug, not a user's fault: scopes come from Services.scope (or are derived
        # from one with dataclasses.replace) and so carry the process's limiter.
        raise RuntimeError("this Scope has no rate limiter; build it with Services.scope")
    limiter: RateLimiter = scope.limiter
    if channel == "email":
        address = canonical_email(recipient)
        # Counted per mailbox: alice+1@d, alice+2@d … all reach alice@d's inbox.
        limiter.hit_all(
            [
                Check("email:recipient", mailbox_of(address)),
                Check("email:project", scope.project_id),
                *also,
            ]
        )
        return address
    # Count and store the canonical number: limits keyed on the raw text would let
    # "+1 202-555-0123" and "+12025550123" each have their own allowance (research §2.5).
    recipient = canonical_phone(recipient)
    sms_policy.check_sms_number(scope.settings, recipient)
    limiter.hit_all(
        [
            Check("sms:recipient", recipient),
            Check("sms:prefix", sms_policy.number_prefix(recipient)),
            Check("sms:project", scope.project_id),
            *also,
        ]
    )
    return recipient


def _record_refusal(
    scope: Scope, channel: Channel, template: str, recipient: str, exc: AntechamberError
) -> None:
    reason = str(exc.details.get("limit") or exc.error_type)
    audit.record_refusal(
        scope,
        EventType.DELIVERY_REFUSED,
        channel=channel,
        template=template,
        reason=reason,
        recipient=_masked_recipient(channel, recipient),
    )
    if scope.metrics is not None:
        scope.metrics.refused.labels(channel, reason).inc()


def _masked_recipient(channel: Channel, recipient: str) -> str:
    """Enough for an operator to spot a pattern (a country, a domain), not a whole address."""
    if not isinstance(recipient, str):
        return ""
    if channel == "sms":
        return masked(recipient[:32])
    local, _, domain = recipient[:320].lower().rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


def context_of(message: OutboxMessage | Queued, server_key: bytes) -> dict[str, Any]:
    """The template context of a message (for the sender and the development inbox).

    Raises `crypto.Unsealable` if the message was sealed under another server key."""
    return unseal_context(message.payload, server_key)


def unseal_context(payload: str, server_key: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(crypto.unseal(server_key, PAYLOAD_PURPOSE, payload))
    return data


def recent(
    db: Session, *, recipient: str | None = None, limit: int = 50
) -> Sequence[OutboxMessage]:
    """Newest first, optionally for one recipient."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    return db.scalars(query.limit(limit)).all()


def newer_than(
    db: Session, since: datetime, *, recipient: str | None = None, limit: int = 500
) -> Sequence[OutboxMessage]:
    """Messages created at or after `since`, oldest first (for following the outbox)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.created_at >= since)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    return db.scalars(query.limit(limit)).all()


def failed_messages(scope: Scope, *, limit: int = 100) -> Sequence[OutboxMessage]:
    """The project's messages given up on, newest first (for the console and the CLI)."""
    return scope.db.scalars(
        select(OutboxMessage)
        # A literal, not a parameter: the index of failed messages (`ix_outbox_project_failed`)
        # serves only a query whose condition is its own.
        .where(
            OutboxMessage.project_id == scope.project_id,
            OutboxMessage.status == literal_column("'failed'"),
        )
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ).all()


def project_of(db: Session, message_id: str) -> str:
    """The project a message belongs to (so the CLI can open that project's scope)."""
    project_id = db.scalar(select(OutboxMessage.project_id).where(OutboxMessage.id == message_id))
    if not project_id:
        raise OutboxMessageNotFound()
    return str(project_id)


def retry_message(scope: Scope, message_id: str) -> OutboxMessage:
    """Give a failed message a fresh set of tries, due now; audited.

    Only a `failed` message of this project: a pending or sending one is already in hand and a
    sent one must not go twice. The worker still refuses a message whose link or code has
    expired meanwhile (it fails again as `expired`): a retry never revives a dead credential.
    """
    row = scope.db.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.project_id == scope.project_id)
        .with_for_update()
    )
    if row is None:
        raise OutboxMessageNotFound()
    if row.status != "failed":
        raise OutboxMessageNotFailed()
    previous = row.last_error
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = scope.clock.now()
    row.claimed_until = None
    row.claimed_by = None
    audit.record(
        scope,
        EventType.OUTBOX_MESSAGE_RETRIED,
        message_id=row.id,
        channel=row.channel,
        template=row.template,
        recipient=_masked_recipient("sms" if row.channel == "sms" else "email", row.recipient),
        last_error=previous,
    )
    scope.db.flush()
    return row
