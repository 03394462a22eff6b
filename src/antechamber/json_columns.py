"""How JSON columns are written and read: orjson, with the standard library where orjson differs.

The engine (`db.make_engine`, SQLite and PostgreSQL alike) encodes and decodes every JSON column
with these two functions, about four times cheaper than `json` (a login decodes some twenty
values and encodes a handful).

Contract:
- `dumps` returns text (SQLAlchemy binds it as a string on SQLite; psycopg encodes it). The text
  is compact UTF-8 JSON, keys in the order given: `{"a":1,"é":[]}`, where `json.dumps` wrote
  `{"a": 1, "\\u00e9": []}`. Rows written before keep their spelling, so anything that matches
  the stored text (`members.service`'s role filter) must accept both spellings.
- What orjson refuses is written by `json.dumps` as before: integers past 64 bits (custom claims
  may hold them), keys that are not strings, lone surrogates. NaN and infinities would be
  written `null`, as the API's answers write them (`api.envelope`); the API refuses them at the
  door (`api.guard`) and nothing else makes them.
- `loads` gives what `json.loads` gives, for every text either encoder wrote: orjson would read
  an integer past 64 bits as a float, so a text with a run of 19 or more digits (in a number or
  not) is read by `json.loads`, as is any text orjson refuses (`NaN`, lone surrogates).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every byte but an ASCII digit becomes a space: a long run of digits is then a run of "9"s.
_DIGITS_ONLY = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"9" * 19  # the shortest integer literal that may not fit 64 bits


def dumps(value: Any) -> str:
    """`value` as JSON text (module docstring)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    """The value of JSON `text` (str from SQLite, bytes from psycopg), as `json.loads`."""
    if len(text) >= len(_LONG_RUN):
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        if _LONG_RUN in raw.translate(_DIGITS_ONLY):
            return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def loads_buffer(data: bytes | memoryview) -> Any:
    """`loads` of a buffer, as psycopg hands its loaders one (a memoryview of the result): the
    same value. A text too short to hold a long run of digits goes to orjson as it is (orjson
    reads a memoryview as the bytes it views); anything else, or a text orjson refuses, is
    `loads`' of the bytes."""
    if len(data) < len(_LONG_RUN):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return loads(bytes(data))
