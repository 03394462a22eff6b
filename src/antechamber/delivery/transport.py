"""What a provider looks like to the delivery worker, and how a send can fail.

A sender raises `TransientFailure` for what may work later (network, timeouts, 4xx SMTP
replies, HTTP 5xx and 429, a misconfigured relay an operator can fix) and `PermanentFailure`
for what never will for this message (the provider refused the recipient or the content).
The worker retries the first with backoff and marks the message failed on the second.

Another provider is one new class with the same methods.
"""

from __future__ import annotations

from email.message import Message
from typing import Protocol


class DeliveryFailure(Exception):
    """A send that did not happen. The message (never a code or link) goes to `last_error`."""


class TransientFailure(DeliveryFailure):
    """Try again later."""


class PermanentFailure(DeliveryFailure):
    """Do not try again: the provider refused this message for good."""


class EmailSender(Protocol):
    #: Recorded as the message's `delivered_via` and in the `via` metric label.
    name: str

    def send_email(self, message: Message) -> None:
        """Hand `message` (headers and bodies set) to the provider, or raise a failure."""
        ...

    def close(self) -> None:
        """Let go of connections (after each batch, and when the worker stops). A later send
        connects again."""
        ...


class SmsSender(Protocol):
    name: str

    def send_sms(self, to: str, body: str) -> str:
        """Send `body` to the E.164 number `to`; return the provider's message id."""
        ...

    def close(self) -> None: ...
