"""`antechamber redirect-urls …` and `antechamber keys …`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from antechamber.cli import main
from antechamber.cli.context import services as cli_services
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials


@pytest.fixture
def cli(
    settings: Settings, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The CLI on the test database; the demo project is the default project."""
    monkeypatch.setenv("ANTECHAMBER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ANTECHAMBER_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("ANTECHAMBER_STATE_DIR", str(settings.state_dir))
    cli_services.cache_clear()
    yield
    cli_services.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_redirect_urls_add_list_remove(
    cli: None, capsys: pytest.CaptureFixture[str], project: Credentials
) -> None:
    code, out, _ = run(capsys, "redirect-urls", "add", "https://app.example/callback")
    assert code == 0
    assert out.strip() == "discovery  https://app.example/callback  (default)"
    run(
        capsys, "redirect-urls", "add", "https://app.example/other", "--project", project.project_id
    )
    code, out, _ = run(capsys, "redirect-urls", "list", "--json")
    rows = json.loads(out)
    assert [(r["url"], r["is_default"]) for r in rows] == [
        ("https://app.example/callback", True),
        ("https://app.example/other", False),
    ]
    code, out, _ = run(capsys, "redirect-urls", "add", "https://app.example/other", "--default")
    assert "(default)" in out
    code, out, _ = run(capsys, "redirect-urls", "remove", "https://app.example/other")
    assert code == 0
    code, out, _ = run(capsys, "redirect-urls", "list")
    assert out.strip() == "discovery  https://app.example/callback  (default)"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("add", "javascript:alert(1)"), "invalid_redirect_url"),
        (("add", "https://user:pw@app.example/"), "invalid_redirect_url"),
        (("add", "https://app.example/#fragment"), "invalid_redirect_url"),
        (("add", "https://app.example/", "--type", "sso"), "invalid_redirect_url_type"),
        (("remove", "https://never.example/"), "redirect_url_not_found"),
    ],
)
def test_redirect_url_refusals_are_one_line(
    cli: None, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], error: str
) -> None:
    code, _, err = run(capsys, "redirect-urls", *args)
    assert code == 1
    assert err.startswith(f"error: {error}: ")
    assert err.count("\n") == 1


def test_keys_rotate_and_list_show_only_public_facts(
    cli: None, capsys: pytest.CaptureFixture[str], services: Services, project: Credentials
) -> None:
    code, out, _ = run(capsys, "keys", "list", "--json")
    assert code == 0
    [first] = json.loads(out)
    assert first["signing"] is True
    code, out, _ = run(capsys, "keys", "rotate", "--json")
    rotated = json.loads(out)
    assert rotated["retired"] == [first["kid"]]
    code, out, _ = run(capsys, "keys", "list", "--json")
    listed = json.loads(out)
    assert [k["kid"] for k in listed if k["signing"]] == [rotated["kid"]]
    assert {k["kid"] for k in listed} == {first["kid"], rotated["kid"]}
    assert "PRIVATE" not in out
    code, out, _ = run(capsys, "keys", "rotate")
    assert out.startswith("signing with jwk-test-")
