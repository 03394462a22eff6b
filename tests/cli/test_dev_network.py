"""`antechamber dev` keeps the development inbox on this machine unless told otherwise."""

from __future__ import annotations

import pytest

from antechamber.cli import server
from tests.cli.conftest import run

EVERYWHERE = "0.0.0.0"  # noqa: S104 (the address under test; nothing is bound)


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, int | None]]:
    """Where the server would have been served (nothing is bound)."""
    calls: list[tuple[str | None, int | None]] = []
    # `dev` writes these into os.environ for its workers; monkeypatch takes them back after.
    # (setenv, not delenv: delenv of an unset variable records nothing to undo.)
    monkeypatch.setenv("ANTECHAMBER_DEV", "false")
    monkeypatch.setenv("ANTECHAMBER_PUBLIC_BASE_URL", "http://127.0.0.1:8123")
    monkeypatch.setenv("ANTECHAMBER_HOST", "127.0.0.1")
    monkeypatch.setattr(server, "_run", lambda host, port, workers: calls.append((host, port)))
    return calls


@pytest.mark.parametrize("host", [EVERYWHERE, "::", "192.0.2.10", "my-laptop.example"])
def test_a_network_host_is_refused_without_the_flag(
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
    bound: list[tuple[str | None, int | None]],
    host: str,
) -> None:
    code, _, err = run(capsys, "dev", "--host", host, "--port", "8123")
    assert code != 0
    assert "--allow-network" in err
    assert bound == []


def test_the_host_setting_is_checked_too(
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
    bound: list[tuple[str | None, int | None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTECHAMBER_HOST", EVERYWHERE)
    code, _, err = run(capsys, "dev")
    assert code != 0
    assert "--allow-network" in err
    assert bound == []


def test_the_flag_allows_it_with_a_warning(
    cli_env: None, capsys: pytest.CaptureFixture[str], bound: list[tuple[str | None, int | None]]
) -> None:
    code, _, err = run(capsys, "dev", "--host", EVERYWHERE, "--port", "8123", "--allow-network")
    assert code == 0
    assert "WARNING" in err
    assert "/dev/outbox" in err
    assert bound == [(EVERYWHERE, 8123)]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_flag(
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
    bound: list[tuple[str | None, int | None]],
    host: str,
) -> None:
    code, _, err = run(capsys, "dev", "--host", host, "--port", "8123")
    assert code == 0, err
    assert "WARNING" not in err
    assert bound == [(host, 8123)]
