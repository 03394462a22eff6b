"""Stytch's metadata semantics: an update replaces top-level keys; a key set to null is deleted."""

from __future__ import annotations

import json
from typing import Any

from antechamber.errors import InvalidArgument, MetadataTooLarge

MAX_METADATA_BYTES = 4096


def checked(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be a JSON object.")
    if len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise MetadataTooLarge(f"{field} is limited to {MAX_METADATA_BYTES} bytes of JSON.")
    return value


def merged(current: dict[str, Any], changes: Any, field: str) -> dict[str, Any]:
    result = {**current}
    for key, value in checked(changes, field).items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return checked(result, field)
