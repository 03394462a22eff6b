"""sso.authenticate and connection management through the official SDKs (Python 15.3.0 and
Node 14.x) against a live server; the IdP is the controllable one (fake_idp)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from stytch.core.response_base import StytchError

from antechamber.organizations.models import Organization
from tests.conftest import Credentials, LiveServer
from tests.sso import fake_idp
from tests.sso.conftest import sso_token_of

NODE_DIR = os.path.join(os.path.dirname(__file__), "..", "compat", "node")
NODE = shutil.which("node")


def sso_token(
    live_server: LiveServer, idp: fake_idp.FakeIdp, public_token: str, connection_id: str
) -> str:
    """The browser's part, with httpx as the browser: start → (the IdP) → callback."""
    # 30 s, not httpx's 5: the callback makes the token and JWKS requests to the IdP, slow on a
    # loaded machine.
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        started = browser.get(
            "/v1/public/sso/start",
            params={"public_token": public_token, "connection_id": connection_id},
        )
        assert started.status_code == 302, started.text
        query = parse_qs(urlsplit(started.headers["location"]).query)
        idp.queue(idp.sign(idp.claims(query["nonce"][0])))
        back = browser.get(
            f"/v1/b2b/sso/callback/{connection_id}",
            params={"state": query["state"][0], "code": "code-1"},
        )
        assert back.status_code == 302, back.text
        return sso_token_of(back.headers["location"])


def test_python_sdk_sso_authenticate(
    sdk: Any,
    live_server: LiveServer,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
    corp: Organization,
) -> None:
    token = sso_token(live_server, idp, public_token, connection_id)
    answer = sdk.sso.authenticate(sso_token=token, session_duration_minutes=30)
    assert answer.member_authenticated is True
    assert answer.organization_id == corp.id
    assert answer.reset_session is False
    assert answer.member.sso_registrations[0].connection_id == connection_id
    factor = answer.member_session.authentication_factors[0]
    assert factor.type == "sso"
    assert factor.delivery_method == "sso_oidc"
    assert factor.oidc_sso_factor.provider_id == connection_id
    checked = sdk.sessions.authenticate(session_token=answer.session_token)
    assert checked.member.member_id == answer.member_id
    with pytest.raises(StytchError) as exc:
        sdk.sso.authenticate(sso_token=token)
    assert exc.value.details.error_type == "sso_token_not_found"


@pytest.mark.skipif(
    NODE is None or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "stytch")),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)
def test_node_sdk_manages_connections_and_authenticates(
    live_server: LiveServer,
    project: Credentials,
    idp: fake_idp.FakeIdp,
    public_token: str,
    corp: Organization,
) -> None:
    def node(*args: str) -> dict[str, Any]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "STYTCH_BASE_URL": live_server.url,
            "STYTCH_PROJECT_ID": project.project_id,
            "STYTCH_SECRET": project.secret,
        }
        done = subprocess.run(
            [str(NODE), "sso.mjs", *args],
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

    managed = node("manage", corp.id, idp.issuer, idp.client_id, idp.client_secret)
    assert managed["saml_status"] == "pending"
    assert managed["saml_acs_url"] == managed["saml_audience_uri"]
    assert managed["saml_display_name"] == "Okta (EU)"
    assert managed["oidc_status"] == "active"
    assert managed["listed"] == [1, 1, 0]
    assert managed["deleted"] is True
    assert managed["again"] == {"status_code": 404, "error_type": "sso_connection_not_found"}

    token = sso_token(live_server, idp, public_token, managed["oidc_id"])
    done = node("authenticate", token)
    assert done["member_authenticated"] is True
    assert done["organization_id"] == corp.id
    assert done["factor"] == "sso_oidc"
    assert done["registrations"] == [managed["oidc_id"]]
    assert done["local_member_id"] == done["member_id"]
    assert done["again"] == {"status_code": 404, "error_type": "sso_token_not_found"}
