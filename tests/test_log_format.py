"""ANTECHAMBER_LOG_FORMAT: short readable lines for a person (the default in development),
JSON for a pipeline (the default otherwise); no terminal colour codes in either."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from antechamber.logs import JsonFormatter, TextFormatter
from antechamber.settings import SettingsError, load_settings
from tests.cli.test_dev_server import _free_port, _start, _stop

ANSI_MESSAGE = "Uvicorn running on \x1b[1mhttp://127.0.0.1:8000\x1b[0m"


def _record(name: str, msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, "", 0, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_the_default_follows_the_mode() -> None:
    assert load_settings(_env_file=None, dev=True).effective_log_format == "text"
    assert load_settings(_env_file=None).effective_log_format == "json"
    assert load_settings(_env_file=None, dev=True, log_format="json").effective_log_format == "json"
    with pytest.raises(SettingsError, match="ANTECHAMBER_LOG_FORMAT"):
        load_settings(_env_file=None, log_format="xml")


def test_json_lines_carry_no_colour_codes() -> None:
    record = _record(
        "uvicorn.error", "Uvicorn running on http://127.0.0.1:8000", color_message=ANSI_MESSAGE
    )
    line = JsonFormatter().format(record)
    assert "\x1b" not in line
    assert "\\u001b" not in line
    assert "color_message" not in json.loads(line)


def test_text_lines_are_short_and_plain() -> None:
    access = _record(
        "antechamber.access",
        "request",
        method="POST",
        route="/v1/b2b/organizations",
        status=200,
        duration_ms=3.25,
        request_id="request-id-1",
        project_id=None,
    )
    line = TextFormatter().format(access)
    assert line.endswith("INFO    POST /v1/b2b/organizations 200 3.25ms request_id=request-id-1")
    assert "{" not in line
    started = TextFormatter().format(_record("uvicorn.error", ANSI_MESSAGE))
    assert "\x1b" not in started
    assert started.endswith("Uvicorn running on http://127.0.0.1:8000")


def test_text_lines_cannot_be_forged() -> None:
    line = TextFormatter().format(_record("antechamber.x", "evil\n12:00:00 ERROR   forged"))
    assert "\n" not in line
    assert "evil\\n12:00:00" in line


def test_the_dev_server_prints_text(tmp_path: Path) -> None:
    """What a person sees in the terminal of `antechamber dev`: readable lines, no JSON."""
    port = _free_port()
    proc, _, _ = _start(tmp_path, port)
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        _stop(proc)
    assert proc.stdout is not None
    output = proc.stdout.read()
    assert "GET /healthz 200" in output
    assert '{"ts"' not in output
    assert "\x1b" not in output


def test_the_text_clock_is_the_records_own_second() -> None:
    """The clock text is kept for the second it was made in (lines come many a second), and is
    the record's own: the same as `datetime.fromtimestamp` shows, next to a second's edge too."""
    from datetime import datetime

    formatter = TextFormatter()
    base = 1_765_000_000
    for created in (
        base + 0.0,
        base + 0.5,
        base + 0.5,
        base + 0.9989,
        base + 0.9995,
        base + 0.9999996,
        base + 1.0,
        base - 3599.25,
        base + 0.25,
    ):
        record = _record("antechamber.x", "hello")
        record.created = created
        expected = datetime.fromtimestamp(created).strftime("%H:%M:%S")
        assert formatter.format(record).startswith(expected + " INFO"), created
