"""Log lines are JSON, carry the request's facts, and never a secret or a query string."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from antechamber.logs import JsonFormatter
from tests.conftest import Credentials


def test_access_log_has_route_template_and_no_secrets(
    api: TestClient, project: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="antechamber.access")
    api.get("/v1/b2b/organizations/some-org?token=SHOULD-NOT-APPEAR")
    [record] = [r for r in caplog.records if r.name == "antechamber.access"]
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["route"] == "/v1/b2b/organizations/{organization_id}"
    assert entry["status"] == 404
    assert entry["project_id"] == project.project_id
    assert entry["request_id"].startswith("request-id-test-")
    assert isinstance(entry["duration_ms"], float)
    assert "SHOULD-NOT-APPEAR" not in line
    assert project.secret not in line


def test_log_injection_is_escaped() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, 'evil\n{"level": "error"}', (), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["msg"] == 'evil\n{"level": "error"}'


def test_the_json_clock_is_the_records_own_millisecond() -> None:
    """The second's text is kept (lines come many a second); the line's time is still exactly
    what `datetime.fromtimestamp(...).isoformat` writes, next to a second's or a millisecond's
    edge too (where `fromtimestamp` rounds the microsecond half to even)."""
    import random
    from datetime import UTC, datetime

    formatter = JsonFormatter()
    rng = random.Random(21)
    edges = [0.0, 0.0005, 0.9989999, 0.9994999, 0.9995, 0.9999995, 0.999999, 1 - 1e-9]
    for _ in range(50_000):
        second = rng.choice([0, 1_765_000_000, 1_765_000_000 + rng.randrange(10**8)])
        fraction = rng.choice(
            [
                rng.random(),
                rng.randrange(1000) / 1000,
                rng.randrange(1000) / 1000 + 0.0005,
                rng.randrange(10**6) / 1e6 + 5e-7,
                rng.choice(edges),
            ]
        )
        record = logging.LogRecord("x", logging.INFO, "", 0, "m", (), None)
        record.created = second + fraction
        expected = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record))["ts"] == expected, record.created


def test_the_access_record_is_the_one_make_record_makes() -> None:
    """The access line's record, its thread's fields kept for the second, has every field
    `makeRecord` gives, in the same order, with the same values but for its own time."""
    import random
    import threading

    from antechamber import logs

    rng = random.Random(21)
    access = logs.access_log
    for _ in range(2000):
        extra = {
            "method": rng.choice(["GET", "POST"]),
            "route": rng.choice(["/v1/b2b/x", "(unmatched)"]),
            "status": rng.choice([200, 404, 500]),
            "duration_ms": rng.random(),
            "request_id": rng.choice([None, "request-id-1"]),
            "project_id": rng.choice([None, "project-1"]),
        }
        ours = logs._access_record(dict(extra))
        theirs = access.makeRecord(
            access.name, logging.INFO, logs.__file__, 0, "request", (), None, extra=dict(extra)
        )
        assert type(ours) is type(theirs)
        assert list(ours.__dict__) == list(theirs.__dict__)
        timed = ("created", "msecs", "relativeCreated")
        for key, value in theirs.__dict__.items():
            if key not in timed:
                assert ours.__dict__[key] == value, key
        assert abs(ours.created - theirs.created) < 1
        assert ours.msecs == int((ours.created - int(ours.created)) * 1000) + 0.0
        assert ours.relativeCreated == (ours.created - logging._startTime) * 1000  # type: ignore[attr-defined]
        assert ours.threadName == threading.current_thread().name
        assert ours.getMessage() == "request"


def test_the_access_record_honours_a_record_factory() -> None:
    from antechamber import logs

    made = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = made(*args, **kwargs)
        record.tenant = "t"  # type: ignore[attr-defined]
        return record

    logging.setLogRecordFactory(factory)
    try:
        record = logs._access_record({"method": "GET"})
    finally:
        logging.setLogRecordFactory(made)
    assert record.tenant == "t"  # type: ignore[attr-defined]
