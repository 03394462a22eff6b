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
