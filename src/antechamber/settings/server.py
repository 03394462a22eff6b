"""Settings: the server process, what it answers for and whom it believes."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from antechamber.settings.group import Group

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]


class ServerSettings(Group):
    """The server: where it listens and is reached, its logs, its keys, Redis, whom it
    believes and which hosts it answers for."""

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

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
        if isinstance(value, list):
            try:
                value = [str(ipaddress.ip_network(str(part), strict=False)) for part in value]
            except ValueError as exc:
                raise ValueError(f"not an address or network: {exc}") from None
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _allowed_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
        if isinstance(value, list):
            for host in value:
                if not host or any(c in str(host) for c in "/@?#") or "://" in str(host):
                    raise ValueError(f"{host!r} is not a host name like auth.example[:443]")
            value = [str(host).lower() for host in value]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        schemes = (
            "redis://",
            "rediss://",
            "redis+unix://",
            "redis+sentinel://",
            "redis+cluster://",
        )
        if value and not value.startswith(schemes):
            raise ValueError("must be a redis:// (or rediss://, redis+unix://, …) URL")
        return value or None
