"""CLI fixtures: commands run in-process against the test database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from antechamber.cli import context, main


@pytest.fixture
def cli_env(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Run commands against the test database, from an empty working directory. Commands that
    configure logging point the root logger at this test's captured stderr; it is put back
    afterwards, or later tests' servers would log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTECHAMBER_DATABASE_URL", database_url)
    monkeypatch.setenv("ANTECHAMBER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ANTECHAMBER_SECRET_KEY", "cli-test-key")
    context.services.cache_clear()
    yield
    context.services.cache_clear()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
