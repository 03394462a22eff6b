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


# A random hex digit as the RFC 4122 variant digit: its two low bits kept, the top two 10.
_VARIANT = {f"{n:x}": f"{(n & 3) | 8:x}" for n in range(16)}


def _refill() -> None:
    text = os.urandom(16 * _BATCH).hex()
    variant = _VARIANT
    # The digit at 12 is the version (4), the one at 16 the variant; the rest stays random
    # (122 random bits, as uuid4). Popped from the end: the order within a batch is no matter.
    _pool.extend(
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-4{text[i + 13 : i + 16]}-"
        f"{variant[text[i + 16]]}{text[i + 17 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * _BATCH, 32)
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
