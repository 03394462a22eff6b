"""The discovery flow through the official Node SDK (stytch 14.x from npm) against a live server.

`scripts/test` runs `npm install` in tests/compat/node; without Node or the installed SDK these
tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from antechamber.services import Services
from tests.compat.conftest import RequestLog
from tests.conftest import Credentials, LiveServer
from tests.factories import CALLBACK_URL, magic_token

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "stytch").is_dir(),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)


def node(live_server: LiveServer, project: Credentials, *args: str) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "STYTCH_BASE_URL": live_server.url,
        "STYTCH_PROJECT_ID": project.project_id,
        "STYTCH_SECRET": project.secret,
    }
    done = subprocess.run(
        [str(NODE), "script.mjs", *args],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_node_discovery_create_session_jwt_revoke(
    live_server: LiveServer, project: Credentials, services: Services, request_log: RequestLog
) -> None:
    sent = node(live_server, project, "send", "grace@acme.example", CALLBACK_URL)
    assert sent == {"status_code": 200}
    result = node(live_server, project, "login", magic_token(services, "grace@acme.example"))
    assert result["email_address"] == "grace@acme.example"
    assert result["member_authenticated"] is True
    assert result["is_admin"] is True
    assert result["intermediate_session_token"] == ""
    assert result["local_member_id"] == result["member_id"]
    assert result["local_organization_id"] == result["organization_id"]
    assert result["local_factors"] == ["magic_link"]
    # authenticateJwt fetched the JWKS and verified offline: no sessions/authenticate fallback
    # between it and the script's own sessions.authenticate calls (before and after revoke).
    assert request_log.order == [
        "magic_links/email/discovery/send",
        "magic_links/discovery/authenticate",
        "discovery/organizations",
        "discovery/organizations/create",
        f"sessions/jwks/{project.project_id}",
        "sessions/authenticate",
        "sessions/revoke",
        "sessions/authenticate",
    ]
    assert result["after_revoke"] == {"status_code": 404, "error_type": "session_not_found"}


def test_node_required_for_all_stops_at_mfa(
    live_server: LiveServer, project: Credentials, services: Services
) -> None:
    node(live_server, project, "send", "grace@acme.example", CALLBACK_URL)
    result = node(live_server, project, "mfa", magic_token(services, "grace@acme.example"))
    assert result["member_authenticated"] is False
    assert result["session_jwt"] == ""
    assert result["session_token"] == ""
    assert result["member_session"] is None
    assert result["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    assert result["ist_is_the_same"] is True
