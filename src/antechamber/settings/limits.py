"""Settings: delivery's safety, the rate limits (and SCIM's largest body)."""

from __future__ import annotations

from typing import Annotated

import limits
import phonenumbers
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from antechamber.settings.group import Group


class LimitSettings(Group):
    """Delivery: safety (the rate limits of the other groups are theirs: `sso`)."""

    sms_allowed_regions: Annotated[list[str], NoDecode] = Field(
        ["US", "CA"],
        description="Regions (ISO 3166 codes, comma-separated) whose mobile numbers may "
        "receive text messages.",
    )
    limit_email_per_recipient: str = Field(
        "3/minute;20/hour", description="Emails to one address (limits' syntax)."
    )
    limit_email_per_project: str = Field(
        "3000/hour", description="Emails from one project (limits' syntax)."
    )
    limit_sms_per_recipient: str = Field(
        "1/30 seconds;5/hour", description="Text messages to one number."
    )
    limit_sms_per_prefix: str = Field(
        "20/hour",
        description="Text messages to numbers sharing all but their last four digits "
        "(SMS pumping walks number ranges).",
    )
    limit_sms_per_project: str = Field(
        "100/hour;500/day", description="Text messages from one project (a cost ceiling)."
    )
    limit_sms_per_member: str = Field(
        "1/30 seconds;5/hour;20/day",
        description="SMS codes to one member, whatever the number (a member whose unverified "
        "number may still be replaced cannot walk a list of numbers).",
    )
    limit_discovery_send_per_ip: str = Field(
        "20/minute;200/hour",
        description="Discovery magic-link sends from one client address (an IPv6 /64 counts "
        "as one), to any addresses: one machine spraying login emails at many inboxes.",
    )
    limit_authenticate_failures_per_ip: str = Field(
        "20/minute;200/hour",
        description="Failed presentations of magic-link and intermediate session tokens from "
        "one client address (an IPv6 /64 counts as one); beyond it the address is refused "
        "before any lookup (token guessing).",
    )
    limit_scim_per_connection: str = Field(
        "600/minute;20000/hour",
        description="Requests to one SCIM connection's endpoint (its directory's whole "
        "traffic); beyond it the directory gets a SCIM 429 with Retry-After and retries.",
    )
    scim_max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body a SCIM endpoint accepts (a group replaced with all "
        "its members is the largest thing a directory sends).",
    )
    limit_invites_per_inviter: str = Field(
        "20/hour;100/day",
        description="Invitations sent by one inviter: the invited_by member, else the console "
        "operator or the CLI (an API call naming no inviter counts only per organization and "
        "per recipient).",
    )
    limit_invites_per_organization: str = Field(
        "100/hour;500/day", description="Invitations sent into one organization."
    )
    limit_invites_per_recipient: str = Field(
        "5/hour;10/day",
        description="Invitations (and re-invitations) to one address, across organizations.",
    )

    @field_validator("sms_allowed_regions", mode="before")
    @classmethod
    def _regions(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
        if isinstance(value, list):
            value = [str(part).upper() for part in value]
            unknown = [r for r in value if r not in phonenumbers.SUPPORTED_REGIONS]
            if unknown:
                raise ValueError(f"unknown region code(s): {', '.join(unknown)}")
        return value

    @field_validator(
        "limit_email_per_recipient",
        "limit_email_per_project",
        "limit_sms_per_recipient",
        "limit_sms_per_prefix",
        "limit_sms_per_project",
        "limit_sms_per_member",
        "limit_discovery_send_per_ip",
        "limit_authenticate_failures_per_ip",
        "limit_scim_per_connection",
        "limit_invites_per_inviter",
        "limit_invites_per_organization",
        "limit_invites_per_recipient",
    )
    @classmethod
    def _limit(cls, value: str) -> str:
        return rate_limit(value)


def rate_limit(value: str) -> str:
    """`value` if it is a rate limit in limits' syntax, else `ValueError` saying how to write
    one (every `limit_*` setting's validator)."""
    try:
        limits.parse_many(value)
    except ValueError:
        raise ValueError(
            'not a rate limit; write e.g. "5/minute;20/hour" or "1 per 30 seconds"'
        ) from None
    return value
