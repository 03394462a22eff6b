"""Free text from outside: the one rule every store can keep.

PostgreSQL refuses the NUL character in text (and `\\u0000` in JSON); SQLite stores it. So a
value holding NUL is refused before it reaches either, with the one error below, and the
database never decides what a client sees.
"""

from __future__ import annotations

from typing import Any

from antechamber.errors import InvalidArgument

NUL_MESSAGE = "A value in the request contains characters that are not allowed."


class NulCharacter(InvalidArgument):
    """A NUL character in a request value (`invalid_argument`, as a value PostgreSQL refuses)."""

    default_message = NUL_MESSAGE


def has_nul(value: Any) -> bool:
    """Whether a string, or any key or value of a JSON-like structure, holds a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


def refuse_nul(value: Any) -> None:
    """Raise `NulCharacter` if `value` holds a NUL anywhere."""
    if has_nul(value):
        raise NulCharacter()
