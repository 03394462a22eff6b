"""Per-call shortcuts with results identical to the library's own: SQLite's datetime text
and JSON values (`sqlite_types`) and Stytch's timestamps (`clock.rfc3339`)."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.dialects.sqlite.base import _SQliteJson

from antechamber import db
from antechamber.clock import rfc3339
from antechamber.sqlite_types import FastDATETIME, FastSQLiteJSON


def _datetimes(n: int) -> list[object]:
    rng = random.Random(21)
    zones = [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    out: list[object] = [
        datetime(1, 1, 1),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        datetime(2026, 12, 6, 20, 0, 0),
        datetime(2026, 12, 6, 20, 0, 0, 1, tzinfo=zones[2]),
    ]
    for _ in range(n):
        out.append(
            datetime(
                rng.randint(1, 9999),
                rng.randint(1, 12),
                rng.randint(1, 28),
                rng.randint(0, 23),
                rng.randint(0, 59),
                rng.randint(0, 59),
                rng.choice([0, rng.randint(0, 999999)]),
                tzinfo=rng.choice(zones),
            )
        )
    return out


def test_sqlite_datetime_binds_the_same_text() -> None:
    engine = db.make_engine("sqlite://")
    impl = DateTime(timezone=True).dialect_impl(engine.dialect)
    assert type(impl) is FastDATETIME  # the fast processor is the one the engine uses
    fast = impl.bind_processor(engine.dialect)
    slow = DATETIME().bind_processor(engine.dialect)
    assert fast is not None
    assert slow is not None
    for value in [*_datetimes(20000), date(2020, 2, 3), None]:
        assert fast(value) == slow(value), value
    assert fast(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05.000000"


def test_sqlite_datetime_keeps_a_custom_storage_format() -> None:
    engine = db.make_engine("sqlite://")
    custom = FastDATETIME(storage_format="%(year)04d/%(month)02d/%(day)02d")
    process = custom.bind_processor(engine.dialect)
    assert process is not None
    assert process(datetime(2026, 1, 2, 3, 4)) == "2026/01/02"


def test_rfc3339_as_fields_formatted_by_hand() -> None:
    for value in _datetimes(20000):
        assert isinstance(value, datetime)
        v = value.astimezone(UTC) if value.tzinfo not in (None, UTC) else value
        expected = (
            f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}Z"
        )
        assert rfc3339(value) == expected, value
    assert rfc3339(None) is None


def test_sqlite_json_reads_the_same_values() -> None:
    engine = db.make_engine("sqlite://")
    impl = JSON().dialect_impl(engine.dialect)
    assert type(impl) is FastSQLiteJSON  # the fast processor is the one the engine uses
    fast = impl.result_processor(engine.dialect, None)
    slow = _SQliteJson().result_processor(engine.dialect, None)
    assert fast is not None
    assert slow is not None
    assert fast.__qualname__.startswith("FastSQLiteJSON")
    texts: list[object] = [
        "[]",
        "{}",
        "null",
        '["sms","totp"]',
        '{"a": [1, true, null], "\\u00e9": "x"}',
        '{"n":123456789012345678901234567890}',
        '"\\ud800"',
        "1.5",
        None,
        7,
        2.5,
    ]
    for text in texts:
        assert fast(text) == slow(text), text
    with pytest.raises(ValueError, match="Expecting"):
        fast("[1,")


def test_sqlite_json_reads_with_the_engines_deserializer() -> None:
    seen: list[str] = []

    def loads(text: str) -> object:
        seen.append(text)
        return json.loads(text)

    engine = db.make_engine("sqlite://", json_deserializer=loads)
    processor = JSON().dialect_impl(engine.dialect).result_processor(engine.dialect, None)
    assert processor is not None
    assert processor('{"a":1}') == {"a": 1}
    assert seen == ['{"a":1}']
