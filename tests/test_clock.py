"""`clock.rfc3339`: a naive time formatted again (from its memo) reads as the first time, and as
an aware time with the same fields in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from antechamber import clock
from antechamber.clock import rfc3339


@settings(max_examples=2000, deadline=None)
@given(value=st.datetimes(), offset=st.integers(min_value=-23 * 60, max_value=23 * 60))
def test_rfc3339_of_a_naive_time_again_and_aware(value: datetime, offset: int) -> None:
    first = rfc3339(value)
    assert first == rfc3339(value.replace())  # an equal object: from the memo
    assert first == rfc3339(value)
    assert first == rfc3339(value.replace(tzinfo=UTC))
    assert first == f"{value:%Y-%m-%dT%H:%M:%S}Z" or value.year < 1000
    shifted = value.replace(tzinfo=UTC)
    try:
        local = shifted.astimezone(timezone(timedelta(minutes=offset)))
    except OverflowError:
        return
    assert rfc3339(local) == first


def test_the_memo_stays_bounded() -> None:
    start = datetime(2026, 1, 1)
    for n in range(clock._FORMATTED_KEPT + 10):
        assert rfc3339(start + timedelta(seconds=n)) is not None
    assert len(clock._formatted) <= clock._FORMATTED_KEPT
    assert rfc3339(start) == "2026-01-01T00:00:00Z"


@settings(max_examples=500, deadline=None)
@given(value=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30)))
def test_rfc3339_of_postgresql_zones(value: datetime) -> None:
    """PostgreSQL's times come in the connection's zone, `Etc/UTC` a `ZoneInfo` of offset zero
    (memoised beside the naive times) or another zone (converted): each reads as the naive
    time's text, whichever of them was formatted first."""
    from zoneinfo import ZoneInfo

    expected = value.isoformat("T", "seconds") + "Z"
    pg_utc = value.replace(tzinfo=ZoneInfo("Etc/UTC"))
    paris = value.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    for first in (pg_utc, paris, value):
        clock._formatted.clear()
        assert rfc3339(first) == expected
        assert rfc3339(pg_utc) == expected
        assert rfc3339(paris) == expected
        assert rfc3339(value) == expected
        assert rfc3339(value.replace(tzinfo=UTC)) == expected
