"""Identifiers in Stytch's formats (stytch-b2b-api.md §2.4): `<kind>-<environment>-<uuid4>`."""

from __future__ import annotations

import uuid
from typing import Literal

Environment = Literal["test", "live"]


def new_id(kind: str, environment: Environment) -> str:
    return f"{kind}-{environment}-{uuid.uuid4()}"


def environment_of(object_id: str) -> Environment:
    """The environment encoded in an id made by `new_id` (`project-live-…` → live)."""
    return "live" if "-live-" in object_id else "test"


def request_id(environment: Environment = "test") -> str:
    return new_id("request-id", environment)
