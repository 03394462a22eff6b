"""Settings, read once from the environment (`ANTECHAMBER_*`) and `.env`, validated at start.

Every field is documented here and in the README's configuration table; domain code receives a
`Settings` object and never reads `os.environ`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]


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
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The origin people and SDKs reach this server at; links in emails use it.",
    )
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=1, le=65535, description="Port to bind.")
    log_level: LogLevel = Field("info", description="debug, info, warning or error.")
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

    sms_otp_lifetime_minutes: int = Field(
        2, ge=1, le=10, description="How long an SMS code is valid (NIST: at most 10 minutes)."
    )
    otp_max_attempts_per_code: int = Field(
        5, ge=1, le=10, description="Wrong guesses at one code before that code is dead."
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

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship with; spare operators the +psycopg suffix.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

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
        name = "ANTECHAMBER_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg']}") from None
