"""A command whose database cannot be reached says so in one line (a supervisor's log shows
why `antechamber worker` did not start), not with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run


@pytest.mark.parametrize("command", [["worker", "--once"], ["outbox"], ["orgs", "list"]])
def test_an_unreachable_database_is_one_line(
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: list[str],
) -> None:
    monkeypatch.setenv("ANTECHAMBER_DATABASE_URL", f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    code, _, err = run(capsys, *command)
    assert code == 2
    assert err.startswith("error: the database cannot be reached: ")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
