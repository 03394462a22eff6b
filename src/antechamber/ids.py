"""Identifiers in Stytch's formats (stytch-b2b-api.md §2.4): `<kind>-<environment>-<uuid4>`."""

from __future__ import annotations

import os
from typing import Literal

Environment = Literal["test", "live"]

# Random bytes for this many ids are read at once: one getrandom() and one `hex()` per batch
# instead of `uuid.uuid4()`'s per id (a syscall, a UUID object and its formatting; ~1.5% of a
# login's CPU). The bytes are the kernel's CSPRNG's, as `uuid4`'s are; only the batching
# differs. A child process made by fork() drops the batch it inherited (see the end), so no two
# processes ever hand out the same ids.
_BATCH = 128
_pool: list[str] = []


def _refill() -> None:
    raw = bytearray(os.urandom(16 * _BATCH))
    for i in range(6, len(raw), 16):
        raw[i] = (raw[i] & 0x0F) | 0x40  # version 4
        raw[i + 2] = (raw[i + 2] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    # popped from the end: the order within a batch does not matter
    _pool.extend(
        f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        for h in (text[i : i + 32] for i in range(0, len(text), 32))
    )


def uuid4_text() -> str:
    """A random UUID (version 4) in its canonical text, as `str(uuid.uuid4())`."""
    if not _pool:
        _refill()
    return _pool.pop()


def new_id(kind: str, environment: Environment) -> str:
    return f"{kind}-{environment}-{uuid4_text()}"


def environment_of(object_id: str) -> Environment:
    """The environment encoded in an id made by `new_id` (`project-live-…` → live)."""
    return "live" if "-live-" in object_id else "test"


def request_id(environment: Environment = "test") -> str:
    return new_id("request-id", environment)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.clear)
