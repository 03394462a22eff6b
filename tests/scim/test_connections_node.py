"""SCIM connection management through the official Node SDK (stytch 14.x from npm).

`scripts/test` runs `npm install` in tests/compat/node; without Node or the installed SDK these
tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from antechamber.organizations.models import Organization
from tests.conftest import Credentials, LiveServer

NODE_DIR = Path(__file__).parents[1] / "compat" / "node"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "stytch").is_dir(),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)


def test_node_sdk_manages_a_connection_and_rotates_its_token(
    live_server: LiveServer, project: Credentials, acme: Organization
) -> None:
    done = subprocess.run(
        [str(NODE), "scim.mjs", acme.id],
        cwd=NODE_DIR,
        env={
            "PATH": os.environ.get("PATH", ""),
            "STYTCH_BASE_URL": live_server.url,
            "STYTCH_PROJECT_ID": project.project_id,
            "STYTCH_SECRET": project.secret,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    token, new = result["bearer_token"], result["next_bearer_token"]
    assert result["created_status"] == 200
    assert len(token) >= 43
    assert result["last_four"] == token[-4:]
    assert result["next_last_four_before"] == ""
    assert result["last_four_after"] == new[-4:]
    assert result["not_rotating"] == {
        "status_code": 400,
        "error_type": "scim_connection_not_rotating_token",
    }
    assert result["display_name"] == "Okta"
    assert result["groups"] == 0
    assert result["deleted"] is True
    assert result["gone"] is None
    path = httpx.URL(result["base_url"]).path
    assert path.startswith("/v1/b2b/scim/scim-connection-test-")
    r = httpx.get(f"{live_server.url}{path}/Users", headers={"Authorization": f"Bearer {new}"})
    assert r.status_code == 401  # the connection is gone
