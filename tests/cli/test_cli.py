"""The command line: every command explains itself, failures are one line, data round-trips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer

from antechamber.cli import app as cli_app
from antechamber.cli import context
from tests.cli.conftest import run


def all_commands() -> list[list[str]]:
    root = typer.main.get_command(cli_app)
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "antechamber")
def test_every_command_and_option_has_help(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, *path, "--help")
    assert code == 0
    assert "Usage:" in out
    root = typer.main.get_command(cli_app)
    command = root
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help, f"{path} has no help text"
    for param in command.params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"{path} option {param.name} has no help"


def test_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "orgs", "frobnicate")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_invalid_setting_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTECHAMBER_PORT", "eighty")
    context.services.cache_clear()
    code, _, err = run(capsys, "orgs", "list")
    assert code == 2
    assert "ANTECHAMBER_PORT" in err
    assert err.count("\n") == 1


def test_unmigrated_database_says_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTECHAMBER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    context.services.cache_clear()
    code, _, err = run(capsys, "orgs", "list")
    assert code == 2
    assert "antechamber migrate" in err
    context.services.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_projects_orgs_and_members(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "projects", "create", "Acme", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["project_id"].startswith("project-test-")
    assert created["secret"].startswith("secret-test-")
    pid = created["project_id"]

    code, out, _ = run(capsys, "projects", "list", "--json")
    listed = json.loads(out)
    assert [p["project_id"] for p in listed] == [pid]
    assert created["secret"] not in out  # never shown again

    code, out, _ = run(
        capsys,
        "orgs",
        "create",
        "Acme Co",
        "--mfa-policy",
        "required_for_all",
        "--allowed-domain",
        "acme.example",
        "--email-jit",
        "restricted",
        "--json",
    )
    assert code == 0
    org = json.loads(out)
    assert org["mfa_policy"] == "REQUIRED_FOR_ALL"
    assert org["email_allowed_domains"] == ["acme.example"]

    code, _, err = run(capsys, "orgs", "create", "Webmail", "--allowed-domain", "gmail.com")
    assert code == 1
    assert err.startswith("error: organization_settings_domain_too_common:")

    code, out, _ = run(
        capsys, "members", "create", "acme-co", "Ada@Acme.example", "--admin", "--json"
    )
    member = json.loads(out)
    assert member["email_address"] == "ada@acme.example"
    assert member["is_admin"] is True

    code, out, _ = run(
        capsys,
        "members",
        "update",
        "acme-co",
        "ada@acme.example",
        "--no-admin",
        "--phone",
        "+12025550123",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["is_admin"] is False
    code, _, err = run(capsys, "members", "update", "acme-co", "ada@acme.example", "--no-mfa")
    assert code == 1
    assert "mfa_enrollment_required_by_policy" in err
    code, out, _ = run(
        capsys, "members", "reset-phone", "acme-co", "ada@acme.example", "--yes", "--json"
    )
    assert code == 0
    assert json.loads(out)["mfa_phone_number"] == ""

    code, out, _ = run(capsys, "members", "list", "acme-co")
    assert "ada@acme.example" in out
    code, out, _ = run(capsys, "orgs", "delete", "acme-co", "--yes")
    assert code == 0
    code, _, err = run(capsys, "orgs", "show", "acme-co")
    assert code == 1
    assert "organization_not_found" in err


@pytest.mark.usefixtures("cli_env")
def test_rotate_secret_keeps_old_one_until_revoked(
    capsys: pytest.CaptureFixture[str], client: object
) -> None:
    _, out, _ = run(capsys, "projects", "create", "Acme", "--json")
    first = json.loads(out)
    pid = first["project_id"]
    _, out, _ = run(capsys, "projects", "rotate-secret", pid, "--json")
    second = json.loads(out)
    assert second["secret"] != first["secret"]

    from starlette.testclient import TestClient

    assert isinstance(client, TestClient)
    for secret in (first["secret"], second["secret"]):
        assert (
            client.post("/v1/b2b/organizations/search", json={}, auth=(pid, secret)).status_code
            == 200
        )
    code, _, _ = run(capsys, "projects", "rotate-secret", pid, "--revoke", first["secret_id"])
    assert code == 0
    assert (
        client.post(
            "/v1/b2b/organizations/search", json={}, auth=(pid, first["secret"])
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/v1/b2b/organizations/search", json={}, auth=(pid, second["secret"])
        ).status_code
        == 200
    )


def test_no_project_to_act_on_is_explained(
    capsys: pytest.CaptureFixture[str], cli_env: None
) -> None:
    code, _, err = run(capsys, "orgs", "list")
    assert code == 2
    assert "--project" in err
    assert os.environ["ANTECHAMBER_SECRET_KEY"] == "cli-test-key"
