"""SQLite column types with cheaper processors, the same values stored and read.

SQLAlchemy stores a datetime in SQLite as `YYYY-MM-DD HH:MM:SS.ffffff` (its DATETIME's default
`storage_format`, the wall-clock fields, any tzinfo ignored), formatted with a `%` of a dict
of seven attributes per value. A login binds some forty datetimes; `datetime.isoformat` (C)
writes exactly that text for a plain `datetime` once its tzinfo is dropped: a four-digit
zero-padded year, `sep=" "`, and always six digits of microseconds with `timespec=
"microseconds"`. So stored strings compare and sort exactly as before, and reading them back is
SQLAlchemy's own result processor, unchanged.

Anything else (None, a `date`, a datetime subclass, a custom `storage_format`) goes to
SQLAlchemy's own processor.

A JSON column's text is read by three nested functions (SQLite's JSON processor catching a
number, SQL's JSON processor skipping None, then the engine's deserializer) and a login reads
some forty-five values; `FastSQLiteJSON` hands a `str` straight to the engine's deserializer
(what those two do with one, as SQLite's driver gives text no string processing) and anything
else (None, a number from a JSON expression) to SQLAlchemy's own.

`make_engine` installs both for SQLite engines through the dialect's `colspecs` (the public
map from generic types to the dialect's own), so every DateTime and JSON column uses them, in
the ORM as in `statements`' plans.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.dialects.sqlite.base import _SQliteJson
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import sqltypes

_DEFAULT_FORMAT = DATETIME._storage_format


class FastDATETIME(DATETIME):
    """SQLite's DATETIME, its bind processor by `isoformat` for the default storage format."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        slow = super().bind_processor(dialect)
        if self._storage_format != _DEFAULT_FORMAT or slow is None:
            return slow

        def process(value: Any) -> Any:
            if type(value) is datetime:
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            return slow(value)

        return process


class FastSQLiteJSON(_SQliteJson):
    """SQLite's JSON, its result processor one call to the engine's deserializer for text,
    when the driver's text needs no processing (as with SQLite's own driver)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        slow: Callable[[Any], Any] | None = super().result_processor(  # type: ignore[no-untyped-call]
            dialect, coltype
        )
        if slow is None or sqltypes.String().result_processor(dialect, coltype) is not None:
            return slow
        # SQLAlchemy's JSON type reads the same attribute, with the same default.
        loads = getattr(dialect, "_json_deserializer", None) or json.loads

        def process(value: Any) -> Any:
            if type(value) is str:
                return loads(value)
            return slow(value)

        return process


def colspecs(base: Mapping[Any, Any]) -> dict[Any, Any]:
    """The SQLite dialect's `colspecs` with DateTime as `FastDATETIME` and JSON as
    `FastSQLiteJSON`; each left as it is if this SQLAlchemy maps it to another class."""
    out = dict(base)
    if out.get(sqltypes.DateTime) is DATETIME:
        out[sqltypes.DateTime] = FastDATETIME
    if out.get(sqltypes.JSON) is _SQliteJson:
        out[sqltypes.JSON] = FastSQLiteJSON
    return out
