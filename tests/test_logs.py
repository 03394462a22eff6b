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
