"""Settings: delivery, email over SMTP and SMS through Twilio, and the worker that sends
(its limits: `limits`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from antechamber.settings.group import Group

SmtpTls = Literal["starttls", "implicit", "none"]


class DeliverySettings(Group):
    """Delivery: email over SMTP, and SMS through Twilio."""

    # --- Delivery: email over SMTP ------------------------------------------------------------
    smtp_host: str | None = Field(
        None,
        description="SMTP relay for email. Unset: email stays in the development inbox.",
    )
    smtp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port. Default: 587 for starttls, 465 for implicit, 25 for none.",
    )
    smtp_tls: SmtpTls = Field(
        "starttls",
        description="starttls (upgrade, required), implicit (TLS from the first byte) "
        "or none (plain text; only for a relay on the same host).",
    )
    smtp_username: str | None = Field(None, description="SMTP login, if the relay wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str | None = Field(
        None,
        description='The From header, e.g. "Acme <login@acme.example>". '
        "Default: the product name at no-reply@ the public base URL's host.",
    )
    smtp_ca_file: Path | None = Field(
        None,
        description="PEM file of certificate authorities to trust for the SMTP relay "
        "(a private relay); the system's are used otherwise.",
    )

    # --- Delivery: SMS through Twilio -------------------------------------------------------
    twilio_account_sid: str | None = Field(
        None,
        description="Twilio account SID (AC…). Unset: text messages stay in the development inbox.",
    )
    twilio_auth_token: SecretStr | None = Field(
        None, description="Twilio auth token (or use an API key and secret)."
    )
    twilio_api_key_sid: str | None = Field(None, description="Twilio API key SID (SK…).")
    twilio_api_key_secret: SecretStr | None = Field(None, description="Twilio API key secret.")
    twilio_from_number: str | None = Field(
        None, description="Sender number in E.164 (or use a messaging service)."
    )
    twilio_messaging_service_sid: str | None = Field(
        None, description="Twilio messaging service SID (MG…), instead of a sender number."
    )
    twilio_base_url: str = Field(
        "https://api.twilio.com", description="Twilio's API origin (tests point it elsewhere)."
    )

    @field_validator("twilio_base_url")
    @classmethod
    def _twilio_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class DeliveryWorkerSettings(Group):
    """Delivery: the worker."""

    delivery_worker: bool = Field(
        True,
        description="Let the server deliver (see delivery_process). Turn off when `antechamber "
        "worker` runs on its own.",
    )
    delivery_process: bool = Field(
        True,
        description="`antechamber serve` delivers from one worker process of its own beside "
        "the server's (started, stopped and restarted with it); false: a thread in each server "
        "process. `antechamber dev` always uses the thread.",
    )
    delivery_batch_size: int = Field(
        20,
        ge=1,
        le=500,
        description="Messages a worker claims at a time; under a backlog it claims twice as "
        "many after each full batch done within a poll interval, up to ten times this.",
    )
    delivery_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often an idle worker looks for due messages."
    )
    delivery_lease_seconds: int = Field(
        120,
        ge=10,
        le=3600,
        description="How long a claim lasts; a crashed worker's messages are retried after it.",
    )
    delivery_max_attempts: int = Field(
        8, ge=1, le=50, description="Tries before a message is marked failed."
    )
    delivery_retry_base_seconds: float = Field(
        5.0, gt=0, le=3600, description="Delay before the first retry; doubles each try."
    )
    delivery_retry_max_seconds: float = Field(
        300.0, gt=0, le=86400, description="Longest delay between two tries."
    )
    delivery_send_timeout_seconds: float = Field(
        15.0,
        gt=0,
        le=300,
        description="Longest one send may take (SMTP or Twilio, whole exchange).",
    )
