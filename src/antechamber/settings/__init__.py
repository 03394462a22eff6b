"""Settings, read once from the environment (`ANTECHAMBER_*`) and `.env`, validated at start.

Every field is documented in its group's module (`database`, `server`, `delivery`, `limits`,
`sign_in`, `webapp`, `sso`) and in the README's configuration table; domain code receives a
`Settings` object and never reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Self
from urllib.parse import urlsplit

from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from antechamber.settings.database import DatabaseSettings
from antechamber.settings.delivery import DeliverySettings, DeliveryWorkerSettings
from antechamber.settings.limits import LimitSettings
from antechamber.settings.server import LogFormat, ServerSettings
from antechamber.settings.sign_in import SignInSettings
from antechamber.settings.sso import SsoSettings
from antechamber.settings.webapp import WebappSettings


class SettingsError(Exception):
    """An invalid setting; the message names the environment variable."""


class Settings(
    # Listed from the last group to the first: pydantic takes a model's fields base by base,
    # the last in the method resolution order first, and so keeps them in the groups' order
    # (`load_settings` reports the first bad field of that order).
    SsoSettings,
    WebappSettings,
    SignInSettings,
    DeliveryWorkerSettings,
    LimitSettings,
    DeliverySettings,
    ServerSettings,
    DatabaseSettings,
    BaseSettings,
):
    # The groups' fields; here the rule across groups and what follows from the fields. Its
    # schema is built at import (`defer_build=False`), unlike the groups' (`Group`).
    model_config = SettingsConfigDict(
        env_prefix="ANTECHAMBER_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        defer_build=False,
    )

    @model_validator(mode="after")
    def _delivery(self) -> Self:
        # Errors name the variable in their first word; load_settings reports the message.
        if self.twilio_account_sid:
            has_token = self.twilio_auth_token is not None
            has_key = bool(self.twilio_api_key_sid) and self.twilio_api_key_secret is not None
            if not (has_token or has_key):
                raise ValueError(
                    "ANTECHAMBER_TWILIO_AUTH_TOKEN: set it, or ANTECHAMBER_TWILIO_API_KEY_SID "
                    "and ANTECHAMBER_TWILIO_API_KEY_SECRET"
                )
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                raise ValueError(
                    "ANTECHAMBER_TWILIO_FROM_NUMBER: set it, or "
                    "ANTECHAMBER_TWILIO_MESSAGING_SERVICE_SID"
                )
        if self.smtp_host and not self.smtp_from and _is_ip(self.public_host):
            raise ValueError(
                "ANTECHAMBER_SMTP_FROM: required when the public base URL's host is an IP "
                "address (no-reply@<ip> is not a deliverable sender)"
            )
        if self.delivery_lease_seconds < 2 * self.delivery_send_timeout_seconds:
            raise ValueError(
                "ANTECHAMBER_DELIVERY_LEASE_SECONDS: must be at least twice "
                "ANTECHAMBER_DELIVERY_SEND_TIMEOUT_SECONDS"
            )
        return self

    @property
    def effective_log_format(self) -> LogFormat:
        """`log_format`, or its default: text in development mode, json otherwise."""
        return self.log_format or ("text" if self.dev else "json")

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sms_configured(self) -> bool:
        return bool(self.twilio_account_sid)

    @property
    def public_host(self) -> str:
        """The host name of `public_base_url` (no port)."""
        return urlsplit(self.public_base_url).hostname or "localhost"

    @property
    def smtp_sender(self) -> str:
        """The From header: `smtp_from`, or the product name at no-reply@ the public host."""
        return self.smtp_from or f"{self.product_name} <no-reply@{self.public_host}>"

    @property
    def smtp_effective_port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"starttls": 587, "implicit": 465, "none": 25}[self.smtp_tls]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def key_bytes(self) -> bytes:
        """The server key; in development mode made once and kept in state_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if not self.dev:
            raise SettingsError(
                "ANTECHAMBER_SECRET_KEY: required outside development mode "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        path = self.state_dir / "secret_key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise `SettingsError` naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across fields: its message names the variable
            raise SettingsError(str(first["msg"]).removeprefix("Value error, ")) from None
        name = "ANTECHAMBER_" + str(first["loc"][0]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
