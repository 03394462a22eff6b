"""`antechamber rbac show|import`: the policy from the command line, checked and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.rbac.helpers import DOCUMENTS_POLICY

pytestmark = pytest.mark.usefixtures("cli_env")


def _project(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(capsys, "projects", "create", "Acme", "--json")
    assert code == 0
    return str(json.loads(out)["project_id"])


def test_show_import_and_show_again(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pid = _project(capsys)
    code, out, _ = run(capsys, "rbac", "show", "-p", pid)
    assert code == 0
    assert "stytch_admin" in out
    assert "stytch.member: " in out

    file = tmp_path / "policy.json"
    # The API's answer, saved as is, imports too.
    file.write_text(json.dumps({"status_code": 200, "policy": DOCUMENTS_POLICY}))
    code, out, err = run(capsys, "rbac", "import", str(file), "-p", pid)
    assert code == 0, err
    assert "3 roles" in out
    code, out, _ = run(capsys, "rbac", "show", "-p", pid, "--json")
    shown = json.loads(out)
    assert [r["role_id"] for r in shown["roles"]] == ["stytch_member", "stytch_admin", "reader"]
    code, out, _ = run(capsys, "audit", "list", "-p", pid, "--json")
    assert "rbac.policy_updated" in out


def test_an_invalid_file_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pid = _project(capsys)
    file = tmp_path / "policy.json"
    file.write_text(json.dumps({"roles": [], "resources": []}))
    code, _, err = run(capsys, "rbac", "import", str(file), "-p", pid)
    assert code == 1
    assert err.startswith("error: invalid_rbac_policy: The default roles cannot be removed")
    file.write_text("{not json")
    code, _, err = run(capsys, "rbac", "import", str(file), "-p", pid)
    assert code == 2
    assert "is not JSON" in err
    code, out, _ = run(capsys, "rbac", "show", "-p", pid, "--json")
    assert [r["role_id"] for r in json.loads(out)["roles"]] == ["stytch_member", "stytch_admin"]
