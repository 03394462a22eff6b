"""Refusals of the delivery layer. Each is a clear error to the caller and an audit event."""

from __future__ import annotations

from antechamber.errors import BadRequest, Conflict, NotFound


class SmsRegionNotAllowed(BadRequest):
    """The number belongs to a region outside `ANTECHAMBER_SMS_ALLOWED_REGIONS`."""

    error_type = "invalid_phone_number_country_code"  # Stytch's name for the same refusal
    default_message = "Text messages cannot be sent to phone numbers of this country or region."


class SmsNumberTypeNotAllowed(BadRequest):
    """Not a mobile number: landline, toll-free, premium-rate, shared-cost, VoIP, pager …"""

    error_type = "unsupported_phone_number_type"
    default_message = (
        "Text messages can only be sent to mobile numbers, not to landline, toll-free, "
        "premium-rate, shared-cost or VoIP numbers."
    )


class TemplateContractError(ValueError):
    """A caller asked for a template that does not exist, on the wrong channel, or with the
    wrong context keys. A programming error, not a user's: it is raised, never rendered."""


class OutboxMessageNotFound(NotFound):
    """No message with this id in the project (another project's is not found either)."""

    error_type = "outbox_message_not_found"
    default_message = "No outbox message with this id."


class OutboxMessageNotFailed(Conflict):
    """Only a message given up on can be retried; the others are still in hand, or sent."""

    error_type = "outbox_message_not_failed"
    default_message = "Only a failed message can be retried."
