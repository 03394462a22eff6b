"""Settings: the reference app at /."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from antechamber.settings.group import Group


class WebappSettings(Group):
    """The reference app at /."""

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

    @field_validator("webapp_public_url")
    @classmethod
    def _webapp_public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(f"{value!r} is not a URL like https://app.example")
        return value.rstrip("/")

    @field_validator("webapp_cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
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
