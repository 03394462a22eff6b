"""Settings: single sign-on (`antechamber.sso`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from antechamber.settings.group import Group
from antechamber.settings.limits import rate_limit


class SsoSettings(Group):
    """Single sign-on (sso/)."""

    sso_allow_private_addresses: bool = Field(
        False,
        description="Let SSO connections reach identity providers at private, loopback or "
        "link-local addresses, and over plain http (metadata URL, OIDC discovery, token, "
        "user info and JWKS endpoints). Off: only public https URLs, so an organization's "
        "admin cannot make the server probe its own network.",
    )
    sso_http_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Timeout of each request to an identity provider (metadata, token, "
        "user info, JWKS).",
    )
    limit_sso_start_per_ip: str = Field(
        "30/minute;300/hour",
        description="SSO logins started from one client address (/v1/public/sso/start: each "
        "keeps a pending login row for 10 minutes).",
    )
    limit_sso_discovery_per_ip: str = Field(
        "30/minute;300/hour",
        description="SSO connection lookups by email from one client address (the frontend "
        "SDK's /sdk/v1/b2b/sso/discovery/connections: anonymous, so metered against walking "
        "a list of addresses).",
    )
    sso_token_minutes: int = Field(
        5,
        ge=1,
        le=10,
        description="How long the SSO token handed to the app's redirect URL stays valid "
        "(single use).",
    )

    # Not `_limit`, `limits`' (`Group`: one name, one validator).
    @field_validator("limit_sso_start_per_ip", "limit_sso_discovery_per_ip")
    @classmethod
    def _sso_limit(cls, value: str) -> str:
        return rate_limit(value)
