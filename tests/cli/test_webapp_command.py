"""`antechamber webapp`: refuses incomplete settings in one line, before binding anything.
(Serving, through the SDK against a live server, is exercised by tests/e2e.)"""

from __future__ import annotations

import pytest

from tests.cli.conftest import run


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--backend", "nope"], "--backend must be one of inprocess, stytch"),
        (["--backend", "stytch"], "--backend stytch needs --base-url, --project-id and --secret"),
        (["--backend", "stytch", "--base-url", "http://127.0.0.1:1"], "needs --base-url"),
        (["--public-url", "ftp://x"], "--public-url must start with http"),
        (["--project-id", "project-test-nope"], "project"),
    ],
)
def test_incomplete_settings_are_one_line(
    cli_env: None, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, _, err = run(capsys, "webapp", *args)
    assert code in (1, 2)
    assert words in err
    assert err.count("\n") == 1


def test_the_stytch_backend_reads_the_tutorials_variables(
    cli_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STYTCH_PROJECT_ID", "project-test-x")
    monkeypatch.setenv("STYTCH_SECRET", "secret-test-x")
    code, _, err = run(capsys, "webapp", "--backend", "stytch")
    assert code == 2
    assert "--base-url" in err
