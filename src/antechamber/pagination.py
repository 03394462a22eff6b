"""Keyset pagination over (created_at, id), with opaque cursors as Stytch's search returns them."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from antechamber.errors import BadRequest

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class InvalidCursor(BadRequest):
    error_type = "invalid_search_cursor"
    default_message = "The cursor is not one this server returned."


class InvalidLimit(BadRequest):
    error_type = "invalid_limit"
    default_message = f"limit must be between 1 and {MAX_LIMIT}."


def encode_cursor(created_at: datetime, object_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), object_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def after_cursor(cursor: str | None, created_col: Any, id_col: Any) -> ColumnElement[bool] | None:
    """The condition selecting rows after `cursor`, or None for the first page."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_raw, object_id = json.loads(base64.urlsafe_b64decode(padded))
        created = datetime.fromisoformat(created_raw)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidCursor() from None
    return or_(created_col > created, and_(created_col == created, id_col > object_id))


def checked_limit(limit: int | None) -> int:
    if limit is None or limit == 0:
        return DEFAULT_LIMIT
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidLimit()
    return limit
