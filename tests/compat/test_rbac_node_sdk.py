"""RBAC through the official Node SDK (stytch 14.x) against a live server.

Node's `authenticateJwt` checks locally and, on any local failure (denied, tenancy), retries on
the server: a denial arrives as the server's 403 (stytch-b2b-api-more.md §5.6).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.compat.conftest import RequestLog
from tests.conftest import Credentials, LiveServer
from tests.factories import make_org
from tests.rbac.helpers import DOCUMENTS_POLICY, person, set_policy

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
SESSION_AUTHENTICATE = "/v1/b2b/sessions/authenticate"

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "stytch").is_dir(),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)
EDITOR = {
    "role_id": "editor",
    "description": "Writes documents",
    "permissions": [{"resource_id": "documents", "actions": ["read", "write"]}],
}


def node(live_server: LiveServer, project: Credentials, command: str, **args: Any) -> Any:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "STYTCH_BASE_URL": live_server.url,
        "STYTCH_PROJECT_ID": project.project_id,
        "STYTCH_SECRET": project.secret,
    }
    done = subprocess.run(
        [str(NODE), "rbac.mjs", command, json.dumps(args)],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_node_policy_org_policy_and_checks(
    live_server: LiveServer,
    project: Credentials,
    services: Services,
    acme: Organization,
    request_log: RequestLog,
) -> None:
    assert node(live_server, project, "policy") == {
        "roles": ["stytch_member", "stytch_admin"],
        "scopes": [],
    }
    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    assert node(live_server, project, "org", organization_id=acme.id, roles=[EDITOR]) == {
        "roles": [EDITOR]
    }
    _, _, jwt = person(services, project.project_id, acme, "ada@acme.example", "editor")

    def check(resource: str, action: str, org_id: str = acme.id) -> Any:
        return node(
            live_server,
            project,
            "check",
            session_jwt=jwt,
            organization_id=org_id,
            resource_id=resource,
            action=action,
        )

    assert check("documents", "write") == {"ok": {"roles": ["stytch_member", "editor"]}}
    assert request_log.paths[SESSION_AUTHENTICATE] == 0  # allowed locally
    denied = check("stytch.member", "delete")
    assert denied == {"error": {"status_code": 403, "error_type": "session_authorization_error"}}
    assert request_log.paths[SESSION_AUTHENTICATE] == 1  # Node asked the server, which agreed
    elsewhere = check("documents", "read", make_org(services, project.project_id).id)
    assert elsewhere["error"]["status_code"] == 403


def test_node_management_call_with_a_members_session(
    live_server: LiveServer, project: Credentials, services: Services, acme: Organization
) -> None:
    _, _, admin_jwt = person(services, project.project_id, acme, "al@acme.example", "stytch_admin")
    _, _, plain_jwt = person(services, project.project_id, acme, "pat@acme.example")
    colleague, _, _ = person(services, project.project_id, acme, "cy@acme.example")
    fields = {"roles": ["stytch_admin"]}
    refused = node(
        live_server,
        project,
        "update",
        organization_id=acme.id,
        member_id=colleague.id,
        fields=fields,
        session_jwt=plain_jwt,
    )
    assert refused == {"error": {"status_code": 403, "error_type": "session_authorization_error"}}
    allowed = node(
        live_server,
        project,
        "update",
        organization_id=acme.id,
        member_id=colleague.id,
        fields=fields,
        session_jwt=admin_jwt,
    )
    assert allowed == {"ok": {"roles": ["stytch_member", "stytch_admin"]}}
