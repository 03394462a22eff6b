"""The checks `settings.Settings` runs on its values as it reads them: each takes a value (or,
`delivery`, the whole settings) and returns it normalised, or raises `ValueError` with the
message `settings.load_settings` reports after the variable's name. Pure functions, kept apart
from the table of settings so that table stays readable."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import limits
import phonenumbers

#: The settings that hold rate limits (`rate_limit`).
RATE_LIMITS = (
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
    "limit_sso_start_per_ip",
    "limit_sso_discovery_per_ip",
)

_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://", "redis+sentinel://", "redis+cluster://")


def _listed(value: object) -> object:
    """A comma-separated string as a list of its non-empty parts (spaces dropped)."""
    if isinstance(value, str):
        return [part for part in value.replace(" ", "").split(",") if part]
    return value


def app_url(value: str | None) -> str | None:
    """The reference app's public URL: an http(s) origin with an optional path, no query."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError(f"{value!r} is not a URL like https://app.example")
    return value.rstrip("/")


def origins(value: object) -> object:
    """CORS origins (a list, or a comma-separated string): each scheme://host[:port] only."""
    value = _listed(value)
    if isinstance(value, list):
        for origin in value:
            parts = urlsplit(str(origin))
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
            ):
                raise ValueError(f"{origin!r} is not an origin like https://app.example")
        value = [str(origin).rstrip("/") for origin in value]
    return value


def http_url(value: str) -> str:
    """An http:// or https:// base URL, without its trailing slash."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


def database_url(value: str) -> str:
    """A SQLite or PostgreSQL URL; `postgresql://` gets psycopg's driver name."""
    if not value.startswith(("sqlite", "postgresql")):
        raise ValueError("must be a sqlite:// or postgresql:// URL")
    if value.startswith("postgresql://"):
        # psycopg 3 is the driver we ship with; spare operators the +psycopg suffix.
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    return value


def regions(value: object) -> object:
    """Region codes phonenumbers knows (a list, or a comma-separated string), upper-cased."""
    value = _listed(value)
    if isinstance(value, list):
        value = [str(part).upper() for part in value]
        unknown = [r for r in value if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown region code(s): {', '.join(unknown)}")
    return value


def rate_limit(value: str) -> str:
    """A rate limit in the `limits` notation ("5/minute;20/hour")."""
    try:
        limits.parse_many(value)
    except ValueError:
        raise ValueError(
            'not a rate limit; write e.g. "5/minute;20/hour" or "1 per 30 seconds"'
        ) from None
    return value


def networks(value: object) -> object:
    """Addresses or networks (a list, or a comma-separated string), in CIDR notation."""
    value = _listed(value)
    if isinstance(value, list):
        try:
            value = [str(ipaddress.ip_network(str(part), strict=False)) for part in value]
        except ValueError as exc:
            raise ValueError(f"not an address or network: {exc}") from None
    return value


def hosts(value: object) -> object:
    """Host names with an optional port (a list, or a comma-separated string), lower-cased."""
    value = _listed(value)
    if isinstance(value, list):
        for host in value:
            if not host or any(c in str(host) for c in "/@?#") or "://" in str(host):
                raise ValueError(f"{host!r} is not a host name like auth.example[:443]")
        value = [str(host).lower() for host in value]
    return value


def redis_url(value: str | None) -> str | None:
    """A Redis URL of a scheme the client knows, or None for unset or empty."""
    if value and not value.startswith(_REDIS_SCHEMES):
        raise ValueError("must be a redis:// (or rediss://, redis+unix://, …) URL")
    return value or None


def delivery(settings: Any) -> None:  # a `settings.Settings` (which imports this module)
    """The rules across fields (Twilio's credentials and sender, SMTP's sender, the delivery
    lease): each error names the variable in its first word."""
    if settings.twilio_account_sid:
        has_token = settings.twilio_auth_token is not None
        has_key = bool(settings.twilio_api_key_sid) and settings.twilio_api_key_secret is not None
        if not (has_token or has_key):
            raise ValueError(
                "ANTECHAMBER_TWILIO_AUTH_TOKEN: set it, or ANTECHAMBER_TWILIO_API_KEY_SID "
                "and ANTECHAMBER_TWILIO_API_KEY_SECRET"
            )
        if not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
            raise ValueError(
                "ANTECHAMBER_TWILIO_FROM_NUMBER: set it, or "
                "ANTECHAMBER_TWILIO_MESSAGING_SERVICE_SID"
            )
    if settings.smtp_host and not settings.smtp_from and is_ip(settings.public_host):
        raise ValueError(
            "ANTECHAMBER_SMTP_FROM: required when the public base URL's host is an IP "
            "address (no-reply@<ip> is not a deliverable sender)"
        )
    if settings.delivery_lease_seconds < 2 * settings.delivery_send_timeout_seconds:
        raise ValueError(
            "ANTECHAMBER_DELIVERY_LEASE_SECONDS: must be at least twice "
            "ANTECHAMBER_DELIVERY_SEND_TIMEOUT_SECONDS"
        )


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
