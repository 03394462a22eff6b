"""Console forms: what a submitted form means in the domain's terms (no rules here; the
domain validates)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from antechamber.errors import InvalidArgument
from antechamber.organizations.models import Organization


class InvalidTime(InvalidArgument):
    error_type = "invalid_time"
    default_message = "Use a date and time such as 2026-01-31T09:30 (UTC)."


def split_list(text: str) -> list[str]:
    """One entry per line (commas and spaces also separate); blanks dropped."""
    return [part for part in re.split(r"[\s,]+", text) if part]


class OrganizationForm(BaseModel):
    """The organization settings an operator edits (the tutorial's dashboard fields)."""

    organization_name: str = ""
    organization_slug: str = ""
    require_mfa: bool = False
    mfa_methods: str = "ALL_ALLOWED"
    allowed_mfa_methods: list[str] = []
    email_allowed_domains: str = ""
    email_jit_provisioning: str = "NOT_ALLOWED"
    mfa_required_roles: list[str] = []

    @classmethod
    def of(cls, org: Organization) -> OrganizationForm:
        return cls(
            organization_name=org.name,
            organization_slug=org.slug,
            require_mfa=org.mfa_policy == "REQUIRED_FOR_ALL",
            mfa_methods=org.mfa_methods,
            allowed_mfa_methods=list(org.allowed_mfa_methods),
            email_allowed_domains="\n".join(org.email_allowed_domains),
            email_jit_provisioning=org.email_jit_provisioning,
            mfa_required_roles=list(org.mfa_required_roles),
        )

    def fields(self, *, creating: bool) -> dict[str, Any]:
        """Stytch's field names. On create, email settings are sent only when they differ
        from the defaults, because giving any makes Stytch default email_invites to
        NOT_ALLOWED; on update every field is sent, so clearing a list clears it."""
        fields: dict[str, Any] = {
            "organization_name": self.organization_name,
            "mfa_policy": "REQUIRED_FOR_ALL" if self.require_mfa else "OPTIONAL",
            "mfa_methods": self.mfa_methods,
            "allowed_mfa_methods": (
                self.allowed_mfa_methods if self.mfa_methods == "RESTRICTED" else []
            ),
            "mfa_required_roles": self.mfa_required_roles,
        }
        if self.organization_slug.strip():
            fields["organization_slug"] = self.organization_slug.strip()
        domains = split_list(self.email_allowed_domains)
        if not creating or domains:
            fields["email_allowed_domains"] = domains
        if not creating or self.email_jit_provisioning != "NOT_ALLOWED":
            fields["email_jit_provisioning"] = self.email_jit_provisioning
        return fields


class MemberForm(BaseModel):
    email_address: str = ""
    name: str = ""
    mfa_phone_number: str = ""
    is_admin: bool = False
    mfa_enrolled: bool = False

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "email_address": self.email_address,
            "name": self.name,
            "mfa_enrolled": self.mfa_enrolled,
        }
        if self.mfa_phone_number.strip():
            fields["mfa_phone_number"] = self.mfa_phone_number.strip()
        if self.is_admin:
            fields["roles"] = ["stytch_admin"]
        return fields


def parse_time(value: str, field: str) -> datetime | None:
    """A time from a `datetime-local` input or ISO 8601; naive times are UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTime(field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
