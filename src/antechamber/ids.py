"""Identifiers in Stytch's formats (stytch-b2b-api.md §2.4): `<kind>-<environment>-<uuid4>`."""

from __future__ import annotations

import os
from typing import Literal

Environment = Literal["test", "live"]


def uuid4() -> str:
    """`str(uuid.uuid4())`, the same 122 random bits from `os.urandom` in the same canonical
    spelling (version 4, RFC 4122 variant), written from the bytes' hex: a login makes some ten
    ids, and `uuid.UUID` (an int built from the bytes, checked, bit-masked and formatted back)
    cost four times as much."""
    h = os.urandom(16).hex()
    # Version nibble 4; variant: the top two bits of the 17th nibble are 10 (8, 9, a or b).
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {f"{n:x}": f"{8 | (n & 3):x}" for n in range(16)}


def new_id(kind: str, environment: Environment) -> str:
    return f"{kind}-{environment}-{uuid4()}"


def environment_of(object_id: str) -> Environment:
    """The environment encoded in an id made by `new_id` (`project-live-…` → live)."""
    return "live" if "-live-" in object_id else "test"


def request_id(environment: Environment = "test") -> str:
    return new_id("request-id", environment)
