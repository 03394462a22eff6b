"""Settings, read once from the environment (`ANTECHAMBER_*`) and `.env`, validated at start.

Every field is documented here and in the README's configuration table; domain code receives a
`Settings` object and never reads `os.environ`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from antechamber import settings_checks as checks

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
SmtpTls = Literal["starttls", "implicit", "none"]


class SettingsError(Exception):
    """An invalid setting; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANTECHAMBER_", env_file=".env", extra="ignore", validate_default=True
    )

    database_url: str = Field(
        "sqlite:///antechamber.db",
        description="SQLAlchemy URL. SQLite file in the working directory by default; "
        "postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=500,
        description="PostgreSQL: connections each process keeps open (every server worker "
        "and the delivery process has its own pool).",
    )
    database_max_overflow: int = Field(
        10,
        ge=0,
        le=500,
        description="PostgreSQL: connections a process may open beyond its pool when busy, "
        "closed after use.",
    )
    request_threads: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Threads each server process runs request handlers in (AnyIO's thread "
        "limiter). Default: on PostgreSQL the pool size (database_pool_size), so every "
        "handler thread has a kept connection and none opens an overflow connection; on "
        "SQLite AnyIO's 40.",
    )
    database_reads_on_loop: bool | None = Field(
        None,
        description="Run read-only units of work (session checks, GET routes) on the event "
        "loop instead of handing each to a request thread. Default: on SQLite only. On a "
        "PostgreSQL on this machine it saves a check about a fifth of its CPU (no thread "
        "hop), but the loop then waits out each round trip: measure before turning it on.",
    )
    database_units_on_loop: bool = Field(
        True,
        description="PostgreSQL: run the read-only units of work (session checks, GET "
        "routes) on the event loop instead of handing each to a request thread; a "
        "wait for the database longer than 1 ms (a row lock, a slow COMMIT) is handed to the "
        "loop, which serves other requests meanwhile. Off: threads, as before. Not with "
        "Redis rate limits.",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The origin people and SDKs reach this server at; links in emails use it.",
    )
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=1, le=65535, description="Port to bind.")
    log_level: LogLevel = Field("info", description="debug, info, warning or error.")
    log_format: LogFormat | None = Field(
        None,
        description="text (short lines for a person at a terminal) or json (one object a "
        "line, for a log pipeline). Default: text in development mode, json otherwise.",
    )
    dev: bool = Field(
        False,
        description="Development mode: demo project, development inbox, relaxed cookie security.",
    )
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest accepted request body."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Server key for keyed hashes of short codes and encryption at rest. "
        "Required outside development mode (in development it is generated into state_dir).",
    )
    state_dir: Path = Field(
        Path(".antechamber"),
        description="Where development mode keeps the demo credentials and generated key.",
    )
    product_name: str = Field(
        "Antechamber",
        min_length=1,
        max_length=60,
        description="The name people see in emails and text messages.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis for rate-limit counters shared by several processes "
        "(redis://host:6379/0). Unset: counters live in this process's memory.",
    )
    redis_key_prefix: str = Field(
        "antechamber",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of every key this deployment writes to Redis (several deployments, "
        "or test runs, can share one Redis).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        [],
        description="Addresses or networks (comma-separated, e.g. 10.0.0.0/8,127.0.0.1) of "
        "proxies whose X-Forwarded-For and X-Forwarded-Proto are believed. Empty (the "
        "default): the connecting address is the client, whatever the headers say.",
    )
    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        [],
        description="Host names (comma-separated, host or host:port) this server answers for "
        "besides the public base URL's host and loopback names. Outside development mode a "
        "request addressed to any other Host is refused (400), so a forged Host header never "
        "reaches a redirect or a link.",
    )

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

    # --- Delivery: safety ---------------------------------------------------------------------
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

    # --- Delivery: the worker -----------------------------------------------------------------
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

    sms_otp_lifetime_minutes: int = Field(
        2, ge=1, le=10, description="How long an SMS code is valid (NIST: at most 10 minutes)."
    )
    sms_otp_resend_seconds: int = Field(
        30,
        ge=0,
        le=600,
        description="A send for the same member and number within this many seconds of the "
        "last one sends nothing new: the code already on its way stays the one to use.",
    )
    otp_max_attempts_per_code: int = Field(
        5,
        ge=1,
        le=10,
        description="Wrong guesses at one code (SMS or email) before that code is dead.",
    )
    email_otp_lifetime_minutes: int = Field(
        10,
        ge=2,
        le=15,
        description="How long an emailed one-time code is valid when the request names no "
        "expiration (Stytch's default 10; requests may ask for 2 to 15).",
    )
    mfa_lockout_threshold: int = Field(
        10,
        ge=1,
        le=100,
        description="Consecutive MFA failures (within the window) that lock the member; "
        "NIST 800-63B caps this at 100.",
    )
    mfa_lockout_window_minutes: int = Field(
        15, ge=1, le=1440, description="The window in which MFA failures are counted."
    )
    mfa_lockout_minutes: int = Field(
        30, ge=1, le=1440, description="How long a locked member stays locked."
    )

    console_idle_minutes: int = Field(
        30,
        ge=1,
        le=60,
        description="A console session unused this long ends (NIST 800-63B AAL2: 30 minutes).",
    )
    console_absolute_hours: int = Field(
        12,
        ge=1,
        le=24,
        description="A console session ends this long after sign-in however active it is "
        "(NIST 800-63B AAL2: 12 hours).",
    )

    # --- The reference app at / -------------------------------------------------------------
    webapp: bool = Field(
        True,
        description="Serve the reference app (the tutorial's pages and /api/*) at /. It needs "
        "a project: the demo project in development mode, else webapp_project_id.",
    )
    webapp_project_id: str | None = Field(
        None,
        description="The project the reference app signs people into. Unset: the demo project "
        "in development mode, and no reference app otherwise.",
    )
    webapp_cors_origins: Annotated[list[str], NoDecode] = Field(
        [],
        description="Origins (scheme://host[:port], comma-separated) whose pages may call the "
        "reference app's /api/* with cookies, e.g. the tutorial's React frontend at "
        "http://localhost:5173.",
    )

    webapp_public_url: str | None = Field(
        None,
        description="The origin people use the reference app at, when it is not this server's "
        "(the tutorial's React frontend at http://localhost:5173, say): sign-in links go to "
        "{webapp_public_url}/auth/callback and form posts may come from it. Unset: the "
        "public base URL.",
    )

    # --- Single sign-on (sso/) --------------------------------------------------------------
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

    # The checks of values as they are read (`settings_checks`): each returns the value
    # normalised or raises ValueError, reported after the variable's name.
    _app_url = field_validator("webapp_public_url")(checks.app_url)
    _origins = field_validator("webapp_cors_origins", mode="before")(checks.origins)
    _base_url = field_validator("public_base_url", "twilio_base_url")(checks.http_url)
    _database_url = field_validator("database_url")(checks.database_url)
    _regions = field_validator("sms_allowed_regions", mode="before")(checks.regions)
    _limits = field_validator(*checks.RATE_LIMITS)(checks.rate_limit)
    _proxies = field_validator("trusted_proxies", mode="before")(checks.networks)
    _hosts = field_validator("allowed_hosts", mode="before")(checks.hosts)
    _redis_url = field_validator("redis_url")(checks.redis_url)

    @model_validator(mode="after")
    def _delivery(self) -> Self:
        checks.delivery(self)
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
