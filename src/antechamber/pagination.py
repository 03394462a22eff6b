"""Keyset pagination over (created_at, id), with opaque cursors as Stytch's search returns them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

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


def page(
    db: Session,
    base: Select[Any],
    created_col: Any,
    id_col: Any,
    cursor: str | None,
    limit: int | None,
) -> tuple[Sequence[Any], int, str | None]:
    """One page of `base` in (created_at, id) order: the rows, the total, the next cursor."""
    size = checked_limit(limit)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = base.order_by(created_col, id_col).limit(size + 1)
    after = after_cursor(cursor, created_col, id_col)
    if after is not None:
        query = query.where(after)
    rows = db.scalars(query).all()
    if len(rows) <= size:
        return rows, total, None
    rows = rows[:size]
    last = rows[-1]
    return rows, total, encode_cursor(last.created_at, last.id)
