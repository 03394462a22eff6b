"""The development inbox: outbox messages as a person reads them (page and CLI).

A message's content (its link, its code) is shown only where it could not have been read
anywhere else: in development mode, or for a channel without a provider (the message went
nowhere). Otherwise an entry carries only its metadata (status, tries, last error), which is
what an operator supporting a user needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import jinja2

from antechamber.clock import as_utc, rfc3339
from antechamber.crypto import Unsealable
from antechamber.delivery import messages
from antechamber.delivery.models import OutboxMessage
from antechamber.delivery.outbox import context_of
from antechamber.settings import Settings


@dataclass(frozen=True)
class InboxEntry:
    id: str
    created_at: str
    channel: str
    recipient: str
    template: str
    locale: str
    status: str
    attempts: int
    last_error: str | None
    delivered_via: str | None
    sent_at: str | None
    #: Whether the content below is shown (see the module doc).
    readable: bool
    subject: str | None = None
    text: str | None = None
    url: str | None = None
    code: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def readable(settings: Settings, channel: str) -> bool:
    """Whether a message on `channel` may be shown with its content."""
    if settings.dev:
        return True
    return not (settings.smtp_configured if channel == "email" else settings.sms_configured)


def entries(settings: Settings, rows: Iterable[OutboxMessage]) -> list[InboxEntry]:
    return [entry(settings, row) for row in rows]


def entry(settings: Settings, message: OutboxMessage) -> InboxEntry:
    show = readable(settings, message.channel)
    base = InboxEntry(
        id=message.id,
        created_at=rfc3339(as_utc(message.created_at)) or "",
        channel=message.channel,
        recipient=message.recipient,
        template=message.template,
        locale=message.locale,
        status=message.status,
        attempts=message.attempts,
        last_error=message.last_error,
        delivered_via=message.delivered_via,
        sent_at=rfc3339(message.sent_at),
        readable=show,
    )
    if not show:
        return base
    try:
        context = context_of(message, settings.key_bytes())
        rendered = messages.render(
            message.template, context, locale=message.locale, settings=settings
        )
    except (Unsealable, jinja2.TemplateError, ValueError):  # another key, an old template
        return InboxEntry(**{**asdict(base), "readable": False})
    url, code = context.get("url"), context.get("code")
    return InboxEntry(
        **{
            **asdict(base),
            "subject": rendered.subject,
            "text": rendered.text,
            "url": url if isinstance(url, str) else None,
            "code": code if isinstance(code, str) else None,
        }
    )
