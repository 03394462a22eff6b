"""`antechamber scim …`: create (token shown once), show, rotate, requests, delete."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.cli.conftest import cli_env, run
from tests.scim.conftest import Connection, Scim

__all__ = ["cli_env"]
pytestmark = pytest.mark.usefixtures("cli_env")


def test_create_show_rotate_requests_delete(
    capsys: pytest.CaptureFixture[str], client: TestClient
) -> None:
    run(capsys, "projects", "create", "Acme", "--json")
    run(capsys, "orgs", "create", "Acme Co", "--slug", "acme")
    code, out, _ = run(
        capsys, "scim", "create", "acme", "--identity-provider", "okta", "--display-name", "Okta"
    )
    assert code == 0
    assert "bearer token (shown once): " in out
    token = out.split("bearer token (shown once): ")[1].strip()
    assert token[-4:] in out

    code, out, _ = run(capsys, "scim", "show", "acme", "--json")
    shown = json.loads(out)
    assert shown["bearer_token_last_four"] == token[-4:]
    assert "bearer_token" not in shown
    assert token not in out

    connection = Connection(
        shown["connection_id"], shown["organization_id"], token, shown["base_url"]
    )
    scim = Scim(client, connection)
    scim.create_user("ada@acme.example")
    assert scim.get("/Users/nope").status_code == 404

    code, out, _ = run(capsys, "scim", "requests", "acme", "--json")
    outcomes = [(r["operation"], r["status"]) for r in json.loads(out)]
    assert outcomes == [("GET /Users/{id}", 404), ("POST /Users", 201)]
    assert "ada@acme.example" not in out
    _, text, _ = run(capsys, "scim", "requests", "acme")
    assert "404" in text
    assert "GET /Users/{id}" in text

    code, out, _ = run(capsys, "scim", "rotate", "acme", "start", "--json")
    new = json.loads(out)["next_bearer_token"]
    assert Scim(client, connection, token=new).get("/Users").status_code == 200
    code, out, _ = run(capsys, "scim", "rotate", "acme", "complete", "--json")
    assert json.loads(out)["bearer_token_last_four"] == new[-4:]
    assert scim.get("/Users").status_code == 401
    code, _, err = run(capsys, "scim", "rotate", "acme", "cancel")
    assert code == 1
    assert "scim_connection_not_rotating_token" in err

    code, out, _ = run(capsys, "scim", "delete", "acme", "--yes", "--json")
    assert json.loads(out) == {"connection_id": shown["connection_id"]}
    _, out, _ = run(capsys, "scim", "show", "acme")
    assert out.strip() == "no SCIM connection"
