"""What an action takes in: the request as a `Call` (cookies, client address) and the body's
fields, parsed and bounded.

Every field is checked here before anything is asked of the server: a required string is
stripped and refused (`Failure(code)`) when missing, too long or carrying control characters
(`text`); a boolean takes JSON's or a form's spellings (`flag`); a phone number becomes E.164
(`phone_number`). The limits (`MAX_*`, `MIN_ORG_NAME`) and the shapes of a texted or app code
(`CODE`) and of a recovery code (`RECOVERY_CODE`) are shared with the pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from antechamber.webapp.errors import Failure

MAX_EMAIL_LENGTH = 254
MAX_TOKEN_LENGTH = 256
MAX_ID_LENGTH = 128
MIN_ORG_NAME, MAX_ORG_NAME = 3, 128
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_NOISE = re.compile(r"[\s().\-]")
CODE = re.compile(r"[0-9]{6}")
#: What a person may type as a recovery code (the server normalises case and dashes).
RECOVERY_CODE = re.compile(r"[A-Za-z0-9 \-]{16,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Call:
    """What an action may know of the request: its cookies and the client's address."""

    cookies: Mapping[str, str]
    client: str = "unknown"


def text(body: Mapping[str, Any], key: str, code: str, *, max_length: int) -> str:
    """A required string field, stripped; `Failure(code)` if missing, not a string, too long or
    carrying control characters."""
    value = body.get(key)
    if not isinstance(value, str):
        raise Failure(code)
    value = value.strip()
    if not value or len(value) > max_length or _CONTROL.search(value):
        raise Failure(code)
    return value


def flag(body: Mapping[str, Any], key: str, code: str, *, default: bool | None = None) -> bool:
    """A boolean field: JSON true/false, or a form's "true"/"false"/"on"/"1"/"0"."""
    value = body.get(key)
    if value is None or value == "":
        if default is None:
            raise Failure(code)
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "0", "no"):
        return False
    raise Failure(code)


def phone_number(raw: str) -> str:
    """E.164 from what a person typed (spaces, dashes, dots and brackets allowed)."""
    value = _PHONE_NOISE.sub("", raw)
    if not _PHONE.fullmatch(value):
        raise Failure("invalid_phone")
    return value
