"""`antechamber outbox` and `antechamber worker`."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import antechamber
from antechamber.cli import main
from antechamber.cli.context import services as cli_services
from antechamber.delivery import outbox
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.delivery.conftest import magic_link, services_with, sms_code


@pytest.fixture
def cli_env(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    env = {
        "ANTECHAMBER_DATABASE_URL": settings.database_url,
        "ANTECHAMBER_SECRET_KEY": settings.key_bytes().decode(),
        "ANTECHAMBER_STATE_DIR": str(settings.state_dir),
        "ANTECHAMBER_PUBLIC_BASE_URL": settings.public_base_url,
        "ANTECHAMBER_DEV": "true",
    }
    for name in [k for k in os.environ if k.startswith("ANTECHAMBER_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    cli_services.cache_clear()
    yield env
    cli_services.cache_clear()


def test_outbox_shows_links_and_codes_newest_first(
    cli_env: dict[str, str],
    services: Services,
    project: Credentials,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = magic_link(services, project.project_id, "ada@acme.example")
    services.clock.advance(seconds=1)  # type: ignore[attr-defined]
    sms_code(services, project.project_id, "+12025550123", code="482913")
    assert main(["outbox"]) == 0
    out = capsys.readouterr().out
    assert out.index("+12025550123") < out.index("ada@acme.example")
    assert f"Link:    {url}" in out
    assert "Code:    482913" in out
    assert "Subject: Sign in to Antechamber" in out


def test_outbox_json_for_one_recipient(
    cli_env: dict[str, str],
    services: Services,
    project: Credentials,
    capsys: pytest.CaptureFixture[str],
) -> None:
    magic_link(services, project.project_id, "ada@acme.example", token="for-ada")
    magic_link(services, project.project_id, "bob@acme.example")
    assert main(["outbox", "--json", "--to", "ADA@Acme.example"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["recipient"] == "ada@acme.example"
    assert entry["url"].endswith("token=for-ada")
    assert entry["status"] == "pending"
    assert entry["channel"] == "email"


def test_outside_development_a_provider_channel_shows_status_only(
    cli_env: dict[str, str],
    settings: Settings,
    services: Services,
    project: Credentials,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    magic_link(services, project.project_id, "ada@acme.example", token="hidden")
    sms_code(services, project.project_id, code="777777")
    monkeypatch.setenv("ANTECHAMBER_DEV", "false")
    monkeypatch.setenv("ANTECHAMBER_SMTP_HOST", "mail.acme.example")
    cli_services.cache_clear()
    assert main(["outbox", "--json"]) == 0
    entries = {e["channel"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["email"]["readable"] is False
    assert entries["email"]["url"] is None
    assert entries["sms"]["code"] == "777777"  # no SMS provider: the inbox is the only copy


def test_worker_once_in_development_mode(
    cli_env: dict[str, str],
    services: Services,
    project: Credentials,
    capsys: pytest.CaptureFixture[str],
) -> None:
    magic_link(services, project.project_id)
    sms_code(services, project.project_id)
    assert main(["worker", "--once"]) == 0
    assert "delivered 2 message(s)" in capsys.readouterr().out
    with services.sessions() as session:
        assert {(m.status, m.delivered_via) for m in outbox.recent(session)} == {("sent", "inbox")}


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outbox", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--follow", "--to", "--json", "--limit"):
        assert option in text
    assert main(["worker", "--help"]) == 0
    assert "--once" in capsys.readouterr().out


def read_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            return proc.stdout.readline()
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read() if proc.stderr else "exited")
    raise AssertionError("no output")


def test_follow_prints_new_messages_as_they_arrive(
    cli_env: dict[str, str],
    settings: Settings,
    engine,  # type: ignore[no-untyped-def]
    clock,  # type: ignore[no-untyped-def]
    project: Credentials,
    tmp_path: Path,
) -> None:
    services = services_with(settings, engine, clock, dev=True)
    magic_link(services, project.project_id, "ada@acme.example")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")},
        **cli_env,
        "PYTHONPATH": str(Path(antechamber.__file__).resolve().parent.parent),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "antechamber", "outbox", "--follow", "--json", "--interval", "0.05"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(read_line(proc))["recipient"] == "ada@acme.example"
        clock.advance(seconds=1)
        sms_code(services, project.project_id, "+12025550123", code="246810")
        second = json.loads(read_line(proc))
        assert (second["recipient"], second["code"]) == ("+12025550123", "246810")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
