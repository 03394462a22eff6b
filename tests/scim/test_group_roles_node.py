"""SCIM connection management with a member's session through the official Node SDK (stytch
14.x): `options.authorization` is honoured, `stytch.scim` decides.

`scripts/test` runs `npm install` in tests/compat/node; without Node or the installed SDK this
test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.rbac.helpers import person

NODE_DIR = Path(__file__).parents[1] / "compat" / "node"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "stytch").is_dir(),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)


def test_node_sdk_member_sessions_on_scim_calls(
    live_server: LiveServer, services: Services, project: Credentials, acme: Organization
) -> None:
    _, plain_token, _ = person(services, project.project_id, acme, "pat@acme.example")
    _, _, admin_jwt = person(services, project.project_id, acme, "al@acme.example", "stytch_admin")
    done = subprocess.run(
        [str(NODE), "scim_rbac.mjs", acme.id, plain_token, admin_jwt],
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
    refused = {"status_code": 403, "error_type": "session_authorization_error"}
    assert result["plain"] == {
        "create": refused,
        "get": refused,
        "update": refused,
        "rotate_start": refused,
        "delete": refused,
    }
    assert result["admin"] == {
        "created": True,
        "got": True,
        "groups": 0,
        "display_name": "Okta (admin)",
        "next_token": True,
        "cancelled": "",
        "deleted": True,
    }
